"""Data sets whose modes are known, scored on them instead of FID.

The 2-D mixtures (ring, grid) know their Gaussians and Stacked MNIST knows its
1,000 digit triples, so `ganforge eval RUN`, `--eval-every` and `ganforge
diagnose` score their runs on modes: the numbers the mode-collapse literature
reports.
"""

from __future__ import annotations

import torch

from ganforge.data.base import ImageData
from ganforge.data.points import PointData
from ganforge.metrics.mixture import MixtureEvaluator
from ganforge.metrics.stacked import StackedMnistEvaluator

STACKED = "stacked-mnist"
KnownModesEvaluator = MixtureEvaluator | StackedMnistEvaluator


def known_modes_evaluator(
    data: ImageData | PointData, device: torch.device, *, data_root: str | None = None, split: str | None = None
) -> KnownModesEvaluator | None:
    """The mode evaluator of `data`, or None for data without known modes.
    Stacked MNIST's is built on the MNIST digits it was stacked from."""
    if isinstance(data, PointData):
        return MixtureEvaluator(data)
    if data.name == STACKED:
        from ganforge.data import load_data

        return StackedMnistEvaluator(load_data("mnist", root=data_root, split=split), device)
    return None
