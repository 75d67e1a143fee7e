"""The `ganforge` command: help, listings, one-line errors, and a full round trip."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ganforge.cli import main

SUBCOMMANDS = ["train", "sample", "balance", "diagnose", "plot", "interpolate", "eval", "train-classifier", "models", "data", "metrics"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ganforge", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: ganforge {command}" in capsys.readouterr().out


def test_models_and_data_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    models = capsys.readouterr().out.splitlines()
    assert any(line.startswith("dcgan ") for line in models) and any(line.startswith("vanilla ") for line in models)
    assert main(["data"]) == 0
    sources = {line.split()[0] for line in capsys.readouterr().out.splitlines()}
    assert sources == {"digits", "mnist", "fashion-mnist", "cifar10", "folder", "stacked-mnist", "ring", "grid", "paired", "unpaired", "sr"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["train", "--model", "stylegan9"], "invalid choice: 'stylegan9' (choose from acgan, cgan, cgan-pd, cyclegan, dcgan, "),
        (["train", "--data", "imagenet"], "invalid choice: 'imagenet'"),
        (["train", "--lerning-rate", "1"], "unrecognized option --lerning-rate"),
        (["train", "--data", "folder"], "data source 'folder' needs --data-root DIR"),
        (["train", "--data", "mnist", "--data-root", "/nonexistent/mnist"], "/nonexistent/mnist"),
        (["train", "-O", "ngff=2"], "ngff do not apply to model 'dcgan'; valid options: ngf, ndf"),
        (["train", "--download"], "download"),
        (["sample", "nope", "--out", "x.npz"], "no run 'nope'"),
        (["eval", "--real", "a", "--fake", "b", "--precise-bn"], "--precise-bn recalibrates a run's generator; it does not apply to --real and --fake"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(args: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.chdir(tmp_path)
    try:
        code = main(args)
    except SystemExit as exit_info:  # argparse errors exit from inside parse_args
        code = exit_info.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err
    assert expected.replace("'", "") in err.replace("'", "")
    assert "Traceback" not in err


def test_an_unknown_option_suggests_and_lists_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--stpes", "3"])
    err = capsys.readouterr().err
    assert "did you mean --steps?" in err and "--batch-size" in err and "--model" in err


def test_train_sample_interpolate_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--runs-dir", str(tmp_path / "runs")]
    args = ["train", "--steps", "4", "--batch-size", "16", "--run", "cli", "-O", "ngf=8", "-O", "ndf=8", "--no-progress", "--no-tensorboard", "--device", "cpu", *common]
    assert main(args) == 0
    assert main(["sample", "cli", "--n", "5", "--seed", "2", "--out", str(tmp_path / "s.npz"), *common]) == 0
    with np.load(tmp_path / "s.npz") as archive:
        assert archive["images"].shape == (5, 8, 8, 1)
    assert main(["interpolate", "cli", "--out", str(tmp_path / "w.gif"), "--n", "2", "--keyframes", "2", "--frames", "2", *common]) == 0
    assert (tmp_path / "w.gif").stat().st_size > 0
    # The same command again resumes (here: finds the run finished); more steps continue it.
    assert main(args) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main([*args[:2], "6", *args[3:]]) == 0
    saved = json.loads((tmp_path / "runs" / "cli" / "config.json").read_text())
    assert saved["train"]["steps"] == 6 and saved["model"]["options"] == {"ngf": 8, "ndf": 8}
    # Contradicting the saved run is refused, naming the setting.
    assert main([*args, "--lr", "0.01"]) == 2
    assert "lr_g 0.0002 (now 0.01)" in capsys.readouterr().err


def test_a_config_file_with_overrides(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"steps": 2, "batch_size": 8, "model_options": {"ngf": 4, "ndf": 4}, "tensorboard": False}))
    args = ["train", "--config", str(config), "--steps", "3", "--run", "cfg", "--runs-dir", str(tmp_path / "runs"), "--no-progress"]
    assert main(args) == 0
    saved = json.loads((tmp_path / "runs" / "cfg" / "config.json").read_text())["train"]
    assert saved["steps"] == 3 and saved["batch_size"] == 8 and saved["model_options"] == {"ngf": 4, "ndf": 4}
    config.write_text("{not json")
    assert main(args) == 2


def test_the_console_script_exits_2_without_a_traceback(tmp_path: Path) -> None:
    result = run_cli("train", "--data", "folder", "--data-root", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"ganforge: error: no images found in {tmp_path} (looked for: bmp gif jpeg jpg png tif tiff webp)"


@pytest.mark.slow
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_checkpoints_then_the_same_command_resumes(tmp_path: Path, signum: int, status: int) -> None:
    args = ["train", "--steps", "100000", "--batch-size", "16", "--run", "int", "-O", "ngf=8", "-O", "ndf=8", "--no-progress", "--log-every", "10", "--no-tensorboard", "--device", "cpu"]
    process = subprocess.Popen([sys.executable, "-m", "ganforge", *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:  # wait until training is under way
        if line.startswith("step "):
            break
    time.sleep(0.2)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    # A script can tell an interrupted run (128 + the signal) from a finished one (0).
    assert process.returncode == status, err
    assert f"interrupted by {signal.Signals(signum).name}: checkpoint saved at step" in err and "run the same command to resume" in err
    step = int(err.split("checkpoint saved at step ")[1].split(" ")[0])
    assert (tmp_path / "runs" / "int" / "checkpoints" / f"step-{step:08d}").is_dir()
    resumed = run_cli(*args[:2], str(step + 2), *args[3:], cwd=tmp_path)
    assert resumed.returncode == 0 and f"resuming at step {step}" in resumed.stdout
