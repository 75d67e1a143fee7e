"""Fault injection on tiny runs: what a long run, a cluster or a hostile input
throws at training, and what ganforge promises in return (docs/reliability.md).

Each test injects one fault (a NaN, a second trainer, a failed write, a
damaged checkpoint, a wrongly typed setting, a malicious data file) and checks
the documented recovery or the one-line error, and that nothing is lost.
"""

from __future__ import annotations

import errno
import json
import math
import os
import pickle
import shutil
import signal
import stat
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

import ganforge.runs.checkpoint as checkpoint_module
from ganforge import GANPipeline
from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.data.cifar import safe_load_pickle
from ganforge.data.idx import read_idx
from ganforge.errors import GanforgeError
from ganforge.io import WriteError
from ganforge.runs.checkpoint import list_checkpoints, non_finite_tensors
from ganforge.runs.lock import RunBusy, RunLock
from ganforge.training import train
from ganforge.training.loop import Trainer
from tests.conftest import assert_same_state, state_of

MakeConfig = Callable[..., TrainConfig]


def poison_generator_at(monkeypatch: pytest.MonkeyPatch, step: int, times: int | None = 1, while_lr_scale: float | None = None) -> list[int]:
    """Make a weight of G NaN right after training step `step` (`times` times,
    None: every time; `while_lr_scale`: only while the rates are at that scale).
    Returns the list of steps at which the fault fired."""
    fired: list[int] = []
    original = Trainer.train_step

    def faulty(self: Trainer) -> torch.Tensor:
        values = original(self)
        wanted = times is None or len(fired) < times
        if self.step + 1 == step and wanted and (while_lr_scale is None or self.lr_scale == while_lr_scale):
            fired.append(self.step + 1)
            with torch.no_grad():
                next(self.model.generator.parameters()).fill_(float("nan"))
        return values

    monkeypatch.setattr(Trainer, "train_step", faulty)
    return fired


def metrics_records(run_dir: Path) -> list[dict[str, Any]]:
    """Every line of metrics.jsonl, parsed as strict JSON (NaN is not JSON)."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} in metrics.jsonl")

    return [json.loads(line, parse_constant=refuse) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def all_checkpoints_finite(run_dir: Path) -> bool:
    for _, path in list_checkpoints(run_dir / "checkpoints"):
        for name in ("model.safetensors", "training.safetensors"):
            if non_finite_tensors(load_file(str(path / name))):
                return False
    return True


# -- NaN ------------------------------------------------------------------------


def test_a_nan_once_rolls_back_and_the_run_ends_as_if_it_had_not_happened(make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    clean = train(make_config(run="clean", steps=10))
    fired = poison_generator_at(monkeypatch, step=7)
    recovered = train(make_config(run="faulty", steps=10))
    assert fired == [7]
    assert recovered.step == 10
    # Rolled back to step 6 and replayed: the same seed gives the very same run.
    assert_same_state(state_of(recovered.model), state_of(clean.model))
    records = metrics_records(recovered.run_dir)
    warning = [r for r in records if r["kind"] == "warning"]
    assert len(warning) == 1 and "non-finite loss or weights by step 8: rolled back to step 6" in warning[0]["message"]
    assert any(r["kind"] == "rollback" and r["step"] == 6 for r in records)
    assert all_checkpoints_finite(recovered.run_dir)


def test_nan_every_time_stops_with_one_line_and_keeps_the_last_finite_checkpoint(make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    fired = poison_generator_at(monkeypatch, step=7, times=None)
    with pytest.raises(GanforgeError, match="NaN or infinite values by step 8 after 3 rollbacks; nothing non-finite was saved"):
        train(make_config(steps=30, checkpoint_every=3, keep_checkpoints=1))
    run_dir = Path(make_config().runs_dir) / "test"
    assert fired == [7, 7, 7, 7]  # the first try and three replays
    # keep_checkpoints=1 and yet step 6 survives: no non-finite checkpoint ever replaced it.
    assert [step for step, _ in list_checkpoints(run_dir / "checkpoints")] == [6]
    assert all_checkpoints_finite(run_dir)
    records = metrics_records(run_dir)  # valid JSON: NaN written as null
    assert any(r["kind"] == "train" and r["loss_g"] is None for r in records)


def test_lower_lr_policy_halves_the_rates_and_a_resume_keeps_them(make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    poison_generator_at(monkeypatch, step=7, times=None, while_lr_scale=1.0)  # diverges only at the full rate
    pipeline = train(make_config(steps=9, nan_policy="lower-lr"))
    assert pipeline.step == 9
    state = json.loads((pipeline.run_dir / "checkpoints" / "step-00000009" / "state.json").read_text())
    assert state["extra"]["lr_scale"] == 0.5
    assert state["optimizers"]["g"]["param_groups"][0]["lr"] == pytest.approx(0.5 * pipeline.train_config["lr_g"])
    resumed = train(make_config(steps=12, nan_policy="lower-lr"), given={"steps"})
    state = json.loads((resumed.run_dir / "checkpoints" / "step-00000012" / "state.json").read_text())
    assert state["optimizers"]["d"]["param_groups"][0]["lr"] == pytest.approx(0.5 * resumed.train_config["lr_d"])


def test_stop_policy_stops_at_the_first_nan(make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    fired = poison_generator_at(monkeypatch, step=7, times=None)
    with pytest.raises(GanforgeError, match="by step 8; nothing non-finite was saved"):
        train(make_config(steps=12, nan_policy="stop"))
    assert fired == [7]


@pytest.mark.parametrize("flag, value", [("--lr", "nan"), ("--lr", "inf"), ("--clip", "nan"), ("--gp", "nan"), ("--label-smoothing", "-inf")])
def test_non_finite_numbers_are_refused_when_parsed(flag: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", f"{flag}={value}", "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"ganforge: error: {flag} must be a finite number") and "\n" not in err
    assert not any(tmp_path.iterdir())


def test_a_non_finite_option_value_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "-X", "gp=nan", "--runs-dir", str(tmp_path)]) == 2
    assert "gp=nan" in capsys.readouterr().err


# -- the run lock ----------------------------------------------------------------


def test_a_second_trainer_is_refused_and_leaves_the_first_ones_temporaries(make_config: MakeConfig) -> None:
    train(make_config(steps=3))
    run_dir = Path(make_config().runs_dir) / "test"
    live = run_dir / "checkpoints" / ".step-00000006.abc.tmp"  # the first trainer's checkpoint being written
    live.mkdir()
    with RunLock(run_dir):  # the first trainer holds the run
        with pytest.raises(RunBusy, match=f"run {run_dir} is being trained by pid {os.getpid()}"):
            train(make_config(steps=6))
        assert live.is_dir()
        # Reading needs no lock: sampling works while the run trains.
        assert GANPipeline.from_run(run_dir).step == 3
    resumed = train(make_config(steps=6))  # the lock is gone with its holder; stale temporaries go too
    assert resumed.step == 6 and not live.exists()


# -- failed writes ---------------------------------------------------------------------


def test_a_full_disk_is_one_line_naming_the_path_and_the_newest_checkpoint(
    make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real_save = checkpoint_module.save_file
    calls: list[str] = []

    def full_after_first_checkpoint(tensors: dict[str, torch.Tensor], path: str, metadata: dict[str, str] | None = None) -> None:
        calls.append(path)
        if len(calls) > 2:  # the step-3 checkpoint's two files fit, the step-6 one does not
            raise SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: \"No space left on device\" })")
        real_save(tensors, path, metadata=metadata)

    monkeypatch.setattr(checkpoint_module, "save_file", full_after_first_checkpoint)
    monkeypatch.chdir(tmp_path)
    args = ["train", "--steps", "6", "--batch-size", "16", "--checkpoint-every", "3", "-O", "ngf=8", "-O", "ndf=8", "--no-progress", "--no-tensorboard", "--run", "full"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith("ganforge: error: cannot write runs/full/checkpoints/step-00000006") and "No space left on device" in err
    assert "newest intact checkpoint: runs/full/checkpoints/step-00000003 (step 3)" in err
    assert [step for step, _ in list_checkpoints(tmp_path / "runs" / "full" / "checkpoints")] == [3]
    assert not list((tmp_path / "runs" / "full" / "checkpoints").glob(".*.tmp"))
    monkeypatch.setattr(checkpoint_module, "save_file", real_save)
    assert main(args) == 0  # space freed: the same command resumes


def test_a_read_only_runs_folder_is_one_line(make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    real_mkdir = Path.mkdir

    def read_only(self: Path, *args: Any, **kwargs: Any) -> None:
        if "runs" in self.parts:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(WriteError, match="cannot write .*runs/test: Read-only file system"):
        train(make_config())


def test_a_run_folder_removed_while_training_is_one_line_and_not_recreated(make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    original = Trainer.train_step

    def remove_the_folder_at_step_4(self: Trainer) -> torch.Tensor:
        if self.step == 4:
            shutil.rmtree(self.run_dir)
        return original(self)

    monkeypatch.setattr(Trainer, "train_step", remove_the_folder_at_step_4)
    with pytest.raises(WriteError, match="runs/test: the run folder was removed or replaced while training"):
        train(make_config(steps=9))
    assert not (Path(make_config().runs_dir) / "test").exists()  # nothing written into a new, config-less folder


def test_a_finished_run_started_again_writes_nothing(make_config: MakeConfig, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = train(make_config()).run_dir
    (run_dir / ".lock").unlink()
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in run_dir.rglob("*")}
    again = train(make_config())
    assert again.step == 6 and "already trained for 6 steps" in capsys.readouterr().out
    assert {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in run_dir.rglob("*")} == before


def test_files_follow_the_umask(make_config: MakeConfig) -> None:
    previous = os.umask(0o022)
    try:
        run_dir = train(make_config(steps=3)).run_dir
    finally:
        os.umask(previous)
    for path in (run_dir / "config.json", run_dir / "checkpoints" / "step-00000003" / "model.safetensors"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert stat.S_IMODE((run_dir / "checkpoints" / "step-00000003").stat().st_mode) == 0o755


# -- damaged checkpoints ---------------------------------------------------------------


def test_sampling_falls_back_to_the_newest_checkpoint_that_loads(make_config: MakeConfig) -> None:
    run_dir = train(make_config()).run_dir
    newest = run_dir / "checkpoints" / "step-00000006" / "model.safetensors"
    newest.write_bytes(newest.read_bytes()[:100])  # truncated
    with pytest.warns(UserWarning, match=f"skipped checkpoint: checkpoint file {newest} is corrupt or truncated.*using step-00000003"):
        assert GANPipeline.from_run(run_dir).step == 3


def test_a_state_whose_step_disagrees_with_its_folder_is_not_trusted(make_config: MakeConfig) -> None:
    run_dir = train(make_config()).run_dir
    state_file = run_dir / "checkpoints" / "step-00000006" / "state.json"
    state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({**state, "step": 600}))
    with pytest.warns(UserWarning, match="says step 600, but its folder is step-00000006"):
        resumed = train(make_config(steps=9))
    assert resumed.step == 9
    assert (run_dir / "checkpoints" / "step-00000006.damaged").is_dir()


# -- settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"steps": "5"}, "setting 'steps' must be an integer or null, got '5' (str)"),
        ({"lr_g": "fast"}, "setting 'lr_g' must be a number or null, got 'fast' (str)"),
        ({"steps": True}, "setting 'steps' must be an integer or null, got True (bool)"),
        ({"batch_size": 8.5}, "setting 'batch_size' must be an integer or null, got 8.5 (float)"),
        ({"tensorboard": "no"}, "setting 'tensorboard' must be true or false, got 'no' (str)"),
        ({"model_options": ["ngf", 8]}, "setting 'model_options' must be a mapping, got ['ngf', 8] (list)"),
    ],
)
def test_a_config_file_of_the_wrong_types_is_one_line(settings: dict[str, Any], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps(settings))
    assert main(["train", "--config", str(config), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err.strip() == f"ganforge: error: {message}"
    assert not (tmp_path / "runs").exists()


def test_an_integer_where_a_number_is_declared_is_that_number() -> None:
    assert TrainConfig(lr_g=1, gp=10).lr_g == 1.0 and isinstance(TrainConfig(gp=10).gp, float)


# -- hostile data files ---------------------------------------------------------------------


def test_an_idx_header_of_huge_dimensions_is_refused_without_overflow(tmp_path: Path) -> None:
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(struct.pack(">I", 0x00000803) + struct.pack(">III", 2**32 - 1, 2**32 - 1, 2**32 - 1) + b"\0" * 16)
    with pytest.raises(GanforgeError, match=f"IDX file {path} is truncated: header .* needs {(2**32 - 1) ** 3} bytes"):
        read_idx(path, 0x00000803)


class _HugeArray:
    """Pickles as a call of numpy.ndarray asking for 9 TiB."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (np.ndarray, ((9 * 2**40,), np.dtype(np.uint8)))


class _HugeReconstruct:
    """Pickles as numpy's _reconstruct asking for 9 TiB."""

    def __reduce__(self) -> tuple[Any, ...]:
        from numpy._core.multiarray import _reconstruct

        return (_reconstruct, (np.ndarray, (3 * 2**40, 3), b"B"))


@pytest.mark.parametrize("payload", [_HugeArray(), _HugeReconstruct()])
def test_a_cifar_pickle_cannot_ask_for_a_huge_array(payload: Any, tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": payload}, protocol=2))
    with pytest.raises(GanforgeError, match="asks for an array of shape .* bytes\\); a CIFAR batch holds about 30 MB"):
        safe_load_pickle(path)


def test_a_cifar_pickle_of_a_normal_array_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1"
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path.write_bytes(pickle.dumps({b"data": array}, protocol=2))
    loaded = safe_load_pickle(path)[b"data"]
    assert type(loaded) is np.ndarray and np.array_equal(loaded, array)
    assert math.prod(loaded.shape) == 12


# -- kill -9 ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_loses_at_most_one_interval_and_the_same_command_resumes(tmp_path: Path) -> None:
    args = ["train", "--steps", "100000", "--batch-size", "16", "--run", "k", "-O", "ngf=8", "-O", "ndf=8", "--no-progress",
            "--log-every", "5", "--checkpoint-every", "10", "--sample-every", "100000", "--no-tensorboard", "--device", "cpu"]  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "ganforge", *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    last = 0
    for line in process.stdout:  # let it write a few checkpoints
        if line.startswith("step "):
            last = int(line.split()[1])
            if last >= 45:
                break
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    checkpoints = tmp_path / "runs" / "k" / "checkpoints"
    saved = [step for step, _ in list_checkpoints(checkpoints)]
    assert saved and last - saved[-1] <= 10 + 5  # one interval, plus the steps logged since
    assert all_checkpoints_finite(tmp_path / "runs" / "k")  # every complete folder loads
    # No stale lock: the killed trainer's lock went with it.
    resumed = subprocess.run([sys.executable, "-m", "ganforge", *args[:2], str(saved[-1] + 5), *args[3:]], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming at step {saved[-1]}" in resumed.stdout
