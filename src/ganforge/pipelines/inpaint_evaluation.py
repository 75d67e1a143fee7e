"""`ganforge eval RUN` of an inpainting run: fill fixed holes in images the run never trained on.

The images are the run's --holdout images (a fixed draw of its data set) or,
without a holdout, its data's test split. The holes are drawn from a fixed
seed with the run's --masks kind, so every run (and every baseline, such as
OpenCV's inpainting in benchmarks/inpaint.py) fills the same holes in the
same images. Scores: L1 and PSNR in the hole, and FID/KID of the completed
images against the originals (Inception features when its weights are at
hand, else the data set's classifier for labelled data, else the facades
segmenter's layout features for facades photos).
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import torch

from ganforge.config import TrainConfig
from ganforge.data.base import to_uint8
from ganforge.data.from_config import load_held_out, load_source, load_training_data
from ganforge.data.labelmaps import FACADES_PALETTE, to_classes
from ganforge.data.masks import make_masks
from ganforge.errors import GanforgeError
from ganforge.metrics.evaluate import EvalResult, compute_metrics, create_extractor
from ganforge.metrics.features import extract_features
from ganforge.metrics.inception import inception_weights_available
from ganforge.metrics.inpainting import hole_scores
from ganforge.metrics.segmentation import describe, segmenter_for
from ganforge.pipelines.inpainting import InpaintPipeline
from ganforge.runs.folder import append_record
from ganforge.tasks.inpaint import DEFAULT_MASKS, images_of

EVAL_MASK_SEED = 0


@dataclasses.dataclass
class InpaintTest:
    """The images an inpainting run is scored on, their holes, and where they come from."""

    images: torch.Tensor  # uint8 N x C x H x W
    masks: torch.Tensor  # N x 1 x H x W, 1 = hole
    source: str
    data: Any  # the data set they were taken from (for the feature network)


def inpaint_test(config: TrainConfig) -> InpaintTest:
    """The held-out images (or the test split) of a run's config, with their fixed holes."""
    if config.holdout:
        data, source = load_held_out(config), f"the {config.holdout} held-out images"
    else:
        try:
            data = load_training_data(dataclasses.replace(config, data_split="test"))
        except GanforgeError as error:
            raise GanforgeError(f"an inpainting run is scored on images it never saw: its data has no test split ({error}); train with --holdout N to keep N images apart") from None
        source = "the test split"
    images = images_of(data).cpu()
    generator = torch.Generator().manual_seed(EVAL_MASK_SEED)
    masks = make_masks(len(images), images.shape[2], images.shape[3], config.masks or DEFAULT_MASKS, generator)
    return InpaintTest(images, masks, source, data)


def feature_network(config: TrainConfig, test: InpaintTest, device: torch.device, inception_weights: str | None, extractor: str) -> tuple[Any, list[str]]:
    """The FID/KID feature network for the completed images, and a note on it (None when there is none)."""
    if extractor == "inception" or (extractor == "auto" and inception_weights_available(inception_weights)):
        return create_extractor("inception", None, device, inception_weights), []
    if getattr(test.data, "labels", None) is not None:
        return create_extractor("classifier", load_source(config), device), []
    if getattr(test.data, "task", "") == "paired" and to_classes(test.data.a[:16].cpu())[1] < 0.5:  # facades photos beside their label maps
        train = load_training_data(dataclasses.replace(config, holdout=0))
        segmenter = segmenter_for(train.b.cpu(), to_classes(train.a.cpu())[0], len(FACADES_PALETTE), f"{os.path.basename(config.data_root or 'paired')}-photos", device)
        return segmenter, [f"FID on the layout features of the {describe(segmenter.record)}"]
    return None, ["no FID/KID: no Inception weights (--inception-weights FILE) and no classifier or segmenter for these images"]


def score_completions(
    completed: torch.Tensor, test: InpaintTest, network: Any, device: torch.device
) -> dict[str, float]:
    """Hole L1 and PSNR, and FID/KID against the originals when a feature network is given; completions in uint8."""
    metrics = hole_scores(completed, test.images, test.masks)
    if network is not None:
        real = extract_features(network, test.images, device, what="original images")
        fake = extract_features(network, completed, device, what="completed images")
        metrics.update(compute_metrics(["fid", "kid"], real, fake))
    return metrics


def evaluate_inpaint_run(
    run: str | os.PathLike[str], *, checkpoint: int | str | None = None, device: str = "auto", runs_dir: str | os.PathLike[str] = "runs",
    inception_weights: str | None = None, extractor: str = "auto",
) -> EvalResult:
    """Fill the fixed holes of the run's held-out (or test) images and score
    them; appended to the run's metrics.jsonl."""
    started = time.perf_counter()
    pipeline = InpaintPipeline.from_run(run, checkpoint=checkpoint, device=device, runs_dir=runs_dir)
    assert pipeline.run_dir is not None and pipeline.train_config is not None
    config = TrainConfig.from_dict(pipeline.train_config)
    test = inpaint_test(config)
    completed = to_uint8(pipeline.inpaint(test.images, test.masks))
    network, notes = feature_network(config, test, pipeline.device, inception_weights, extractor)
    metrics = score_completions(completed, test, network, pipeline.device)
    result = EvalResult(metrics, network.name if network is not None else "none", len(test.images), len(completed), time.perf_counter() - started)
    result.extra = {"step": pipeline.step, "checkpoint": str(checkpoint or "latest"), "images": test.source, "masks": config.masks or DEFAULT_MASKS, "notes": notes}
    append_record(pipeline.run_dir, result.record())
    return result
