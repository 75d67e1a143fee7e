"""Train for a fixed wall-clock budget and keep the result as a normal run folder.

    python -m benchmarks.time_budget --seconds 300 --data mnist --model dcgan --threads 2

Writes runs/<name>/ (checkpoint, config, metrics) like `ganforge train`, a
sample grid from the fixed noise batch, and a JSON result.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import torch

from benchmarks.common import RUNS, SHARED_DATA, build_trainer, shown_path, write_result
from ganforge.config import TrainConfig
from ganforge.io import write_json
from ganforge.training import run_record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--data-root", default=str(SHARED_DATA / "mnist"))
    parser.add_argument("--model", default="dcgan")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", type=Path, default=None, help="also copy the final sample grid here")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    name = f"budget-{args.model}-{args.data}-{int(args.seconds)}s"
    run_dir = RUNS / name
    shutil.rmtree(run_dir, ignore_errors=True)
    root = None if args.data == "digits" else args.data_root
    config = TrainConfig(data=args.data, data_root=root, model=args.model, batch_size=args.batch_size, seed=args.seed, steps=10**9, run=name, device="cpu", tensorboard=False, progress=False)
    trainer = build_trainer(config, run_dir)
    write_json(run_dir / "config.json", run_record(trainer.config, trainer.model.config, trainer.data))

    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        trainer.train_step()
        trainer.step += 1
    elapsed = time.perf_counter() - start
    trainer.save_checkpoint()
    grid = trainer.save_sample_grid()
    if args.grid:
        args.grid.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(grid, args.grid)
    command = f"python -m benchmarks.time_budget --seconds {int(args.seconds)} --data {args.data} --model {args.model} --threads {args.threads}"
    if args.grid:
        command += f" --grid {args.grid}"
    write_result(
        f"time_budget_{args.model}_{args.data}_{int(args.seconds)}s",
        {
            "benchmark": "time_budget",
            "model": args.model,
            "data": args.data,
            "seconds": elapsed,
            "steps": trainer.step,
            "steps_per_second": trainer.step / elapsed,
            "run_dir": shown_path(run_dir),
            "sample_grid": str((args.grid or grid)),
            "command": command,
        },
    )


if __name__ == "__main__":
    main()
