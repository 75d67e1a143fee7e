"""From a TrainConfig to the objective it trains: which one, with which options.

The objective is the model's (its paper default, `objective` in
training_defaults) unless --objective names another. Its options come from
`-X KEY=VALUE` (TrainConfig.objective_options), checked against the
objective's constructor. The adversarial game's older flags (--loss,
--d-steps, --gp, --r1, --clip, --diffaugment, --unroll, ...) stay TrainConfig
fields and are aliases of the options of the same names; -X wins where both
are given. A flag that is on for an objective that does not take it is
refused by name.
"""

from __future__ import annotations

from typing import Any

from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.models.base import Networks
from ganforge.objectives.base import Objective
from ganforge.objectives.registry import create_objective, objective_options

# TrainConfig fields that alias objective options, with the value that means "off".
OBJECTIVE_ALIASES: dict[str, Any] = {
    "loss": None,
    "label_smoothing": 0.0,
    "d_steps": 1,
    "gp": 0.0,
    "r1": 0.0,
    "clip": 0.0,
    "diffaugment": "",
    "unroll": 0,
    "unroll_batch": "fresh",
}


def flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def objective_settings(config: TrainConfig, model_name: str = "") -> tuple[str, dict[str, Any]]:
    """(objective name, its options) for a config whose model defaults are filled."""
    name = config.objective or "adversarial"
    accepted = objective_options(name)
    options: dict[str, Any] = {}
    for field, off in OBJECTIVE_ALIASES.items():
        value = getattr(config, field)
        if field in accepted:
            if value is not None:
                options[field] = value
        elif value is not None and value != off and field not in config.objective_options:
            of_model = f" (model '{model_name}')" if model_name else ""
            raise GanforgeError(
                f"{flag(field)} does not apply to objective '{name}'{of_model}; its options: {', '.join(accepted) or 'none'}"
            )
    options.update(config.objective_options)
    return name, options


def build_objective(config: TrainConfig, model: Networks) -> Objective:
    """The objective `config` trains `model` with."""
    name, options = objective_settings(config, model.config.get("name", ""))
    objective = create_objective(name, **options)
    objective.check_model(model)
    return objective
