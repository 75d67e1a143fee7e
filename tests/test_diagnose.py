"""`ganforge diagnose`: coverage, diversity, D accuracy, gradient norms and the verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ganforge.cli import main
from ganforge.diagnose import DIAGNOSIS_FILE, Diagnosis, diagnose_run, mean_pairwise_distance, verdict
from ganforge.training import train
from tests.conftest import TINY


def diagnosis(modes: int = 8, ratio: float = 1.0, real: float = 0.5, fake: float = 0.5) -> Diagnosis:
    return Diagnosis(
        coverage={"modes": modes, "modes_total": 8, "modes_kl": 0.0},
        diversity={"ratio": ratio, "fake": ratio, "real": 1.0, "space": "raw values"},
        discriminator={"accuracy_real": real, "accuracy_fake": fake},
    )


def test_mean_pairwise_distance() -> None:
    assert mean_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    assert mean_pairwise_distance(torch.ones(10, 3)) == 0.0


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (diagnosis(), "near its equilibrium"),
        (diagnosis(modes=3), "mode collapse: only 3 of 8 modes"),
        (diagnosis(ratio=0.1), "low diversity"),
        (diagnosis(real=0.98, fake=0.97), "D overpowers G"),
        (diagnosis(real=0.6, fake=0.05), "G fools a weak D"),
        (diagnosis(real=0.8, fake=0.7), "D is ahead but not overpowering"),
    ],
)
def test_the_verdict_names_what_the_numbers_show(case: Diagnosis, expected: str) -> None:
    said = " | ".join(verdict(case))
    assert expected in said
    healthy = case.coverage["modes"] == 8 and case.diversity["ratio"] >= 0.5
    assert ("mode collapse" in said or "low diversity" in said) == (not healthy)


def test_diagnose_a_toy_run_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = {
        "data": "ring", "model": "toy-mlp", "model_options": TINY["toy-mlp"], "z_dim": 2, "steps": 3, "batch_size": 20,
        "runs_dir": str(tmp_path / "runs"), "run": "toy", "tensorboard": False, "progress": False, "device": "cpu",
    }
    run_dir = train(config).run_dir
    assert run_dir is not None
    assert main(["diagnose", str(run_dir), "--n", "400", "--json"]) == 0
    out = capsys.readouterr().out
    assert "mode coverage" in out and "D accuracy" in out and "verdict:" in out
    record = json.loads(out.strip().splitlines()[-2])
    saved = json.loads((run_dir / DIAGNOSIS_FILE).read_text())
    assert saved["verdict"] == record["verdict"] and saved["step"] == 3 and saved["samples"] == 400
    assert record["coverage"]["modes_total"] == 8
    assert 0 <= record["discriminator"]["accuracy_real"] <= 1 and record["gradients"]["d"] > 0 and record["gradients"]["g"] > 0
    # The same seed gives the same diagnosis.
    again = diagnose_run(run_dir, 400)
    assert again.record()["coverage"] == record["coverage"]
    assert again.discriminator["accuracy_real"] == record["discriminator"]["accuracy_real"]


def test_diagnose_an_image_run_counts_classes(tmp_path: Path) -> None:
    config = {
        "data": "digits", "model": "dcgan", "model_options": TINY["dcgan"], "steps": 2, "batch_size": 16,
        "runs_dir": str(tmp_path / "runs"), "run": "img", "tensorboard": False, "progress": False, "device": "cpu",
    }
    run_dir = train(config).run_dir
    result = diagnose_run(run_dir, 200)
    assert result.coverage["modes_total"] == 10 and "classifier" in result.coverage_source
    assert result.diversity["space"] == "classifier features" and result.diversity["ratio"] > 0
    assert result.verdict


def test_diagnose_unlabelled_images_compares_raw_pixels(tmp_path: Path) -> None:
    from PIL import Image

    from ganforge.data import load_data

    folder = tmp_path / "pictures"
    folder.mkdir()
    for i, image in enumerate(load_data("digits").images[:40]):
        Image.fromarray(image[0].numpy()).save(folder / f"{i}.png")
    config = {
        "data": "folder", "data_root": str(folder), "model": "dcgan", "model_options": TINY["dcgan"], "steps": 2, "batch_size": 8,
        "runs_dir": str(tmp_path / "runs"), "run": "unlabelled", "tensorboard": False, "progress": False, "device": "cpu",
    }
    result = diagnose_run(train(config).run_dir, 30)
    assert result.coverage == {} and "no labels" in result.coverage_source
    assert result.diversity["space"] == "raw values" and result.diversity["real"] > 0
    assert "mode coverage   not measured" in result.report()
