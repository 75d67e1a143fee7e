"""`ganforge eval RUN --data-root DIR` of a super-resolution run, and its --eval-every.

Every image of DIR (Set5, Set14, any folder of HR images) is cropped to a
multiple of the scale, downscaled by bicubic to 8-bit LR, upscaled by the
run's generator and by bicubic, and both are scored against the HR image:
PSNR and SSIM on Y with `scale` border pixels shaved (ganforge.metrics.sr).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.data.base import to_float, to_uint8
from ganforge.data.folder import list_image_files
from ganforge.data.sr import downscale, modcrop
from ganforge.errors import GanforgeError
from ganforge.metrics.evaluate import EvalResult
from ganforge.metrics.sr import sr_scores
from ganforge.pipelines.upscaling import DEFAULT_TILE, UpscalePipeline, read_pixels
from ganforge.runs.folder import append_record
from ganforge.tasks.upscale import bicubic_upscale, upscale_in_batches


@dataclass
class TestImage:
    """One HR test image (uint8 1 x C x H x W, sides divisible by the scale;
    C is 1 for a grey file, else 3) and its 8-bit bicubic LR."""

    name: str
    hr: torch.Tensor
    lr: torch.Tensor


def read_test_images(root: str | os.PathLike[str], scale: int) -> list[TestImage]:
    """The HR images under `root` (modcropped, grey files kept grey) with their LR images."""
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise GanforgeError(f"--data-root {folder}: no such folder (a folder of HR test images, e.g. ../shared/data/sr/Set5)")
    files = list_image_files(folder)
    if not files:
        raise GanforgeError(f"--data-root {folder} holds no image files")
    images = []
    for path in files:
        pixels = read_pixels(path)[..., :3]  # an alpha channel is not part of the picture scored
        if pixels.shape[2] == 2:  # grey with alpha
            pixels = pixels[..., :1]
        hr = modcrop(torch.from_numpy(np.array(pixels)).permute(2, 0, 1).unsqueeze(0), scale)  # a writable copy
        if min(hr.shape[-2:]) < scale:
            raise GanforgeError(f"{path}: smaller than the scale ({scale} px)")
        images.append(TestImage(str(path.relative_to(folder)), hr, to_uint8(downscale(to_float(hr), scale))))
    return images


def with_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 N x C x H x W images with `channels` channels: grey repeated to
    RGB, or RGB to grey by the full-range BT.601 luma (as PIL's "L")."""
    if images.shape[1] == channels:
        return images
    if channels == 3:
        return images.expand(-1, 3, -1, -1)
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (images.float() * weights).sum(dim=1, keepdim=True).round().clamp(0, 255).to(torch.uint8)


def score_images(upscale: Any, images: list[TestImage], scale: int) -> dict[str, Any]:
    """Mean PSNR/SSIM on Y of `upscale(lr)` (uint8 -> uint8, in the LR's
    channels) and of bicubic, and each image's. A grey image is its own Y,
    as in the MATLAB scripts of the SR papers."""
    per_image = []
    for image in images:
        ours = sr_scores(upscale(image.lr), image.hr, scale)
        bicubic = sr_scores(to_uint8(bicubic_upscale(to_float(image.lr), scale)), image.hr, scale)
        per_image.append({"image": image.name, **ours, "bicubic_psnr": bicubic["psnr"], "bicubic_ssim": bicubic["ssim"]})
    metrics = {key: float(np.mean([row[key] for row in per_image])) for key in ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim")}
    return {"metrics": metrics, "per_image": per_image}


def through(upscale: Any, channels: int) -> Any:
    """`upscale` (uint8 in the model's `channels` -> uint8) for LR images of any channels."""
    return lambda lr: with_channels(upscale(with_channels(lr, channels)), lr.shape[1])


def evaluate_upscale_run(
    run: str | os.PathLike[str],
    *,
    data_root: str | os.PathLike[str] | None,
    checkpoint: int | str | None = None,
    device: str = "auto",
    runs_dir: str | os.PathLike[str] = "runs",
    tile: int = DEFAULT_TILE,
) -> EvalResult:
    """PSNR/SSIM (Y, border shaved) of the run's upscaling of every image of
    `data_root` beside bicubic's; appended to the run's metrics.jsonl."""
    started = time.perf_counter()
    pipeline = UpscalePipeline.from_run(run, checkpoint=checkpoint, device=device, runs_dir=runs_dir)
    assert pipeline.run_dir is not None
    if data_root is None:
        raise GanforgeError("a super-resolution run is scored on a folder of HR test images: give --data-root DIR (e.g. ../shared/data/sr/Set5)")
    images = read_test_images(data_root, pipeline.scale)
    scored = score_images(through(lambda lr: pipeline.upscale(lr, tile=tile, as_uint8=True), pipeline.channels), images, pipeline.scale)
    result = EvalResult(scored["metrics"], "y-channel", len(images), len(images), time.perf_counter() - started)
    result.extra = {
        "step": pipeline.step, "checkpoint": str(checkpoint or "latest"), "data_root": str(data_root), "scale": pipeline.scale,
        "protocol": f"Y (BT.601; grey images as they are), {pipeline.scale} px border shaved, bicubic LR rounded to 8 bits",
        "per_image": scored["per_image"],
    }
    append_record(pipeline.run_dir, result.record())
    return result


class UpscaleEvaluator:
    """--eval-every of a super-resolution run: PSNR/SSIM on Y of the images of
    --eval-data-root (whole images); the best checkpoint has the highest PSNR."""

    name = "y-channel"
    best_metric = "psnr"
    higher_is_better = True

    def __init__(self, root: str | os.PathLike[str], scale: int, channels: int, device: torch.device) -> None:
        self.images = read_test_images(root, scale)
        self.scale, self.channels, self.device = scale, channels, device

    def evaluate_model(self, model: Any, n: int, seed: int) -> EvalResult:
        started = time.perf_counter()
        images = self.images[:n]

        def upscale(lr: torch.Tensor) -> torch.Tensor:
            return to_uint8(upscale_in_batches(model, to_float(lr).to(self.device)).cpu())

        scored = score_images(through(upscale, self.channels), images, self.scale)
        return EvalResult(scored["metrics"], self.name, len(images), len(images), time.perf_counter() - started)
