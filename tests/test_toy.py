"""The 2-D mode-collapse benchmarks: ring and grid data, the toy model, the
mixture mode metrics, scatter plots, and `ganforge plot`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ganforge.cli import main
from ganforge.data import PointData, load_data
from ganforge.data.toy import grid_mixture, ring_mixture
from ganforge.errors import GanforgeError
from ganforge.models import create_model
from ganforge.models.cgan import Maxout
from ganforge.metrics.mixture import mixture_mode_stats, mode_histogram
from ganforge.pipelines import load
from ganforge.regularizers import gradient_penalty
from ganforge.report.classes import class_rows
from ganforge.report.scatter import MODE, scatter_image
from ganforge.training import train
from tests.conftest import TINY


def toy_config(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "data": "ring",
        "model": "toy-mlp",
        "model_options": TINY["toy-mlp"],
        "z_dim": 2,
        "steps": 4,
        "batch_size": 20,
        "sample_every": 4,
        "checkpoint_every": 4,
        "runs_dir": str(tmp_path / "runs"),
        "run": "toy",
        "tensorboard": False,
        "progress": False,
        "device": "cpu",
        **overrides,
    }


def test_ring_and_grid_are_the_papers_mixtures() -> None:
    ring, grid = load_data("ring"), load_data("grid")
    assert isinstance(ring, PointData) and isinstance(grid, PointData)
    assert ring.mixture.num_modes == 8 and ring.mixture.std == 0.01
    assert torch.allclose(ring.mixture.means.norm(dim=1), torch.ones(8))
    assert grid.mixture.num_modes == 25 and grid.mixture.std == 0.05
    assert sorted(set(grid.mixture.means[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert ring.image_shape == (2,) and len(ring) == 100_000
    # Fixed by the data seed: every run trains on the same points.
    assert torch.equal(load_data("ring").points, ring.points)
    # Each point lies near its mode, at the mixture's spread.
    for data in (ring, grid):
        nearest = torch.cdist(data.points, data.mixture.means).min(dim=1).values
        assert math.isclose(float(nearest.pow(2).mean().div(2).sqrt()), data.mixture.std, rel_tol=0.05)


def test_real_samples_cover_every_mode_with_near_uniform_histogram() -> None:
    mixture = grid_mixture()
    points, _ = mixture.sample(2500, torch.Generator().manual_seed(1))
    stats = mixture_mode_stats(points, mixture)
    assert stats["modes"] == stats["modes_total"] == 25
    # In 2-D, P(radius < 3 sigma) = 1 - exp(-4.5) = 98.9%.
    assert 0.98 < stats["high_quality"] < 0.995
    assert stats["modes_kl"] < 0.02


def test_collapse_and_stray_points_are_measured() -> None:
    mixture = ring_mixture()
    one_mode = mixture.means[3].repeat(1000, 1)
    stats = mixture_mode_stats(one_mode, mixture)
    assert (stats["modes"], stats["high_quality"]) == (1, 1.0)
    assert math.isclose(stats["modes_kl"], math.log(8), rel_tol=1e-9)
    # Points between modes are not high quality; KL is log K when none are.
    nowhere = torch.zeros(100, 2)
    stats = mixture_mode_stats(nowhere, mixture)
    assert (stats["modes"], stats["high_quality"]) == (0, 0.0)
    assert math.isclose(stats["modes_kl"], math.log(8))
    # A mode with a single stray point (under a tenth of its fair share) is not covered.
    two = torch.cat([mixture.means[0].repeat(999, 1), mixture.means[1:2]])
    assert mode_histogram(two, mixture).tolist() == [999, 1, 0, 0, 0, 0, 0, 0]
    assert mixture_mode_stats(two, mixture)["modes"] == 1
    # Two standard deviations off is high quality, four is not.
    off = mixture.means[:2] + torch.tensor([[2 * mixture.std, 0.0], [4 * mixture.std, 0.0]])
    assert mode_histogram(off, mixture).tolist() == [1, 0, 0, 0, 0, 0, 0, 0]


def test_scatter_plot_draws_modes_and_points() -> None:
    mixture = ring_mixture()
    image = scatter_image(mixture.means.repeat(10, 1) + 0.3, mixture, real=mixture.means)
    pixels = np.asarray(image)
    assert image.size == (512, 512)
    assert (pixels == MODE).all(axis=2).sum() > 8 * 10  # eight red circles
    white = (pixels == 255).all(axis=2)
    assert not white.all() and white.mean() > 0.9


def test_gradient_penalty_works_on_points() -> None:
    # D(x) = 3 * x_0 has gradient norm 3 everywhere: the penalty is (3 - 1)^2.
    critic = lambda x: 3 * x[:, 0]
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    penalty = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0))
    assert math.isclose(float(penalty), 4.0, rel_tol=1e-6)


def test_toy_run_trains_logs_modes_and_writes_a_scatter_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trained = train(toy_config(tmp_path, eval_every=4, eval_n=500))
    assert trained.run_dir is not None
    grid = Image.open(trained.run_dir / "samples" / "step-00000004.png")
    assert grid.size == (512, 512)
    lines = [json.loads(line) for line in (trained.run_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [line for line in lines if line["kind"] == "eval"]
    assert len(evals) == 1 and evals[0]["extractor"] == "mixture modes"
    assert evals[0]["modes_total"] == 8 and 0 <= evals[0]["high_quality"] <= 1

    # The CLI: eval scores modes, sample writes points or a scatter plot, plot draws both sets.
    assert main(["eval", str(trained.run_dir), "--n", "300", "--json"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["n_fake"] == 300 and record["modes_total"] == 8
    assert main(["sample", str(trained.run_dir), "--n", "50", "--out", str(tmp_path / "p.npz")]) == 0
    with np.load(tmp_path / "p.npz") as archive:
        assert archive["points"].shape == (50, 2) and archive["points"].dtype == np.float32
        assert np.allclose(archive["points"], load(trained.run_dir).sample(50, seed=0).numpy())
    assert main(["sample", str(trained.run_dir), "--n", "50", "--out", str(tmp_path / "p.png")]) == 0
    assert trained.save_samples(tmp_path / "q.png", 50) == tmp_path / "q.png"  # the pipeline train() returns knows its data too
    assert main(["plot", str(trained.run_dir), "--n", "200", "--out", str(tmp_path / "plot.png")]) == 0
    assert Image.open(tmp_path / "plot.png").size == (512, 512)
    assert main(["sample", str(trained.run_dir), "--n", "5", "--out", str(tmp_path / "folder")]) == 2
    assert "a point model writes a .npz file" in capsys.readouterr().err


def test_point_models_and_image_data_do_not_mix(tmp_path: Path) -> None:
    with pytest.raises(GanforgeError, match="model 'toy-mlp' generates 2-D points.*--data ring"):
        train(toy_config(tmp_path, data="digits"))
    with pytest.raises(GanforgeError, match="data 'ring' holds 2-D points.*--model toy-mlp"):
        train(toy_config(tmp_path, model="dcgan", model_options={}))
    with pytest.raises(GanforgeError, match="--diffaugment does not apply.*points"):
        train(toy_config(tmp_path, diffaugment="translation"))
    with pytest.raises(GanforgeError, match="image_size"):
        train(toy_config(tmp_path, image_size=32))


def test_class_rows_put_each_class_on_its_own_row() -> None:
    images = torch.arange(6, dtype=torch.float32).view(6, 1, 1, 1) / 10
    classes = torch.tensor([2, 0, 2, 2, 0, 1])
    cells, columns = class_rows(images, classes, num_classes=4)
    assert columns == 3  # the fullest class (2) holds three
    rows = cells.view(4, 3)
    assert rows[0].tolist()[:2] == pytest.approx([0.1, 0.4]) and rows[0, 2] == 0.0
    assert rows[2].tolist() == pytest.approx([0.0, 0.2, 0.3])
    assert (rows[3] == 0.0).all()  # class 3 never drawn: a grey row


def test_plot_of_a_conditional_image_run_has_one_row_per_class(tmp_path: Path) -> None:
    config = toy_config(tmp_path, data="digits", model="cgan", model_options=TINY["cgan"], run="cg", steps=2, sample_every=2, checkpoint_every=2)
    run_dir = train(config).run_dir
    assert main(["plot", str(run_dir), "--n", "20", "--out", str(tmp_path / "c.png")]) == 0
    rows, columns = 10, 2  # 20 samples of 10 classes
    width, height = Image.open(tmp_path / "c.png").size
    cell = (height - 2) / rows  # tiles plus their 2-pixel padding
    assert cell == int(cell) and (width - 2) / cell == columns


def test_toy_mlp_builds_the_unrolled_gan_networks() -> None:
    # Metz et al.'s ring networks: G without batch norm, D of plain ReLU layers.
    metz = create_model("toy-mlp", image_shape=(2,), z_dim=256, g_hidden=128, g_layers=2, g_norm="none", d_hidden=128, d_layers=1, d_act="relu")
    kinds = {type(m) for m in [*metz.generator.modules(), *metz.discriminator.modules()]}
    assert nn.BatchNorm1d not in kinds and Maxout not in kinds
    linears = [m for m in metz.discriminator.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(2, 128), (128, 1)]
    assert metz.generator(torch.randn(5, 256)).shape == (5, 2)
    assert metz.discriminator(torch.randn(5, 2)).shape == (5,)
    default = create_model("toy-mlp", image_shape=(2,), z_dim=2)
    assert {nn.BatchNorm1d, Maxout} <= {type(m) for m in default.modules()}
    with pytest.raises(GanforgeError, match="g_norm must be one of batch, none, not 'layer'"):
        create_model("toy-mlp", image_shape=(2,), z_dim=2, g_norm="layer")
    with pytest.raises(GanforgeError, match="d_act must be one of maxout, relu, not 'tanh'"):
        create_model("toy-mlp", image_shape=(2,), z_dim=2, d_act="tanh")


def test_toy_mlp_orthogonal_init_and_d_input_scale() -> None:
    torch.manual_seed(0)
    model = create_model("toy-mlp", image_shape=(2,), z_dim=256, g_hidden=128, g_layers=2, g_norm="none",
                         d_hidden=128, d_layers=1, d_act="relu", init="orthogonal", init_gain=0.8, d_input_scale=0.5)
    for layer in [m for m in model.modules() if isinstance(m, nn.Linear)]:
        w = layer.weight.detach()
        small = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        assert torch.allclose(small, 0.64 * torch.eye(len(small)), atol=1e-5)
        assert layer.bias is not None and not layer.bias.any()
    # D sees the data at half its scale: the same weights without the scale, fed x / 2.
    unscaled = create_model("toy-mlp", image_shape=(2,), z_dim=256, g_hidden=128, g_layers=2, g_norm="none",
                            d_hidden=128, d_layers=1, d_act="relu")
    with torch.no_grad():
        for target, source in zip(unscaled.discriminator.parameters(), model.discriminator.parameters(), strict=True):
            target.copy_(source)
    x = torch.randn(7, 2)
    assert torch.allclose(model.discriminator(x), unscaled.discriminator(x / 2), atol=1e-6)
    assert not torch.allclose(model.discriminator(x), unscaled.discriminator(x), atol=1e-3)
    with pytest.raises(GanforgeError, match="init must be one of default, orthogonal, not 'xavier'"):
        create_model("toy-mlp", image_shape=(2,), z_dim=2, init="xavier")
