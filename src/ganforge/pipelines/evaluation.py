"""Scoring a run's generator: `ganforge eval RUN` and the loop's --eval-every.

The metrics package compares image sets; sampling the generator for them is
done here, so metrics never import models' training or pipelines.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ganforge.config import TrainConfig
from ganforge.data import load_data
from ganforge.data.base import to_float, to_uint8
from ganforge.data.from_config import load_training_data
from ganforge.data.labelmaps import FACADES_PALETTE, to_classes
from ganforge.data.paired import PairedData
from ganforge.errors import GanforgeError
from ganforge.metrics.evaluate import EvalResult, Evaluator, compute_metrics, create_extractor
from ganforge.metrics.features import extract_features
from ganforge.metrics.inception import inception_weights_available
from ganforge.metrics.known_modes import known_modes_evaluator
from ganforge.metrics.mixture import MixtureEvaluator
from ganforge.metrics.pairs import pair_metrics
from ganforge.metrics.segmentation import Segmenter, describe, segmentation_scores, segmenter_for
from ganforge.models.base import GAN
from ganforge.pipelines.generation import GANPipeline
from ganforge.pipelines.translation import CycleTranslationPipeline, TranslationPipeline
from ganforge.runs.folder import append_record, read_run_config
from ganforge.tasks.paired import seeded_translation

SAMPLE_BATCH = 500


def generate_uint8(model: GAN, n: int, seed: int, batch_size: int = SAMPLE_BATCH) -> torch.Tensor:
    """`n` generated images as uint8 on the CPU, as they would be saved to files.

    Noise (and, for a conditional model, evenly spread class labels) come from
    their own CPU generators (the codes of `ganforge sample --seed`), and the
    model's train/eval mode is restored afterwards, so evaluating during
    training changes nothing in the run.
    """
    if n < 1:
        raise GanforgeError(f"--n must be at least 1, got {n}")
    z, labels = model.seeded_noise(n, seed), model.seeded_labels(n, seed)
    return model.sample_images(z, labels, batch_size=batch_size, convert=to_uint8)


class PairedEvaluator:
    """--eval-every of a paired run: the first `n` inputs of the test split
    translated (no jitter, dropout from its own seeded stream) and compared
    with their targets: L1, PSNR, SSIM. The best checkpoint is the lowest L1."""

    name = "pairs"
    best_metric = "l1"

    def __init__(self, test: PairedData, device: torch.device) -> None:
        self.test = test.to(device)

    def evaluate_model(self, model: Any, n: int, seed: int) -> EvalResult:
        started = time.perf_counter()
        a, b = self.test.a[:n], self.test.b[:n]
        outputs = seeded_translation(model, to_float(a), seed)
        metrics = pair_metrics(outputs.float().cpu(), to_float(b).cpu())
        return EvalResult(metrics, self.name, len(b), len(outputs), time.perf_counter() - started)


def paired_evaluator(config: TrainConfig, device: torch.device) -> PairedEvaluator:
    """The --eval-every evaluator of a paired run, on its data's test split."""
    try:
        test = load_training_data(dataclasses.replace(config, data_split="test"))
    except GanforgeError as error:
        raise GanforgeError(f"--eval-every on paired data scores the test split, which this data set lacks ({error})") from None
    assert isinstance(test, PairedData)
    return PairedEvaluator(test, device)


def evaluate_generator(evaluator: Any, model: GAN, n: int, seed: int = 0) -> EvalResult:
    """`n` samples of `model` (from seed `seed`) scored by `evaluator`: points
    for a mixture's modes, uint8 images for every image evaluator, test
    inputs translated for a paired run. The time includes sampling."""
    if hasattr(evaluator, "evaluate_model"):  # test pairs translated, HR test images upscaled
        return evaluator.evaluate_model(model, n, seed)
    started = time.perf_counter()
    if isinstance(evaluator, MixtureEvaluator):
        result = evaluator.evaluate_points(model.sample_images(model.seeded_noise(n, seed)))
    else:
        result = evaluator.evaluate_images(generate_uint8(model, n, seed))
    result.seconds = time.perf_counter() - started
    return result


def evaluate_run(
    run: str | os.PathLike[str],
    metrics: list[str] | str,
    n: int = 10_000,
    *,
    extractor: str = "auto",
    inception_weights: str | None = None,
    checkpoint: int | str | None = None,
    seed: int = 0,
    device: str = "auto",
    runs_dir: str | os.PathLike[str] = "runs",
    precise_bn: bool = False,
) -> EvalResult:
    """`ganforge eval RUN`: `n` samples of the run's generator against its training data.

    The result is appended to the run's metrics.jsonl as a {"kind": "eval"} line.
    """
    pipeline = GANPipeline.from_run(run, checkpoint=checkpoint, device=device, runs_dir=runs_dir, precise_bn=precise_bn)
    assert pipeline.run_dir is not None
    config = TrainConfig.from_dict(read_run_config(pipeline.run_dir)["train"])
    real = load_training_data(config)
    # Ring, grid and Stacked MNIST are scored on their known modes.
    known = known_modes_evaluator(real, pipeline.device, data_root=config.data_root, split=config.data_split)
    evaluator = known or Evaluator.create(metrics, real, pipeline.device, extractor, inception_weights)
    result = evaluate_generator(evaluator, pipeline.model, n, seed)
    result.extra = {"step": pipeline.step, "checkpoint": str(checkpoint or "latest"), "seed": seed, "precise_bn": precise_bn}
    append_record(pipeline.run_dir, result.record())
    return result


# -- translation runs ----------------------------------------------------------------

PAIRED_EVAL_SEED = 0  # the generator's dropout draws while translating the test split


def label_map_side(data: PairedData) -> str | None:
    """Which side of the pairs holds label maps drawn in the facades palette:
    "input" (label map to photo), "target" (photo to label map) or None."""
    sample = torch.arange(min(len(data), 16))
    for side, images in (("input", data.a[sample].cpu()), ("target", data.b[sample].cpu())):
        # JPEG blurs a map's class edges (facades: about 16% of pixels off the
        # palette); a photo has nearly every pixel off it.
        if images.shape[1] == 3 and to_classes(images)[1] < 0.5:
            return side
    return None


def evaluate_paired_run(
    run: str | os.PathLike[str],
    *,
    split: str = "test",
    checkpoint: int | str | None = None,
    seed: int = PAIRED_EVAL_SEED,
    device: str = "auto",
    runs_dir: str | os.PathLike[str] = "runs",
    inception_weights: str | None = None,
    extractor: str = "auto",
) -> EvalResult:
    """`ganforge eval RUN` of a paired run: translate every input of `split`
    (no jitter) and score the outputs against the targets (score_translations).
    Appended to the run's metrics.jsonl."""
    started = time.perf_counter()
    pipeline = TranslationPipeline.from_run(run, checkpoint=checkpoint, device=device, runs_dir=runs_dir)
    assert pipeline.run_dir is not None and pipeline.train_config is not None
    config = TrainConfig.from_dict(pipeline.train_config)
    test = load_training_data(dataclasses.replace(config, data_split=split))
    translated = pipeline.translate(test.a, seed=seed)
    metrics, notes, features = score_translations(
        translated, test, lambda: load_training_data(config), Path(config.data_root or test.name).name, pipeline.device, inception_weights, extractor
    )
    result = EvalResult(metrics, features, len(test), len(translated), time.perf_counter() - started)
    result.extra = {"step": pipeline.step, "checkpoint": str(checkpoint or "latest"), "split": split, "seed": seed, "notes": notes}
    append_record(pipeline.run_dir, result.record())
    return result


def score_translations(
    translated: torch.Tensor, test: PairedData, training_pairs: Callable[[], PairedData], data_name: str, device: torch.device,
    inception_weights: str | None = None, extractor: str = "auto",
) -> tuple[dict[str, float], list[str], str]:
    """(metrics, notes, feature network) of the translations (floats in
    [-1, 1]) of `test`'s inputs against its targets: L1, PSNR, SSIM; FID and
    KID of outputs against targets; and, for label maps in the facades
    palette, the segmentation score of the outputs beside the real photos'
    (label map to photo) or the outputs' class accuracy (photo to label
    map). `training_pairs` (called only for label maps) gives the training
    pairs, in the same direction, the segmenter learns from."""
    outputs, targets = to_uint8(translated), test.b.cpu()
    metrics: dict[str, float] = pair_metrics(translated, to_float(targets))
    notes: list[str] = []
    side = label_map_side(test)
    segmenter: Segmenter | None = None
    if side == "target":  # photo -> label map: the output's colours read as classes
        truth = to_classes(test.b.cpu())[0]
        scores = segmentation_scores(to_classes(outputs)[0], truth, len(FACADES_PALETTE))
        metrics.update({f"labels_{k}": v for k, v in scores.items()})
    elif side == "input":  # label map -> photo: can a segmenter read the map back from the photo?
        train = training_pairs()
        classes, off = to_classes(train.a.cpu())
        segmenter = segmenter_for(train.b.cpu(), classes, len(FACADES_PALETTE), f"{data_name}-photos", device)
        notes.append(f"{describe(segmenter.record)}; {100 * off:.1f}% of the training label pixels are off the palette (JPEG edges), each given its nearest class")
        truth = to_classes(test.a.cpu())[0]
        for prefix, photos in (("seg", outputs), ("seg_real", targets)):
            scores = segmentation_scores(segmenter.classes(photos), truth, segmenter.num_classes)
            metrics.update({f"{prefix}_{k}": v for k, v in scores.items()})
    network: Any = None
    if extractor == "inception" or (extractor == "auto" and inception_weights_available(inception_weights)):
        network = create_extractor("inception", None, device, inception_weights)
    elif segmenter is not None:
        network = segmenter
    else:
        notes.append("no FID/KID: no Inception weights (--inception-weights FILE) and no segmenter for these images")
    if network is not None:
        real = extract_features(network, targets, device, what="target images")
        fake = extract_features(network, outputs, device, what="translated images")
        metrics.update(compute_metrics(["fid", "kid"], real, fake))
    return metrics, notes, network.name if network is not None else "none"


def test_pairs_of(config: TrainConfig, split: str, direction: str) -> PairedData | None:
    """The aligned pairs of `split` of an unpaired run's data root, oriented
    for `direction`, when that root is a paired data set (facades); else None."""
    try:
        return load_data("paired", root=config.data_root, split=split, image_size=config.image_size, direction=direction)  # type: ignore[return-value]
    except GanforgeError:
        return None


def evaluate_unpaired_run(
    run: str | os.PathLike[str],
    *,
    split: str = "test",
    checkpoint: int | str | None = None,
    device: str = "auto",
    runs_dir: str | os.PathLike[str] = "runs",
    inception_weights: str | None = None,
    extractor: str = "auto",
) -> EvalResult:
    """`ganforge eval RUN` of an unpaired (CycleGAN) run trained on a paired
    data set with its pairing thrown away (facades): both directions
    translate the held-out pairs of `split` and are scored as a paired run
    is, each metric prefixed by its direction (`BtoA_seg_pixel_accuracy`).
    Appended to the run's metrics.jsonl."""
    started = time.perf_counter()
    pipeline = CycleTranslationPipeline.from_run(run, checkpoint=checkpoint, device=device, runs_dir=runs_dir)
    assert pipeline.run_dir is not None and pipeline.train_config is not None
    config = TrainConfig.from_dict(pipeline.train_config)
    metrics: dict[str, float] = {}
    notes: list[str] = []
    features, pairs = "none", 0
    for direction in pipeline.directions:
        test = test_pairs_of(config, split, direction)
        if test is None:
            raise GanforgeError(
                f"ganforge eval scores an unpaired run on held-out pairs, and {config.data_root} has no aligned pairs in a '{split}' split "
                "(train on a paired data set, e.g. facades, to score the translation; or compare translated images with "
                "ganforge eval --real DIR --fake DIR)"
            )
        translated = pipeline.translate(test.a, direction=direction)
        scores, direction_notes, features = score_translations(
            translated, test, functools.partial(load_data, "paired", root=config.data_root, image_size=config.image_size, direction=direction),
            Path(config.data_root or "unpaired").name, pipeline.device, inception_weights, extractor,
        )
        metrics.update({f"{direction}_{key}": value for key, value in scores.items()})
        notes += [f"{direction}: {note}" for note in direction_notes]
        pairs = len(test)
    result = EvalResult(metrics, features, pairs, pairs, time.perf_counter() - started)
    result.extra = {"step": pipeline.step, "checkpoint": str(checkpoint or "latest"), "split": split, "notes": notes}
    append_record(pipeline.run_dir, result.record())
    return result
