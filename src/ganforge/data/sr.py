"""`sr`: high-resolution images for super-resolution (SRResNet, SRGAN, ESRGAN).

Any folder of images (BMP, PNG, JPEG; searched recursively) is a training
set: T91, DIV2K, a folder of photos. Each image is decoded once and kept as
uint8 at its own size (they differ). A training batch is made on the fly,
from draws that depend only on (seed, batch number), so a resumed run reads
the same batches:

- a random HR crop of `crop` pixels (default 96 at x4, Ledig et al.'s) from
  a random image, with a random flip and 90-degree rotation (the eight
  symmetries of the square);
- its LR image by bicubic downsampling of the crop tensor by `scale`
  (antialiased, Keys' a = -0.5, as MATLAB's imresize and PIL do), rounded to
  8-bit levels as a saved LR image would be.

Images are drawn with replacement, so a small set like T91 (91 images) gives
a fresh crop of some image at every draw. Batches are {"lr", "hr"} in
[-1, 1]. Images smaller than the crop are skipped and counted in a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data.base import Unlabelled, to_float
from ganforge.data.folder import list_image_files, open_image
from ganforge.data.registry import register_data_source
from ganforge.errors import GanforgeError

SCALES = (2, 3, 4)
#: Ledig et al.'s HR crop (96 px) at x4: 24 px LR patches.
DEFAULT_CROP = 96
#: Keeps the crop stream apart from the other streams of the seed.
_CROP_SEED_STRIDE = 1_000_037


def bicubic_resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """N x C x H x W floats resized to `size` (H, W) by bicubic interpolation
    with antialiasing, Keys' a = -0.5: the kernel MATLAB's imresize and PIL
    use (torch's non-antialiased bicubic uses a = -0.75). Downsampling x4 and
    upsampling back gives Set5's published bicubic PSNR (28.42 dB;
    benchmarks/sr_bicubic.py)."""
    return F.interpolate(images, size=size, mode="bicubic", align_corners=False, antialias=True)


def quantised(images: torch.Tensor) -> torch.Tensor:
    """Floats in [-1, 1] rounded to the 256 levels of an 8-bit image."""
    return images.add(1.0).mul(127.5).round().clamp(0, 255).div(127.5).sub(1.0)


def downscale(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """The LR image of N x C x H x W floats in [-1, 1] (H, W divisible by
    `scale`): bicubic downsampling, rounded to 8-bit levels."""
    height, width = hr.shape[-2:]
    if height % scale or width % scale:
        raise ValueError(f"{height}x{width} images do not divide by scale {scale}")
    return quantised(bicubic_resize(hr, (height // scale, width // scale)))


def modcrop(image: torch.Tensor, scale: int) -> torch.Tensor:
    """The top-left part of a C x H x W (or N x C x H x W) image whose sides
    divide by `scale`: the SR literature's evaluation crop."""
    height, width = image.shape[-2:]
    return image[..., : height - height % scale, : width - width % scale]


def symmetry(image: torch.Tensor, k: int) -> torch.Tensor:
    """One of the square's eight symmetries (k in 0..7) of C x H x W: k % 4
    quarter turns, then a left-right flip when k >= 4."""
    turned = torch.rot90(image, k % 4, dims=(-2, -1))
    return turned.flip(-1) if k >= 4 else turned


@dataclass
class SRData(Unlabelled):
    """High-resolution images (uint8 C x H x W each, sizes differ), the crop
    size and the scale of a super-resolution run."""

    images: list[torch.Tensor]
    names: list[str]
    scale: int
    crop: int
    name: str = "sr"
    origin: str = ""
    notes: list[str] = field(default_factory=list)

    task = "upscale"

    def __post_init__(self) -> None:
        if not self.images:
            raise GanforgeError("an SR data set needs at least one image")
        if self.crop % self.scale:
            raise GanforgeError(f"the HR crop ({self.crop} px) must divide by the scale ({self.scale})")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The shape of one HR crop (what the generator makes)."""
        return int(self.images[0].shape[0]), self.crop, self.crop

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The shape of one LR patch (what the generator reads)."""
        channels, crop, _ = self.image_shape
        return channels, crop // self.scale, crop // self.scale

    def to(self, device: torch.device | str) -> SRData:
        return SRData([image.to(device) for image in self.images], list(self.names), self.scale, self.crop, self.name, self.origin, list(self.notes))

    def describe(self) -> str:
        c, _, _ = self.image_shape
        lr = self.crop // self.scale
        return f"{self.name}: {len(self)} HR images, {c}x{self.crop}x{self.crop} crops from {c}x{lr}x{lr} (x{self.scale}) from {self.origin}"

    def hr_crops(self, count: int, seed: int, number: int) -> torch.Tensor:
        """`count` random HR crops in [-1, 1] for training batch `number`:
        images drawn with replacement, random positions and symmetries, all
        from draws that depend only on (seed, number)."""
        generator = torch.Generator().manual_seed(seed * _CROP_SEED_STRIDE + number)
        picks = torch.randint(len(self.images), (count,), generator=generator).tolist()
        crops = []
        for index in picks:
            image = self.images[index]
            top = int(torch.randint(image.shape[1] - self.crop + 1, (), generator=generator))
            left = int(torch.randint(image.shape[2] - self.crop + 1, (), generator=generator))
            k = int(torch.randint(8, (), generator=generator))
            crops.append(symmetry(image[:, top : top + self.crop, left : left + self.crop], k))
        return to_float(torch.stack(crops))

    def batch(self, count: int, seed: int, number: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(LR, HR) of training batch `number`, both in [-1, 1]."""
        hr = self.hr_crops(count, seed, number)
        return downscale(hr, self.scale), hr

    def centre_crops(self, count: int) -> torch.Tensor:
        """The centre crop of the first `count` images (fixed: for previews)."""
        crops = []
        for image in self.images[:count]:
            top, left = (image.shape[1] - self.crop) // 2, (image.shape[2] - self.crop) // 2
            crops.append(image[:, top : top + self.crop, left : left + self.crop])
        return to_float(torch.stack(crops))


def read_hr_images(root: Path, channels: int, min_size: int) -> tuple[list[torch.Tensor], list[str], list[str]]:
    """(images as uint8 C x H x W, their names, names skipped as smaller than
    `min_size` on a side) of every image file under `root`."""
    files = list_image_files(root)
    if not files:
        raise GanforgeError(f"--data-root {root} holds no image files (BMP, PNG, JPEG, ...)")
    images, names, small = [], [], []
    for path in files:
        name = str(path.relative_to(root))
        pixels = np.array(open_image(path, "RGB" if channels == 3 else "L"), dtype=np.uint8)
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        if min(pixels.shape[:2]) < min_size:
            small.append(name)
            continue
        images.append(torch.from_numpy(pixels).permute(2, 0, 1).contiguous())
        names.append(name)
    return images, names, small


@register_data_source("sr", "high-resolution images for super-resolution (any folder; T91, Set5, Set14): random HR crops (--image-size, default 96) and their bicubic LR (--scale 2, 3 or 4)")
def load_sr(
    *, root: str | None = None, split: str | None = None, image_size: int | None = None, channels: int | None = None, scale: int = 4
) -> SRData:
    """`image_size` is the HR crop; `channels` 3 (default) or 1."""
    if root is None:
        raise GanforgeError("--data sr needs --data-root DIR: a folder of high-resolution images (e.g. ../shared/data/sr/T91/Train)")
    if scale not in SCALES:
        raise GanforgeError(f"--scale must be one of {', '.join(map(str, SCALES))}, got {scale}")
    crop = DEFAULT_CROP if image_size is None else image_size
    if crop < scale or crop % scale:
        raise GanforgeError(f"--image-size {crop} (the HR crop) must be a positive multiple of --scale {scale}")
    path = Path(root).expanduser()
    folder = path / split if split else path
    if not folder.is_dir():
        raise GanforgeError(f"--data-root {folder}: no such folder (a folder of high-resolution images)")
    images, names, small = read_hr_images(folder, channels or 3, crop)
    if not images:
        raise GanforgeError(f"{folder}: all {len(small)} image(s) are smaller than the {crop} px HR crop; give a smaller --image-size")
    notes = [f"{len(small)} image(s) smaller than the {crop} px crop skipped, e.g. {', '.join(small[:3])}"] if small else []
    return SRData(images, names, scale, crop, name="sr", origin=str(folder), notes=notes)
