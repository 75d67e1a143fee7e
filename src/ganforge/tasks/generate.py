"""`generate`: G(z[, y]) learns a data set of images (or points), with optional labels."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from ganforge.data.base import labels_hint
from ganforge.data.points import is_point_data
from ganforge.errors import GanforgeError
from ganforge.report.images import save_grid
from ganforge.report.scatter import save_scatter
from ganforge.tasks.base import Task, register_task
from ganforge.data.order import BatchOrder

GRID_SEED_OFFSET = 2  # the fixed noise of the preview grid, fixed by --seed
SCATTER_POINTS = 2500  # samples in a point model's scatter plot (the papers' evaluation size)


def grid_layout(num_classes: int, grid_size: int) -> tuple[int, int]:
    """(images, columns) of a sample grid: a square-ish grid, or for a
    conditional model one row per class."""
    if not num_classes:
        return grid_size, max(1, math.ceil(math.sqrt(grid_size)))
    columns = max(1, grid_size // num_classes)
    return columns * num_classes, columns


def grid_labels(num_classes: int, grid_size: int) -> torch.Tensor | None:
    """Row r of a conditional grid shows class r."""
    if not num_classes:
        return None
    images, columns = grid_layout(num_classes, grid_size)
    return torch.arange(images) // columns


@register_task
class GenerateTask(Task):
    name = "generate"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config, data, model = self.config, self.data, self.model
        balanced_by = getattr(data, "labels", None) if config.class_balanced else None
        if config.class_balanced and balanced_by is None:
            raise GanforgeError(f"--class-balanced needs class labels, and data '{data.name}' has none{labels_hint(data.name)}")
        assert config.batch_size is not None
        self.order = BatchOrder(len(data), config.batch_size, config.seed, self.device, class_labels=balanced_by)
        grid = torch.Generator().manual_seed(config.seed + GRID_SEED_OFFSET)
        grid_images, self.grid_columns = grid_layout(model.num_classes, config.grid_size)
        self.grid_noise = model.sample_noise(grid_images, generator=grid, device=torch.device("cpu")).to(self.device)
        labels = grid_labels(model.num_classes, config.grid_size)
        self.grid_labels = None if labels is None else labels.to(self.device)

    def batch(self, number: int) -> dict[str, Any]:
        real, labels = self.data.batch(self.shard(self.order.indices(number)))
        if self.config.channels_last and real.dim() == 4:
            real = real.contiguous(memory_format=torch.channels_last)
        return {"image": real, "label": labels}

    @torch.no_grad()
    def save_preview(self, model: Any, path: Path) -> Path:
        """The fixed-noise samples of this step: an image grid, or for point
        data a scatter plot of SCATTER_POINTS samples over the real data."""
        if is_point_data(self.data):
            points = model.sample_images(model.seeded_noise(SCATTER_POINTS, self.config.seed + GRID_SEED_OFFSET))
            return save_scatter(path, points, self.data.mixture, real=self.data.points[:SCATTER_POINTS])
        model.eval()
        images = model.generate(self.grid_noise, self.grid_labels, ema=True)
        model.train()
        return save_grid(path, images, nrow=self.grid_columns)
