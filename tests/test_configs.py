"""The recipes shipped in configs/: each one trains through `ganforge train --config`
and is saved as written, so a renamed option or a typo in a recipe fails here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganforge.cli import main
from tests.test_stacked import write_digits_as_mnist

CONFIGS_DIR = Path(__file__).resolve().parents[1] / "configs"
CONFIGS = sorted(CONFIGS_DIR.glob("*.json"))


def test_configs_are_found_and_each_is_documented() -> None:
    assert len(CONFIGS) >= 4
    readme = (CONFIGS_DIR / "README.md").read_text()
    undocumented = [path.name for path in CONFIGS if f"configs/{path.name}" not in readme]
    assert not undocumented, f"configs/README.md does not describe {undocumented}"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.stem)
def test_a_shipped_config_trains_and_is_saved_as_written(path: Path, tmp_path: Path) -> None:
    settings = json.loads(path.read_text())
    runs = tmp_path / "runs"
    args = ["train", "--config", str(path), "--steps", "2", "--run", "recipe", "--runs-dir", str(runs), "--device", "cpu", "--no-progress", "--no-tensorboard"]
    if settings["data"] == "stacked-mnist":  # MNIST's files: scikit-learn's digits written in their format
        args += ["--data-root", str(write_digits_as_mnist(tmp_path / "mnist"))]
    assert main(args) == 0
    saved = json.loads((runs / "recipe" / "config.json").read_text())["train"]
    assert saved["steps"] == 2
    differing = {key: (value, saved[key]) for key, value in settings.items() if key != "steps" and saved[key] != value}
    assert not differing, f"saved differently from {path.name}: {differing}"
