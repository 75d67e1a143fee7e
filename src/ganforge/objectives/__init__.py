"""Objectives: each family's game (losses, update order, state), apart from the loop.

Importing this package registers every objective."""

from ganforge.objectives import adversarial, cycle, inpaint, laplacian, paired, spade, sr  # noqa: F401  (registration side effects)
from ganforge.objectives.base import Batch, Objective, StepContext
from ganforge.objectives.registry import OBJECTIVES, create_objective, list_objectives, objective_options, register_objective

__all__ = [
    "OBJECTIVES",
    "Batch",
    "Objective",
    "StepContext",
    "create_objective",
    "list_objectives",
    "objective_options",
    "register_objective",
]
