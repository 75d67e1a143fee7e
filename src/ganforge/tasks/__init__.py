"""Tasks: what a family learns from. A task decides what a batch holds, what a
preview shows and which pipeline `ganforge.load(run)` returns.

- `generate`: batches {"image", "label"}; previews are sample grids from fixed
  noise (one row per class when conditional), or scatter plots of points;
  pipeline: sample.
- `paired`: batches {"a", "b"} of aligned image pairs; previews are rows of
  [input | output | target]; pipeline: translate.
"""

from ganforge.tasks.base import TASKS, Task, create_task
from ganforge.tasks import generate, paired, upscale  # noqa: F401  (registration side effects)

__all__ = ["TASKS", "Task", "create_task"]
