"""What each speed option gives: steps and images per second, peak memory and
FLOP utilisation of one model's training under fp32, bf16, fp16,
channels_last, torch.compile and CUDA graphs (compile's reduce-overhead mode).

    python -m benchmarks.speed_options --data mnist --model dcgan --threads 2
    python -m benchmarks.speed_options --data cifar10 --model sngan --device cuda --variants fp32,bf16,compile,compile-bf16
    python -m benchmarks.speed_options --data cifar10 --image-size 64 --model dcgan --device cuda --batch-size 256

Each variant runs in a fresh process (clean peak memory, clean compile
caches). One step is one D and one G update on a batch. FLOPs come from
torch.utils.flop_counter over one step (matrix products and convolutions,
forward and backward); model FLOP utilisation (MFU) divides the achieved
FLOP/s by the GPU's dense peak for the variant's number format.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import SHARED_DATA, build_trainer, peak_rss_mib, time_steps, write_result
from ganforge.config import TrainConfig

VARIANTS: dict[str, dict[str, Any]] = {
    "fp32": {},
    "bf16": {"precision": "bf16"},
    "fp16": {"precision": "fp16"},
    "channels-last": {"channels_last": True},
    "compile": {"compile": True},
    "compile-bf16": {"compile": True, "precision": "bf16"},
    "compile-bf16-channels-last": {"compile": True, "precision": "bf16", "channels_last": True},
    # reduce-overhead: inductor replays CUDA graphs (on CPU it is plain compile).
    "cuda-graphs": {"compile": True, "compile_mode": "reduce-overhead"},
    "cuda-graphs-bf16": {"compile": True, "compile_mode": "reduce-overhead", "precision": "bf16"},
}

# Dense peak TFLOP/s (NVIDIA data sheets, SXM parts): fp32 runs on TF32 tensor
# cores only when allowed, so its peak is the plain FP32 rate.
GPU_PEAK_TFLOPS = {
    "H100": {"fp32": 67.0, "bf16": 989.0, "fp16": 989.0},
    "H200": {"fp32": 67.0, "bf16": 989.0, "fp16": 989.0},
    "A100": {"fp32": 19.5, "bf16": 312.0, "fp16": 312.0},
}


def step_flops(trainer: Any) -> int:
    """FLOPs of one training step (counted, not timed)."""
    counter = FlopCounterMode(display=False)
    with counter:
        trainer.train_step()
    return counter.get_total_flops()


def peak_tflops(precision: str) -> float | None:
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    for key, peaks in GPU_PEAK_TFLOPS.items():
        if key in name:
            return peaks[precision]
    return None


def measure(args: argparse.Namespace, variant: str) -> dict[str, Any]:
    """One variant, in this process."""
    torch.set_num_threads(args.threads)
    options = VARIANTS[variant]
    root = None if args.data == "digits" else args.data_root or str(SHARED_DATA / args.data)
    config = TrainConfig(
        data=args.data, data_root=root, model=args.model, batch_size=args.batch_size, device=args.device,
        image_size=args.image_size, tensorboard=False, progress=False, **options,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        trainer = build_trainer(config, Path(tmp))
        if trainer.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        time_steps(trainer, args.warmup)  # compiles, autotunes
        flops = step_flops(trainer) if not options.get("compile") else None
        if trainer.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(trainer.device)
        seconds = sorted(time_steps(trainer, args.steps) for _ in range(args.repeats))
        peak = torch.cuda.max_memory_allocated(trainer.device) / 2**20 if trainer.device.type == "cuda" else peak_rss_mib()
    median = seconds[len(seconds) // 2]
    steps_per_second = args.steps / median
    return {
        "variant": variant,
        "options": options,
        "steps_per_second": steps_per_second,
        "images_per_second": steps_per_second * args.batch_size,
        "ms_per_step": 1000 / steps_per_second,
        "repeats_seconds": seconds,
        "peak_memory_mib": peak,
        "peak_memory_kind": "cuda max_memory_allocated" if trainer.device.type == "cuda" else "process max RSS",
        "gflop_per_step": None if flops is None else flops / 1e9,
        "image_shape": list(trainer.data.image_shape),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--data-root", default=None, help="default: ../shared/data/DATA")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--model", default="dcgan")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--variants", default="fp32,bf16,channels-last,compile")
    parser.add_argument("--steps", type=int, default=100, help="timed steps per repeat")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first (compilation happens here)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats; the median is reported")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tag", default="")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # run one variant here, print JSON
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(measure(args, args.one)))
        return

    unknown = sorted(set(args.variants.split(",")) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    rows = []
    for variant in args.variants.split(","):
        command = [sys.executable, "-m", "benchmarks.speed_options", *sys.argv[1:], "--one", variant]
        done = subprocess.run(command, capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode or not lines:
            print(f"{variant}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            rows.append({"variant": variant, "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"})
            continue
        row = json.loads(lines[-1][len("RESULT ") :])
        rows.append(row)
        print(f"{variant}: {row['steps_per_second']:.2f} steps/s, {row['images_per_second']:.0f} images/s, peak {row['peak_memory_mib']:.0f} MiB", flush=True)
    base = next((r for r in rows if r.get("variant") == "fp32" and "error" not in r), None)
    for row in rows:
        if "error" in row:
            continue
        if base is not None:
            row["speedup_vs_fp32"] = row["steps_per_second"] / base["steps_per_second"]
        flops = row["gflop_per_step"] or (base or {}).get("gflop_per_step")
        if flops:
            row["achieved_tflops"] = flops * row["steps_per_second"] / 1000
            precision = row["options"].get("precision", "fp32")
            peak = peak_tflops(precision)
            row["mfu"] = None if peak is None else row["achieved_tflops"] / peak
    device = args.device.split(":")[0]
    size = f"_{args.image_size}px" if args.image_size else ""
    write_result(
        f"speed_options_{args.model}_{args.data}{size}_{device}{args.tag}",
        {
            "benchmark": "speed_options",
            "model": args.model,
            "data": args.data,
            "batch_size": args.batch_size,
            "device": args.device,
            "rows": rows,
            "command": "python -m benchmarks.speed_options " + " ".join(sys.argv[1:]),
        },
    )


if __name__ == "__main__":
    main()
