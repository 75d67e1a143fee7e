"""`upscale`: G(LR) learns the HR image the LR was made from (SRResNet, SRGAN, ESRGAN)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganforge.data.sr import bicubic_resize, downscale
from ganforge.report.images import save_grid
from ganforge.tasks.base import Task, register_task

PREVIEW_CROPS = 8  # rows of [bicubic | output | HR] in a preview


@torch.no_grad()
def upscale_in_batches(model: Any, lr: torch.Tensor, *, ema: bool = True) -> torch.Tensor:
    """G(lr) in eval mode, clamped to [-1, 1], `model.inference_batch` images
    at a time, with the train/eval mode restored."""
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model.upscale(part, ema=ema).clamp(-1.0, 1.0) for part in lr.split(model.inference_batch)])
    finally:
        model.train(was_training)


def bicubic_upscale(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """The bicubic baseline every SR figure is compared with."""
    return bicubic_resize(lr, (lr.shape[-2] * scale, lr.shape[-1] * scale)).clamp(-1.0, 1.0)


@register_task
class UpscaleTask(Task):
    name = "upscale"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.preview_hr = self.data.centre_crops(PREVIEW_CROPS).to(self.device)

    def batch(self, number: int) -> dict[str, Any]:
        """Random HR crops and their bicubic LR; each process takes its slice
        of the global batch under DDP (the draws depend on the batch number only)."""
        assert self.config.batch_size is not None
        lr, hr = self.data.batch(self.config.batch_size, self.config.seed, number)
        index = self.shard(torch.arange(len(hr)))
        lr, hr = lr[index].to(self.device), hr[index].to(self.device)
        if self.config.channels_last:
            lr, hr = (x.contiguous(memory_format=torch.channels_last) for x in (lr, hr))
        return {"lr": lr, "hr": hr}

    def save_preview(self, model: Any, path: Path) -> Path:
        """Rows of [bicubic | output | HR] for the centre crops of the first images."""
        lr = downscale(self.preview_hr, model.scale)
        rows = torch.stack([bicubic_upscale(lr, model.scale), upscale_in_batches(model, lr), self.preview_hr], dim=1).flatten(0, 1)
        return save_grid(path, rows, nrow=3)
