"""Crops side by side: bicubic | each run's output | HR, for the eye.

    python -m benchmarks.sr_figure --runs sr-srresnet,sr-srgan,sr-rrdbnet,sr-esrgan --out docs/images/sr_crops.png

For a few test images (Set5 and Set14), the same window of the x4 outputs,
each LR made by the evaluation protocol (modcrop, bicubic, 8 bits). Columns
are labelled in the result JSON (benchmarks/results/sr_figure.json).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from benchmarks.common import SHARED_DATA, write_result
from ganforge.data.base import to_float, to_uint8
from ganforge.pipelines import UpscalePipeline
from ganforge.pipelines.sr_evaluation import read_test_images
from ganforge.report.images import save_grid
from ganforge.tasks.upscale import bicubic_upscale

#: (test set, image, top, left, size) of each row's HR window.
WINDOWS = [("Set5", "butterfly.png", 96, 96, 96), ("Set14", "comic.png", 120, 40, 96), ("Set5", "baby.png", 200, 220, 96), ("Set14", "zebra.png", 150, 250, 96)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", required=True, help="comma-separated SR runs (names under runs/ or folders)")
    parser.add_argument("--out", default="docs/images/sr_crops.png")
    args = parser.parse_args()
    pipelines = [UpscalePipeline.from_run(run, device="cpu") for run in args.runs.split(",")]
    scale = pipelines[0].scale
    cells = []
    for test_set, name, top, left, size in WINDOWS:
        image = next(i for i in read_test_images(SHARED_DATA / "sr" / test_set, scale) if i.name == name)
        window = (slice(None), slice(None), slice(top, top + size), slice(left, left + size))
        columns = [to_uint8(bicubic_upscale(to_float(image.lr), scale))]
        columns += [to_uint8(p.upscale(image.lr)) for p in pipelines]
        columns.append(image.hr)
        cells += [to_float(column[window])[0] for column in columns]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_grid(out, torch.stack(cells), nrow=len(pipelines) + 2)
    labels = ["bicubic", *args.runs.split(","), "HR"]
    write_result("sr_figure", {"benchmark": "sr_figure", "columns": labels, "rows": [w[:2] for w in WINDOWS], "path": str(out),
                               "command": f"python -m benchmarks.sr_figure --runs {args.runs} --out {args.out}"})


if __name__ == "__main__":
    main()
