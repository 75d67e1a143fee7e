"""pix2pix on tiny image pairs the tests make: data, networks, game, training, translate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.cli import main
from ganforge.data import load_data
from ganforge.data.paired import jitter
from ganforge.errors import GanforgeError
from ganforge.models import create_model, from_config
from ganforge.objectives import StepContext, create_objective
from ganforge.pipelines import TranslationPipeline

SIZE = 32
TINY = {"ngf": 8, "ndf": 8}


def pair_image(seed: int, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """A 'label map' A (blocks of flat colour) and its 'photo' B (A plus a gradient)."""
    rng = np.random.default_rng(seed)
    a = np.kron(rng.integers(0, 256, (4, 4, 3)), np.ones((size // 4, size // 4, 1))).astype(np.uint8)
    gradient = np.linspace(0, 60, size)[None, :, None]
    b = np.clip(a * 0.7 + gradient, 0, 255).astype(np.uint8)
    return a, b


def write_side_by_side(root: Path, split: str, count: int, size: int = SIZE) -> Path:
    folder = root / split
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        a, b = pair_image(i + (100 if split == "test" else 0), size)
        Image.fromarray(np.concatenate([a, b], axis=1)).save(folder / f"{i}.png")
    return root


def write_a_b_folders(root: Path, count: int) -> Path:
    for side in "AB":
        (root / side).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        a, b = pair_image(i)
        Image.fromarray(a).save(root / "A" / f"p{i}.png")
        Image.fromarray(b).save(root / "B" / f"p{i}.png")
    return root


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    root = tmp_path / "pairs"
    write_side_by_side(root, "train", 6)
    write_side_by_side(root, "test", 3)
    return root


def train_args(root: Path, runs: Path, *extra: str) -> list[str]:
    return ["train", "--model", "pix2pix", "--data", "paired", "--data-root", str(root), "-O", "ngf=8", "-O", "ndf=8",
            "--runs-dir", str(runs), "--run", "p2p", "--no-tensorboard", "--no-progress", "--device", "cpu", *extra]


# -- data -------------------------------------------------------------------------


def test_side_by_side_pairs_load_in_either_direction(pairs: Path) -> None:
    forward = load_data("paired", root=str(pairs))
    backward = load_data("paired", root=str(pairs), direction="BtoA")
    assert len(forward) == 6 and forward.image_shape == forward.input_shape == (3, SIZE, SIZE)
    a, b = pair_image(0)
    index = forward.names.index("0.png")
    assert np.array_equal(forward.a[index].permute(1, 2, 0).numpy(), a)  # left half is A
    assert np.array_equal(forward.b[index].permute(1, 2, 0).numpy(), b)
    assert torch.equal(backward.a, forward.b) and torch.equal(backward.b, forward.a)
    assert len(load_data("paired", root=str(pairs), split="test")) == 3


def test_a_and_b_folders_pair_files_by_name(tmp_path: Path) -> None:
    root = write_a_b_folders(tmp_path / "ab", 4)
    data = load_data("paired", root=str(root))
    assert data.names == ["p0.png", "p1.png", "p2.png", "p3.png"]
    assert np.array_equal(data.b[2].permute(1, 2, 0).numpy(), pair_image(2)[1])
    (root / "B" / "p3.png").rename(root / "B" / "q3.png")
    with pytest.raises(GanforgeError, match="2 file\\(s\\) without a partner of the same name, e.g. A/p3.png, B/q3.png"):
        load_data("paired", root=str(root))


def test_bad_pairs_are_refused_by_name(tmp_path: Path) -> None:
    root = write_side_by_side(tmp_path / "odd", "train", 2)
    Image.fromarray(np.zeros((SIZE, 3 * SIZE, 3), np.uint8)).save(root / "train" / "wide.png")
    with pytest.raises(GanforgeError, match="wide.png: a side-by-side pair must be twice as wide as it is high .* 96x32"):
        load_data("paired", root=str(root))
    (root / "train" / "wide.png").unlink()
    Image.fromarray(np.zeros((16, 32, 3), np.uint8)).save(root / "train" / "small.png")
    with pytest.raises(GanforgeError, match="pairs of different sizes .* give --image-size N"):
        load_data("paired", root=str(root))
    assert load_data("paired", root=str(root), image_size=16).image_shape == (3, 16, 16)
    (tmp_path / "empty" / "train").mkdir(parents=True)
    with pytest.raises(GanforgeError, match="holds no image pairs"):
        load_data("paired", root=str(tmp_path / "empty"))
    with pytest.raises(GanforgeError, match="--split val: no folder"):
        load_data("paired", root=str(root), split="val")
    with pytest.raises(GanforgeError, match="--data paired needs --data-root DIR"):
        load_data("paired")


def test_jitter_moves_both_halves_alike_and_repeats_for_a_batch_number(pairs: Path) -> None:
    data = load_data("paired", root=str(pairs))
    indices = torch.arange(4)
    both = torch.cat(data.pairs(indices), dim=1)
    moved = jitter(both, torch.Generator().manual_seed(0))
    assert moved.shape == both.shape and not torch.equal(moved, both)
    same = torch.cat([data.pairs(indices)[0]] * 2, dim=1)  # b = a: the jittered halves must stay equal
    jittered = jitter(same, torch.Generator().manual_seed(5))
    assert torch.equal(jittered[:, :3], jittered[:, 3:])
    first = data.jittered(indices, seed=0, number=7)
    assert all(torch.equal(x, y) for x, y in zip(first, data.jittered(indices, seed=0, number=7)))
    assert not torch.equal(first[0], data.jittered(indices, seed=0, number=8)[0])


# -- networks and game -------------------------------------------------------------


def test_the_unet_keeps_dropout_at_inference_and_the_patchgan_judges_patches() -> None:
    torch.manual_seed(0)
    model = create_model("pix2pix", image_shape=(3, 64, 64), input_channels=1, **TINY).eval()
    a = torch.rand(2, 1, 64, 64) * 2 - 1
    out = model.translate(a)
    assert out.shape == (2, 3, 64, 64) and out.abs().max() <= 1
    assert not torch.equal(out, model.translate(a))  # dropout on in eval mode: the paper's noise
    no_noise = create_model("pix2pix", image_shape=(3, 64, 64), input_channels=1, dropout=0.0, **TINY).eval()
    assert torch.equal(no_noise.translate(a), no_noise.translate(a))
    logits = model.discriminate(a, out)
    assert logits.shape == (2 * 6 * 6,)  # 64 -> 32 -> 16 -> 8 -> 7 -> 6: one logit per patch
    rebuilt = from_config(model.config)
    assert rebuilt.config == model.config and rebuilt.config["task"] == "paired"


def test_the_patchgan_sees_a_70_pixel_patch() -> None:
    torch.manual_seed(0)
    model = create_model("pix2pix", image_shape=(1, 128, 128), input_channels=1, ngf=4, ndf=4)
    net = model.discriminator.net
    for i, layer in enumerate(net):  # normalisation spreads over the whole image; the convolutions alone make the patch
        if isinstance(layer, torch.nn.BatchNorm2d):
            net[i] = torch.nn.Identity()
    pair = torch.randn(1, 2, 128, 128, requires_grad=True)
    logits = model.discriminator(pair)
    logits[0, 0, 7, 7].backward()
    rows, cols = (pair.grad[0].abs().sum(0) > 0).nonzero(as_tuple=True)
    assert int(rows.max() - rows.min()) + 1 == 70 and int(cols.max() - cols.min()) + 1 == 70


def test_the_objective_is_a_halved_d_loss_and_gan_plus_100_l1() -> None:
    torch.manual_seed(0)
    model = create_model("pix2pix", image_shape=(3, 32, 32), **TINY)
    objective = create_objective("pix2pix")
    a, b = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    ctx = StepContext(batch=lambda: {"a": a, "b": b}, noise=torch.Generator(), optimizers={})
    loss_d, d_stats = objective.loss("d", model, ctx)
    fake = ctx.scratch["fake"]
    real_logits, fake_logits = model.discriminate(a, b), model.discriminate(a, fake.detach())
    expected_d = 0.5 * (torch.nn.functional.softplus(-real_logits).mean() + torch.nn.functional.softplus(fake_logits).mean())
    assert torch.allclose(loss_d, expected_d, atol=1e-6)
    loss_g, g_stats = objective.loss("g", model, ctx)
    expected_g = torch.nn.functional.softplus(-model.discriminate(a, fake)).mean() + 100 * (fake - b).abs().mean()
    assert torch.allclose(loss_g, expected_g, atol=1e-5)
    assert set(d_stats) | set(g_stats) == set(objective.stats)
    # The L1-only ablation: G's loss is L1 alone.
    ablation = create_objective("pix2pix", gan_weight=0.0)
    ablation.loss("d", model, ctx)
    assert torch.allclose(ablation.loss("g", model, ctx)[0], 100 * (ctx.scratch["fake"] - b).abs().mean())


# -- training and use -----------------------------------------------------------------


def test_pix2pix_trains_with_the_paper_defaults_previews_and_resumes_exactly(pairs: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert main(train_args(pairs, runs, "--steps", "4", "--checkpoint-every", "2", "--sample-every", "2")) == 0
    saved = json.loads((runs / "p2p" / "config.json").read_text())
    train = saved["train"]
    assert (train["objective"], train["batch_size"], train["lr_decay"], train["lr_decay_start"]) == ("pix2pix", 1, "linear", 0.5)
    assert (train["lr_g"], train["beta1"]) == (2e-4, 0.5)
    records = [r for r in map(json.loads, (runs / "p2p" / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "train"]
    assert {"loss_d", "loss_g", "l1", "d_real", "d_fake"} <= set(records[0])
    preview = Image.open(runs / "p2p" / "samples" / "step-00000004.png")
    assert preview.width < preview.height  # rows of [input | output | target] for 6 pairs
    # 2 steps, stop, 2 more: the same weights as 4 straight steps.
    straight = runs / "p2p" / "checkpoints" / "step-00000004" / "model.safetensors"
    assert main(train_args(pairs, tmp_path / "resumed", "--steps", "2", "--checkpoint-every", "2")) == 0
    assert main(train_args(pairs, tmp_path / "resumed", "--steps", "4", "--checkpoint-every", "2")) == 0
    resumed = tmp_path / "resumed" / "p2p" / "checkpoints" / "step-00000004" / "model.safetensors"
    from safetensors.torch import load_file

    first, second = load_file(straight), load_file(resumed)
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_eval_every_scores_the_test_pairs_keeps_the_lowest_l1_and_changes_nothing(pairs: Path, tmp_path: Path) -> None:
    args = ["--steps", "4", "--checkpoint-every", "2"]
    assert main(train_args(pairs, tmp_path / "plain", *args)) == 0
    assert main(train_args(pairs, tmp_path / "scored", *args, "--eval-every", "2")) == 0
    run = tmp_path / "scored" / "p2p"
    evals = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [2, 4]
    assert all({"l1", "psnr", "ssim"} <= set(r) and r["n_fake"] == 3 for r in evals)  # the 3 test pairs
    best = json.loads(next((run / "best").glob("step-*/state.json")).read_text())["extra"]
    assert best["best_metric"] == "l1" and best["l1"] == min(r["l1"] for r in evals)
    from safetensors.torch import load_file

    # Evaluating draws dropout from its own stream: the trained weights are the same.
    plain = load_file(tmp_path / "plain" / "p2p" / "checkpoints" / "step-00000004" / "model.safetensors")
    scored = load_file(run / "checkpoints" / "step-00000004" / "model.safetensors")
    assert all(torch.equal(plain[k], scored[k]) for k in plain)
    assert ganforge.load(run, checkpoint="best", device="cpu").step == json.loads(next((run / "best").glob("step-*/state.json")).read_text())["step"]


def test_translate_writes_one_image_per_input_with_its_name(pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    assert main(train_args(pairs, runs, "--steps", "1")) == 0
    inputs = tmp_path / "inputs"
    (inputs / "sub").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(pair_image(i)[0]).save(inputs / f"in{i}.png")
    Image.fromarray(pair_image(5)[0][:, :, 0]).save(inputs / "sub" / "grey.jpg")  # grey, into an RGB model
    with pytest.warns(UserWarning, match="grey.jpg: grey image converted to RGB"):
        assert main(["translate", "p2p", "--runs-dir", str(runs), "--input", str(inputs), "--out", str(tmp_path / "out"), "--device", "cpu"]) == 0
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written == ["in0.png", "in1.png", "in2.png", "sub/grey.jpg"]
    assert Image.open(tmp_path / "out" / "in0.png").size == (SIZE, SIZE)
    pipeline = ganforge.load(runs / "p2p", device="cpu")
    assert isinstance(pipeline, TranslationPipeline)
    images = torch.rand(2, 3, SIZE, SIZE) * 2 - 1
    assert torch.equal(pipeline.translate(images, seed=1), pipeline.translate(images, seed=1))
    with pytest.raises(GanforgeError, match="translate expects N x 3x32x32 images"):
        pipeline.translate(torch.rand(2, 1, SIZE, SIZE))


def test_each_command_refuses_a_run_of_the_other_task(pairs: Path, tmp_path: Path, make_config: object, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    assert main(train_args(pairs, runs, "--steps", "1")) == 0
    assert main(["sample", "p2p", "--runs-dir", str(runs), "--out", str(tmp_path / "s.png")]) == 2
    assert "is a paired run: use ganforge translate" in capsys.readouterr().err
    assert main(["train", "--data", "digits", "-O", "ngf=8", "-O", "ndf=8", "--steps", "1", "--runs-dir", str(runs), "--run", "gen",
                 "--no-tensorboard", "--no-progress", "--device", "cpu"]) == 0
    assert main(["translate", "gen", "--runs-dir", str(runs), "--input", str(pairs), "--out", str(tmp_path / "t")]) == 2
    assert "is a generate run: use ganforge sample" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_options_that_do_not_fit_pix2pix_are_refused(pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(train_args(pairs, tmp_path, "--steps", "1", "--gp", "10")) == 2
    assert "--gp does not apply to objective 'pix2pix' (model 'pix2pix'); its options: loss, label_smoothing, l1_weight, gan_weight" in capsys.readouterr().err
    assert main(train_args(pairs, tmp_path, "--steps", "1", "-X", "l2=1")) == 2
    assert "option(s) l2 do not apply to objective 'pix2pix'" in capsys.readouterr().err
    assert main(["train", "--model", "pix2pix", "--data", "digits", "--runs-dir", str(tmp_path)]) == 2
    assert "model 'pix2pix' translates images: train it on image pairs (--data paired --data-root DIR)" in capsys.readouterr().err
    assert main(["train", "--model", "dcgan", "--data", "paired", "--data-root", str(pairs), "--runs-dir", str(tmp_path)]) == 2
    assert "holds image pairs, which model 'dcgan' does not learn from; use --model pix2pix" in capsys.readouterr().err
    assert main(train_args(pairs, tmp_path, "--steps", "1", "--image-size", "24")) == 2
    assert "pix2pix needs square images whose side is a power of two" in capsys.readouterr().err


# -- evaluation -------------------------------------------------------------------------


def write_label_map_pairs(root: Path, split: str, count: int) -> None:
    """Side-by-side pairs whose right half is a label map in the facades palette (blocks of 2 classes)."""
    from ganforge.data.labelmaps import FACADES_PALETTE

    folder = root / split
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(split) + count)
    for i in range(count):
        classes = np.zeros((SIZE, SIZE), dtype=int)
        classes[: SIZE // 2] = rng.integers(12)
        classes[SIZE // 2 :] = rng.integers(12)
        label = np.array(FACADES_PALETTE, dtype=np.uint8)[classes]
        photo = np.clip(label.astype(int) // 2 + rng.integers(0, 60, label.shape), 0, 255).astype(np.uint8)
        Image.fromarray(np.concatenate([photo, label], axis=1)).save(folder / f"{i}.png")


def test_eval_of_a_label_map_to_photo_run_reports_pairs_and_segmentation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "maps"
    write_label_map_pairs(root, "train", 10)
    write_label_map_pairs(root, "test", 4)
    runs = tmp_path / "runs"
    assert main(train_args(root, runs, "--steps", "1", "--direction", "BtoA")) == 0
    assert main(["eval", "p2p", "--runs-dir", str(runs), "--device", "cpu", "--json"]) == 0
    out = capsys.readouterr().out
    record = json.loads(out.strip().splitlines()[-1])
    for key in ("l1", "psnr", "ssim", "fid", "kid", "seg_pixel_accuracy", "seg_mean_iou", "seg_real_pixel_accuracy"):
        assert key in record, key
    assert record["n_fake"] == 4 and record["extractor"].startswith("segmenter:maps")
    assert 0 <= record["seg_pixel_accuracy"] <= 1 and record["ssim"] < 1
    saved = [json.loads(line) for line in (runs / "p2p" / "metrics.jsonl").read_text().splitlines()]
    assert saved[-1]["kind"] == "eval" and saved[-1]["split"] == "test"
    # The other direction reads the outputs' colours as classes.
    assert main(train_args(root, tmp_path / "runs2", "--steps", "1")) == 0
    assert main(["eval", "p2p", "--runs-dir", str(tmp_path / "runs2"), "--device", "cpu", "--json"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "labels_pixel_accuracy" in record and "seg_pixel_accuracy" not in record
