"""`make bench`: every benchmark, results in benchmarks/results/*.json.

Needs ../shared/data for the MNIST figures. Run on an otherwise idle machine:
the figures are wall-clock times.
"""

from __future__ import annotations

import subprocess
import sys

from benchmarks.common import ROOT

COMMANDS = [
    ["benchmarks.train_speed", "--data", "mnist", "--model", "dcgan", "--batch-size", "64", "--threads", "2"],
    ["benchmarks.train_speed", "--data", "mnist", "--model", "vanilla", "--batch-size", "64", "--threads", "2"],
    ["benchmarks.train_speed", "--data", "digits", "--model", "dcgan", "--batch-size", "64", "--threads", "2"],
    ["benchmarks.time_budget", "--seconds", "300", "--data", "mnist", "--model", "dcgan", "--threads", "2", "--grid", "docs/images/dcgan-mnist-5min.png"],
    ["benchmarks.eval_metrics", "--threads", "2", "--run", "runs/budget-dcgan-mnist-300s", "--fid-2048"],
    ["benchmarks.families", "--data", "mnist", "--seconds", "600", "--models", "dcgan", "--ema", "0.999", "--tag=-ema-10min", "--threads", "2"],
    ["benchmarks.families", "--data", "mnist", "--seconds", "150", "--threads", "2"],
    ["benchmarks.families", "--data", "cifar10", "--seconds", "90", "--threads", "2"],
    ["benchmarks.mode_collapse", "--data", "ring,grid", "--seeds", "0,1", "--steps", "5000", "--threads", "2"],
    ["benchmarks.stacked_mnist", "--seconds", "300", "--threads", "2"],
]


def main() -> int:
    for command in COMMANDS:
        print("+ python -m", " ".join(command), flush=True)
        result = subprocess.run([sys.executable, "-m", *command], cwd=ROOT)
        if result.returncode:
            return result.returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
