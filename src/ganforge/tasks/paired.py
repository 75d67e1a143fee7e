"""`paired`: G(a) learns the aligned target b of each input a (pix2pix)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganforge.data.order import BatchOrder
from ganforge.report.images import save_grid
from ganforge.tasks.base import Task, register_task

PREVIEW_PAIRS = 8  # rows of [input | output | target] in a preview
PREVIEW_SEED_OFFSET = 2  # which pairs, and the preview's dropout draws, fixed by --seed


@torch.no_grad()
def translate_in_batches(model: Any, a: torch.Tensor, *, ema: bool = True, **options: Any) -> torch.Tensor:
    """G(a) in eval mode, `model.inference_batch` images at a time (1 for a
    batch-norm generator, whose statistics are the batch's own), with the
    train/eval mode restored. `options` go to the model's translate
    (CycleGAN's direction)."""
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model.translate(part, ema=ema, **options) for part in a.split(model.inference_batch)])
    finally:
        model.train(was_training)


def seeded_translation(model: Any, a: torch.Tensor, seed: int, **options: Any) -> torch.Tensor:
    """translate_in_batches with the generator's dropout drawn from a stream
    of its own (seeded by `seed`): the same every time, and the caller's
    random streams (training's, for previews and evaluation) untouched."""
    devices = [a.device] if a.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        return translate_in_batches(model, a, **options)


@register_task
class PairedTask(Task):
    name = "paired"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        assert self.config.batch_size is not None
        self.order = BatchOrder(len(self.data), self.config.batch_size, self.config.seed, self.device)
        pick = torch.Generator().manual_seed(self.config.seed + PREVIEW_SEED_OFFSET)
        self.preview_indices = torch.randperm(len(self.data), generator=pick)[: min(PREVIEW_PAIRS, len(self.data))].to(self.device)

    def batch(self, number: int) -> dict[str, Any]:
        a, b = self.data.jittered(self.shard(self.order.indices(number)), self.config.seed, number)
        if self.config.channels_last:
            a, b = (x.contiguous(memory_format=torch.channels_last) for x in (a, b))
        return {"a": a, "b": b}

    def save_preview(self, model: Any, path: Path) -> Path:
        """Rows of [input | output | target] for fixed training pairs (no
        jitter). The generator's dropout draws come from a stream of their
        own, so previews neither vary with nor disturb training's randomness."""
        a, b = self.data.pairs(self.preview_indices)
        fake = seeded_translation(model, a, self.config.seed + PREVIEW_SEED_OFFSET)
        if a.shape[1] != b.shape[1]:  # a grey label map beside RGB photos: show it in RGB
            a = a.expand(-1, b.shape[1], -1, -1) if a.shape[1] == 1 else a[:, : b.shape[1]]
        rows = torch.stack([a, fake, b], dim=1).flatten(0, 1)
        return save_grid(path, rows, nrow=3)
