"""The training data a TrainConfig names."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from ganforge.config import TrainConfig
from ganforge.data.base import ImageData
from ganforge.data.paired import PairedData
from ganforge.data.registry import load_data
from ganforge.errors import GanforgeError
from ganforge.models.registry import build_default

#: The held-out images are the same for every run and seed of a data set (a fixed draw).
HOLDOUT_SEED = 20170
HOLDOUT_MIN_TRAINING = 1  # images left to train on, at least


def holdout_indices(count: int, holdout: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training indices, held-out indices), each sorted, of `count` images."""
    if holdout > count - HOLDOUT_MIN_TRAINING:
        raise GanforgeError(f"--holdout {holdout} leaves no images to train on: the data has {count}")
    order = torch.randperm(count, generator=torch.Generator().manual_seed(HOLDOUT_SEED))
    return order[holdout:].sort().values, order[:holdout].sort().values


def subset(data: Any, indices: torch.Tensor, note: str) -> Any:
    """The images (or pairs) `indices` of `data`, with `note` added to its notes."""
    if isinstance(data, ImageData):
        labels = None if data.labels is None else data.labels[indices]
        return dataclasses.replace(data, images=data.images[indices], labels=labels, notes=[*data.notes, note])
    if isinstance(data, PairedData):
        return dataclasses.replace(data, a=data.a[indices], b=data.b[indices], names=[data.names[i] for i in indices.tolist()], notes=[*data.notes, note])
    raise GanforgeError(f"--holdout keeps images of an image data set or pairs apart; data '{data.name}' is neither")


def load_held_out(config: TrainConfig) -> Any:
    """The --holdout images of `config`'s data: what its training never saw."""
    data = load_source(config)
    _, held = holdout_indices(len(data), config.holdout)
    return subset(data, held, f"the {config.holdout} held-out images (a fixed draw)")


def load_training_data(config: TrainConfig) -> Any:
    """The data source of `config`, with its image options (an ImageData,
    PointData or PairedData), less the --holdout images."""
    data = load_source(config)
    if not config.holdout:
        return data
    kept, _ = holdout_indices(len(data), config.holdout)
    return subset(data, kept, f"{config.holdout} images held out for evaluation (a fixed draw)")


def load_source(config: TrainConfig) -> Any:
    """The whole data source of `config`, with its image options."""
    options: dict[str, Any] = dict(
        root=config.data_root,
        download=config.download,
        split=config.data_split,
        # A model may size its data: super-resolution models their HR crop.
        image_size=config.image_size if config.image_size is not None else build_default(config.model, "image_size", None),
        channels=config.channels,
        labels=config.class_labels,
    )
    for name in ("direction", "scale"):  # options of one data source each, given only when set
        if getattr(config, name) is not None:
            options[name] = getattr(config, name)
    return load_data(config.data, **options)
