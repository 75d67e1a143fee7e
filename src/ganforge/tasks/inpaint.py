"""`inpaint`: G fills holes made on the fly in the training images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganforge.data.base import to_float
from ganforge.data.masks import make_masks
from ganforge.data.order import BatchOrder
from ganforge.report.images import save_grid
from ganforge.tasks.base import Task, register_task

PREVIEW_IMAGES = 8  # rows of [with hole | completed | original]
PREVIEW_SEED_OFFSET = 2  # which images and holes, fixed by --seed
DEFAULT_MASKS = "mixed"
#: Keeps the mask and flip streams apart from the other streams of the seed.
_MASK_SEED_STRIDE = 1_000_039


def images_of(data: Any) -> torch.Tensor:
    """The uint8 images inpainting learns: an image set's images, or a paired
    set's targets (facades with --direction BtoA: the photos)."""
    return data.b if getattr(data, "task", "generate") == "paired" else data.images


def show_holes(images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] with their holes drawn white, for previews and pictures."""
    return images * (1.0 - masks) + masks


@torch.no_grad()
def inpaint_in_batches(model: Any, images: torch.Tensor, masks: torch.Tensor, *, ema: bool = True) -> torch.Tensor:
    """The model's completions in eval mode, `model.inference_batch` images at a time, with the train/eval mode restored."""
    was_training = model.training
    model.eval()
    try:
        size = model.inference_batch
        return torch.cat([model.inpaint(x, m, ema=ema) for x, m in zip(images.split(size), masks.split(size))])
    finally:
        model.train(was_training)


@register_task
class InpaintTask(Task):
    """Batches {"image", "mask"}: training images flipped left-right half the
    time, and holes of --masks drawn from (seed, batch number)."""

    name = "inpaint"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        assert self.config.batch_size is not None
        self.images = images_of(self.data)
        self.masks = self.config.masks or DEFAULT_MASKS
        self.order = BatchOrder(len(self.images), self.config.batch_size, self.config.seed, self.device)
        pick = torch.Generator().manual_seed(self.config.seed + PREVIEW_SEED_OFFSET)
        self.preview_indices = torch.randperm(len(self.images), generator=pick)[:PREVIEW_IMAGES].to(self.device)
        _, _, height, width = self.images.shape
        self.preview_masks = make_masks(len(self.preview_indices), height, width, self.masks, pick).to(self.device)

    def batch(self, number: int) -> dict[str, Any]:
        indices = self.shard(self.order.indices(number))
        images = to_float(self.images.index_select(0, indices))
        generator = torch.Generator().manual_seed(self.config.seed * _MASK_SEED_STRIDE + number)
        flips = (torch.rand(len(images), generator=generator) < 0.5).to(images.device)
        images = torch.where(flips.view(-1, 1, 1, 1), images.flip(-1), images)
        masks = make_masks(len(images), images.shape[2], images.shape[3], self.masks, generator).to(images.device)
        if self.config.channels_last:
            images, masks = (x.contiguous(memory_format=torch.channels_last) for x in (images, masks))
        return {"image": images, "mask": masks}

    def save_preview(self, model: Any, path: Path) -> Path:
        """Rows of [image with its hole | completed | original] for fixed training images and holes."""
        images = to_float(self.images.index_select(0, self.preview_indices))
        completed = inpaint_in_batches(model, images, self.preview_masks)
        rows = torch.stack([show_holes(images, self.preview_masks), completed, images], dim=1).flatten(0, 1)
        return save_grid(path, rows, nrow=3)
