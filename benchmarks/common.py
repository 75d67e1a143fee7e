"""Helpers shared by the benchmarks: building a Trainer, timing, recording results."""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from pathlib import Path
from typing import Any

import torch

from ganforge.config import TrainConfig
from ganforge.device import resolve_device
from ganforge.training import build_model, check_regularizers, load_training_data
from ganforge.training.loop import Trainer

ROOT = Path(__file__).resolve().parents[1]
# The real data sets: ../shared/data beside the checkout, or a copy named by
# $GANFORGE_BENCH_DATA (on a GPU machine that sees only the repository).
SHARED_DATA = Path(os.environ.get("GANFORGE_BENCH_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results"


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


def result_name(base: str, device: str) -> str:
    """A result file's name: CPU results bare, others suffixed by their device."""
    return base + ("" if device == "cpu" else f"_{device}")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def environment() -> dict[str, Any]:
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "date": time.strftime("%Y-%m-%d"),
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({**result, "environment": environment()}, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return path
