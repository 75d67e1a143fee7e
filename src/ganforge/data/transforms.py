"""Bring a whole decoded data set to the size and channel count a run asks for.

Every loader ends with :func:`conform`. It works on the uint8 batch tensor in
chunks (bounded memory) with torchvision's tensor ops, so a 70,000-image set
is resized in a few vectorised calls instead of 70,000 PIL round trips.
"""

from __future__ import annotations

import torch

from ganforge.data.base import ImageData
from ganforge.errors import GanforgeError

# Work on at most this many input bytes at a time: large enough to keep the
# vectorised kernels busy, small enough that the float temporaries of the
# antialiased resize stay a few hundred MB at most.
_CHUNK_BYTES = 64 * 1024 * 1024

# Both here (tensors) and in the folder loader (PIL) images are resized with
# antialiased bilinear interpolation, torchvision's default for Resize.


def check_image_options(image_size: int | None, channels: int | None) -> None:
    """Validate `image_size` / `channels` as given on the command line."""
    if image_size is not None:
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 4:
            raise GanforgeError(f"--image-size must be an integer >= 4, got {image_size!r}")
    if channels is not None:
        if isinstance(channels, bool) or channels not in (1, 3):
            raise GanforgeError(f"--channels must be 1 or 3, got {channels!r}")


def resized_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """(h, w) with the short side scaled to `size`, keeping the aspect ratio.

    Same rounding as torchvision's Resize(int) so the PIL path in the folder
    loader and the tensor path here agree.
    """
    if height <= width:
        return size, max(size, int(size * width / height))
    return max(size, int(size * height / width)), size


def center_crop_box(height: int, width: int, size: int) -> tuple[int, int]:
    """(top, left) of a centred size x size crop, rounded like torchvision's."""
    return int(round((height - size) / 2.0)), int(round((width - size) / 2.0))


def rgb_to_luma(images: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W uint8 -> N x 1 x H x W uint8 by ITU-R 601 luma.

    Uses PIL's fixed-point formula for mode "L" so that tensors converted here
    match images converted by PIL in the folder loader bit for bit.
    """
    rgb = images.to(torch.int32)
    luma = rgb[:, 0] * 19595 + rgb[:, 1] * 38470 + rgb[:, 2] * 7471 + 0x8000
    return (luma >> 16).to(torch.uint8).unsqueeze(1)


def _chunks(n_items: int, bytes_per_item: int) -> list[slice]:
    step = max(1, _CHUNK_BYTES // max(1, bytes_per_item))
    return [slice(start, min(start + step, n_items)) for start in range(0, n_items, step)]


def _to_grey(images: torch.Tensor) -> torch.Tensor:
    n, _, h, w = images.shape
    out = torch.empty((n, 1, h, w), dtype=torch.uint8)
    for part in _chunks(n, 3 * h * w * 4):  # int32 temporaries
        out[part] = rgb_to_luma(images[part])
    return out


def _resize_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    # Imported here: torchvision's transforms take ~1.5 s to import, which every
    # CLI command would pay even when no resize is needed.
    import torchvision.transforms.v2.functional as TF
    from torchvision.transforms import InterpolationMode

    n, c, h, w = images.shape
    new_h, new_w = resized_shape(h, w, size)
    out = torch.empty((n, c, size, size), dtype=torch.uint8)
    # Float temporaries of the resize are ~4x the larger of input and output.
    per_item = 4 * c * max(h * w, new_h * new_w)
    for part in _chunks(n, per_item):
        chunk = images[part]
        if (new_h, new_w) != (h, w):
            chunk = TF.resize(chunk, [new_h, new_w], interpolation=InterpolationMode.BILINEAR, antialias=True)
        out[part] = TF.center_crop(chunk, [size, size])
    return out


def conform(data: ImageData, image_size: int | None, channels: int | None) -> ImageData:
    """Resize (short side, then centre crop) and convert channels as asked.

    Returns `data` itself when nothing needs to change. Greyscale conversion
    runs before the resize (less work on one channel) and the 1 -> 3 repeat
    after it (the resize then runs on one channel only).
    """
    check_image_options(image_size, channels)
    images = data.images
    c, h, w = data.image_shape
    if channels == 1 and c == 3:
        images = _to_grey(images)
    if image_size is not None and (h, w) != (image_size, image_size):
        images = _resize_crop(images, image_size)
    if channels == 3 and c == 1:
        images = images.repeat(1, 3, 1, 1)
    if images is data.images:
        return data
    return ImageData(
        images=images,
        labels=data.labels,
        class_names=data.class_names,
        name=data.name,
        origin=data.origin,
        notes=list(data.notes),
    )
