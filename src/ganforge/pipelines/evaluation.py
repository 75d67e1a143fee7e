"""Scoring a run's generator: `ganforge eval RUN` and the loop's --eval-every.

The metrics package compares image sets; sampling the generator for them is
done here, so metrics never import models' training or pipelines.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import torch

from ganforge.config import TrainConfig
from ganforge.data.base import to_uint8
from ganforge.data.from_config import load_training_data
from ganforge.errors import GanforgeError
from ganforge.metrics.evaluate import EvalResult, Evaluator
from ganforge.metrics.known_modes import known_modes_evaluator
from ganforge.metrics.mixture import MixtureEvaluator
from ganforge.models.base import GAN
from ganforge.pipelines.generation import GANPipeline
from ganforge.runs.folder import METRICS_FILE, read_run_config

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


def evaluate_generator(evaluator: Any, model: GAN, n: int, seed: int = 0) -> EvalResult:
    """`n` samples of `model` (from seed `seed`) scored by `evaluator`: points
    for a mixture's modes, uint8 images for every image evaluator. The time
    includes sampling."""
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
    with open(pipeline.run_dir / METRICS_FILE, "a") as f:
        f.write(json.dumps(result.record()) + "\n")
    return result
