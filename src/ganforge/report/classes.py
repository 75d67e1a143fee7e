"""Sample grids ordered by class: row k holds the samples of class k.

For an unconditional model the class is the one the data set's classifier
(ganforge's `classifier` extractor, trained once and cached) assigns, so a
collapsed model shows as crowded rows and empty (grey) ones.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ganforge.data.base import ImageData, to_uint8
from ganforge.errors import GanforgeError
from ganforge.report.images import save_grid

EMPTY = 0.0  # mid-grey in [-1, 1]: an empty cell, distinct from black or white backgrounds
MAX_ROW_FACTOR = 2  # a row shows at most twice a class's fair share


def classify_images(images: torch.Tensor, data: ImageData, device: torch.device) -> torch.Tensor:
    """The class the classifier of `data` assigns to each image in [-1, 1]."""
    from ganforge.metrics.classifier import classifier_for
    from ganforge.metrics.features import extract_features

    if data.labels is None:
        raise GanforgeError(f"ordering samples by class needs labelled data, and {data.name} ({data.origin}) has none")
    features = extract_features(classifier_for(data, device), to_uint8(images), device, what="samples")
    assert features.logits is not None
    return features.logits.argmax(dim=1).cpu()


def class_rows(images: torch.Tensor, classes: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, int]:
    """The images laid out one row per class, padded with grey cells; returns (cells, columns)."""
    columns = max(1, min(int(torch.bincount(classes, minlength=num_classes).max()), MAX_ROW_FACTOR * math.ceil(len(images) / num_classes)))
    cells = torch.full((num_classes * columns, *images.shape[1:]), EMPTY)
    for k in range(num_classes):
        members = images[classes == k][:columns]
        cells[k * columns : k * columns + len(members)] = members
    return cells, columns


def save_class_rows(out: str | Path, images: torch.Tensor, classes: torch.Tensor, num_classes: int) -> Path:
    cells, columns = class_rows(images, classes, num_classes)
    return save_grid(out, cells, nrow=columns)
