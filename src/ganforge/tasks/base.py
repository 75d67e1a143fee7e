"""The Task interface and its registry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch

from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError

TASKS: dict[str, type[Task]] = {}


class Task:
    """One kind of training data, as the loop sees it."""

    name: ClassVar[str] = ""

    def __init__(
        self, *, data: Any, model: Any, config: TrainConfig, device: torch.device, shard: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> None:
        """`shard` picks this process's part of a global batch's indices (DDP)."""
        self.data, self.model, self.config, self.device = data, model, config, device
        self.shard = shard if shard is not None else (lambda indices: indices)

    def batch(self, number: int) -> dict[str, Any]:
        """Batch `number`, counted from the start of training (a pure function of
        it and the seed, so a resumed run reads the same batches)."""
        raise NotImplementedError

    def save_preview(self, model: Any, path: Path) -> Path:
        """Write the preview of the model as it is now to `path` (a PNG)."""
        raise NotImplementedError


def register_task(cls: type[Task]) -> type[Task]:
    TASKS[cls.name] = cls
    return cls


def create_task(name: str, **kwargs: Any) -> Task:
    if name not in TASKS:
        raise GanforgeError(f"unknown task '{name}'; tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name](**kwargs)
