"""CycleGAN on CMP Facades trained without pairs, scored on the held-out pairs beside pix2pix.

    python -m benchmarks.cyclegan_facades --threads 2          # 128 px, 600 steps: about 60 CPU-minutes (32 min on 2 cores)
    python -m benchmarks.cyclegan_facades --image-size 256 --steps 80000 --device cuda   # the paper's 200 epochs

The run is exactly the command a user runs, with the defaults:

    ganforge train --model cyclegan --data unpaired --data-root ../shared/data/facades --image-size 128 --steps 600 --run facades-cyclegan-128

`--data unpaired` on a paired set throws the pairing away: photos (A) from
the first 200 training files, label maps (B) from the other 200. Then
`ganforge eval RUN` translates the 106 test pairs both ways: label map to
photo (BtoA) is scored by the same segmenter as pix2pix (the same cached
network, so the figures are comparable), photo to label map (AtoB) by the
per-pixel and per-class accuracy of its colours read as classes, as in the
paper's table 3. pix2pix's figures on a similar budget (4,000 steps, 56
CPU-minutes) come from `python -m benchmarks.pix2pix_facades`'s result file.
A run that already exists is resumed (or, when finished, only evaluated).
Writes benchmarks/results/cyclegan_facades_<size>px.json and a picture of
test pairs: label map | CycleGAN | pix2pix | photo | CycleGAN's label map
of the photo | the true label map.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch

from benchmarks.common import RESULTS, RUNS, SHARED_DATA, cpu_seconds, picture_path, result_name, run_name, shown_path, write_result
from ganforge.config import TrainConfig
from ganforge.data import load_data
from ganforge.data.base import to_float
from ganforge.errors import GanforgeError
from ganforge.pipelines import CycleTranslationPipeline, TranslationPipeline
from ganforge.pipelines.evaluation import evaluate_unpaired_run
from ganforge.report.images import save_grid
from ganforge.training import train

PICTURE_PAIRS = 6


def pix2pix_baseline(image_size: int, device: str) -> dict[str, Any] | None:
    """pix2pix's recorded arm on the same data and size, if its benchmark has run."""
    path = RESULTS / (result_name(f"pix2pix_facades_{image_size}px", device) + ".json")
    if not path.is_file():
        return None
    arm: dict[str, Any] = json.loads(path.read_text())["arms"].get("pix2pix")
    return arm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs-dir", default=str(RUNS))
    parser.add_argument("--seed", type=int, default=0, help="init, data order and noise")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    facades = SHARED_DATA / "facades"
    run = run_name(f"facades-cyclegan-{args.image_size}", args.device, args.seed)
    config = TrainConfig(
        data="unpaired", data_root=str(facades), image_size=args.image_size, model="cyclegan", steps=args.steps, run=run,
        runs_dir=args.runs_dir, device=args.device, progress=False, log_every=50, seed=args.seed,
    )
    started, cpu_started = time.perf_counter(), cpu_seconds()
    pipeline = train(config, given={"steps", "runs_dir", "device", "progress", "log_every", "run", "seed"})
    train_seconds, train_cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    evaluation = evaluate_unpaired_run(pipeline.run_dir, device=args.device)
    print({k: round(v, 4) for k, v in evaluation.metrics.items()}, flush=True)

    translator = CycleTranslationPipeline.from_run(pipeline.run_dir, device=args.device)
    test = load_data("paired", root=str(facades), split="test", image_size=args.image_size, direction="BtoA")
    maps, photos = test.a[:PICTURE_PAIRS], test.b[:PICTURE_PAIRS]
    columns = [to_float(maps), translator.translate(maps, direction="BtoA")]
    baseline = pix2pix_baseline(args.image_size, args.device)
    if baseline is not None:
        try:
            columns.append(TranslationPipeline.from_run(baseline["run"], device=args.device).translate(maps, seed=0))
        except GanforgeError as error:  # the pix2pix run folder is not on this machine: its figures still are
            print(f"pix2pix column left out of the picture: {error}")
    columns += [to_float(photos), translator.translate(photos, direction="AtoB"), to_float(maps)]
    name = result_name(f"cyclegan_facades_{args.image_size}px", args.device, args.seed)
    picture = picture_path(f"facades-cyclegan-{args.image_size}" + name.removeprefix(f"cyclegan_facades_{args.image_size}px") + ".jpg")
    save_grid(picture, torch.stack(columns, dim=1).flatten(0, 1), nrow=len(columns))
    write_result(
        name,
        {
            "benchmark": "cyclegan_facades",
            "image_size": args.image_size,
            "steps": pipeline.step,
            "run": str(pipeline.run_dir),
            "train_seconds_this_call": round(train_seconds, 1),
            "train_cpu_seconds_this_call": round(train_cpu, 1),
            "cyclegan": evaluation.record(),
            "pix2pix_same_data": baseline,
            "seed": args.seed,
            "picture": shown_path(picture),
            "command": f"python -m benchmarks.cyclegan_facades --image-size {args.image_size} --steps {args.steps} --threads {args.threads} --device {args.device}"
            + (f" --seed {args.seed}" if args.seed else ""),
        },
    )


if __name__ == "__main__":
    main()
