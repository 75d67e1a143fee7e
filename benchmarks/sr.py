"""Super-resolution benchmarks: the bicubic protocol check, and training a
family's default command on T91, scored on Set5 and Set14.

    python -m benchmarks.sr bicubic
    python -m benchmarks.sr train --model srresnet --threads 2
    python -m benchmarks.sr train --model srgan --init-from sr-srresnet --threads 2
    python -m benchmarks.sr random-vgg --out runs/vgg19-random-seed0.safetensors
    python -m benchmarks.sr report

`bicubic`: Set5 and Set14 at x2, x3, x4 by ganforge's protocol (HR cropped
to a multiple of the scale, bicubic LR rounded to 8 bits, bicubic back up,
PSNR/SSIM on Y with `scale` border pixels shaved), beside the published
bicubic figures (Set5 x4 28.42 dB, the figure every SR paper's table starts
from; the check passes within 0.05 dB).

`train`: what `ganforge train --model NAME --data sr --data-root
../shared/data/sr/T91/Train` trains with the model's defaults (its --steps,
crop, batch, learning rate), timed on wall-clock, then `ganforge eval` on
Set5 and Set14. `--train-option KEY=VALUE` changes a setting (screens);
`--tag` names such a run. Results: benchmarks/results/sr_*.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import RESULTS, RUNS, SHARED_DATA, write_result
from ganforge.config import TrainConfig, parse_options
from ganforge.data.base import to_float, to_uint8
from ganforge.pipelines.sr_evaluation import evaluate_upscale_run, read_test_images, score_images
from ganforge.tasks.upscale import bicubic_upscale
from ganforge.training import train

SR_DATA = SHARED_DATA / "sr"
#: Bicubic PSNR (dB) / SSIM on Y, as the SR papers' tables print them (Set5, Set14).
PUBLISHED_BICUBIC = {
    ("Set5", 2): (33.66, 0.9299), ("Set5", 3): (30.39, 0.8682), ("Set5", 4): (28.42, 0.8104),
    ("Set14", 2): (30.24, 0.8688), ("Set14", 3): (27.55, 0.7742), ("Set14", 4): (26.00, 0.7027),
}
TOLERANCE_DB = 0.05


def bicubic_check() -> dict[str, Any]:
    rows = []
    for (name, scale), (psnr, ssim) in PUBLISHED_BICUBIC.items():
        images = read_test_images(SR_DATA / name, scale)
        ours = score_images(lambda lr: to_uint8(bicubic_upscale(to_float(lr), scale)), images, scale)["metrics"]
        rows.append({
            "set": name, "scale": scale, "psnr": round(ours["bicubic_psnr"], 3), "ssim": round(ours["bicubic_ssim"], 4),
            "published_psnr": psnr, "published_ssim": ssim, "difference_db": round(ours["bicubic_psnr"] - psnr, 3),
        })
    set5_x4 = next(r for r in rows if r["set"] == "Set5" and r["scale"] == 4)
    result = {
        "benchmark": "sr_bicubic", "rows": rows, "set5_x4_within_tolerance": abs(set5_x4["difference_db"]) <= TOLERANCE_DB,
        "tolerance_db": TOLERANCE_DB, "command": "python -m benchmarks.sr bicubic",
    }
    write_result("sr_bicubic", result)
    for r in rows:
        print(f"{r['set']:<6} x{r['scale']}  PSNR {r['psnr']:.2f} (published {r['published_psnr']:.2f}, {r['difference_db']:+.2f})  SSIM {r['ssim']:.4f} (published {r['published_ssim']:.4f})")
    return result


def train_default(model: str, threads: int, init_from: str | None, options: dict[str, Any], tag: str, seed: int) -> dict[str, Any]:
    torch.set_num_threads(threads)
    run = f"sr-{model}{tag}" if seed == 0 else f"sr-{model}{tag}-s{seed}"
    config = TrainConfig(
        data="sr", data_root=str(SR_DATA / "T91" / "Train"), model=model, run=run, seed=seed, init_from=init_from,
        runs_dir=str(RUNS), device="cpu", progress=False, tensorboard=False, **options,
    )
    started = time.perf_counter()
    pipeline = train(config)
    seconds = time.perf_counter() - started
    record: dict[str, Any] = {"benchmark": "sr_train", "model": model, "tag": tag, "seed": seed, "run": run, "steps": pipeline.step, "seconds": round(seconds, 1)}
    record["settings"] = {k: v for k, v in pipeline.train_config.items() if k in ("steps", "batch_size", "image_size", "lr_g", "lr_d", "lr_decay", "lr_decay_start", "objective", "objective_options", "beta1", "beta2", "init_from")}
    for test_set in ("Set5", "Set14"):
        result = evaluate_upscale_run(run, data_root=SR_DATA / test_set, device="cpu", runs_dir=str(RUNS))
        record[test_set] = {k: round(v, 4) for k, v in result.metrics.items()}
    argv = f" --init-from {init_from}" if init_from else ""
    argv += "".join(f" --train-option {k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in options.items() if k != "objective_options")
    argv += "".join(f" -X {k}={v}" for k, v in options.get("objective_options", {}).items())
    record["command"] = f"python -m benchmarks.sr train --model {model}{argv} --threads {threads}" + (f" --tag={tag}" if tag else "") + (f" --seed {seed}" if seed else "")
    write_result(f"sr_{model}{tag}" + (f"_s{seed}" if seed else ""), record)
    return record


def make_random_vgg(path: str, seed: int) -> None:
    """A VGG19 feature network from a seeded initialisation, as a weights file
    for -X vgg_weights=: the stand-in for ImageNet weights on a machine that
    cannot download them (the perceptual loss then measures random features)."""
    from safetensors.torch import save_file

    from ganforge.perceptual import VGGFeatures

    torch.manual_seed(seed)
    features = VGGFeatures("conv5_4").features
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file({f"features.{k}": v.contiguous() for k, v in features.state_dict().items()}, str(target))
    print(f"wrote a seeded (seed {seed}) random VGG19 to {target}")


def report() -> None:
    print("| run | steps | minutes | Set5 PSNR / SSIM | Set14 PSNR / SSIM | bicubic Set5 / Set14 |")
    print("|---|---|---|---|---|---|")
    for path in sorted(RESULTS.glob("sr_*.json")):
        r = json.loads(path.read_text())
        if r.get("benchmark") != "sr_train":
            continue
        s5, s14 = r["Set5"], r["Set14"]
        print(
            f"| {r['run']} | {r['steps']} | {r['seconds'] / 60:.1f} | {s5['psnr']:.2f} / {s5['ssim']:.4f} | {s14['psnr']:.2f} / {s14['ssim']:.4f} "
            f"| {s5['bicubic_psnr']:.2f} / {s14['bicubic_psnr']:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("bicubic", help="the bicubic protocol check on Set5 and Set14")
    p = sub.add_parser("train", help="train a family's default command on T91, score Set5 and Set14")
    p.add_argument("--model", default="srresnet")
    p.add_argument("--init-from", dest="init_from", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-option", dest="train_options", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("-X", "--objective-option", dest="objective_options", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--tag", default="")
    sub.add_parser("report", help="the table of the saved training results")
    p = sub.add_parser("random-vgg", help="write a seeded random VGG19 weights file (no ImageNet weights offline)")
    p.add_argument("--out", default="runs/vgg19-random-seed0.safetensors")
    p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.command == "bicubic":
        bicubic_check()
    elif args.command == "train":
        options = parse_options(args.train_options)
        if args.objective_options:
            options["objective_options"] = parse_options(args.objective_options, "objective")
        train_default(args.model, args.threads, args.init_from, options, args.tag, args.seed)
    elif args.command == "random-vgg":
        make_random_vgg(args.out, args.seed)
    else:
        report()


if __name__ == "__main__":
    main()
