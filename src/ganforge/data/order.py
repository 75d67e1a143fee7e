"""Deterministic, resumable batch order over an in-memory data set.

The order is a pure function of (seed, batch number): epoch e uses the
permutation drawn from a generator seeded by (seed, e), and the last partial
batch of an epoch is dropped. Resuming at batch b therefore needs no saved
sampler state, only b.

With `class_labels` the order is class-balanced: each epoch holds every
class equally often, each class's images repeated (in a fresh random order)
up to the largest class's count, so D and G see a small class as often as
a large one.
"""

from __future__ import annotations

import torch

from ganforge.errors import GanforgeError

# Keeps the data-order stream apart from the streams that `seed` also fixes.
_EPOCH_SEED_STRIDE = 1_000_003


class BatchOrder:
    def __init__(
        self, num_items: int, batch_size: int, seed: int, device: torch.device, class_labels: torch.Tensor | None = None
    ) -> None:
        if num_items < batch_size:
            raise GanforgeError(f"the data has {num_items} images, fewer than --batch-size {batch_size}")
        self.members = None if class_labels is None else class_members(class_labels.cpu())
        self.epoch_items = num_items if self.members is None else len(self.members) * max(len(m) for m in self.members)
        self.batch_size = batch_size
        self.num_items = num_items
        self.batches_per_epoch = self.epoch_items // batch_size
        self.seed = seed
        self.device = device
        self._epoch = -1
        self._permutation = torch.empty(0, dtype=torch.long)

    def indices(self, batch_number: int) -> torch.Tensor:
        """Indices of batch `batch_number` (counted from the start of training)."""
        epoch, position = divmod(batch_number, self.batches_per_epoch)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * _EPOCH_SEED_STRIDE + epoch)
            self._permutation = self._epoch_order(generator).to(self.device)
            self._epoch = epoch
        start = position * self.batch_size
        return self._permutation[start : start + self.batch_size]

    def _epoch_order(self, generator: torch.Generator) -> torch.Tensor:
        if self.members is None:
            return torch.randperm(self.num_items, generator=generator)
        per_class = max(len(m) for m in self.members)
        drawn = [repeated(m, per_class, generator) for m in self.members]
        pool = torch.cat(drawn)
        return pool[torch.randperm(len(pool), generator=generator)]


def class_members(labels: torch.Tensor) -> list[torch.Tensor]:
    """The indices of each class's images; every class must have some."""
    counts = torch.bincount(labels)
    empty = (counts == 0).nonzero().flatten().tolist()
    if empty:
        raise GanforgeError(f"--class-balanced: class {empty[0]} has no images, so it cannot be drawn as often as the others")
    return [(labels == k).nonzero().flatten() for k in range(len(counts))]


def repeated(members: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """`count` of `members`: whole shuffled passes over them, then a random part of one more."""
    passes = -(-count // len(members))
    order = torch.cat([members[torch.randperm(len(members), generator=generator)] for _ in range(passes)])
    return order[:count]
