"""Run folders made by ganforge 0.1.0 before the objectives/tasks core
(tests/fixtures/runs-v0.1, 4 steps each, checkpoints at steps 2 and 4) still
sample, evaluate and resume with today's code, and resuming from step 2
reproduces the old code's step-4 weights and optimizer state.

Made with the release at commit 66a9f75 by (OMP_NUM_THREADS=1):
    ganforge train --data digits --model dcgan -O ngf=8 -O ndf=8 --z-dim 8 --ema 0.9 --steps 4 \
        --checkpoint-every 2 --sample-every 2 --grid-size 16 --batch-size 16 --no-tensorboard --no-progress --run dcgan-digits-v0.1
    ganforge train --data digits --model acgan --image-size 32 -O g_ch=8 -O d_ch=8 --z-dim 8 ... --grid-size 20 --run acgan-digits-v0.1
    ganforge train --data digits --model lapgan -O levels=2 -O coarse_g_hidden=16 -O coarse_d_hidden=16 -O ch=8 --z-dim 8 ... --run lapgan-digits-v0.1
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import ganforge
from ganforge.pipelines.evaluation import evaluate_run

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "runs-v0.1"
RUNS = ["dcgan-digits-v0.1", "acgan-digits-v0.1", "lapgan-digits-v0.1"]


@pytest.fixture
def old_run(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    copy = tmp_path / request.param
    shutil.copytree(FIXTURES / request.param, copy)
    return copy


@pytest.mark.parametrize("old_run", RUNS, indirect=True)
def test_an_old_run_samples_the_same_images_twice(old_run: Path) -> None:
    pipeline = ganforge.load(old_run, device="cpu")
    images = pipeline.sample(6, seed=3)
    shape = json.loads((old_run / "config.json").read_text())["data"]["image_shape"]
    assert images.shape == (6, *shape)
    assert torch.isfinite(images).all() and images.abs().max() <= 1
    assert torch.equal(images, ganforge.load(old_run, device="cpu").sample(6, seed=3))
    assert pipeline.step == 4


@pytest.mark.parametrize("old_run", ["dcgan-digits-v0.1"], indirect=True)
def test_an_old_run_evaluates(old_run: Path) -> None:
    result = evaluate_run(old_run, "fid", n=200, device="cpu")
    assert result.metrics["fid"] > 0
    assert json.loads((old_run / "metrics.jsonl").read_text().splitlines()[-1])["kind"] == "eval"


@pytest.mark.parametrize("old_run", RUNS, indirect=True)
def test_an_old_run_resumes_to_the_old_codes_weights(old_run: Path) -> None:
    old_step4 = old_run / "checkpoints" / "step-00000004"
    expected_weights = load_file(old_step4 / "model.safetensors")
    expected_training = load_file(old_step4 / "training.safetensors")
    shutil.rmtree(old_step4)  # back to step 2, as if the old run had stopped there
    settings = json.loads((old_run / "config.json").read_text())["train"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the fixture was made
    try:
        ganforge.train({**settings, "runs_dir": str(old_run.parent)}, given={"runs_dir"})
    finally:
        torch.set_num_threads(threads)
    new_step4 = old_run / "checkpoints" / "step-00000004"
    weights, training = load_file(new_step4 / "model.safetensors"), load_file(new_step4 / "training.safetensors")
    assert weights.keys() == expected_weights.keys() and training.keys() == expected_training.keys()
    for name, tensor in [*weights.items(), *training.items()]:
        expected = expected_weights.get(name, expected_training.get(name))
        assert expected is not None and torch.allclose(tensor.double(), expected.double(), rtol=0, atol=1e-6), name
