"""`unpaired`: translators between two domains learnt without pairs (CycleGAN)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganforge.data.base import to_float
from ganforge.data.order import BatchOrder
from ganforge.report.images import save_grid
from ganforge.tasks.base import Task, register_task
from ganforge.tasks.paired import translate_in_batches

PREVIEW_IMAGES = 4  # rows of [a | G_ab(a) | G_ba(G_ab(a))], then as many for b
PREVIEW_SEED_OFFSET = 2  # which images, fixed by --seed
#: Keeps domain B's batch order apart from domain A's.
DOMAIN_SEED_OFFSET = {"a": 0, "b": 7919}
OTHER = {"a": "b", "b": "a"}
DIRECTION = {"a": "AtoB", "b": "BtoA"}  # the translation out of a domain


def round_trip(model: Any, images: torch.Tensor, domain: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(the images translated to the other domain, and back), in eval mode."""
    there = translate_in_batches(model, images, direction=DIRECTION[domain])
    return there, translate_in_batches(model, there, direction=DIRECTION[OTHER[domain]])


@register_task
class UnpairedTask(Task):
    """Batches {"a", "b"}: one image set of each domain, each drawn in an order
    and jittered by draws of its own (the domains have no pairing, and may
    differ in size)."""

    name = "unpaired"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        assert self.config.batch_size is not None
        self.orders = {
            domain: BatchOrder(len(self.data.domain(domain)), self.config.batch_size, self.config.seed + DOMAIN_SEED_OFFSET[domain], self.device)
            for domain in ("a", "b")
        }
        pick = torch.Generator().manual_seed(self.config.seed + PREVIEW_SEED_OFFSET)
        self.preview_indices = {
            domain: torch.randperm(len(self.data.domain(domain)), generator=pick)[:PREVIEW_IMAGES].to(self.device) for domain in ("a", "b")
        }

    def batch(self, number: int) -> dict[str, Any]:
        batch = {}
        for domain, order in self.orders.items():
            images = self.data.jittered(domain, self.shard(order.indices(number)), self.config.seed, number)
            batch[domain] = images.contiguous(memory_format=torch.channels_last) if self.config.channels_last else images
        return batch

    def save_preview(self, model: Any, path: Path) -> Path:
        """Rows of [a | G_ab(a) | G_ba(G_ab(a))] for fixed A images (no
        jitter), then [b | G_ba(b) | G_ab(G_ba(b))] for fixed B images."""
        rows = []
        for domain in ("a", "b"):
            images = to_float(self.data.domain(domain).index_select(0, self.preview_indices[domain]))
            there, back = round_trip(model, images, domain)
            rows.append(torch.stack([images, there, back], dim=1).flatten(0, 1))
        return save_grid(path, torch.cat(rows), nrow=3)
