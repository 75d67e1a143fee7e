"""Tasks: what a family learns from. A task decides what a batch holds, what a
preview shows and which pipeline `ganforge.load(run)` returns.

- `generate`: batches {"image", "label"}; previews are sample grids from fixed
  noise (one row per class when conditional), or scatter plots of points;
  pipeline: sample.
- `paired`: batches {"a", "b"} of aligned image pairs; previews are rows of
  [input | output | target]; pipeline: translate.
- `unpaired`: batches {"a", "b"}, one image set of each domain; previews are
  rows of [image | translated | translated back]; pipeline: translate with a
  direction.
- `inpaint`: batches {"image", "mask"} with holes made on the fly; previews
  are rows of [with hole | completed | original]; pipeline: inpaint.
- `upscale`: batches {"lr", "hr"}; previews are rows of [bicubic | output |
  HR]; pipeline: upscale.
"""

from ganforge.tasks.base import TASKS, Task, create_task
from ganforge.tasks import generate, inpaint, paired, unpaired, upscale  # noqa: F401  (registration side effects)

__all__ = ["TASKS", "Task", "create_task"]
