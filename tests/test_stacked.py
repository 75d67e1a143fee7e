"""Stacked MNIST: three digits as R, G, B, 1,000 modes read by the digit classifier."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from ganforge.cli import main
from ganforge.data import ImageData, load_data
from ganforge.data.stacked import stack_digits, stacked_modes
from ganforge.errors import GanforgeError
from ganforge.diagnose import diagnose_run
from ganforge.metrics.classifier import ClassifierSettings, classifier_for
from ganforge.metrics.stacked import StackedMnistEvaluator, stacked_mode_stats
from ganforge.training import train
from tests.conftest import TINY
from tests.test_data import write_idx


@pytest.fixture(scope="module")
def digits() -> ImageData:
    return load_data("digits")


def test_each_channel_is_a_digit_and_the_label_reads_them_in_order(digits: ImageData) -> None:
    stacks = stack_digits(digits, 200, seed=3)
    assert stacks.images.shape == (200, 3, 8, 8) and stacks.num_classes == 1000
    assert torch.equal(stack_digits(digits, 200, seed=3).images, stacks.images)  # fixed by the seed
    # Find each channel among the source digits and read its label.
    flat = digits.images.view(len(digits), -1)
    for image, label in zip(stacks.images[:20], stacks.labels[:20]):
        found = []
        for channel in image:
            matches = (flat == channel.reshape(1, -1)).all(dim=1).nonzero().flatten()
            found.append({int(digits.labels[m]) for m in matches})
        a, b, c = (int(label) // 100, int(label) // 10 % 10, int(label) % 10)
        assert a in found[0] and b in found[1] and c in found[2]


def test_mode_statistics_of_spread_and_collapsed_samples() -> None:
    assert stacked_modes(torch.tensor([[1, 2, 3], [9, 0, 0]])).tolist() == [123, 900]
    spread = stacked_mode_stats(torch.arange(1000).repeat(5))
    assert (spread["modes"], spread["modes_any"], spread["modes_total"]) == (1000, 1000, 1000)
    assert spread["modes_kl"] == pytest.approx(0.0, abs=1e-12)
    collapsed = stacked_mode_stats(torch.full((500,), 42))
    assert (collapsed["modes"], collapsed["modes_any"]) == (1, 1)
    assert collapsed["modes_kl"] == pytest.approx(math.log(1000))
    # One stray sample makes a mode "any" but not covered.
    stray = stacked_mode_stats(torch.cat([torch.arange(10).repeat(2000), torch.tensor([500])]))  # a tenth of the fair share is 2
    assert (stray["modes"], stray["modes_any"]) == (10, 11)


def test_the_digit_part_of_the_kl() -> None:
    # Channels independent, the last one uneven (9 twice as often as each other
    # digit): all of the KL is the digits' own.
    last = torch.tensor([*range(10), 9])
    independent = stacked_mode_stats(torch.tensor([100 * a + 10 * b + c for a in range(10) for b in range(10) for c in last]))
    uneven = torch.tensor([1] * 9 + [2], dtype=torch.float64) / 11
    assert independent["digits_kl"] == pytest.approx(float((uneven * (uneven * 10).log()).sum()))
    assert independent["modes_kl"] == pytest.approx(independent["digits_kl"])
    # Every digit equally often in each channel, but the channels always agree
    # (000, 111, ... 999): no digit KL, all of it from the dependence.
    agreeing = stacked_mode_stats(torch.arange(10) * 111)
    assert agreeing["digits_kl"] == pytest.approx(0.0, abs=1e-12)
    assert agreeing["modes_kl"] == pytest.approx(math.log(100))


def test_the_evaluator_reads_real_stacks_back(digits: ImageData) -> None:
    evaluator = StackedMnistEvaluator(digits, torch.device("cpu"))
    stacks = stack_digits(digits, 300, seed=0)
    read = evaluator.classify_stacks(stacks.images)
    assert (read == stacks.labels).float().mean() > 0.85  # three digits right at once
    result = evaluator.evaluate_images(stacks.images)
    assert result.metrics["modes_any"] > 200 and result.n_fake == 300
    with pytest.raises(GanforgeError, match="3 channels"):
        evaluator.classify_stacks(digits.images[:4])
    with pytest.raises(GanforgeError, match="one-channel digits"):
        StackedMnistEvaluator(stacks, torch.device("cpu"))


def write_digits_as_mnist(folder: Path) -> Path:
    """scikit-learn's digits, upscaled to 28x28, as MNIST's t10k IDX files."""
    digits = load_data("digits", image_size=28)
    folder.mkdir(parents=True)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", digits.images[:, 0].numpy())
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", digits.labels.numpy())
    return folder


def test_stacked_runs_are_scored_on_their_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_digits_as_mnist(tmp_path / "mnist")
    # A quickly trained digit classifier, cached: the evaluators below load it.
    classifier_for(load_data("mnist", root=str(root)), settings=ClassifierSettings(epochs=1, min_steps=5))
    config = {
        "data": "stacked-mnist", "data_root": str(root), "model": "dcgan", "model_options": TINY["dcgan"], "steps": 2,
        "batch_size": 8, "eval_every": 2, "eval_n": 200, "runs_dir": str(tmp_path / "runs"), "run": "stacked",
        "tensorboard": False, "progress": False, "device": "cpu",
    }
    run_dir = train(config).run_dir
    assert run_dir is not None
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    (evaluation,) = [line for line in lines if line["kind"] == "eval"]
    assert evaluation["modes_total"] == 1000 and evaluation["n_fake"] == 200 and "stacked modes" in evaluation["extractor"]
    assert main(["eval", str(run_dir), "--n", "100", "--json"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["modes_total"] == 1000 and 1 <= record["modes_any"] <= 100
    assert diagnose_run(run_dir, 100).coverage["modes_total"] == 1000
