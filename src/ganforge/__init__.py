"""ganforge: Generative Adversarial Networks on PyTorch.

    import ganforge
    pipe = ganforge.train(ganforge.TrainConfig(data="digits", steps=2000, run="demo"))
    images = ganforge.load("runs/demo").sample(16, seed=0)   # 16 x C x H x W in [-1, 1]
    scores = ganforge.evaluate_run("runs/demo", "fid,kid,modes", n=5000).metrics

Names are imported on first use (PEP 562), so `ganforge --help` does not pay
for importing torch and torchvision.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "TrainConfig": "ganforge.config",
    "ImageData": "ganforge.data",
    "list_data_sources": "ganforge.data",
    "load_data": "ganforge.data",
    "GanforgeError": "ganforge.errors",
    "GAN": "ganforge.models",
    "create_model": "ganforge.models",
    "list_models": "ganforge.models",
    "register_model": "ganforge.models",
    "GANPipeline": "ganforge.pipelines",
    "load": "ganforge.pipelines",
    "train": "ganforge.training",
    "TrainingInterrupted": "ganforge.training",
    "Evaluator": "ganforge.metrics",
    "evaluate_paths": "ganforge.metrics",
    "evaluate_run": "ganforge.pipelines.evaluation",
    "list_metrics": "ganforge.metrics",
    "register_metric": "ganforge.metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ganforge' has no attribute '{name}'")


if TYPE_CHECKING:
    from ganforge.config import TrainConfig
    from ganforge.data import ImageData, list_data_sources, load_data
    from ganforge.errors import GanforgeError
    from ganforge.metrics import Evaluator, evaluate_paths, list_metrics, register_metric
    from ganforge.pipelines.evaluation import evaluate_run
    from ganforge.models import GAN, create_model, list_models, register_model
    from ganforge.pipelines import GANPipeline, load
    from ganforge.training import TrainingInterrupted, train
