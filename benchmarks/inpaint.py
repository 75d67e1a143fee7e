"""Inpainting against OpenCV's classical inpainting, on the same images and holes.

    python -m benchmarks.inpaint --data cifar10 --threads 2     # CIFAR-10, 1,000 held-out test images, 30 CPU-minutes
    python -m benchmarks.inpaint --data facades --threads 2     # facades photos at 128 px, the 106 test photos, 30 CPU-minutes

Each GAN arm is exactly the command a user runs, with the defaults:

    ganforge train --model inpainter --data cifar10 --data-root ../shared/data/cifar10 --holdout 1000 --steps 2400 --run cifar10-inpaint
    ganforge train --model inpainter --data paired --direction BtoA --data-root ../shared/data/facades --image-size 128 --batch-size 8 --steps 600 --run facades-inpaint-128

(0.4 s and 1.6 s a step on 2 cores: about 16 minutes each.)

then `ganforge eval RUN`: the fixed holes (seed 0, the default mix of centre
squares, rectangles and strokes) of the held-out images are filled and
scored: L1 and PSNR in the hole, FID/KID of the completed images against the
originals. `cv2.inpaint` (Telea 2004, Navier-Stokes of Bertalmio et al.
2001, radius 3) fills the same holes of the same images and is scored by the
same functions and feature network. A run that already exists is resumed
(or, when finished, only evaluated). Writes
benchmarks/results/inpaint_<data>.json and a picture of held-out images:
with hole | Telea | Navier-Stokes | GAN | original.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from benchmarks.common import RUNS, SHARED_DATA, cpu_seconds, picture_path, result_name, run_name, shown_path, write_result
from ganforge.config import TrainConfig
from ganforge.data.base import to_float, to_uint8
from ganforge.pipelines import InpaintPipeline
from ganforge.pipelines.inpaint_evaluation import evaluate_inpaint_run, feature_network, inpaint_test, score_completions
from ganforge.report.images import save_grid
from ganforge.tasks.inpaint import show_holes
from ganforge.training import train

PICTURE_IMAGES = 8
OPENCV_RADIUS = 3  # pixels around each hole pixel the classical methods read
ARMS: dict[str, dict[str, Any]] = {
    "cifar10": {"data": "cifar10", "data_root": "cifar10", "holdout": 1000, "steps": 2400, "run": "cifar10-inpaint"},
    "facades": {"data": "paired", "data_root": "facades", "direction": "BtoA", "image_size": 128, "batch_size": 8, "steps": 600, "run": "facades-inpaint-128"},
}


def opencv_inpaint(images: torch.Tensor, masks: torch.Tensor, method: str) -> torch.Tensor:
    """cv2.inpaint of uint8 N x C x H x W images where masks (N x 1 x H x W) are set; uint8 out."""
    import cv2  # the test extra; only the baselines need it

    flag = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}[method]
    out = []
    for image, mask in zip(images, masks):
        pixels = np.ascontiguousarray(image.permute(1, 2, 0).numpy())
        hole = (mask[0].numpy() != 0).astype(np.uint8) * 255
        filled = cv2.inpaint(pixels, hole, OPENCV_RADIUS, flag)  # channel order does not matter: channels are filled alike
        out.append(torch.from_numpy(filled.reshape(pixels.shape)).permute(2, 0, 1))
    return torch.stack(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=sorted(ARMS), default="cifar10")
    parser.add_argument("--steps", type=int, default=None, help="default: the arm's (cifar10 2400, facades 600)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs-dir", default=str(RUNS))
    parser.add_argument("--seed", type=int, default=0, help="init, data order, noise and training holes (the held-out set and its holes stay fixed)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    arm = dict(ARMS[args.data])
    steps = args.steps or arm.pop("steps")
    arm.pop("steps", None)
    arm["data_root"] = str(SHARED_DATA / arm["data_root"])
    arm["run"] = run_name(arm["run"], "cpu", args.seed)
    config = TrainConfig(model="inpainter", steps=steps, runs_dir=args.runs_dir, device=args.device, progress=False, log_every=50, seed=args.seed, **arm)
    started, cpu_started = time.perf_counter(), cpu_seconds()
    pipeline = train(config, given={"steps", "runs_dir", "device", "progress", "log_every", "run", "seed", *arm})
    train_seconds, train_cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    evaluation = evaluate_inpaint_run(pipeline.run_dir, device=args.device)
    print("gan", {k: round(v, 4) for k, v in evaluation.metrics.items()}, flush=True)

    saved = TrainConfig.from_dict(InpaintPipeline.from_run(pipeline.run_dir).train_config or {})
    test = inpaint_test(saved)
    network, _ = feature_network(saved, test, torch.device(args.device), None, "auto")
    baselines: dict[str, dict[str, float]] = {}
    filled: dict[str, torch.Tensor] = {}
    for method in ("telea", "ns"):
        begun = time.perf_counter()
        filled[method] = opencv_inpaint(test.images, test.masks, method)
        baselines[method] = {**score_completions(filled[method], test, network, torch.device(args.device)), "seconds": round(time.perf_counter() - begun, 1)}
        print(method, {k: round(v, 4) for k, v in baselines[method].items()}, flush=True)

    gan = InpaintPipeline.from_run(pipeline.run_dir, device=args.device).inpaint(test.images[:PICTURE_IMAGES], test.masks[:PICTURE_IMAGES])
    originals, masks = to_float(test.images[:PICTURE_IMAGES]), test.masks[:PICTURE_IMAGES]
    columns = [show_holes(originals, masks), to_float(filled["telea"][:PICTURE_IMAGES]), to_float(filled["ns"][:PICTURE_IMAGES]), to_float(to_uint8(gan)), originals]
    name = result_name(f"inpaint_{args.data}", args.device, args.seed)
    picture = picture_path(f"inpaint-{args.data}" + name.removeprefix(f"inpaint_{args.data}") + ".png")
    save_grid(picture, torch.stack(columns, dim=1).flatten(0, 1), nrow=len(columns))
    write_result(
        name,
        {
            "benchmark": "inpaint",
            "data": args.data,
            "images": test.source,
            "steps": pipeline.step,
            "run": str(pipeline.run_dir),
            "train_seconds_this_call": round(train_seconds, 1),
            "train_cpu_seconds_this_call": round(train_cpu, 1),
            "gan": evaluation.record(),
            "opencv": baselines,
            "seed": args.seed,
            "picture": shown_path(picture),
            "command": f"python -m benchmarks.inpaint --data {args.data} --steps {steps} --threads {args.threads} --device {args.device}"
            + (f" --seed {args.seed}" if args.seed else ""),
        },
    )


if __name__ == "__main__":
    main()
