"""Objectives: the registry, option checking, and a loop that has no family in it."""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
import torch

from tests.conftest import assert_same_state, state_of
from ganforge.config import TrainConfig
from ganforge.cli import main
from ganforge.data import load_data
from ganforge.errors import GanforgeError
from ganforge.models import create_model
from ganforge.objectives import OBJECTIVES, Objective, StepContext, create_objective, objective_options
from ganforge.training import train
from ganforge.training.loop import Trainer, learning_rate_factor

MakeConfig = Callable[..., TrainConfig]


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_every_objective_builds_with_its_defaults_and_names_its_parts(name: str) -> None:
    objective = create_objective(name)
    assert objective.name == name
    assert objective.stats and len(set(objective.stats)) == len(objective.stats)
    assert set(objective.networks) == set(objective.players)
    for step in (0, 7):
        assert set(objective.schedule(step)) <= set(objective.players)
    for player in objective.players:
        assert player not in objective.frozen(player)


def test_an_unknown_objective_option_is_refused_by_name_with_the_valid_ones() -> None:
    with pytest.raises(GanforgeError, match=r"option\(s\) l2_weight do not apply to objective 'pix2pix'; valid options: loss, label_smoothing, l1_weight, gan_weight"):
        create_objective("pix2pix", l2_weight=3.0)


def test_x_options_reach_the_objective_and_override_their_flag_aliases(make_config: MakeConfig, tmp_path: Path) -> None:
    trainer = _trainer(make_config(objective_options={"d_steps": 3}, d_steps=2), tmp_path)
    assert trainer.objective.schedule(0) == ["d", "d", "d", "g"]
    with pytest.raises(GanforgeError, match="option\\(s\\) lambda do not apply to objective 'adversarial'"):
        train(make_config(objective_options={"lambda": 3}))


def test_a_flag_the_models_objective_does_not_take_is_refused(make_config: MakeConfig) -> None:
    config = make_config(model="lapgan", model_options={"coarse_g_hidden": 16, "coarse_d_hidden": 16, "ch": 8, "levels": 2}, r1=1.0)
    with pytest.raises(GanforgeError, match="--r1 .* not apply to model 'lapgan'"):
        train(config)
    from ganforge.objectives.settings import objective_settings

    with pytest.raises(GanforgeError, match="--unroll does not apply to objective 'laplacian' \\(model 'lapgan'\\); its options: loss, label_smoothing, d_steps, clip"):
        objective_settings(make_config(objective="laplacian", unroll=2), "lapgan")


def test_the_cli_reads_x_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--data", "digits", "-O", "ngf=8", "-O", "ndf=8", "--steps", "1", "--batch-size", "8", "-X", "d_steps=2",
                 "--runs-dir", str(tmp_path), "--run", "x", "--no-tensorboard", "--no-progress", "--device", "cpu"])
    assert code == 0
    saved = json.loads((tmp_path / "x" / "config.json").read_text())["train"]
    assert saved["objective_options"] == {"d_steps": 2} and saved["objective"] == "adversarial"
    assert main(["train", "--data", "digits", "-X", "d_steps", "--runs-dir", str(tmp_path), "--run", "y"]) == 2
    assert "objective option 'd_steps' must look like KEY=VALUE" in capsys.readouterr().err


def test_the_learning_rate_schedule_is_constant_then_linear() -> None:
    config = TrainConfig(steps=10, lr_decay="linear", lr_decay_start=0.5)
    assert [learning_rate_factor(config, s) for s in (0, 4, 5, 6, 9)] == pytest.approx([1, 1, 1, 0.8, 0.2])
    assert learning_rate_factor(TrainConfig(steps=10, lr_decay="none"), 9) == 1.0
    with pytest.raises(GanforgeError, match="--lr-decay-start must be a fraction"):
        TrainConfig(lr_decay_start=1.5)


# -- a family the loop has never heard of ----------------------------------------


class PullToZero(Objective):
    """A one-player game: G alone learns to output zeros; it counts its own
    updates in a buffer that a resume must restore."""

    players: ClassVar[tuple[str, ...]] = ("g",)
    networks: ClassVar[dict[str, tuple[str, ...]]] = {"g": ("generator",)}
    stats: ClassVar[tuple[str, ...]] = ("loss_g", "updates")
    name = "pull-to-zero"

    def __init__(self) -> None:
        self.updates = torch.zeros(())

    def loss(self, player: str, nets: Any, ctx: StepContext) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        batch = ctx.batch()
        fake = nets.generate(nets.training_noise(batch["image"].shape[0], ctx.noise))
        self.updates += 1
        loss = fake.pow(2).mean()
        return loss, {"loss_g": loss.detach(), "updates": self.updates.clone()}

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {"updates": self.updates}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        self.updates = tensors["updates"].clone()


def _trainer(config: Any, run_dir: Path, objective: Objective | None = None) -> Trainer:
    data = load_data("digits")
    torch.manual_seed(0)
    model = create_model("dcgan", image_shape=data.image_shape, ngf=8, ndf=8)
    config = config.with_model_defaults(model.training_defaults)
    return Trainer(config, run_dir, data, model, torch.device("cpu"), objective=objective)


def test_the_loop_plays_any_objective_and_restores_its_state(make_config: MakeConfig, tmp_path: Path) -> None:
    config = make_config(steps=4, checkpoint_every=2)
    (tmp_path / "run").mkdir()
    trainer = _trainer(config, tmp_path / "run", PullToZero())
    assert set(trainer.optimizers) == {"g"}
    d_before = state_of(trainer.model.discriminator)
    trainer.fit()
    assert_same_state(d_before, state_of(trainer.model.discriminator))  # no player owns D: untouched
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train_records = [r for r in records if r["kind"] == "train"]
    assert [r["updates"] for r in train_records] == [1, 2, 3, 4]  # the objective's own stats, logged by name
    assert train_records[-1]["loss_g"] < train_records[0]["loss_g"]
    resumed = _trainer(config, tmp_path / "run", PullToZero())
    assert resumed.resume() == 4
    assert float(resumed.objective.updates) == 4  # its buffer came back from the checkpoint


def test_only_the_adversarial_games_watch_for_a_rejecting_d_and_collapse() -> None:
    from ganforge.training.health import HealthWatch

    assert create_objective("adversarial").health_signs == ("d_fake", "diversity")
    assert create_objective("pix2pix").health_signs == ()
    quiet = HealthWatch(watch_d_fake=False, watch_diversity=False, windows=1)
    assert quiet.update(1, {"d_fake": 0.001, "diversity": 0.001}) == []
    watching = HealthWatch(windows=1)
    assert len(watching.update(1, {"d_fake": 0.001, "diversity": 0.001})) == 2


def test_an_objective_that_does_not_fit_the_model_is_refused(make_config: MakeConfig) -> None:
    with pytest.raises(GanforgeError, match="objective 'pix2pix' plays on paired data, and model 'dcgan' is a model of task 'generate'"):
        train(make_config(objective="pix2pix"))
    with pytest.raises(GanforgeError, match="objective 'laplacian' trains LAPGAN's pyramid of GANs; model 'dcgan' is not one"):
        train(make_config(objective="laplacian"))
