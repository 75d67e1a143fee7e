"""The benchmarks' training helper: a step budget can build on a shorter saved run."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import ganforge
from benchmarks.families import train_for
from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.runs.checkpoint import list_checkpoints
from ganforge.runs.folder import checkpoints_root

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


def test_checkpoint_every_lets_an_interrupted_budget_resume(make_config: MakeConfig, capsys: pytest.CaptureFixture[str]) -> None:
    """A long benchmark run checkpoints on the way: a run cut after 4 of 6
    steps (its checkpoint at 4) resumes to the same weights as 6 fresh steps."""
    fresh = train_for(make_config(run="whole"), math.inf, 6)
    cut = train_for(make_config(run="cut", keep_checkpoints=5), math.inf, 5, checkpoint_every=2)
    checkpoints = list_checkpoints(checkpoints_root(cut.trainer.run_dir))
    assert [step for step, _ in checkpoints] == [2, 4, 5]  # the last one is the final save
    assert "checkpoint at step 4/5" in capsys.readouterr().err
    shutil.rmtree(checkpoints[-1][1])  # as if killed before step 5 was saved
    resumed = train_for(make_config(run="cut", keep_checkpoints=5), math.inf, 6, resume=True)
    assert resumed.start_step == 4
    expected, got = _state(fresh.trainer.model), _state(resumed.trainer.model)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=1e-6, msg=key)


def test_the_mode_collapse_benchmark_continues_a_shorter_run(tmp_path: Path) -> None:
    """`python -m benchmarks.mode_collapse --resume --steps N` builds on the
    saved run of the same name: 3 + 3 steps score as 6 fresh ones."""
    from benchmarks.mode_collapse import run_one

    options = {"g_hidden": 16, "g_layers": 2, "d_hidden": 16, "d_layers": 2}
    train = {"batch_size": 32}

    def scored(steps: int, tag: str, resume: bool = False) -> dict[str, Any]:
        return run_one("ring", "plain", 0, steps, options, train, tag, resume=resume, runs_dir=str(tmp_path))

    fresh = scored(6, "-fresh")
    assert scored(3, "-split")["resumed_from_step"] == 0
    resumed = scored(6, "-split", resume=True)
    assert resumed["resumed_from_step"] == 3 and resumed["command"].endswith("--tag=-split --resume")
    for key in ("modes", "high_quality", "modes_kl"):
        assert resumed[key] == pytest.approx(fresh[key], abs=1e-6), key
    expected = _state(ganforge.load(str(tmp_path / "collapse-ring-plain-seed0-fresh"), device="cpu").model)
    got = _state(ganforge.load(str(tmp_path / "collapse-ring-plain-seed0-split"), device="cpu").model)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=1e-6, msg=key)
