"""The training data a TrainConfig names."""

from __future__ import annotations

from typing import Any

from ganforge.config import TrainConfig
from ganforge.data.registry import load_data


def load_training_data(config: TrainConfig) -> Any:
    """The data source of `config`, with its image options (an ImageData,
    PointData or PairedData)."""
    options: dict[str, Any] = dict(
        root=config.data_root,
        download=config.download,
        split=config.data_split,
        image_size=config.image_size,
        channels=config.channels,
        labels=config.class_labels,
    )
    if config.direction is not None:
        options["direction"] = config.direction
    return load_data(config.data, **options)
