"""Sample grids (PNG), latent walks (GIF) and sample exports (.npz / PNG folder)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganforge.data.base import to_uint8
from ganforge.errors import GanforgeError
from ganforge.io import atomic_path

# Tiny images (8x8 digits) are scaled up with nearest-neighbour so a grid is
# readable without blurring the pixels the model actually produced.
MIN_TILE = 32


def image_grid(images: torch.Tensor, nrow: int | None = None, min_tile: int = MIN_TILE) -> Image.Image:
    """A PIL image of a grid of float images in [-1, 1] (N x C x H x W)."""
    from torchvision.utils import make_grid  # costs ~1 s to import: only when drawing

    images = images.detach().float().cpu()
    scale = max(1, math.ceil(min_tile / max(images.shape[-2:])))
    if scale > 1:
        images = F.interpolate(images, scale_factor=scale, mode="nearest")
    nrow = nrow or max(1, math.ceil(math.sqrt(len(images))))
    grid = make_grid(to_uint8(images), nrow=nrow, padding=2, pad_value=255)
    array = grid.permute(1, 2, 0).numpy()
    return Image.fromarray(array[..., 0] if images.shape[1] == 1 else array)


def save_grid(path: str | Path, images: torch.Tensor, nrow: int | None = None) -> Path:
    with atomic_path(path) as tmp:
        # JPEG for large pictures in the docs (a tenth of the PNG's size), PNG otherwise.
        jpeg = Path(path).suffix.lower() in (".jpg", ".jpeg")
        image_grid(images, nrow).save(tmp, format="JPEG" if jpeg else "PNG", **({"quality": 90} if jpeg else {}))
    return Path(path)


def save_gif(path: str | Path, frames: list[Image.Image], frame_ms: int = 80) -> Path:
    """An endlessly looping GIF of `frames`."""
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return Path(path)


def to_hwc_uint8(images: torch.Tensor) -> np.ndarray:
    """float [-1, 1] N x C x H x W -> uint8 N x H x W x C numpy array."""
    return hwc_array(to_uint8(images.cpu()))


def hwc_array(images: torch.Tensor) -> np.ndarray:
    """N x C x H x W tensor -> N x H x W x C numpy array (the layout image files use)."""
    return images.cpu().permute(0, 2, 3, 1).contiguous().numpy()


SampleBatches = Iterable[tuple[torch.Tensor, "torch.Tensor | None"]]


def write_samples(out: str | Path, images: torch.Tensor, labels: torch.Tensor | None = None) -> Path:
    """Write samples by the form of `out`: `.npz` (key `images`, uint8 N x H x W x C,
    and `labels` when given), a single grid `.png`, or else a folder of PNGs."""
    return write_sample_batches(out, len(images), [(images, labels)])


def write_sample_batches(out: str | Path, n: int, batches: SampleBatches) -> Path:
    """`write_samples` for `n` samples that arrive in batches of (images, labels):
    a folder gets each batch's PNGs before the next batch is made, and an
    .npz holds uint8 only, so memory stays at one float batch (plus, for an
    .npz, the uint8 array it writes)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".png":
        parts = list(batches)
        return save_grid(out, torch.cat([images for images, _ in parts]))
    if suffix == ".npz":
        return _write_npz(out, n, batches)
    if suffix:
        raise GanforgeError(f"--out {out}: use a .npz file, a .png grid, or a folder name (no extension)")
    if out.exists() and not out.is_dir():
        raise GanforgeError(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    width = max(6, len(str(n - 1)))
    index = 0
    for images, labels in batches:
        for offset, image in enumerate(to_hwc_uint8(images)):
            label = f"_class{int(labels[offset])}" if labels is not None else ""
            with atomic_path(out / f"{index:0{width}d}{label}.png") as tmp:
                save_png(tmp, image)
            index += 1
    return out


def save_png(path: str | Path, image: np.ndarray) -> None:
    """One uint8 H x W x C image (C = 1 or 3) as a PNG file (grey for one channel)."""
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path, format="PNG")


def _write_npz(out: Path, n: int, batches: SampleBatches) -> Path:
    images_out: np.ndarray | None = None
    labels_out: list[np.ndarray] = []
    start = 0
    for images, labels in batches:
        array = to_hwc_uint8(images)
        if images_out is None:
            images_out = np.empty((n, *array.shape[1:]), dtype=np.uint8)
        images_out[start : start + len(array)] = array
        start += len(array)
        if labels is not None:
            labels_out.append(labels.cpu().numpy().astype(np.int64))
    assert images_out is not None and start == n
    arrays = {"images": images_out}
    if labels_out:
        arrays["labels"] = np.concatenate(labels_out)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return out
