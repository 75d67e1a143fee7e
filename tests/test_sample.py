"""Sampling and latent walks from a trained run, through the Python API."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.pipelines import slerp


@pytest.fixture
def run_dir(make_config: Callable[..., TrainConfig]) -> Path:
    return ganforge.train(make_config()).run_dir


def test_load_samples_images_in_range_and_the_seed_fixes_them(run_dir: Path) -> None:
    pipe = ganforge.load(run_dir, device="cpu")
    a, b, c = pipe.sample(5, seed=1), pipe.sample(5, seed=1), pipe.sample(5, seed=2)
    assert a.shape == (5, 1, 8, 8) and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_sampling_in_batches_matches_one_batch(run_dir: Path) -> None:
    pipe = ganforge.load(run_dir, device="cpu")
    assert torch.allclose(pipe.sample(10, seed=0, batch_size=3), pipe.sample(10, seed=0, batch_size=10), atol=1e-6)


def test_load_by_name_and_by_checkpoint_step(run_dir: Path) -> None:
    latest = ganforge.load("test", runs_dir=run_dir.parent, device="cpu")
    earlier = ganforge.load(run_dir, checkpoint=3, device="cpu")
    assert latest.step == 6 and earlier.step == 3
    assert not torch.equal(latest.sample(2), earlier.sample(2))
    with pytest.raises(GanforgeError, match=r"no checkpoint at step 4 \(steps saved: 3, 6\)"):
        ganforge.load(run_dir, checkpoint=4)


def test_an_unknown_run_lists_the_runs_there(run_dir: Path) -> None:
    with pytest.raises(GanforgeError, match="no run 'nope'.*runs there: test"):
        ganforge.load("nope", runs_dir=run_dir.parent)


def test_npz_output(run_dir: Path, tmp_path: Path) -> None:
    out = ganforge.load(run_dir).save_samples(tmp_path / "s.npz", 7, seed=0)
    with np.load(out) as archive:
        assert archive["images"].dtype == np.uint8 and archive["images"].shape == (7, 8, 8, 1)
        assert set(archive.files) == {"images"}


def test_png_grid_and_folder_outputs(run_dir: Path, tmp_path: Path) -> None:
    pipe = ganforge.load(run_dir)
    grid = Image.open(pipe.save_samples(tmp_path / "grid.png", 9))
    assert grid.size == (3 * 32 + 4 * 2, 3 * 32 + 4 * 2)  # 3x3 tiles, scaled up to 32 px, 2 px padding
    folder = pipe.save_samples(tmp_path / "pngs", 12, seed=3)
    files = sorted(folder.iterdir())
    assert len(files) == 12 and Image.open(files[0]).size == (8, 8)
    expected = ((pipe.sample(12, seed=3)[0, 0] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    assert np.array_equal(np.asarray(Image.open(files[0])), expected)


def test_an_unknown_extension_is_refused(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(GanforgeError, match=r"\.npz.*\.png"):
        ganforge.load(run_dir).save_samples(tmp_path / "x.jpg", 2)


def test_latent_walk_gif_and_strip(run_dir: Path, tmp_path: Path) -> None:
    pipe = ganforge.load(run_dir)
    gif = Image.open(pipe.save_interpolation(tmp_path / "walk.gif", walks=4, keyframes=3, frames=5))
    assert gif.n_frames == 15
    strip = Image.open(pipe.save_interpolation(tmp_path / "walk.png", walks=2, keyframes=2, frames=4))
    assert strip.size == (5 * 32 + 6 * 2, 2 * 32 + 3 * 2)  # a leg's 5 frames per row, 2 walks


def test_slerp_hits_its_end_points_and_keeps_the_norm() -> None:
    a, b = torch.randn(3, 64), torch.randn(3, 64)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    unit_a, unit_b = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    assert torch.allclose(slerp(unit_a, unit_b, 0.5).norm(dim=1), torch.ones(3), atol=1e-5)
    assert torch.allclose(slerp(a, a, 0.3), a, atol=1e-5)  # identical codes: no division by zero


def test_a_run_without_checkpoints_cannot_be_loaded(make_config: Callable[..., TrainConfig], tmp_path: Path) -> None:
    run = ganforge.train(make_config()).run_dir
    for checkpoint in (run / "checkpoints").iterdir():
        for file in checkpoint.iterdir():
            file.unlink()
        checkpoint.rmdir()
    with pytest.raises(GanforgeError, match="has no checkpoint yet"):
        ganforge.load(run)


@pytest.mark.parametrize("content", ["{not json", '{"train": {}}', "[1, 2]"])
def test_a_corrupt_run_config_is_named(run_dir: Path, content: str) -> None:
    (run_dir / "config.json").write_text(content)
    with pytest.raises(GanforgeError, match=r"run config .*config.json is corrupt"):
        ganforge.load(run_dir)


def test_a_large_sample_folder_is_written_batch_by_batch(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each batch's PNGs are on disk before the next batch is generated, and
    no call generates more than one batch: memory stays at one batch."""
    pipe = ganforge.load(run_dir, device="cpu")
    out = tmp_path / "many"
    generate = pipe.generate
    seen: list[tuple[int, int]] = []  # (batch size, PNGs on disk when it was asked for)

    def spy(z: torch.Tensor, labels: torch.Tensor | None = None, batch_size: int = 4) -> torch.Tensor:
        seen.append((len(z), len(list(out.glob("*.png"))) if out.exists() else 0))
        return generate(z, labels, batch_size)

    monkeypatch.setattr(pipe, "generate", spy)
    pipe.save_samples(out, 10, seed=3, batch_size=4)
    assert [size for size, _ in seen] == [4, 4, 2]
    assert [written for _, written in seen] == [0, 4, 8]
    assert len(list(out.glob("*.png"))) == 10


def test_npz_samples_written_in_batches_equal_one_batch(run_dir: Path, tmp_path: Path) -> None:
    pipe = ganforge.load(run_dir, device="cpu")
    pipe.save_samples(tmp_path / "s.npz", 600, seed=1)  # 3 batches of SAMPLE_BATCH 256
    images = np.load(tmp_path / "s.npz")["images"]
    expected = ((pipe.sample(600, seed=1, batch_size=600) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    assert images.shape == (600, 8, 8, 1)
    assert np.abs(images.astype(int) - expected.permute(0, 2, 3, 1).numpy().astype(int)).max() <= 1


def _bn_buffers(pipe: ganforge.GANPipeline) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in pipe.model.generator.state_dict().items() if "running_" in k}


def test_precise_bn_recalibrates_g_on_load_and_leaves_the_run_alone(run_dir: Path, tmp_path: Path) -> None:
    plain = ganforge.load(run_dir, device="cpu")
    precise = ganforge.load(run_dir, device="cpu", precise_bn=True)
    buffers, recalibrated = _bn_buffers(plain), _bn_buffers(precise)
    assert buffers and all(not torch.allclose(buffers[k], recalibrated[k]) for k in buffers)
    assert all(torch.equal(a, b) for a, b in zip(plain.model.parameters(), precise.model.parameters()))  # weights untouched
    assert not torch.allclose(plain.sample(4, seed=0), precise.sample(4, seed=0))
    again = ganforge.load(run_dir, device="cpu")
    assert all(torch.equal(buffers[k], v) for k, v in _bn_buffers(again).items())  # nothing written back

    from ganforge.cli import main

    assert main(["sample", str(run_dir), "--precise-bn", "--n", "4", "--out", str(tmp_path / "p.npz"), "--device", "cpu"]) == 0
    with np.load(tmp_path / "p.npz") as archive:
        assert archive["images"].shape == (4, 8, 8, 1)


def test_precise_bn_names_a_generator_without_batch_norm(make_config: Callable[..., TrainConfig]) -> None:
    run_dir = ganforge.train(make_config(model="vanilla", model_options={"g_norm": "none"}, run="mlp")).run_dir
    with pytest.raises(GanforgeError, match="--precise-bn: the generator of run .*mlp has no batch-norm layers"):
        ganforge.load(run_dir, precise_bn=True)
