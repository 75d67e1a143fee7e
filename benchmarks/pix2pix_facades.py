"""pix2pix on CMP Facades, label map to photo, against its L1-only ablation.

    python -m benchmarks.pix2pix_facades --threads 2                     # 128 px, 4,000 steps each (about 30 min each on 2 cores)
    python -m benchmarks.pix2pix_facades --image-size 256 --steps 80000 --device cuda   # the paper's 200 epochs

Each arm is exactly the command a user runs, with the defaults:

    ganforge train --model pix2pix --data paired --data-root ../shared/data/facades --direction BtoA \\
        --image-size 128 --steps 4000 --run facades-pix2pix-128            (arm "pix2pix")
    ... the same with -X gan_weight=0 --run facades-l1-128                  (arm "l1": the paper's L1-only row)
    ganforge train --model spade ... --steps 2100 --run facades-spade-128   (arm "spade": pix2pix's time)

then `ganforge eval RUN` on the 106 test pairs: L1, PSNR, SSIM, FID/KID,
and the segmentation score of the generated photos beside the real photos'.
A run that already exists is resumed (or, when finished, only evaluated).
Writes benchmarks/results/pix2pix_facades_<size>px.json and a picture of
test pairs: label map | L1 only | pix2pix | SPADE | real photo.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch

from benchmarks.common import RESULTS, RUNS, SHARED_DATA, picture_path, result_name, run_name, shown_path, write_result
from ganforge.config import TrainConfig
from ganforge.data import load_data
from ganforge.data.base import to_float
from ganforge.pipelines import TranslationPipeline
from ganforge.pipelines.evaluation import evaluate_paired_run
from ganforge.report.images import save_grid
from ganforge.training import train

#: Each arm: its model, objective options and steps (per 4,000 of pix2pix's).
#: SPADE's step costs 0.8 s on 2 cores against pix2pix's 0.42 s, so 2,100
#: steps match pix2pix's 27.8 min: the comparison is at equal time.
ARMS: dict[str, dict[str, Any]] = {
    "pix2pix": {"model": "pix2pix", "options": {}},
    "l1": {"model": "pix2pix", "options": {"gan_weight": 0.0}},
    "spade": {"model": "spade", "options": {}, "steps": 2100},
}
PICTURE_PAIRS = 6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=4000, help="pix2pix's steps; SPADE's scale with them (x 0.35)")
    parser.add_argument("--arms", default="pix2pix,l1,spade")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs-dir", default=str(RUNS))
    parser.add_argument("--seed", type=int, default=0, help="init, data order and noise of every arm")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    facades = SHARED_DATA / "facades"
    results: dict[str, Any] = {}
    outputs: dict[str, torch.Tensor] = {}
    test = load_data("paired", root=str(facades), split="test", image_size=args.image_size, direction="BtoA")
    for arm in args.arms.split(","):
        run = run_name(f"facades-{arm}-{args.image_size}", args.device, args.seed)
        steps = args.steps if "steps" not in ARMS[arm] else round(args.steps * ARMS[arm]["steps"] / 4000)
        config = TrainConfig(
            data="paired", data_root=str(facades), direction="BtoA", image_size=args.image_size, model=ARMS[arm]["model"],
            steps=steps, objective_options=ARMS[arm]["options"], run=run, runs_dir=args.runs_dir, device=args.device, progress=False, log_every=250,
            seed=args.seed,
        )
        started = time.perf_counter()
        pipeline = train(config, given={"steps", "runs_dir", "device", "progress", "log_every", "run", "seed"})
        seconds = time.perf_counter() - started
        evaluation = evaluate_paired_run(pipeline.run_dir, device=args.device)
        results[arm] = {"run": str(pipeline.run_dir), "steps": pipeline.step, "train_seconds_this_call": round(seconds, 1), **evaluation.record()}
        translator = TranslationPipeline.from_run(pipeline.run_dir, device=args.device)
        outputs[arm] = translator.translate(test.a[:PICTURE_PAIRS], seed=0)
        print(arm, {k: round(v, 4) for k, v in evaluation.metrics.items()}, flush=True)
    name = result_name(f"pix2pix_facades_{args.image_size}px", args.device, args.seed)
    picture = picture_path(f"facades-pix2pix-{args.image_size}" + name.removeprefix(f"pix2pix_facades_{args.image_size}px") + ".jpg")
    columns = [to_float(test.a[:PICTURE_PAIRS]), *(outputs[arm] for arm in ("l1", "pix2pix", "spade") if arm in outputs), to_float(test.b[:PICTURE_PAIRS])]
    save_grid(picture, torch.stack(columns, dim=1).flatten(0, 1), nrow=len(columns))
    # Arms not re-run this time keep their recorded figures (--arms spade re-runs SPADE alone).
    earlier = RESULTS / f"{name}.json"
    kept = json.loads(earlier.read_text()).get("arms", {}) if earlier.is_file() else {}
    write_result(
        name,
        {
            "benchmark": "pix2pix_facades",
            "image_size": args.image_size,
            "steps": args.steps,
            "seed": args.seed,
            "arms": {**kept, **results},
            "picture": shown_path(picture),
            "command": f"python -m benchmarks.pix2pix_facades --image-size {args.image_size} --steps {args.steps} --threads {args.threads} --device {args.device}"
            + (f" --seed {args.seed}" if args.seed else ""),
        },
    )


if __name__ == "__main__":
    main()
