"""A trained inpainter: `ganforge.load(run).inpaint(images, masks)` and `ganforge inpaint`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data.base import to_float, to_uint8
from ganforge.data.folder import IMAGE_EXTENSIONS, open_image
from ganforge.data.masks import read_mask
from ganforge.errors import GanforgeError
from ganforge.pipelines.translation import ImageToImagePipeline, input_files, write_image
from ganforge.tasks.inpaint import inpaint_in_batches

#: The generator halves the side twice: inputs are padded to a multiple of this.
SIDE_MULTIPLE = 4


class InpaintPipeline(ImageToImagePipeline):
    """An inpainting run's generator. Fully convolutional: images of any size
    (at least the run's layers' reach) are filled at their own size."""

    task = "inpaint"

    @property
    def channels(self) -> int:
        return int(self.model.image_shape[0])

    def inpaint(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """`images` (N x C x H x W, uint8 or floats in [-1, 1]) with the pixels
        where `masks` (N x 1 x H x W, nonzero = fill) is set painted by the
        generator; every other pixel is kept. Floats in [-1, 1] on the CPU."""
        if images.dim() != 4 or images.shape[1] != self.channels:
            raise GanforgeError(f"inpaint expects N x {self.channels} x H x W images, got {tuple(images.shape)}")
        if masks.dim() != 4 or masks.shape[1] != 1 or masks.shape[0] != images.shape[0] or masks.shape[2:] != images.shape[2:]:
            raise GanforgeError(f"inpaint expects one N x 1 x H x W mask per image, of its size; got masks {tuple(masks.shape)} for images {tuple(images.shape)}")
        x = (to_float(images) if images.dtype == torch.uint8 else images.float()).to(self.device)
        m = (masks != 0).float().to(self.device)
        height, width = x.shape[2:]
        pad_h, pad_w = -height % SIDE_MULTIPLE, -width % SIDE_MULTIPLE
        if pad_h or pad_w:  # replicate the border: no hole grows into the padding
            x, m = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate"), F.pad(m, (0, pad_w, 0, pad_h))
        return inpaint_in_batches(self.model, x, m)[:, :, :height, :width].cpu()

    def read_image(self, path: Path) -> torch.Tensor:
        image = open_image(path, "RGB" if self.channels == 3 else "L")
        pixels = np.array(image, dtype=np.uint8)
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        return torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0).contiguous()

    def save_inpainted(self, source: str | Path, mask: str | Path, out: str | Path) -> list[Path]:
        """Fill every image of `source` (a file, or a folder searched
        recursively) where its mask is white, into folder `out` under the
        input's name. `mask` is one mask file for every image, or a folder
        holding a mask of the same name (any image extension) per image.
        Every mask is checked before anything is written."""
        files, base, out = input_files(source, out, "inpainted")
        masks = [mask_for(path.relative_to(base), Path(mask)) for path in files]
        jobs = []
        for path, mask_path in zip(files, masks):
            image = self.read_image(path)
            jobs.append((path, image, read_mask(mask_path, (image.shape[3], image.shape[2])).unsqueeze(0)))
        written = []
        for path, image, hole in jobs:
            result = to_uint8(self.inpaint(image, hole))[0].permute(1, 2, 0).numpy()
            written.append(write_image(out / path.relative_to(base), result))
        return written


def mask_for(relative: Path, mask: Path) -> Path:
    """The mask file of input `relative` (its path below the input folder): `mask` itself
    when it is a file, else the file of the same relative name and any image extension in folder `mask`."""
    if mask.is_file():
        return mask
    if not mask.is_dir():
        raise GanforgeError(f"--mask {mask}: no such file or folder")
    candidates = [mask / relative.parent / (relative.stem + ext) for ext in sorted(IMAGE_EXTENSIONS)]
    for candidate in [mask / relative, *candidates]:
        if candidate.is_file():
            return candidate
    raise GanforgeError(f"--mask {mask} has no mask for {relative} (expected {mask / relative.parent / relative.stem}.png or another image extension)")
