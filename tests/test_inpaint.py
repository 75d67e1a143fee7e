"""Inpainting on tiny images the tests make: masks, holdout, network, game, training, `ganforge inpaint`, eval."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import ganforge
from benchmarks.inpaint import opencv_inpaint
from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.data.from_config import load_held_out, load_training_data
from ganforge.data.masks import centre_mask, make_masks, read_mask
from ganforge.errors import GanforgeError
from ganforge.metrics.inpainting import hole_scores
from ganforge.models import create_model
from ganforge.objectives import StepContext, create_objective
from ganforge.pipelines import InpaintPipeline

SIZE = 16


def write_images(root: Path, count: int, size: int = SIZE) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        base = rng.integers(0, 256, (1, 1, 3))
        gradient = np.linspace(0, 80, size)[None, :, None]
        Image.fromarray(np.clip(base + gradient + np.zeros((size, size, 1)), 0, 255).astype(np.uint8)).save(root / f"img{i:02d}.png")
    return root


def train_args(root: Path, runs: Path, *extra: str) -> list[str]:
    return ["train", "--model", "inpainter", "--data", "folder", "--data-root", str(root), "-O", "ngf=4", "-O", "ndf=8", "--batch-size", "4",
            "--runs-dir", str(runs), "--run", "inp", "--no-tensorboard", "--no-progress", "--device", "cpu", *extra]


# -- masks, holdout, scores -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["centre", "rectangles", "strokes", "mixed"])
def test_masks_are_binary_holes_fixed_by_the_seed(kind: str) -> None:
    masks = make_masks(6, 32, 24, kind, torch.Generator().manual_seed(3))
    assert masks.shape == (6, 1, 32, 24) and set(masks.unique().tolist()) <= {0.0, 1.0}
    covered = masks.flatten(1).mean(dim=1)
    assert bool((covered > 0).all()) and bool((covered < 1).all())
    assert torch.equal(masks, make_masks(6, 32, 24, kind, torch.Generator().manual_seed(3)))
    assert not torch.equal(masks, make_masks(6, 32, 24, kind, torch.Generator().manual_seed(4))) or kind == "centre"


def test_the_centre_hole_is_the_middle_square_of_half_the_side() -> None:
    mask = centre_mask(8, 8)
    assert mask.sum() == 16 and mask[2:6, 2:6].all() and mask[:2].sum() == 0


def test_mask_files_must_match_their_image_and_grey_levels_are_thresholded(tmp_path: Path) -> None:
    pixels = np.zeros((4, 6), np.uint8)
    pixels[1, 1], pixels[2, 2], pixels[3, 3] = 255, 200, 100
    Image.fromarray(pixels).save(tmp_path / "m.png")
    with pytest.warns(UserWarning, match="2 pixel"):
        mask = read_mask(tmp_path / "m.png", (6, 4))
    assert mask.shape == (1, 4, 6) and mask.sum() == 2 and mask[0, 2, 2] == 1 and mask[0, 3, 3] == 0
    with pytest.raises(GanforgeError, match="is 6x4 but its image is 8x8"):
        read_mask(tmp_path / "m.png", (8, 8))


def test_hole_scores_read_only_the_hole() -> None:
    originals = torch.full((2, 3, 4, 4), 100, dtype=torch.uint8)
    completed = originals.clone()
    masks = torch.zeros(2, 1, 4, 4)
    masks[:, :, :2, :2] = 1
    completed[:, :, :2, :2] += 51  # 0.2 of the range in the hole
    completed[:, :, 3, 3] = 0  # outside the hole: not scored
    scores = hole_scores(completed, originals, masks)
    assert scores["hole_l1"] == pytest.approx(0.2)
    assert scores["hole_psnr"] == pytest.approx(10 * np.log10(255**2 / 51**2))


def test_the_holdout_is_a_fixed_draw_kept_out_of_training(tmp_path: Path) -> None:
    root = write_images(tmp_path / "imgs", 10)
    config = TrainConfig(data="folder", data_root=str(root), holdout=3, seed=5)
    train, held = load_training_data(config), load_held_out(config)
    assert (len(train), len(held)) == (7, 3)
    rows = {bytes(x.numpy().tobytes()) for x in train.images} & {bytes(x.numpy().tobytes()) for x in held.images}
    assert not rows
    other_seed = load_held_out(TrainConfig(data="folder", data_root=str(root), holdout=3, seed=9))
    assert torch.equal(held.images, other_seed.images)  # the same images for every run
    with pytest.raises(GanforgeError, match="leaves no images to train on"):
        load_training_data(TrainConfig(data="folder", data_root=str(root), holdout=10))


# -- network and game ---------------------------------------------------------------


def test_only_the_hole_changes_and_the_local_discriminator_adds_patches() -> None:
    model = create_model("inpainter", image_shape=(3, 32, 32), ngf=4, ndf=8)
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    masks = make_masks(2, 32, 32, "rectangles", torch.Generator().manual_seed(0))
    completed = model.inpaint(images, masks)
    assert torch.equal(completed * (1 - masks), images * (1 - masks))
    assert not torch.equal(completed, images)
    local = create_model("inpainter", image_shape=(3, 32, 32), ngf=4, ndf=8, local=True)
    assert local.discriminator(images, masks).shape[1] > model.discriminator(images, masks).shape[1]
    with pytest.raises(GanforgeError, match="multiples of 4"):
        create_model("inpainter", image_shape=(3, 30, 30))


def test_the_objective_is_gan_plus_100_l1_in_the_hole() -> None:
    torch.manual_seed(0)
    model = create_model("inpainter", image_shape=(3, 16, 16), ngf=4, ndf=8)
    objective = create_objective("inpaint")
    images, masks = torch.rand(4, 3, 16, 16) * 2 - 1, make_masks(4, 16, 16, "centre", torch.Generator())
    ctx = StepContext(batch=lambda: {"image": images, "mask": masks}, noise=torch.Generator(), optimizers={})
    objective.loss("d", model, ctx)
    loss, stats = objective.loss("g", model, ctx)
    completed = ctx.scratch["fake"]
    hole = masks.expand_as(images)
    l1 = ((completed - images).abs() * hole).sum() / hole.sum()
    adversarial = torch.nn.functional.softplus(-model.discriminate(completed, masks)).mean()
    assert torch.allclose(loss, adversarial + 100 * l1, atol=1e-5) and torch.allclose(stats["hole_l1"], l1)


# -- training, inpaint, eval ---------------------------------------------------------------


def test_inpainting_trains_previews_and_resumes_exactly(tmp_path: Path) -> None:
    root = write_images(tmp_path / "imgs", 12)
    straight, resumed = tmp_path / "a", tmp_path / "b"
    common = ["--holdout", "4", "--checkpoint-every", "2", "--sample-every", "2"]
    assert main(train_args(root, straight, "--steps", "4", *common)) == 0
    assert main(train_args(root, resumed, "--steps", "2", *common)) == 0
    assert main(train_args(root, resumed, "--steps", "4", *common)) == 0
    one = load_file(straight / "inp" / "checkpoints" / "step-00000004" / "model.safetensors")
    two = load_file(resumed / "inp" / "checkpoints" / "step-00000004" / "model.safetensors")
    assert all(torch.equal(one[k], two[k]) for k in one)
    preview = Image.open(straight / "inp" / "samples" / "step-00000004.png")
    assert preview.size[0] > 3 * SIZE and preview.size[1] > 8 * SIZE  # [with hole | completed | original] x 8
    saved = json.loads((straight / "inp" / "config.json").read_text())
    assert saved["train"]["holdout"] == 4 and saved["train"]["objective"] == "inpaint"


def test_inpaint_fills_files_by_their_masks_and_eval_scores_the_holdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_images(tmp_path / "imgs", 10)
    runs = tmp_path / "runs"
    assert main(train_args(root, runs, "--steps", "2", "--holdout", "4")) == 0
    inputs, masks = tmp_path / "in", tmp_path / "masks"
    inputs.mkdir(), masks.mkdir()
    odd = (np.random.default_rng(1).integers(0, 256, (22, 30, 3))).astype(np.uint8)  # not a multiple of 4: padded inside
    Image.fromarray(odd).save(inputs / "odd.png")
    hole = np.zeros((22, 30), np.uint8)
    hole[5:12, 8:20] = 255
    Image.fromarray(hole).save(masks / "odd.png")
    capsys.readouterr()
    assert main(["inpaint", "inp", "--runs-dir", str(runs), "--input", str(inputs), "--mask", str(masks), "--out", str(tmp_path / "out")]) == 0
    result = np.asarray(Image.open(tmp_path / "out" / "odd.png"))
    assert result.shape == (22, 30, 3)
    keep = hole == 0
    assert np.array_equal(result[keep], odd[keep]) and not np.array_equal(result[~keep], odd[~keep])  # only the hole is painted
    # Bad masks: named, nothing written.
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(masks / "odd.png")
    assert main(["inpaint", "inp", "--runs-dir", str(runs), "--input", str(inputs), "--mask", str(masks), "--out", str(tmp_path / "out2")]) == 2
    assert "odd.png is 8x8 but its image is 30x22" in capsys.readouterr().err and not (tmp_path / "out2").exists()
    (masks / "odd.png").unlink()
    assert main(["inpaint", "inp", "--runs-dir", str(runs), "--input", str(inputs), "--mask", str(masks), "--out", str(tmp_path / "out3")]) == 2
    assert "has no mask for odd.png" in capsys.readouterr().err and not (tmp_path / "out3").exists()
    # Python: the same call.
    pipeline = ganforge.load(runs / "inp")
    assert isinstance(pipeline, InpaintPipeline)
    images = torch.zeros(2, 3, 16, 16, dtype=torch.uint8)
    assert pipeline.inpaint(images, torch.ones(2, 1, 16, 16)).shape == (2, 3, 16, 16)
    with pytest.raises(GanforgeError, match="one N x 1 x H x W mask per image"):
        pipeline.inpaint(images, torch.ones(1, 1, 16, 16))
    # Eval: the 4 held-out images with fixed holes (no labels, no Inception: no FID, said so).
    assert main(["eval", "inp", "--runs-dir", str(runs), "--json"]) == 0
    out = capsys.readouterr().out
    record = json.loads(out.strip().splitlines()[-1])
    assert record["n_real"] == 4 and 0 < record["hole_l1"] < 1 and record["hole_psnr"] > 0
    assert "no FID/KID" in out


def test_inpainting_refuses_what_does_not_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_images(tmp_path / "imgs", 6)
    runs = tmp_path / "runs"
    assert main(train_args(root, runs, "--steps", "1")) == 0
    capsys.readouterr()
    assert main(["eval", "inp", "--runs-dir", str(runs)]) == 2
    assert "--holdout N" in capsys.readouterr().err  # a folder without a test split and no holdout
    assert main(["translate", "inp", "--runs-dir", str(runs), "--input", str(root), "--out", str(tmp_path / "t")]) == 2
    assert "use ganforge inpaint" in capsys.readouterr().err
    assert main(["train", "--model", "inpainter", "--data", "ring", "--runs-dir", str(runs), "--run", "r"]) == 2
    assert "fills holes in images" in capsys.readouterr().err and not (runs / "r").exists()
    with pytest.raises(SystemExit):  # argparse names the choices
        main(["train", "--model", "inpainter", "--masks", "blobs"])
    with pytest.raises(GanforgeError, match="--masks must be one of"):
        TrainConfig(masks="blobs")


def test_opencv_baselines_fill_a_flat_hole_with_its_surroundings() -> None:
    images = torch.full((2, 3, 16, 16), 120, dtype=torch.uint8)
    masks = make_masks(2, 16, 16, "centre", torch.Generator())
    holed = images.clone()
    holed[masks.expand_as(holed) != 0] = 0
    for method in ("telea", "ns"):
        filled = opencv_inpaint(holed, masks, method)
        assert hole_scores(filled, images, masks)["hole_l1"] < 0.02
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert torch.equal(filled[masks.expand_as(filled) == 0], images[masks.expand_as(images) == 0])
