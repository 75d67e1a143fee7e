"""Every registered model, trained through the one training loop: a new model
is covered the moment it is registered. Plus the regularisers, conditional
sampling and the errors for options that do not apply."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.models import MODELS, create_model, is_conditional, models_of_task, takes_points
from ganforge.pipelines import load
from ganforge.training import build_model, check_regularizers, load_training_data, train, uses_batch_norm
from tests.conftest import TINY


def family_config(tmp_path: Path, name: str, **overrides: Any) -> dict[str, Any]:
    """Three steps of model `name` on the digits upscaled to 32x32 (a size every
    image model takes), or for a point model on the 2-D ring."""
    data = {"data": "ring"} if takes_points(name) else {"data": "digits", "image_size": 32}
    return {
        **data,
        "model": name,
        "model_options": TINY.get(name, {}),
        "steps": 3,
        "batch_size": 16,
        "sample_every": 3,
        "checkpoint_every": 3,
        "grid_size": 20,
        "runs_dir": str(tmp_path / "runs"),
        "run": name,
        "tensorboard": False,
        "progress": False,
        "device": "cpu",
        **overrides,
    }


def train_lines(run_dir: Path) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [line for line in lines if line["kind"] == "train"]


@pytest.mark.parametrize("name", models_of_task("generate"))
def test_every_model_trains_and_survives_a_save_load_round_trip(name: str, tmp_path: Path) -> None:
    trained = train(family_config(tmp_path, name))
    assert trained.run_dir is not None
    lines = train_lines(trained.run_dir)
    assert [line["step"] for line in lines] == [1, 2, 3]
    for line in lines:
        assert all(math.isfinite(line[key]) for key in ("loss_d", "loss_g")), line
    # The weights on disk give the very images the trained model gives.
    reloaded = load(trained.run_dir, device="cpu")
    assert reloaded.step == 3
    assert torch.equal(trained.sample(6, seed=4), reloaded.sample(6, seed=4))
    samples = reloaded.sample(6, seed=4)
    assert torch.isfinite(samples).all()
    if takes_points(name):
        assert samples.shape == (6, 2)
    else:
        assert samples.shape == (6, 1, 32, 32) and samples.abs().max() <= 1
    assert (trained.run_dir / "samples" / "step-00000003.png").is_file()


@pytest.mark.parametrize("name", [n for n in MODELS.names() if is_conditional(n)])
def test_conditional_models_generate_the_requested_class(name: str, tmp_path: Path) -> None:
    trained = train(family_config(tmp_path, name, steps=1))
    out = tmp_path / "three.npz"
    trained.save_samples(out, 5, seed=0, class_index=3)
    with np.load(out) as archive:
        assert archive["labels"].tolist() == [3] * 5
    # Different classes from the same noise give different images: G reads the label.
    z = trained.noise(4, seed=0)
    assert not torch.equal(trained.generate(z, torch.full((4,), 1)), trained.generate(z, torch.full((4,), 2)))


def test_conditional_grid_has_one_row_per_class(tmp_path: Path) -> None:
    trained = train(family_config(tmp_path, "cgan", steps=1))
    out = trained.save_samples(tmp_path / "grid.png", 30, seed=0)
    from PIL import Image

    width, height = Image.open(out).size
    # 10 rows (classes) of 3 images, each 32 px plus 2 px padding.
    assert (width, height) == (3 * 34 + 2, 10 * 34 + 2)
    grid = trained.class_grid(3, seed=0)
    assert grid.shape == (30, 1, 32, 32)


def test_class_out_of_range_is_named(tmp_path: Path) -> None:
    trained = train(family_config(tmp_path, "cgan", steps=1))
    with pytest.raises(GanforgeError, match=r"--class 10 is out of range: model 'cgan' has classes 0\.\.9"):
        trained.sample(4, class_index=10)
    with pytest.raises(GanforgeError, match="--class -1 is out of range"):
        trained.sample(4, class_index=-1)


def test_class_on_an_unconditional_model_is_refused(tmp_path: Path) -> None:
    trained = train(family_config(tmp_path, "dcgan", steps=1))
    with pytest.raises(GanforgeError, match="--class does not apply to model 'dcgan': it is unconditional"):
        trained.sample(4, class_index=0)


def test_conditional_model_on_unlabelled_data_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    from PIL import Image

    for i in range(4):
        Image.fromarray(np.full((32, 32), 40 * i, dtype=np.uint8)).save(folder / f"{i}.png")
    config = family_config(tmp_path, "acgan", data="folder", data_root=str(folder), batch_size=2)
    with pytest.raises(GanforgeError, match="model 'acgan' is conditional and needs class labels.*--labels"):
        train(config)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model": "lapgan", "gp": 10.0}, "--gp does not apply to model 'lapgan'"),
        ({"model": "lapgan", "diffaugment": "translation"}, "--diffaugment does not apply"),
        ({"model": "sngan", "spectral_norm": True}, "--spectral-norm does not apply to model 'sngan'"),
        ({"model": "wgan", "beta1": 0.5}, "--beta1 does not apply to the rmsprop optimizer"),
        ({"diffaugment": "translation,zoom"}, "unknown DiffAugment policy zoom"),
        ({"ema": 1.0}, "--ema must be a decay in \\[0, 1\\)"),
        ({"gp": -1.0}, "--gp must be 0 \\(off\\) or positive"),
        ({"optimizer": "lbfgs"}, "--optimizer must be one of adam, rmsprop, sgd"),
    ],
)
def test_options_that_do_not_apply_are_named(tmp_path: Path, overrides: dict[str, Any], message: str) -> None:
    name = overrides.get("model", "dcgan")
    with pytest.raises(GanforgeError, match=message):
        train(family_config(tmp_path, name, **{k: v for k, v in overrides.items() if k != "model"}))


@pytest.mark.parametrize(
    ("model", "options", "hint"),
    [
        ("dcgan", {}, "add -O d_norm=layer"),
        ("lsgan", {}, "use a model without batch norm in D"),
        ("dcgan", {"d_norm": "layer"}, None),
        ("wgan-gp", {}, None),
    ],
)
def test_gradient_penalty_on_a_batch_norm_critic_warns(tmp_path: Path, model: str, options: dict[str, Any], hint: str | None) -> None:
    config = TrainConfig(**{**family_config(tmp_path, model), "model_options": options, "gp": 10.0})
    built = build_model(config, load_training_data(config))
    assert uses_batch_norm(built.discriminator) == (hint is not None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_regularizers(config.with_model_defaults(built.training_defaults), built)
    messages = [str(w.message) for w in caught]
    if hint is None:
        assert messages == []
    else:
        assert len(messages) == 1 and f"model '{model}' has batch norm" in messages[0] and hint in messages[0]


def test_paper_defaults_reach_the_run_config(tmp_path: Path) -> None:
    trained = train(family_config(tmp_path, "wgan", steps=1))
    assert trained.run_dir is not None
    saved = json.loads((trained.run_dir / "config.json").read_text())["train"]
    assert (saved["loss"], saved["optimizer"], saved["d_steps"], saved["clip"], saved["lr_d"]) == ("wasserstein", "rmsprop", 5, 0.01, 5e-5)
    assert saved["beta1"] is None  # Adam's betas do not apply to RMSprop
    gp = train(family_config(tmp_path, "wgan-gp", steps=1))
    assert gp.run_dir is not None
    saved = json.loads((gp.run_dir / "config.json").read_text())["train"]
    assert (saved["gp"], saved["beta1"], saved["beta2"], saved["d_steps"]) == (10.0, 0.0, 0.9, 5)


def test_weight_clipping_bounds_every_critic_weight(tmp_path: Path) -> None:
    trained = train(family_config(tmp_path, "wgan", steps=2, clip=0.003))
    weights = torch.cat([p.detach().flatten() for p in trained.model.discriminator.parameters()])
    assert weights.abs().max() <= 0.003 + 1e-9
    assert (weights.abs() > 0.0029).any()  # the bound is active, not just never reached


def test_spectral_norm_flag_normalises_every_discriminator_layer(tmp_path: Path) -> None:
    from torch.nn.utils import parametrize

    trained = train(family_config(tmp_path, "dcgan", steps=2, spectral_norm=True))
    layers = [m for m in trained.model.discriminator.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    for layer in layers:
        matrix = layer.weight.detach().flatten(1)
        assert torch.linalg.matrix_norm(matrix, ord=2) < 1.2  # ~1 after the training passes' power iterations


def test_ema_weights_are_saved_and_used_for_sampling(tmp_path: Path) -> None:
    trained = train(family_config(tmp_path, "dcgan", steps=4, ema=0.9))
    model = trained.model
    assert model.generator_ema is not None
    differs = [not torch.equal(a, b) for a, b in zip(model.generator.parameters(), model.generator_ema.parameters())]
    assert any(differs)  # the average lags behind the live weights
    z = trained.noise(4, seed=0)
    with torch.no_grad():
        expected = model.generator_ema(z)
    assert torch.allclose(trained.generate(z), expected)
    reloaded = load(trained.run_dir, device="cpu")
    assert torch.equal(reloaded.generate(z), trained.generate(z))


def test_regularised_training_is_deterministic_and_resumes_exactly(tmp_path: Path) -> None:
    settings = {"diffaugment": "translation,cutout,color", "r1": 1.0, "gp": 1.0, "ema": 0.99}
    straight = train(family_config(tmp_path, "dcgan", run="straight", steps=4, checkpoint_every=2, **settings))
    train(family_config(tmp_path, "dcgan", run="resumed", steps=2, checkpoint_every=2, **settings))
    resumed = train(family_config(tmp_path, "dcgan", run="resumed", steps=4, checkpoint_every=2, **settings), given={"steps"})
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def test_acgan_trains_its_class_head_on_the_auxiliary_loss(tmp_path: Path) -> None:
    """D's class head plays no part in the adversarial logit: only the auxiliary
    cross-entropy can move it, so a D update that changes it used that term."""
    from ganforge.config import TrainConfig
    from ganforge.training import build_model, load_training_data
    from ganforge.training.loop import Trainer

    config = TrainConfig(**family_config(tmp_path, "acgan"))
    data = load_training_data(config)
    model = build_model(config, data)
    trainer = Trainer(config.with_model_defaults(model.training_defaults), tmp_path, data, model, torch.device("cpu"))
    head = model.discriminator.classifier
    before = [p.detach().clone() for p in head.parameters()]
    trainer.update("d", trainer.context())
    assert any(not torch.equal(a, b) for a, b in zip(before, head.parameters()))


def test_models_build_with_the_paper_widths() -> None:
    sngan = create_model("sngan", image_shape=(3, 32, 32))
    assert sngan.training_defaults["d_steps"] == 5 and sngan.training_defaults["loss"] == "hinge"


def test_cgan_common_mlp_networks_read_the_label_at_their_input(tmp_path: Path) -> None:
    model = create_model("cgan", image_shape=(1, 8, 8), num_classes=3, g_net="mlp", g_hidden=16, d_net="mlp", d_hidden=8)
    g = model.generator.eval()
    z = torch.randn(1, 100).repeat(2, 1)
    assert not torch.equal(*g(z, torch.tensor([0, 2])))  # same z, other class: another image
    assert g.body[0].in_features == 100 + 3
    d = model.discriminator.eval()
    x = torch.zeros(2, 1, 8, 8)
    # Only the label differs: the score must differ, or D could not check the class.
    assert not torch.equal(d(x, torch.tensor([0, 0])), d(x, torch.tensor([1, 2])))
    assert d.body[0].in_features == 64 + 3 and d.body[0].out_features == 8
    trained = train(family_config(tmp_path, "cgan", steps=2, model_options={"g_net": "mlp", "g_hidden": 16, "d_net": "mlp", "d_hidden": 8}))
    assert trained.run_dir is not None
    saved = json.loads((trained.run_dir / "config.json").read_text())["model"]["options"]
    assert (saved["g_net"], saved["d_net"]) == ("mlp", "mlp")
    with pytest.raises(GanforgeError, match="cgan: d_net must be one of paper, mlp, not 'conv'"):
        create_model("cgan", image_shape=(1, 8, 8), num_classes=3, d_net="conv")
    with pytest.raises(GanforgeError, match="g_dropout and g_norm apply to g_net=paper"):
        create_model("cgan", image_shape=(1, 8, 8), num_classes=3, g_net="mlp", g_norm="batch")


def test_cli_samples_one_class_and_pyramid_levels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ganforge.cli import main

    train(family_config(tmp_path, "cgan", steps=1))
    runs = str(tmp_path / "runs")
    assert main(["sample", "cgan", "--runs-dir", runs, "--class", "7", "--n", "4", "--out", str(tmp_path / "sevens.npz")]) == 0
    with np.load(tmp_path / "sevens.npz") as archive:
        assert archive["labels"].tolist() == [7, 7, 7, 7]
    assert main(["sample", "cgan", "--runs-dir", runs, "--class", "12", "--out", str(tmp_path / "x.npz")]) == 2
    assert "--class 12 is out of range: model 'cgan' has classes 0..9" in capsys.readouterr().err

    train(family_config(tmp_path, "lapgan", steps=1))
    assert main(["sample", "lapgan", "--runs-dir", runs, "--levels", "--n", "4", "--out", str(tmp_path / "lap.png")]) == 0
    from PIL import Image

    grids = [np.asarray(Image.open(tmp_path / f"lap-level{k}.png")) for k in range(3)]
    # Tiles of 8, 16 and 32 px, all shown at 32 px: one layout, different pictures.
    assert grids[0].shape == grids[2].shape and not np.array_equal(grids[0], grids[2])
    assert main(["sample", "cgan", "--runs-dir", runs, "--levels", "--out", str(tmp_path / "c.png")]) == 2
    assert "--levels does not apply to model 'cgan'" in capsys.readouterr().err
