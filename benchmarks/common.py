"""Helpers shared by the benchmarks: building a Trainer, timing, recording results."""

from __future__ import annotations

import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy
import torch

from ganforge.config import TrainConfig
from ganforge.device import resolve_device
from ganforge.training import build_model, check_regularizers, load_training_data
from ganforge.training.loop import Trainer

ROOT = Path(__file__).resolve().parents[1]
# The real data sets: ../shared/data beside the checkout, or a copy named by
# $GANFORGE_BENCH_DATA (on a GPU machine that sees only the repository).
SHARED_DATA = Path(os.environ.get("GANFORGE_BENCH_DATA", ROOT.parent / "shared" / "data"))
# Where results and run folders go: the recorded ones by default; a scratch
# folder when `benchmarks.reproduce` re-runs a row (so the record it compares
# with is not overwritten and no old run is resumed).
RESULTS = Path(os.environ.get("GANFORGE_BENCH_RESULTS", ROOT / "benchmarks" / "results"))
RUNS = Path(os.environ.get("GANFORGE_BENCH_RUNS", ROOT / "runs"))
# The pictures the docs show (a scratch folder when reproducing, so docs stay as recorded).
PICTURES = Path(os.environ.get("GANFORGE_BENCH_PICTURES", ROOT / "docs" / "images"))


def build_trainer(config: TrainConfig, run_dir: Path) -> Trainer:
    """A Trainer exactly as `ganforge train` builds it (same seed handling)."""
    data = load_training_data(config)
    torch.manual_seed(config.seed)
    model = build_model(config, data)
    config = config.with_model_defaults(model.training_defaults)
    check_regularizers(config, model)
    return Trainer(config, run_dir, data, model, resolve_device(config.device))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(trainer: Trainer, steps: int) -> float:
    """Seconds for `steps` training steps (device work included)."""
    sync(trainer.device)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
        trainer.step += 1
    sync(trainer.device)
    return time.perf_counter() - start


def cpu_seconds() -> float:
    """CPU time (user + system) of this process so far: the "CPU-minutes" of a budget."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def result_name(base: str, device: str, seed: int = 0) -> str:
    """A result file's name: CPU results of seed 0 bare, others suffixed by their device and seed."""
    return base + ("" if device == "cpu" else f"_{device}") + ("" if seed == 0 else f"_s{seed}")


def run_name(base: str, device: str, seed: int = 0) -> str:
    """A benchmark's run folder name, suffixed like its result file."""
    return base + ("" if device == "cpu" else f"-{device}") + ("" if seed == 0 else f"-s{seed}")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def runs_folder(runs_dir: str) -> Path:
    """A benchmark's parent folder of runs: the default "runs" follows $GANFORGE_BENCH_RUNS."""
    return RUNS if runs_dir == "runs" else ROOT / runs_dir


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    """HEAD of the checkout, with "+changes" when tracked files differ from it; None outside git."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+changes" if changed else "")


def invocation() -> str:
    """This process's command line, a benchmark module written as `python -m benchmarks.NAME`."""
    program = Path(sys.argv[0])
    if program.suffix == ".py" and program.resolve().parent == ROOT / "benchmarks":
        return " ".join(["python -m benchmarks." + program.stem, *map(shlex.quote, sys.argv[1:])])
    return " ".join(map(shlex.quote, sys.argv))


def environment() -> dict[str, Any]:
    """What a figure depends on besides the code: versions, CPU, threads, commit."""
    return {
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "cpu": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "commit": git_commit(),
        "command": invocation(),
        "date": time.strftime("%Y-%m-%d"),
    }


def picture_path(name: str) -> Path:
    """Where a benchmark writes a picture, and the path its result names it by."""
    return PICTURES / name


def shown_path(path: Path) -> str:
    """A path as a result records it: relative to the checkout when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({**result, "environment": environment()}, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return path
