"""Training speed: steps per second of a model on a data source.

    python -m benchmarks.train_speed --data mnist --data-root ../shared/data/mnist \
        --model dcgan --batch-size 64 --threads 2

One step is one discriminator and one generator update (batch 64 each).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from benchmarks.common import SHARED_DATA, build_trainer, peak_rss_mib, time_steps, write_result
from ganforge.config import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--data-root", default=str(SHARED_DATA / "mnist"))
    parser.add_argument("--model", default="dcgan")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200, help="timed steps")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats; the median is reported")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    root = None if args.data == "digits" else args.data_root
    config = TrainConfig(data=args.data, data_root=root, model=args.model, batch_size=args.batch_size, device=args.device, tensorboard=False, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = build_trainer(config, Path(tmp))
        time_steps(trainer, args.warmup)
        seconds = sorted(time_steps(trainer, args.steps) for _ in range(args.repeats))
    median = seconds[len(seconds) // 2]
    name = f"train_speed_{args.model}_{args.data}_{args.device.split(':')[0]}"
    write_result(
        name,
        {
            "benchmark": "train_speed",
            "model": args.model,
            "data": args.data,
            "image_shape": list(trainer.data.image_shape),
            "batch_size": args.batch_size,
            "device": args.device,
            "steps_per_second": args.steps / median,
            "images_per_second": args.steps * args.batch_size / median,
            "ms_per_step": 1000 * median / args.steps,
            "repeats_seconds": seconds,
            "peak_rss_mib": peak_rss_mib(),
            "command": f"python -m benchmarks.train_speed --data {args.data} --model {args.model} --batch-size {args.batch_size} --threads {args.threads} --device {args.device}",
        },
    )


if __name__ == "__main__":
    main()
