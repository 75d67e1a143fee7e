"""SPADE on tiny label maps the tests make: label encoding, networks, game, training, translate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.data.labelmaps import FACADES_PALETTE
from ganforge.errors import GanforgeError
from ganforge.models import create_model
from ganforge.models.spade import SPADE, LabelEncoder, parse_palette
from ganforge.objectives import StepContext, create_objective

SIZE = 64
TINY = {"preset": "small", "d_layers": 2}


def write_label_pairs(root: Path, split: str, count: int, off_palette: bool = False) -> Path:
    """Side-by-side pairs: a photo (left) and its facades-palette label map (right)."""
    folder = root / split
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(split))
    for i in range(count):
        classes = np.kron(rng.integers(0, 12, (4, 4)), np.ones((SIZE // 4, SIZE // 4), dtype=np.int64))
        label = np.array(FACADES_PALETTE, dtype=np.uint8)[classes]
        if off_palette and i == 0:
            label[:4, :4] = (128, 128, 128)
        photo = (label.astype(np.int64) * 0.6 + rng.integers(0, 40, label.shape)).clip(0, 255).astype(np.uint8)
        Image.fromarray(np.concatenate([photo, label], axis=1)).save(folder / f"{i}.png")
    return root


def test_label_maps_become_one_hot_classes_by_the_nearest_palette_colour() -> None:
    encoder = LabelEncoder(FACADES_PALETTE, 12)
    colours = torch.tensor(FACADES_PALETTE, dtype=torch.float32)[[3, 7, 11]]
    noisy = (colours + torch.tensor([[5.0, -4.0, 3.0]])).clamp(0, 255)  # JPEG-like drift
    maps = (noisy / 127.5 - 1.0).T.reshape(1, 3, 1, 3)
    onehot = encoder(maps)
    assert onehot.shape == (1, 12, 1, 3) and onehot.sum(dim=1).eq(1).all()
    assert encoder.class_indices(maps).flatten().tolist() == [3, 7, 11]
    grey = LabelEncoder(None, 5)
    levels = torch.tensor([0.0, 2.0, 4.0, 9.0]).view(1, 1, 1, 4) / 127.5 - 1.0
    assert grey.class_indices(levels).flatten().tolist() == [0, 2, 4, 4]  # beyond the last class: the last
    assert parse_palette("0,0,0;255,255,255") == ((0, 0, 0), (255, 255, 255))
    with pytest.raises(GanforgeError, match="palette must be"):
        parse_palette("0,0;1,2,3")


def test_spade_modulates_by_the_layout_and_the_generator_keeps_the_size() -> None:
    norm = SPADE(4, 3, 8)
    x = torch.randn(1, 4, 8, 8)
    left, right = torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8)
    left[:, 0], right[:, 1] = 1, 1
    torch.nn.init.normal_(norm.gamma.weight)
    assert not torch.allclose(norm(x, left), norm(x, right))  # the same activations, two layouts, two outputs
    model = create_model("spade", image_shape=(3, SIZE, SIZE), **TINY)
    maps = torch.tensor(FACADES_PALETTE, dtype=torch.float32)[torch.randint(12, (2, SIZE, SIZE))].permute(0, 3, 1, 2) / 127.5 - 1
    out = model.translate(maps)
    assert out.shape == (2, 3, SIZE, SIZE) and out.abs().max() <= 1
    scales = model.discriminate_features(maps, out)
    assert len(scales) == 2 and all(len(layers) == 3 for layers in scales)  # 2 layers + the logits
    with pytest.raises(GanforgeError, match="multiples of 32 from 64"):
        create_model("spade", image_shape=(3, 32, 32))


def test_the_objective_is_hinge_plus_feature_matching_and_warns_without_vgg() -> None:
    torch.manual_seed(0)
    model = create_model("spade", image_shape=(3, SIZE, SIZE), **TINY).eval()  # spectral norm's power iteration still, to compare passes
    objective = create_objective("spade")
    with pytest.warns(UserWarning, match="VGG perceptual term is off"):
        objective.setup(model, seed=0, device=torch.device("cpu"))
    maps = torch.tensor(FACADES_PALETTE, dtype=torch.float32)[torch.randint(12, (1, SIZE, SIZE))].permute(0, 3, 1, 2) / 127.5 - 1
    photos = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    ctx = StepContext(batch=lambda: {"a": maps, "b": photos}, noise=torch.Generator(), optimizers={})
    d_loss, _ = objective.loss("d", model, ctx)
    fake = ctx.scratch["fake"]
    with torch.no_grad():
        real_out, fake_out = model.discriminate_features(maps, photos), model.discriminate_features(maps, fake)
        hinge = sum(torch.relu(1 - r[-1]).mean() + torch.relu(1 + f[-1]).mean() for r, f in zip(real_out, fake_out))
        matching = sum(torch.nn.functional.l1_loss(f, r) for fs, rs in zip(fake_out, real_out) for f, r in zip(fs[:-1], rs[:-1])) / 2
        adversarial = -sum(f[-1].mean() for f in fake_out)
    assert torch.allclose(d_loss, hinge, atol=1e-5)
    g_loss, stats = objective.loss("g", model, ctx)
    assert torch.allclose(g_loss, adversarial + 10 * matching, atol=1e-5) and stats["vgg"] == 0


def test_spade_trains_on_label_maps_reports_off_palette_colours_and_translates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_label_pairs(tmp_path / "pairs", "train", 4, off_palette=True)
    write_label_pairs(root, "test", 2)
    runs = tmp_path / "runs"
    args = ["train", "--model", "spade", "--data", "paired", "--direction", "BtoA", "--data-root", str(root), "-O", "d_layers=2",
            "-X", "vgg_weight=0", "--runs-dir", str(runs), "--run", "sp", "--no-tensorboard", "--no-progress", "--steps", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "off the 12-colour palette" in out
    saved = json.loads((runs / "sp" / "config.json").read_text())
    assert (saved["train"]["lr_g"], saved["train"]["lr_d"], saved["train"]["beta1"], saved["train"]["beta2"]) == (1e-4, 4e-4, 0.0, 0.9)
    assert any("palette" in note for note in saved["data"]["notes"])
    assert main(["translate", "sp", "--runs-dir", str(runs), "--input", str(root / "test"), "--out", str(tmp_path / "out")]) == 0
    assert len(list((tmp_path / "out").iterdir())) == 2
    assert main(["eval", "sp", "--runs-dir", str(runs), "--json"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"l1", "psnr", "seg_pixel_accuracy", "seg_real_pixel_accuracy"} <= set(record)
