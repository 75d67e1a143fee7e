"""Training metrics: JSON lines, TensorBoard and the progress bar.

Per-step values stay on the device until a flush, so logging costs one
host-device synchronisation every `log_every` steps rather than one per step.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tqdm import tqdm

from ganforge.io import atomic_path, writing
from ganforge.runs.folder import METRICS_FILE
from ganforge.training.health import HealthWatch

if TYPE_CHECKING:
    from ganforge.metrics import EvalResult

# The adversarial objective's statistics, the logger's default; every objective
# names its own (Objective.stats). diversity: a generated batch's spread over
# a real batch's (see health.py).
TRAIN_KEYS = ("loss_d", "loss_g", "d_real", "d_fake", "diversity")
# How the printed line labels the statistics it knows.
LABELS = {"d_real": "D(x)", "d_fake": "D(G(z))"}


def truncate_metrics(path: Path, step: int) -> None:
    """Drop training records after `step`: a resumed run logs those steps again."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash
        if record.get("step", 0) <= step:
            kept.append(line)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in kept))


class MetricsLogger:
    def __init__(
        self,
        run_dir: Path,
        start_step: int,
        total_steps: int,
        *,
        tensorboard: bool,
        progress: bool,
        health: HealthWatch | None = None,
        keys: tuple[str, ...] = TRAIN_KEYS,
    ) -> None:
        self.keys = keys
        self.path = run_dir / METRICS_FILE
        self.health = health
        with writing(self.path):
            truncate_metrics(self.path, start_step)
            self.file = open(self.path, "a", buffering=1)
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # slow import; only when used

            # purge_step hides events a crashed run wrote after its last checkpoint.
            self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=start_step)
        # A slower refresh keeps logs captured from a pipe readable.
        self.bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True, mininterval=0.5, disable=not progress)
        self.progress = progress
        self.pending: list[tuple[int, torch.Tensor]] = []
        self.window_start = time.perf_counter()
        self.last: dict[str, float] = {}

    def record(self, step: int, values: torch.Tensor) -> None:
        """Queue one step's values (one per key, in order), still on the device."""
        self.pending.append((step, values))
        self.bar.update(1)

    def flush(self) -> None:
        if not self.pending:
            return
        rows = torch.stack([v for _, v in self.pending]).tolist()  # the one sync
        seconds = (time.perf_counter() - self.window_start) / len(rows)
        with writing(self.path):
            self.write_rows(rows, seconds)
        self.last = {**dict(zip(self.keys, rows[-1])), "sec_per_step": seconds}
        self.bar.set_postfix({key: f"{value:.3f}" for key, value in list(zip(self.keys, rows[-1]))[:2]}, refresh=False)
        if not self.progress:
            print(self.format_line(self.pending[-1][0]), flush=True)
        if self.health is not None:
            means = {key: sum(row[i] for row in rows) / len(rows) for i, key in enumerate(self.keys)}
            for message in self.health.update(self.pending[-1][0], means):
                self.warn(self.pending[-1][0], message)
        self.pending.clear()
        self.window_start = time.perf_counter()

    def write_rows(self, rows: list[list[float]], seconds: float) -> None:
        """The pending steps' values as JSON lines and TensorBoard scalars."""
        for (step, _), row in zip(self.pending, rows):
            # NaN and infinity are not JSON: they are written as null.
            values = {key: value if math.isfinite(value) else None for key, value in zip(self.keys, row)}
            record: dict[str, Any] = {"kind": "train", "step": step, **values, "sec_per_step": seconds}
            self.file.write(json.dumps(record) + "\n")
            if self.writer is not None:
                for key, value in zip(self.keys, row):
                    self.writer.add_scalar(f"train/{key}", value, step)
                self.writer.add_scalar("train/sec_per_step", seconds, step)

    def format_line(self, step: int) -> str:
        v = self.last
        values = " | ".join(f"{LABELS.get(key, key)} {v[key]:.4f}" if key.startswith("loss") else f"{LABELS.get(key, key)} {v[key]:.3f}" for key in self.keys)
        return f"step {step} | {values} | {1000 * v['sec_per_step']:.1f} ms/step"

    def warn(self, step: int, message: str) -> None:
        """A training-health warning: printed and kept in metrics.jsonl."""
        tqdm.write(f"ganforge: warning: {message}")
        self.event({"kind": "warning", "step": step, "message": message})

    def event(self, record: dict[str, Any]) -> None:
        """A non-training record (resume, sample grid, ...), written at once."""
        with writing(self.path):
            self.file.write(json.dumps(record) + "\n")

    def restart(self, step: int) -> None:
        """Training continues from `step` after a rollback: the steps after it
        are logged again (a "rollback" record tells the two apart)."""
        self.event({"kind": "rollback", "step": step})
        self.bar.reset(total=self.bar.total)
        self.bar.update(step)
        self.window_start = time.perf_counter()

    def evaluation(self, step: int, result: EvalResult) -> None:
        """An --eval-every result: JSON line, TensorBoard scalars, one printed line."""
        self.flush()
        record = {**result.record(), "step": step}
        with writing(self.path):
            self.file.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in result.metrics.items():
                self.writer.add_scalar(f"eval/{key}", value, step)
        values = " | ".join(f"{k} {v:.4g}" for k, v in result.metrics.items())
        tqdm.write(f"step {step} | eval: {values} | {result.extractor}, {result.n_fake} samples, {result.seconds:.1f} s")

    def close(self) -> None:
        self.flush()
        self.bar.close()
        if self.writer is not None:
            self.writer.close()
        self.file.close()


class SilentLogger:
    """The logger of a process other than rank 0 in multi-process training:
    rank 0 alone writes logs."""

    def record(self, step: int, values: torch.Tensor) -> None:
        pass

    def flush(self) -> None:
        pass

    def event(self, record: dict[str, Any]) -> None:
        pass

    def warn(self, step: int, message: str) -> None:
        pass

    def restart(self, step: int) -> None:
        pass

    def close(self) -> None:
        pass
