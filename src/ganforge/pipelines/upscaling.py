"""A trained super-resolution generator: `ganforge.load(run).upscale(images)`.

Outputs are exactly `scale` times the input's size. An image larger than
`tile` LR pixels on a side goes through the network in overlapping tiles
(each with a margin of TILE_MARGIN LR pixels of context that is cut away),
so memory stays bounded by the tile, not the image. Grey inputs to an RGB
run are upscaled in RGB and returned grey; an alpha channel is upscaled
bicubically beside the colour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ganforge.data.base import to_float, to_uint8
from ganforge.data.folder import UNREADABLE_IMAGE
from ganforge.errors import GanforgeError
from ganforge.pipelines.translation import ImageToImagePipeline, input_files, write_image
from ganforge.tasks.upscale import upscale_in_batches

#: Default tile side in LR pixels (a 128 px tile at x4 holds 512x512 HR activations).
DEFAULT_TILE = 128
#: LR pixels of context on each side of a tile: past SRResNet's receptive
#: field's strong part, so tiled and whole outputs differ by rounding only.
TILE_MARGIN = 16


def tile_starts(size: int, tile: int) -> list[int]:
    """Starts of tiles of `tile` px covering `size` px (the last one flush with the end)."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, tile))
    return [*starts, size - tile]


class UpscalePipeline(ImageToImagePipeline):
    """A super-resolution run's generator G(LR) -> HR, with its run's metadata."""

    task = "upscale"

    @property
    def scale(self) -> int:
        return int(self.model.scale)

    @property
    def channels(self) -> int:
        return int(self.model.image_shape[0])

    def check_scale(self, scale: int | None) -> None:
        if scale is not None and scale != self.scale:
            raise GanforgeError(f"--scale {scale}: this run upscales x{self.scale}; train a x{scale} run for that (--data sr --scale {scale})")

    def upscale(self, images: torch.Tensor, *, tile: int = DEFAULT_TILE, scale: int | None = None, as_uint8: bool = False) -> torch.Tensor:
        """G(images) in [-1, 1] on the CPU, N x C x (scale h) x (scale w)
        (`as_uint8`: 8-bit levels, each tile converted as it is made, so a
        large output takes a quarter of the memory). `images`: N x C x h x w,
        uint8 or floats in [-1, 1], C the run's channels. Inputs larger than
        `tile` LR px on a side (0: never) are upscaled in overlapping tiles."""
        self.check_scale(scale)
        if images.dim() != 4 or images.shape[1] != self.channels:
            raise GanforgeError(f"upscale expects N x {self.channels} x H x W images, got {tuple(images.shape)}")
        if tile < 0:
            raise GanforgeError(f"--tile must be 0 (off) or positive, got {tile}")
        lr = (to_float(images) if images.dtype == torch.uint8 else images.float()).to(self.device)
        height, width = lr.shape[-2:]
        convert = to_uint8 if as_uint8 else (lambda x: x)
        if not tile or (height <= tile and width <= tile):
            return convert(upscale_in_batches(self.model, lr).cpu())
        return self._tiled(lr, tile, convert, torch.uint8 if as_uint8 else torch.float32)

    def _tiled(self, lr: torch.Tensor, tile: int, convert: Any, dtype: torch.dtype) -> torch.Tensor:
        r, (height, width) = self.scale, lr.shape[-2:]
        out = torch.empty(lr.shape[0], lr.shape[1], height * r, width * r, dtype=dtype)
        for top in tile_starts(height, tile):
            for left in tile_starts(width, tile):
                bottom, right = min(top + tile, height), min(left + tile, width)
                y0, x0 = max(top - TILE_MARGIN, 0), max(left - TILE_MARGIN, 0)
                y1, x1 = min(bottom + TILE_MARGIN, height), min(right + TILE_MARGIN, width)
                patch = convert(upscale_in_batches(self.model, lr[..., y0:y1, x0:x1]).cpu())
                inner = patch[..., (top - y0) * r : (bottom - y0) * r, (left - x0) * r : (right - x0) * r]
                out[..., top * r : bottom * r, left * r : right * r] = inner
        return out

    # -- files ------------------------------------------------------------------

    def upscale_pixels(self, pixels: np.ndarray, *, tile: int = DEFAULT_TILE) -> np.ndarray:
        """One H x W [x C] uint8 image (grey, RGB or RGBA) upscaled to the same mode."""
        grey = pixels.ndim == 2 or pixels.shape[2] == 1
        image = Image.fromarray(pixels.reshape(pixels.shape[0], pixels.shape[1], -1).squeeze(-1) if grey else pixels)
        alpha = image.getchannel("A") if image.mode == "RGBA" else None
        colour = image.convert("RGB" if self.channels == 3 else "L")
        array = np.asarray(colour, dtype=np.uint8).reshape(colour.height, colour.width, -1)
        tensor = torch.from_numpy(array.copy()).permute(2, 0, 1).unsqueeze(0)
        out = self.upscale(tensor, tile=tile, as_uint8=True)[0].permute(1, 2, 0).numpy()
        result = Image.fromarray(out.squeeze(-1) if out.shape[2] == 1 else out)
        if grey and result.mode != "L":
            result = result.convert("L")
        if alpha is not None:
            result = result.convert("RGB")
            result.putalpha(alpha.resize(result.size, Image.Resampling.BICUBIC))
        array = np.asarray(result, dtype=np.uint8)
        return array if array.ndim == 3 else array[:, :, None]

    def save_upscaled(self, source: str | Path, out: str | Path, *, tile: int = DEFAULT_TILE, scale: int | None = None) -> list[Path]:
        """Upscale one image file, or every image in a folder (recursively),
        into folder `out`: one output per input with its file name, `scale`
        times its size. Each file is written whole or not at all."""
        self.check_scale(scale)
        files, base, out = input_files(source, out, "upscaled")
        written = []
        for path in files:
            written.append(write_image(out / path.relative_to(base), self.upscale_pixels(read_pixels(path), tile=tile)))
        return written


def read_pixels(path: Path) -> np.ndarray:
    """An image file as H x W x C uint8 in its own mode (L, RGB or RGBA; palette and
    other modes converted), or an error naming the file."""
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            if mode not in ("L", "RGB", "RGBA"):
                has_alpha = "A" in mode or "transparency" in image.info
                image = image.convert("RGBA" if has_alpha else ("L" if mode in ("1", "I", "I;16", "F") else "RGB"))
            pixels = np.asarray(image, dtype=np.uint8)
    except UNREADABLE_IMAGE as error:
        raise GanforgeError(f"{path}: cannot read the image ({type(error).__name__}: {error})") from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise GanforgeError(f"{path}: the image is empty")
    return pixels
