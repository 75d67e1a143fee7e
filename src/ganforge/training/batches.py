"""Deterministic, resumable batch order over an in-memory data set.

The order is a pure function of (seed, batch number): epoch e uses the
permutation drawn from a generator seeded by (seed, e), and the last partial
batch of an epoch is dropped. Resuming at batch b therefore needs no saved
sampler state, only b.
"""

from __future__ import annotations

import torch

from ganforge.errors import GanforgeError

# Keeps the data-order stream apart from the streams that `seed` also fixes.
_EPOCH_SEED_STRIDE = 1_000_003


class BatchOrder:
    def __init__(self, num_items: int, batch_size: int, seed: int, device: torch.device) -> None:
        if num_items < batch_size:
            raise GanforgeError(f"the data has {num_items} images, fewer than --batch-size {batch_size}")
        self.batch_size = batch_size
        self.num_items = num_items
        self.batches_per_epoch = num_items // batch_size
        self.seed = seed
        self.device = device
        self._epoch = -1
        self._permutation = torch.empty(0, dtype=torch.long)

    def indices(self, batch_number: int) -> torch.Tensor:
        """Indices of batch `batch_number` (counted from the start of training)."""
        epoch, position = divmod(batch_number, self.batches_per_epoch)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * _EPOCH_SEED_STRIDE + epoch)
            self._permutation = torch.randperm(self.num_items, generator=generator).to(self.device)
            self._epoch = epoch
        start = position * self.batch_size
        return self._permutation[start : start + self.batch_size]
