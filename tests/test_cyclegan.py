"""CycleGAN on tiny unpaired data the tests make: data, networks, pools, game, training, translate, eval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import ganforge
from ganforge.cli import main
from ganforge.data import load_data
from ganforge.errors import GanforgeError
from ganforge.models import create_model
from ganforge.models.cyclegan import ResidualBlock
from ganforge.objectives import StepContext, create_objective
from ganforge.objectives.cycle import ImagePool
from ganforge.pipelines import CycleTranslationPipeline
from tests.test_pix2pix import SIZE, pair_image, pairs  # noqa: F401  (pairs: the 6 + 3 side-by-side pairs fixture)

TINY = ["-O", "ngf=8", "-O", "ndf=8", "-O", "blocks=1"]


def write_domains(root: Path, counts: tuple[int, int], prefix: str = "train", size: int = SIZE) -> Path:
    for domain, count in zip("AB", counts):
        folder = root / f"{prefix}{domain}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            a, b = pair_image(i + (50 if domain == "B" else 0), size)
            Image.fromarray(a if domain == "A" else b).save(folder / f"{domain}{i}.png")
    return root


def train_args(root: Path, runs: Path, *extra: str, run: str = "cyc") -> list[str]:
    return ["train", "--model", "cyclegan", "--data", "unpaired", "--data-root", str(root), *TINY,
            "--runs-dir", str(runs), "--run", run, "--no-tensorboard", "--no-progress", "--device", "cpu", *extra]


# -- data -------------------------------------------------------------------------


def test_the_cyclegan_layout_reads_each_domain_and_split(tmp_path: Path) -> None:
    root = write_domains(tmp_path / "u", (3, 5))
    write_domains(root, (2, 1), prefix="test")
    data = load_data("unpaired", root=str(root))
    assert (len(data.a), len(data.b)) == (3, 5) and data.image_shape == data.input_shape == (3, SIZE, SIZE)
    assert np.array_equal(data.a[0].permute(1, 2, 0).numpy(), pair_image(0)[0])
    test = load_data("unpaired", root=str(root), split="test")
    assert (len(test.a), len(test.b)) == (2, 1)


def test_a_paired_set_is_unpaired_by_halves_so_no_pair_survives(pairs: Path) -> None:
    paired = load_data("paired", root=str(pairs))
    data = load_data("unpaired", root=str(pairs))
    assert torch.equal(data.a, paired.a[:3]) and torch.equal(data.b, paired.b[3:])
    assert "unpaired" in data.describe()


def test_jitter_differs_between_domains_and_repeats_for_a_batch_number(pairs: Path) -> None:
    data = load_data("unpaired", root=str(pairs))
    index = torch.tensor([0, 1])
    first, again = data.jittered("a", index, 0, 5), data.jittered("a", index, 0, 5)
    assert torch.equal(first, again)
    assert not torch.equal(first, data.jittered("a", index, 0, 6))


@pytest.mark.parametrize(
    "make, options, message",
    [
        (lambda root: write_domains(root, (2, 0)), {}, "holds no images"),
        (lambda root: (root / "trainA").mkdir(parents=True) or write_domains(root, (0, 2)) and (root / "trainA").rmdir(), {}, "no such folder"),
        (lambda root: write_domains(root, (2, 2)), {"direction": "BtoA"}, "--direction does not apply to unpaired data"),
        (lambda root: root.mkdir(), {}, "holds no image pairs"),
    ],
)
def test_bad_unpaired_folders_are_refused_by_name(tmp_path: Path, make: object, options: dict[str, str], message: str) -> None:
    root = tmp_path / "bad"
    make(root)  # type: ignore[operator]
    with pytest.raises(GanforgeError, match=message):
        load_data("unpaired", root=str(root), **options)


def test_domains_of_different_sizes_need_image_size(tmp_path: Path) -> None:
    root = write_domains(tmp_path / "u", (2, 0))
    write_domains(root, (0, 2), size=16)
    with pytest.raises(GanforgeError, match="give --image-size"):
        load_data("unpaired", root=str(root))
    assert load_data("unpaired", root=str(root), image_size=16).image_shape == (3, 16, 16)


# -- networks, pool, game ------------------------------------------------------


def test_the_resnet_translators_keep_the_size_and_follow_the_paper_block_counts() -> None:
    model = create_model("cyclegan", image_shape=(3, 32, 32), ngf=8, ndf=8)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    for direction in ("AtoB", "BtoA"):
        y = model.translate(x, direction=direction)
        assert y.shape == x.shape and y.abs().max() <= 1
    assert sum(isinstance(m, ResidualBlock) for m in model.generator.modules()) == 6  # 128 px and below
    big = create_model("cyclegan", image_shape=(3, 256, 256), ngf=4, ndf=4)
    assert sum(isinstance(m, ResidualBlock) for m in big.generator_ba.modules()) == 9
    assert model.discriminate("a", x).numel() == 2 * 2 * 2  # 70x70 PatchGAN: 2x2 patches of a 32 px image
    with pytest.raises(GanforgeError, match="multiples of 4"):
        create_model("cyclegan", image_shape=(3, 30, 30))
    with pytest.raises(GanforgeError, match="no moving average"):
        model.enable_ema()


def test_the_image_pool_fills_then_swaps_half_the_time() -> None:
    pool, stream = ImagePool(4), torch.Generator().manual_seed(0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first, stream), first) and pool.count == 4
    swapped = 0
    for step in range(50):
        new = torch.full((1, 1, 1, 1), 100.0 + step)
        out = pool.query(new, stream)
        swapped += not torch.equal(out, new)
        assert out.item() in set(pool.images.flatten().tolist()) | {new.item()} or out.item() < 100 + step  # type: ignore[union-attr]
    assert 15 < swapped < 35  # about half
    stored = pool.state()
    assert stored is not None and len(stored) == 4
    copy = ImagePool(4)
    copy.load(stored)
    assert torch.equal(copy.images, pool.images)  # type: ignore[arg-type]
    assert torch.equal(ImagePool(0).query(first, stream), first)  # pool_size 0: always the new fakes


def test_the_objective_is_lsgan_plus_ten_cycle_plus_five_identity() -> None:
    torch.manual_seed(0)
    model = create_model("cyclegan", image_shape=(3, 32, 32), ngf=8, ndf=8, blocks=1)
    objective = create_objective("cycle", pool_size=0)
    a, b = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    ctx = StepContext(batch=lambda: {"a": a, "b": b}, noise=torch.Generator(), optimizers={})
    loss, stats = objective.loss("g", model, ctx)
    with torch.no_grad():
        fake_b, fake_a = model.translate(a), model.translate(b, direction="BtoA")
        adversarial = ((model.discriminate("b", fake_b) - 1) ** 2).mean() + ((model.discriminate("a", fake_a) - 1) ** 2).mean()
        cycle = (model.translate(fake_b, direction="BtoA") - a).abs().mean() + (model.translate(fake_a) - b).abs().mean()
        identity = (model.translate(b) - b).abs().mean() + (model.translate(a, direction="BtoA") - a).abs().mean()
    assert torch.allclose(loss, adversarial + 10 * cycle + 5 * identity, atol=1e-5)
    assert torch.allclose(stats["cycle"], cycle, atol=1e-6)
    d_loss, d_stats = objective.loss("d", model, ctx)
    with torch.no_grad():
        expected = sum(0.5 * ((model.discriminate(d, real) - 1) ** 2).mean() + 0.5 * (model.discriminate(d, fake) ** 2).mean()
                       for d, real, fake in (("a", a, fake_a), ("b", b, fake_b)))
    assert torch.allclose(d_loss, expected, atol=1e-5) and set(d_stats) == {"loss_d", "d_real", "d_fake"}
    with pytest.raises(GanforgeError, match="pool_size"):
        create_objective("cycle", pool_size=-1)


# -- training, resume, translate, eval -------------------------------------------------


def test_cyclegan_trains_with_the_paper_defaults_and_resumes_pools_bit_exactly(pairs: Path, tmp_path: Path) -> None:
    """Six steps in one go against 3 + 3 with a resume: weights, optimizer state
    and both image pools (saved with the checkpoint) are identical."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    options = ["-X", "pool_size=3", "--checkpoint-every", "3", "--sample-every", "3"]
    assert main(train_args(pairs, straight, "--steps", "6", *options)) == 0
    assert main(train_args(pairs, resumed, "--steps", "3", *options)) == 0
    assert main(train_args(pairs, resumed, "--steps", "6", *options)) == 0
    config = json.loads((straight / "cyc" / "config.json").read_text())["train"]
    assert (config["batch_size"], config["lr_g"], config["beta1"], config["lr_decay"], config["objective"]) == (1, 2e-4, 0.5, "linear", "cycle")
    for name in ("model.safetensors", "training.safetensors"):
        one = load_file(straight / "cyc" / "checkpoints" / "step-00000006" / name)
        two = load_file(resumed / "cyc" / "checkpoints" / "step-00000006" / name)
        assert one.keys() == two.keys()
        for key in one:
            assert torch.equal(one[key], two[key]), key
    training = load_file(straight / "cyc" / "checkpoints" / "step-00000006" / "training.safetensors")
    pools = [key for key in training if "pool_" in key]
    assert len(pools) == 2 and all(training[key].shape[0] == 3 for key in pools)  # 6 fakes offered to pools of 3
    preview = Image.open(straight / "cyc" / "samples" / "step-00000006.png")
    assert preview.size[0] > 3 * SIZE and preview.size[1] > 6 * SIZE  # 3 columns, 3 + 3 rows (every image of each domain)


def test_translate_goes_both_ways_and_eval_scores_both_on_the_held_out_pairs(pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    assert main(train_args(pairs, runs, "--steps", "2")) == 0
    pipeline = ganforge.load(runs / "cyc")
    assert isinstance(pipeline, CycleTranslationPipeline)
    images = load_data("paired", root=str(pairs), split="test").a
    there, back = pipeline.translate(images), pipeline.translate(images, direction="BtoA")
    assert there.shape == back.shape == (3, 3, SIZE, SIZE) and not torch.equal(there, back)
    capsys.readouterr()
    for direction in ("AtoB", "BtoA"):
        assert main(["translate", "cyc", "--runs-dir", str(runs), "--input", str(pairs / "test"), "--out", str(tmp_path / direction), "--direction", direction]) == 0
        assert f"translated {direction}" in capsys.readouterr().out
    # Side-by-side inputs are 64 x 32: resized to the run's 32 x 32, one output each.
    assert sorted(p.name for p in (tmp_path / "AtoB").iterdir()) == ["0.png", "1.png", "2.png"]
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "AtoB" / "0.png")), np.asarray(Image.open(tmp_path / "BtoA" / "0.png")))
    assert main(["eval", "cyc", "--runs-dir", str(runs), "--json"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for direction in ("AtoB", "BtoA"):
        assert {f"{direction}_l1", f"{direction}_psnr", f"{direction}_ssim"} <= set(record)
    assert record["n_real"] == 3


def test_unpaired_runs_refuse_what_does_not_fit(tmp_path: Path, pairs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    domains = write_domains(tmp_path / "u", (2, 2))
    runs = tmp_path / "runs"
    assert main(train_args(domains, runs, "--steps", "1")) == 0
    capsys.readouterr()
    assert main(["eval", "cyc", "--runs-dir", str(runs)]) == 2  # no held-out pairs to score against
    assert "has no aligned pairs" in capsys.readouterr().err
    assert main(["sample", "cyc", "--runs-dir", str(runs), "--out", str(tmp_path / "x.png")]) == 2
    assert "ganforge translate --direction" in capsys.readouterr().err
    assert main(["upscale", "cyc", "--runs-dir", str(runs), "--input", str(domains / "trainA"), "--out", str(tmp_path / "o")]) == 2
    assert main(train_args(pairs, runs, "--steps", "1", "--ema", "0.999", run="ema")) == 2
    assert "no moving average" in capsys.readouterr().err
    assert main(["train", "--model", "cyclegan", "--data", "paired", "--data-root", str(pairs), "--runs-dir", str(runs), "--run", "x"]) == 2
    assert "two image domains (--data unpaired" in capsys.readouterr().err
    assert main(["train", "--model", "pix2pix", "--data", "unpaired", "--data-root", str(pairs), "--runs-dir", str(runs), "--run", "y"]) == 2
    assert "train it on image pairs (--data paired" in capsys.readouterr().err
    assert not (runs / "x").exists() and not (runs / "y").exists() and not (runs / "ema").exists()


def test_a_paired_run_translates_only_its_own_direction(pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    args = ["train", "--model", "pix2pix", "--data", "paired", "--data-root", str(pairs), "-O", "ngf=8", "-O", "ndf=8", "--direction", "BtoA",
            "--runs-dir", str(runs), "--run", "p2p", "--no-tensorboard", "--no-progress", "--steps", "1"]
    assert main(args) == 0
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["translate", "p2p", "--runs-dir", str(runs), "--input", str(pairs / "test"), "--out", str(out), "--direction", "AtoB"]) == 2
    assert "translates BtoA only, not AtoB" in capsys.readouterr().err and not out.exists()
    assert main(["translate", "p2p", "--runs-dir", str(runs), "--input", str(pairs / "test"), "--out", str(out), "--direction", "BtoA"]) == 0
