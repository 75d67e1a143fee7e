"""The benchmarks' training helper: a step budget can build on a shorter saved run."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from benchmarks.families import train_for
from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError

MakeConfig = Callable[..., TrainConfig]


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resumed_budget_matches_one_fresh_run(make_config: MakeConfig) -> None:
    fresh = train_for(make_config(run="fresh", ema=0.9), math.inf, 6)
    first = train_for(make_config(run="split", ema=0.9), math.inf, 3)
    assert first.start_step == 0 and first.trainer.step == 3
    resumed = train_for(make_config(run="split", ema=0.9), math.inf, 6, resume=True)
    assert resumed.start_step == 3 and resumed.trainer.step == 6
    expected, got = _state(fresh.trainer.model), _state(resumed.trainer.model)
    assert expected.keys() == got.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=1e-6, msg=key)


def test_without_resume_the_same_name_starts_afresh(make_config: MakeConfig) -> None:
    train_for(make_config(run="again"), math.inf, 3)
    again = train_for(make_config(run="again"), math.inf, 2)
    assert again.start_step == 0 and again.trainer.step == 2


def test_resume_refuses_a_run_made_with_other_settings(make_config: MakeConfig) -> None:
    train_for(make_config(run="other"), math.inf, 3)
    with pytest.raises(GanforgeError, match=r"cannot resume .*lr_g"):
        train_for(make_config(run="other", lr_g=1e-3), math.inf, 6, resume=True)
