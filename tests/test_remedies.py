"""Mode-collapse remedies (ganforge.remedies): PacGAN packing, the minibatch
standard deviation, minibatch discrimination and Unrolled GAN, each checked
against its definition and trained with every model they apply to."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.models import MODELS, create_model, from_config, is_conditional, models_of_task, takes_points
from ganforge.pipelines import load
from ganforge.remedies import MinibatchDiscrimination, RemedyDiscriminator, Remedies, adam_update, minibatch_stddev, unrolled_discriminator
from ganforge.training import build_model, check_regularizers, load_training_data, train
from ganforge.training.loop import Trainer
from tests.conftest import TINY, assert_same_state, state_of
from tests.test_families import family_config

# One setting per discriminator-side remedy, as TrainConfig fields.
D_REMEDIES: dict[str, dict[str, Any]] = {
    "pack": {"pack": 2},
    "minibatch-std": {"minibatch_std": True},
    "minibatch-disc": {"minibatch_disc": 3},
}
FLAGS = {"pack": "--pack", "minibatch-std": "--minibatch-std", "minibatch-disc": "--minibatch-disc"}


def remedy_config(tmp_path: Path, name: str, **overrides: Any) -> dict[str, Any]:
    """Two quick steps of model `name`: on the digits at 28x28 (a size every
    image model takes), or on the ring for a point model; one D step per G step."""
    size = {} if takes_points(name) else {"image_size": 28}
    quick = {"steps": 2, "d_steps": 1, "batch_size": 8, "sample_every": 2, "checkpoint_every": 2, "grid_size": 4}
    return family_config(tmp_path, name, **{**size, **quick, **overrides})


def _reads_plain_tensors(name: str) -> bool:
    """GAN.image_discriminator of model `name` (LAPGAN's D reads pyramids)."""
    shape = (2,) if takes_points(name) else (1, 28, 28)
    model = create_model(name, image_shape=shape, num_classes=10 if is_conditional(name) else 0, **TINY.get(name, {}))
    return model.image_discriminator


PLAIN = [name for name in models_of_task("generate") if _reads_plain_tensors(name)]
PYRAMID = [name for name in models_of_task("generate") if name not in PLAIN]
CASES = [(name, remedy) for name in PLAIN for remedy in D_REMEDIES if not (remedy == "pack" and is_conditional(name))]


def train_lines(run_dir: Path) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [line for line in lines if line["kind"] == "train"]


class Recorder(nn.Module):
    """An inner D that keeps what it was given and returns one logit per row."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x.detach().clone()
        return x.flatten(1).sum(dim=1)


# -- every model, every discriminator remedy -----------------------------------


@pytest.mark.parametrize(("name", "remedy"), CASES)
def test_every_model_trains_with_each_d_remedy_and_round_trips(name: str, remedy: str, tmp_path: Path) -> None:
    config = remedy_config(tmp_path, name, **D_REMEDIES[remedy])
    trained = train(config)
    assert trained.run_dir is not None
    lines = train_lines(trained.run_dir)
    assert [line["step"] for line in lines] == [1, 2]
    for line in lines:
        assert all(math.isfinite(line[key]) for key in ("loss_d", "loss_g")), line
    model = trained.model
    assert isinstance(model.discriminator, RemedyDiscriminator)
    saved = json.loads((trained.run_dir / "config.json").read_text())["model"]
    assert {key: saved[key] for key in D_REMEDIES[remedy]} == D_REMEDIES[remedy]
    # The reloaded run's D judges a real batch exactly as the trained one does.
    reloaded = load(trained.run_dir, device="cpu")
    assert reloaded.model.config == model.config
    data = load_training_data(TrainConfig(**config))
    x, labels = data.batch(torch.arange(8))
    model.eval()
    reloaded.model.eval()
    with torch.no_grad():
        logits = model.discriminate(x, labels)
        assert torch.equal(logits, reloaded.model.discriminate(x, labels))
    assert logits.shape == (8 // model.discriminator.pack,) and torch.isfinite(logits).all()


def test_remedies_combine_are_saved_only_when_on_and_rebuild_from_config() -> None:
    plain = create_model("dcgan", image_shape=(1, 16, 16), ngf=8, ndf=8)
    assert not {"pack", "minibatch_std", "minibatch_disc"} & set(plain.config)  # old configs still match
    model = create_model("dcgan", image_shape=(1, 16, 16), ngf=8, ndf=8, pack=2, minibatch_std=True, minibatch_disc=3)
    assert (model.config["pack"], model.config["minibatch_std"], model.config["minibatch_disc"]) == (2, True, 3)
    first = next(m for m in model.discriminator.inner.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 1 * 2 + 1 + 1  # packed channels, the std channel, the tiled B features
    rebuilt = from_config(model.config)
    assert rebuilt.config == model.config
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    # G is built first, from the same seed: a remedy does not change G's initial weights.
    torch.manual_seed(0)
    g_plain = create_model("dcgan", image_shape=(1, 16, 16), ngf=8, ndf=8).generator
    torch.manual_seed(0)
    g_packed = create_model("dcgan", image_shape=(1, 16, 16), ngf=8, ndf=8, pack=2).generator
    assert_same_state(state_of(g_plain), state_of(g_packed))


def test_spectral_norm_covers_the_whole_wrapped_discriminator() -> None:
    from torch.nn.utils import parametrize

    model = create_model("dcgan", image_shape=(1, 16, 16), ngf=8, ndf=8, spectral_norm=True, pack=2, minibatch_disc=3)
    layers = [m for m in model.discriminator.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert model.discriminator.minibatch_disc.projection in layers  # T too
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    with pytest.raises(GanforgeError, match="--spectral-norm does not apply to model 'sngan'"):
        create_model("sngan", image_shape=(1, 28, 28), spectral_norm=True, minibatch_std=True, **TINY["sngan"])


def test_labels_reach_the_inner_discriminator_of_a_conditional_model() -> None:
    torch.manual_seed(0)
    model = create_model("cgan-pd", image_shape=(1, 28, 28), num_classes=10, minibatch_std=True, minibatch_disc=2, **TINY["cgan-pd"])
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    model.eval()
    with torch.no_grad():
        a = model.discriminate(x, torch.tensor([0, 1, 2, 3]))
        b = model.discriminate(x, torch.tensor([4, 5, 6, 7]))
    assert a.shape == (4,) and not torch.equal(a, b)  # the projection term read the labels


# -- PacGAN ------------------------------------------------------------------------


def test_pack_stacks_consecutive_samples_on_the_channel_axis() -> None:
    recorder = Recorder()
    d = RemedyDiscriminator(recorder, Remedies(pack=3), (3, 2, 2))
    x = torch.arange(6 * 3 * 2 * 2, dtype=torch.float32).reshape(6, 3, 2, 2)
    out = d(x)
    assert recorder.seen.shape == (2, 9, 2, 2) and out.shape == (2,)
    for pack in range(2):
        for k in range(3):
            assert torch.equal(recorder.seen[pack, 3 * k : 3 * (k + 1)], x[3 * pack + k])
    # Points (N, D) -> (N/M, D*M).
    points = torch.arange(12, dtype=torch.float32).reshape(6, 2)
    RemedyDiscriminator(recorder, Remedies(pack=2), (2,))(points)
    assert torch.equal(recorder.seen, torch.tensor([[0.0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]))
    with pytest.raises(GanforgeError, match="--pack 3 .* batch of 5.*--batch-size"):
        d(x[:5])


# -- minibatch standard deviation ------------------------------------------------------


def test_minibatch_std_channel_is_the_group_standard_deviation() -> None:
    torch.manual_seed(0)
    recorder = Recorder()
    d = RemedyDiscriminator(recorder, Remedies(minibatch_std=True), (2, 3, 3))
    x = torch.randn(8, 2, 3, 3)
    d(x)
    assert recorder.seen.shape == (8, 3, 3, 3) and torch.equal(recorder.seen[:, :2], x)
    # Groups of 4, strided as in ProGAN: samples m, m+2, m+4, m+6.
    expected = torch.stack([x[m::2].std(dim=0, unbiased=False).mean() for m in range(2)])
    for i in range(8):
        assert torch.allclose(recorder.seen[i, 2], expected[i % 2].expand(3, 3), atol=1e-6)
    # A batch of 6 is not divisible by 4: one group, the whole batch.
    whole = minibatch_stddev(x[:6])
    assert torch.allclose(whole, x[:6].std(dim=0, unbiased=False).mean().expand(6), atol=1e-6)
    # Points get one extra coordinate.
    points = torch.randn(4, 5)
    RemedyDiscriminator(recorder, Remedies(minibatch_std=True), (5,))(points)
    assert recorder.seen.shape == (4, 6)
    assert torch.allclose(recorder.seen[:, 5], points.std(dim=0, unbiased=False).mean().expand(4), atol=1e-6)


def test_minibatch_std_of_identical_samples_is_zero() -> None:
    same = torch.full((8, 1, 4, 4), 0.3, requires_grad=True)
    std = minibatch_stddev(same)
    assert std.abs().max() < 1e-3  # sqrt(0 + 1e-8): ProGAN's epsilon keeps the root differentiable
    std.sum().backward()
    assert same.grad is not None and torch.isfinite(same.grad).all()


# -- minibatch discrimination ---------------------------------------------------------


def test_minibatch_discrimination_follows_its_definition() -> None:
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(in_features=12, kernels=4)
    x = torch.randn(5, 3, 2, 2)
    m = layer.projection(x.flatten(1)).view(5, 4, 5)
    expected = torch.zeros(5, 4)
    for i in range(5):
        for j in range(5):
            if j != i:
                expected[i] += torch.exp(-(m[i] - m[j]).abs().sum(dim=1))
    assert torch.allclose(layer(x), expected, atol=1e-6)
    assert layer.projection.weight.std().item() == pytest.approx(0.05, rel=0.3)


def test_minibatch_discrimination_gradient_matches_the_definition_even_for_identical_samples() -> None:
    """cdist's backward against the broadcast formula's, also at distance 0
    (a collapsed batch, where the remedy matters most): finite and equal."""
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(in_features=6, kernels=3)
    for x in (torch.randn(4, 6), torch.full((4, 6), 0.3)):
        x = x.requires_grad_(True)
        (got,) = torch.autograd.grad(layer(x).pow(2).sum(), x)
        m = layer.projection(x.flatten(1)).view(4, 3, 5)
        reference = torch.exp(-(m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(dim=3)).sum(dim=1) - 1.0
        (expected,) = torch.autograd.grad(reference.pow(2).sum(), x)
        assert torch.isfinite(got).all()
        assert torch.allclose(got, expected, atol=1e-5)


def test_minibatch_discrimination_scores_identical_samples_higher_than_far_apart_ones() -> None:
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(in_features=12, kernels=6)
    same = torch.full((4, 12), 0.5)
    far = torch.randn(4, 12) * 20
    assert torch.allclose(layer(same), torch.full((4, 6), 3.0))  # N - 1 neighbours at distance 0
    assert (layer(same) > layer(far)).all() and layer(far).max() < 0.1
    # The wrapper appends the B features to an image as one channel, tiled in reading order.
    recorder = Recorder()
    d = RemedyDiscriminator(recorder, Remedies(minibatch_disc=3), (3, 2, 2))
    images = torch.randn(4, 3, 2, 2)
    d(images)
    assert recorder.seen.shape == (4, 3 + 1, 2, 2) and torch.equal(recorder.seen[:, :3], images)
    o = d.minibatch_disc(images)
    assert torch.allclose(recorder.seen[:, 3].reshape(4, 4), torch.cat([o, o[:, :1]], dim=1))  # o0 o1 o2 o0
    # For points the B features are B more coordinates.
    points = RemedyDiscriminator(recorder, Remedies(minibatch_disc=3), (2,))
    points(torch.randn(4, 2))
    assert recorder.seen.shape == (4, 2 + 3)
    assert Remedies(minibatch_disc=3).inner_shape((2,)) == (5,) and Remedies(minibatch_disc=3).inner_shape((3, 8, 8)) == (4, 8, 8)


# -- Unrolled GAN ---------------------------------------------------------------------


def make_trainer(tmp_path: Path, **overrides: Any) -> Trainer:
    """DCGAN on the digits at 16x16 (its D has a batch-norm layer), ready to step."""
    config = TrainConfig(**remedy_config(tmp_path, "dcgan", image_size=16, batch_size=16, **overrides))
    data = load_training_data(config)
    torch.manual_seed(0)
    model = build_model(config, data)
    config = config.with_model_defaults(model.training_defaults)
    check_regularizers(config, model)
    return Trainer(config, tmp_path / "trainer", data, model, torch.device("cpu"))


def test_adam_update_is_torch_adam() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.1, betas=(0.5, 0.9))
    x = torch.randn(5, 3)
    for _ in range(3):
        # Adam updates its state in place: keep copies of the state before the step.
        before = [(p.detach().clone(), {k: v.clone() for k, v in optimizer.state.get(p, {}).items()}) for p in layer.parameters()]
        optimizer.zero_grad()
        layer(x).pow(2).sum().backward()
        grads = [p.grad.clone() for p in layer.parameters()]
        optimizer.step()
        for (p0, state), grad, p1 in zip(before, grads, layer.parameters()):
            if state:
                m, v, step = state["exp_avg"], state["exp_avg_sq"], float(state["step"])
            else:
                m, v, step = torch.zeros_like(p0), torch.zeros_like(p0), 0.0
            new, *_ = adam_update(p0, grad, m, v, step, lr=0.1, betas=(0.5, 0.9), eps=1e-8)
            assert torch.allclose(new, p1.detach(), atol=1e-6)
        x = x + 1.0


def test_unrolled_discriminator_is_d_after_k_adam_steps_from_the_optimizer_state() -> None:
    torch.manual_seed(0)
    model = create_model("vanilla", image_shape=(1, 4, 4), g_hidden=[8], d_hidden=[8])
    optimizer = torch.optim.Adam(model.discriminator.parameters(), lr=0.05, betas=(0.5, 0.999))
    batches = iter([torch.randn(6, 1, 4, 4) for _ in range(3)])
    probe = torch.randn(5, 1, 4, 4)

    def objective(discriminate: Any, x: torch.Tensor) -> torch.Tensor:
        return discriminate(x, None)[0].pow(2).mean()

    first = next(batches)
    optimizer.zero_grad()
    objective(model.discriminate_with_classes, first).backward()
    optimizer.step()  # a non-empty Adam state to start from
    rest = [next(batches), next(batches)]
    feed = iter(rest)
    before = state_of(model.discriminator)
    unrolled = unrolled_discriminator(model, optimizer, lambda d: objective(d, next(feed)), 2)
    assert_same_state(before, state_of(model.discriminator))  # D itself unchanged
    expected_input = unrolled(probe, None)[0]
    for batch in rest:  # the same two updates, done by torch's Adam
        optimizer.zero_grad()
        objective(model.discriminate_with_classes, batch).backward()
        optimizer.step()
    assert torch.allclose(expected_input, model.discriminate(probe), atol=1e-5)


def test_unroll_0_gives_the_plain_g_gradient_and_unroll_k_another(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path)
    model = trainer.model
    trainer.update("d", trainer.context())  # D's optimizer now has Adam state
    objective = trainer.objective
    fake = model.generate(model.sample_noise(16, generator=torch.Generator().manual_seed(1)))
    g_params = list(model.generator.parameters())

    def g_gradient(discriminate: Any) -> list[torch.Tensor]:
        logits, _ = discriminate(fake, None)
        return list(torch.autograd.grad(objective.loss_fn.g_loss(logits), g_params, retain_graph=True))

    plain = g_gradient(model.discriminate_with_classes)
    objective.unroll = 0
    for a, b in zip(plain, g_gradient(objective.unrolled_discriminator(trainer.context()))):
        assert torch.allclose(a, b, rtol=0, atol=1e-7)
    objective.unroll = 2
    unrolled = g_gradient(objective.unrolled_discriminator(trainer.context()))
    assert all(torch.isfinite(g).all() for g in unrolled)
    assert any(not torch.allclose(a, b) for a, b in zip(plain, unrolled))


@pytest.mark.parametrize("unroll_batch", ["fresh", "same"])
def test_unrolled_g_minimises_minus_ds_unrolled_loss_real_half_included(
    unroll_batch: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Metz et al.: G minimises the value function at theta_K, whose real-data
    # term depends on G through D's unrolled updates. With the minimax loss
    # that is minus D's whole loss at theta_K.
    trainer = make_trainer(tmp_path, unroll=2, loss="minimax", unroll_batch=unroll_batch)
    objective = trainer.objective
    context = trainer.context()
    trainer.update("d", context)
    real = context.scratch["batch"]["image"]
    calls: list[tuple[torch.Tensor, torch.Tensor]] = []
    unroll = objective.unrolled_discriminator

    def recording_unroll(ctx: Any, batch: Any = None) -> Any:
        discriminate = unroll(ctx, batch)

        def recording(images: torch.Tensor, labels: Any) -> Any:
            logits, classes = discriminate(images, labels)
            calls.append((images, logits))
            return logits, classes

        return recording

    monkeypatch.setattr(objective, "unrolled_discriminator", recording_unroll)
    objectives: list[torch.Tensor] = []
    monkeypatch.setattr("ganforge.training.loop.optimise", lambda loss, optimizer, scaler: objectives.append(loss))
    trainer.update("g", context)
    (_, fake_logits), (real_images, real_logits) = calls
    assert torch.equal(real_images, real)  # the step's real batch, at D's unrolled weights
    g_params = list(trainer.model.generator.parameters())

    def gradient(objective: torch.Tensor) -> list[torch.Tensor]:
        return list(torch.autograd.grad(objective, g_params, retain_graph=True, allow_unused=True))

    applied = gradient(objectives[0])
    minus_d_loss = gradient(-objective.loss_fn.d_loss(real_logits, fake_logits))
    for a, b in zip(applied, minus_d_loss):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)
    # The real half is not zero: without it G would follow another gradient.
    fake_half = gradient(objective.loss_fn.g_loss(fake_logits))
    assert any(not torch.allclose(a, b, rtol=1e-3, atol=1e-6) for a, b in zip(applied, fake_half))
    # fresh: each unrolled update read a batch of its own; same: the step's batch served them all.
    assert trainer._batches_read == (1 + 2 if unroll_batch == "fresh" else 1)


def test_unroll_batch_is_checked() -> None:
    with pytest.raises(GanforgeError, match="--unroll-batch must be one of fresh, same, got 'next'"):
        TrainConfig(data="digits", unroll=2, unroll_batch="next")


@pytest.mark.parametrize("spectral_norm", [False, True], ids=["plain", "spectral-norm"])
def test_unrolled_g_step_leaves_d_its_buffers_and_its_optimizer_alone(spectral_norm: bool, tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, unroll=2, spectral_norm=spectral_norm)
    model = trainer.model
    context = trainer.context()
    trainer.update("d", context)
    assert any("running_mean" in name for name, _ in model.discriminator.named_buffers())
    d_before, g_before = state_of(model.discriminator), state_of(model.generator)
    adam_before = {k: v.clone() for s in trainer.optimizers["d"].state.values() for k, v in s.items()}
    loss = trainer.update("g", context)["loss_g"]
    assert torch.isfinite(loss)
    assert_same_state(d_before, state_of(model.discriminator))
    adam_after = {k: v for s in trainer.optimizers["d"].state.values() for k, v in s.items()}
    assert all(torch.equal(adam_before[k], adam_after[k]) for k in adam_before)
    assert any(not torch.equal(g_before[k], v) for k, v in state_of(model.generator).items())  # G did move
    assert all(p.requires_grad for p in model.discriminator.parameters())
    # The unrolled updates read the step's next real batches, not the D steps' ones.
    assert trainer._batches_read == 1 + 2


def test_remedies_together_resume_bit_identically(tmp_path: Path) -> None:
    settings = {"unroll": 2, "pack": 2, "minibatch_std": True, "minibatch_disc": 3, "image_size": 16, "batch_size": 16, "checkpoint_every": 2}
    straight = train(remedy_config(tmp_path, "dcgan", run="straight", **{**settings, "steps": 4}))
    train(remedy_config(tmp_path, "dcgan", run="resumed", **{**settings, "steps": 2}))
    resumed = train(remedy_config(tmp_path, "dcgan", run="resumed", **{**settings, "steps": 4}), given={"steps"})
    assert resumed.step == 4
    assert_same_state(state_of(straight.model), state_of(resumed.model))
    lines = train_lines(resumed.run_dir)
    assert all(math.isfinite(line["loss_g"]) for line in lines)


# -- refusals ---------------------------------------------------------------------------


def test_batch_size_not_divisible_by_pack_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GanforgeError, match="--batch-size 10 is not divisible by --pack 4"):
        train(remedy_config(tmp_path, "dcgan", batch_size=10, pack=4))


@pytest.mark.parametrize("name", [n for n in PLAIN if is_conditional(n)])
def test_pack_on_a_conditional_model_is_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(GanforgeError, match=f"--pack does not apply to model '{name}': it is conditional"):
        train(remedy_config(tmp_path, name, pack=2))


@pytest.mark.parametrize("remedy", [*D_REMEDIES, "unroll"])
@pytest.mark.parametrize("name", PYRAMID)
def test_remedies_on_a_pyramid_discriminator_are_refused(name: str, remedy: str, tmp_path: Path) -> None:
    setting = D_REMEDIES.get(remedy, {"unroll": 1})
    flag = FLAGS.get(remedy, "--unroll")
    with pytest.raises(GanforgeError, match=f"{flag} does not apply to model '{name}': its discriminator reads image pyramids"):
        train(remedy_config(tmp_path, name, **setting))


def test_unroll_with_rmsprop_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GanforgeError, match="--unroll does not apply to the rmsprop optimizer"):
        train(remedy_config(tmp_path, "dcgan", unroll=1, optimizer="rmsprop"))
    with pytest.raises(GanforgeError, match="--unroll does not apply to the rmsprop optimizer \\(model 'wgan'\\).*--optimizer adam"):
        train(remedy_config(tmp_path, "wgan", unroll=1))  # RMSprop is WGAN's default


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"pack": 0}, "--pack must be at least 1"),
        ({"minibatch_disc": -1}, "--minibatch-disc must be 0 \\(off\\) or positive"),
        ({"unroll": -2}, "--unroll must be 0 \\(off\\) or positive"),
    ],
)
def test_negative_settings_are_named(tmp_path: Path, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(GanforgeError, match=message):
        TrainConfig(**remedy_config(tmp_path, "dcgan", **overrides))


def test_cli_flags_reach_the_run(tmp_path: Path) -> None:
    from ganforge.cli import main

    runs = tmp_path / "runs"
    args = ["train", "--data", "digits", "--model", "dcgan", "-O", "ngf=8", "-O", "ndf=8", "--steps", "1", "--batch-size", "8"]
    args += ["--pack", "2", "--minibatch-std", "--minibatch-disc", "2", "--unroll", "1"]
    args += ["--runs-dir", str(runs), "--run", "cli", "--no-tensorboard", "--no-progress", "--device", "cpu", "--grid-size", "4"]
    assert main(args) == 0
    saved = json.loads((runs / "cli" / "config.json").read_text())
    assert (saved["model"]["pack"], saved["model"]["minibatch_std"], saved["model"]["minibatch_disc"]) == (2, True, 2)
    assert saved["train"]["unroll"] == 1
