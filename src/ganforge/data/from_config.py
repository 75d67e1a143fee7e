"""The training data a TrainConfig names."""

from __future__ import annotations

from typing import Any

from ganforge.config import TrainConfig
from ganforge.data.registry import load_data
from ganforge.models.registry import build_default


def load_training_data(config: TrainConfig) -> Any:
    """The data source of `config`, with its image options (an ImageData,
    PointData or PairedData)."""
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
