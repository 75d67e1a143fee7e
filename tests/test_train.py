"""The training loop and run folders: logging, determinism, resume, refusals."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

from ganforge.config import TrainConfig
from ganforge.data import load_data
from ganforge.errors import GanforgeError
from ganforge.losses import LOSSES
from ganforge.models import create_model
from ganforge.training import train
from ganforge.runs.checkpoint import latest_checkpoint
from ganforge.training.loop import Trainer
from tests.conftest import SHARED_DATA, assert_same_state, state_of

MakeConfig = Callable[..., TrainConfig]


def read_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def optimizer_tensors(run_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(latest_checkpoint(run_dir / "checkpoints") / "training.safetensors"))


def test_a_run_writes_config_metrics_samples_and_checkpoints(make_config: MakeConfig) -> None:
    pipe = train(make_config(tensorboard=True))
    run = pipe.run_dir
    saved = json.loads((run / "config.json").read_text())
    assert saved["train"]["model"] == "dcgan" and saved["train"]["lr_g"] == 2e-4  # resolved from the model
    assert saved["model"]["image_shape"] == [1, 8, 8] and saved["data"]["num_images"] == 1797
    train_records = [r for r in read_metrics(run) if r["kind"] == "train"]
    assert [r["step"] for r in train_records] == [1, 2, 3, 4, 5, 6]
    for record in train_records:
        assert set(record) == {"kind", "step", "loss_d", "loss_g", "d_real", "d_fake", "diversity", "sec_per_step"}
        assert 0 < record["d_real"] < 1 and 0 < record["d_fake"] < 1 and record["sec_per_step"] > 0
        assert record["diversity"] > 0
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-00000003.png", "step-00000006.png"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000003", "step-00000006"]
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert pipe.step == 6


def test_the_same_seed_gives_the_same_weights(make_config: MakeConfig) -> None:
    a = train(make_config(run="a", seed=3))
    b = train(make_config(run="b", seed=3))
    c = train(make_config(run="c", seed=4))
    assert_same_state(state_of(a.model), state_of(b.model))
    assert not torch.equal(a.model.generator[1].weight, c.model.generator[1].weight)


@pytest.mark.parametrize("d_steps", [1, 2])
def test_resuming_continues_the_very_same_run(make_config: MakeConfig, d_steps: int) -> None:
    """Training 2N steps equals training N, stopping, and resuming for N more."""
    straight = train(make_config(run="straight", steps=8, d_steps=d_steps, checkpoint_every=4))
    train(make_config(run="split", steps=4, d_steps=d_steps, checkpoint_every=4))
    resumed = train(make_config(run="split", steps=8, d_steps=d_steps, checkpoint_every=4))
    assert resumed.step == 8
    assert_same_state(state_of(straight.model), state_of(resumed.model))
    assert_same_state(optimizer_tensors(straight.run_dir), optimizer_tensors(resumed.run_dir))
    steps = [r["step"] for r in read_metrics(resumed.run_dir) if r["kind"] == "train"]
    assert steps == list(range(1, 9))  # each step logged once


def test_resume_after_a_crash_drops_metrics_past_the_checkpoint(make_config: MakeConfig) -> None:
    run = train(make_config(steps=4, checkpoint_every=4)).run_dir
    with open(run / "metrics.jsonl", "a") as log:  # a crashed run logged steps it never checkpointed
        log.write(json.dumps({"kind": "train", "step": 5, "loss_d": 0}) + "\n" + '{"kind": "tra')
    train(make_config(steps=6, checkpoint_every=4))
    steps = [r["step"] for r in read_metrics(run) if r["kind"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_a_finished_run_is_not_trained_again(make_config: MakeConfig, capsys: pytest.CaptureFixture[str]) -> None:
    first = train(make_config())
    before = state_of(first.model)
    again = train(make_config())
    assert "nothing to do" in capsys.readouterr().out
    assert_same_state(before, state_of(again.model))


def test_a_run_made_with_another_model_is_refused_and_kept(make_config: MakeConfig) -> None:
    run = train(make_config(model="vanilla", model_options={})).run_dir
    checkpoint = latest_checkpoint(run / "checkpoints")
    before = {p.name: p.read_bytes() for p in checkpoint.iterdir()}
    with pytest.raises(GanforgeError, match=r"model 'vanilla' \(now 'dcgan'\).*another --run"):
        train(make_config(steps=12))
    assert {p.name: p.read_bytes() for p in checkpoint.iterdir()} == before


def test_only_the_options_the_user_gave_are_compared(make_config: MakeConfig) -> None:
    train(make_config(lr_g=1e-3))
    # The CLI passes `given`: an unset lr is not a contradiction, a new --steps is fine.
    resumed = train(make_config(steps=8), given={"steps", "run", "runs_dir"})
    assert resumed.step == 8
    with pytest.raises(GanforgeError, match="lr_g 0.001"):
        train(make_config(steps=10, lr_g=5e-4), given={"steps", "lr_g"})


def test_a_corrupt_newest_checkpoint_is_set_aside_and_training_resumes_from_the_one_before(make_config: MakeConfig) -> None:
    run = train(make_config()).run_dir
    weights = latest_checkpoint(run / "checkpoints") / "model.safetensors"
    weights.write_bytes(b"\x00" * 10)
    with pytest.warns(UserWarning, match=f"skipped checkpoint: checkpoint file {weights} is corrupt"):
        resumed = train(make_config(steps=9))
    assert resumed.step == 9
    kept = run / "checkpoints" / "step-00000006.damaged" / "model.safetensors"
    assert kept.read_bytes() == b"\x00" * 10  # nothing lost: the damaged files stay for a look
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000006", "step-00000006.damaged", "step-00000009"]


def test_a_folder_that_is_not_a_run_is_refused(make_config: MakeConfig, tmp_path: Path) -> None:
    (tmp_path / "runs" / "test").mkdir(parents=True)
    (tmp_path / "runs" / "test" / "notes.txt").write_text("mine")
    with pytest.raises(GanforgeError, match="not a ganforge run"):
        train(make_config())


def test_too_few_images_for_a_batch(make_config: MakeConfig) -> None:
    with pytest.raises(GanforgeError, match="fewer than --batch-size 4096"):
        train(make_config(batch_size=4096))


def _trainer(config: TrainConfig, tmp_path: Path) -> Trainer:
    data = load_data("digits")
    torch.manual_seed(0)
    model = create_model("dcgan", image_shape=data.image_shape, ngf=8, ndf=8)
    config = config.with_model_defaults(model.training_defaults)
    return Trainer(config, tmp_path, data, model, torch.device("cpu"))


def test_the_generator_update_leaves_the_discriminator_alone(make_config: MakeConfig, tmp_path: Path) -> None:
    trainer = _trainer(make_config(), tmp_path)
    d_before = state_of(trainer.model.discriminator)
    g_before = state_of(trainer.model.generator)
    trainer.update("g", trainer.context())
    assert all(p.grad is None for p in trainer.model.discriminator.parameters())  # D frozen
    assert all(p.requires_grad for p in trainer.model.discriminator.parameters())  # and unfrozen after
    assert_same_state(d_before, state_of(trainer.model.discriminator))
    assert not torch.equal(g_before["1.weight"], trainer.model.generator[1].weight)


def test_the_discriminator_update_leaves_the_generator_weights_alone(make_config: MakeConfig, tmp_path: Path) -> None:
    trainer = _trainer(make_config(), tmp_path)
    g_weights = {k: v for k, v in state_of(trainer.model.generator).items() if "running" not in k and "num_batches" not in k}
    trainer.update("d", trainer.context())
    assert all(p.grad is None for p in trainer.model.generator.parameters())
    for key, value in g_weights.items():
        assert torch.equal(value, trainer.model.generator.state_dict()[key])


@pytest.mark.parametrize("d_steps", [1, 3])
def test_the_generator_update_reuses_the_last_fake_batch(make_config: MakeConfig, tmp_path: Path, d_steps: int) -> None:
    trainer = _trainer(make_config(d_steps=d_steps), tmp_path)
    made: list[torch.Tensor] = []
    generate = trainer.objective.fake

    def counted(*args: Any) -> torch.Tensor:
        made.append(generate(*args))
        return made[-1]

    trainer.objective.fake = counted  # type: ignore[method-assign]
    g_before = trainer.model.generator[1].weight.detach().clone()
    trainer.train_step()
    assert len(made) == d_steps  # one G forward per D update, none extra for G's
    assert made[-1].requires_grad and not any(m.requires_grad for m in made[:-1])
    assert not torch.equal(g_before, trainer.model.generator[1].weight)  # G learnt through the kept batch


def test_the_discriminator_update_keeping_the_fake_leaves_g_without_gradients(make_config: MakeConfig, tmp_path: Path) -> None:
    trainer = _trainer(make_config(), tmp_path)
    context = trainer.context()
    trainer.update("d", context)  # with one D step per step, the D update is the step's last
    kept = context.scratch["fake"]
    assert kept.requires_grad  # G's graph kept for the G update
    assert all(p.grad is None for p in trainer.model.generator.parameters())  # D's loss did not reach G


def test_linear_lr_decay_follows_the_step(make_config: MakeConfig, tmp_path: Path) -> None:
    trainer = _trainer(make_config(steps=4, lr_decay="linear", lr_g=4e-4, lr_d=2e-4), tmp_path)
    rates = []
    for step in range(4):
        trainer.step = step
        trainer.train_step()
        rates += [trainer.optimizers["g"].param_groups[0]["lr"], trainer.optimizers["d"].param_groups[0]["lr"]]
    assert rates == pytest.approx([rate * f for f in (1.0, 0.75, 0.5, 0.25) for rate in (4e-4, 2e-4)])
    with pytest.raises(GanforgeError, match="--lr-decay must be one of none, linear, got 'cosine'"):
        make_config(lr_decay="cosine").validate()


def test_d_steps_draws_k_batches_per_step(make_config: MakeConfig, tmp_path: Path) -> None:
    trainer = _trainer(make_config(d_steps=3), tmp_path)
    seen = []
    order = trainer.task.order  # type: ignore[attr-defined]
    original = order.indices
    order.indices = lambda n: seen.append(n) or original(n)
    trainer.train_step()
    trainer.step += 1
    trainer.train_step()
    assert seen == [0, 1, 2, 3, 4, 5]


def test_minimax_loss_and_label_smoothing_train(make_config: MakeConfig) -> None:
    pipe = train(make_config(loss="minimax", label_smoothing=0.1))
    records = [r for r in read_metrics(pipe.run_dir) if r["kind"] == "train"]
    assert all(r["loss_g"] < 0 for r in records)  # E[log(1 - D(G(z)))] is negative
    saved = json.loads((pipe.run_dir / "config.json").read_text())["train"]
    assert saved["loss"] == "minimax" and saved["label_smoothing"] == 0.1


@pytest.mark.parametrize("loss", LOSSES.names())
def test_every_registered_loss_trains_with_finite_values(make_config: MakeConfig, loss: str) -> None:
    pipe = train(make_config(loss=loss, steps=3, run=f"loss-{loss}"))
    records = [r for r in read_metrics(pipe.run_dir) if r["kind"] == "train"]
    assert len(records) == 3 and all(math.isfinite(r["loss_d"]) and math.isfinite(r["loss_g"]) for r in records)
    assert json.loads((pipe.run_dir / "config.json").read_text())["train"]["loss"] == loss


needs_shared = pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="../shared/data not present")


@pytest.mark.shared_data
@needs_shared
@pytest.mark.parametrize(
    ("data", "root", "shape"),
    [("mnist", "mnist", (1, 28, 28)), ("cifar10", "cifar10/test", (3, 32, 32))],
)
def test_dcgan_trains_on_the_real_data(make_config: MakeConfig, data: str, root: str, shape: tuple[int, int, int]) -> None:
    pipe = train(make_config(data=data, data_root=str(SHARED_DATA / root), steps=2, batch_size=8))
    assert pipe.sample(3).shape == (3, *shape)


def test_dcgan_at_28x28_defaults_to_its_measured_recipe(make_config: MakeConfig) -> None:
    from ganforge.models.dcgan import EMA_28, LR_28

    small = {"ngf": 8, "ndf": 8}
    pipe = train(make_config(image_size=28, steps=2, model_options=small))
    saved = json.loads((pipe.run_dir / "config.json").read_text())["train"]
    assert (saved["lr_g"], saved["lr_d"], saved["ema"]) == (LR_28, LR_28, EMA_28)
    assert pipe.model.generator_ema is not None  # the EMA the model asked for is kept and saved
    from ganforge.pipelines import load

    assert load(pipe.run_dir, device="cpu").model.generator_ema is not None  # and comes back with the run
    assert not torch.equal(pipe.model.generator_ema.body[0].weight, pipe.model.generator.body[0].weight)
    off = train(make_config(image_size=28, steps=2, model_options=small, ema=0.0, run="off"))
    assert off.model.generator_ema is None
    eight = train(make_config(steps=2, run="eight"))  # the Radford layout keeps the paper's recipe
    assert eight.train_config["ema"] == 0.0 and eight.train_config["lr_g"] == 2e-4 and eight.model.generator_ema is None
