"""Holes to fill: masks made on the fly for inpainting, and mask files read from disk.

A mask is N x 1 x H x W floats, 1 in the hole (the pixels to fill) and 0
where the image is kept. The kinds the literature trains on:

- `centre`: the centre square of half the side (Pathak et al.'s context encoder);
- `rectangles`: 1 to 3 axis-aligned rectangles, each side a quarter to a half
  of the image's (Iizuka et al. train on random rectangles);
- `strokes`: 1 to 4 free-form brush strokes, each a random walk of 4 to 8
  segments with a brush of 1/16 to 1/8 of the side (the free-form masks of
  Yu et al. 2019, drawn here with torch so no drawing library is needed);
- `mixed`: each image draws one of the three.

Every draw comes from the generator given, so a batch number and a seed fix
the holes of a batch (resume repeats them) and an evaluation's holes.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import torch

from ganforge.data.folder import open_image
from ganforge.errors import GanforgeError

KINDS = ("centre", "rectangles", "strokes")
#: A mask file's grey levels from this one up are the hole (white = fill).
THRESHOLD = 128


def centre_mask(height: int, width: int) -> torch.Tensor:
    mask = torch.zeros(height, width)
    mask[height // 4 : height // 4 + height // 2, width // 4 : width // 4 + width // 2] = 1.0
    return mask


def rectangles_mask(height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    mask = torch.zeros(height, width)
    for _ in range(int(torch.randint(1, 4, (), generator=generator))):
        h = int(torch.randint(max(1, height // 4), height // 2 + 1, (), generator=generator))
        w = int(torch.randint(max(1, width // 4), width // 2 + 1, (), generator=generator))
        top = int(torch.randint(0, height - h + 1, (), generator=generator))
        left = int(torch.randint(0, width - w + 1, (), generator=generator))
        mask[top : top + h, left : left + w] = 1.0
    return mask


def strokes_mask(height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """Brush strokes: every pixel within the brush radius of a random walk's segments."""
    side = min(height, width)
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij")
    mask = torch.zeros(height, width, dtype=torch.bool)
    for _ in range(int(torch.randint(1, 5, (), generator=generator))):
        radius = max(1.0, side * float(torch.empty(()).uniform_(1 / 32, 1 / 16, generator=generator)))
        y, x = float(torch.rand((), generator=generator)) * height, float(torch.rand((), generator=generator)) * width
        for _ in range(int(torch.randint(4, 9, (), generator=generator))):
            angle = float(torch.rand((), generator=generator)) * 2 * math.pi
            length = side * float(torch.empty(()).uniform_(0.1, 0.3, generator=generator))
            y2 = min(max(y + length * math.sin(angle), 0.0), height - 1.0)
            x2 = min(max(x + length * math.cos(angle), 0.0), width - 1.0)
            mask |= segment_distance(ys, xs, (y, x), (y2, x2)) <= radius
            y, x = y2, x2
    return mask.float()


def segment_distance(ys: torch.Tensor, xs: torch.Tensor, start: tuple[float, float], end: tuple[float, float]) -> torch.Tensor:
    """Distance of every pixel (ys, xs) to the segment start-end."""
    dy, dx = end[0] - start[0], end[1] - start[1]
    length2 = dy * dy + dx * dx
    t = ((ys - start[0]) * dy + (xs - start[1]) * dx) / length2 if length2 > 0 else torch.zeros_like(ys)
    t = t.clamp(0.0, 1.0)
    return torch.hypot(ys - (start[0] + t * dy), xs - (start[1] + t * dx))


def make_masks(n: int, height: int, width: int, kind: str, generator: torch.Generator) -> torch.Tensor:
    """`n` masks, N x 1 x H x W, of `kind` (KINDS or "mixed"), from `generator` (on the CPU)."""
    masks = []
    for _ in range(n):
        chosen = KINDS[int(torch.randint(len(KINDS), (), generator=generator))] if kind == "mixed" else kind
        if chosen == "centre":
            masks.append(centre_mask(height, width))
        elif chosen == "rectangles":
            masks.append(rectangles_mask(height, width, generator))
        elif chosen == "strokes":
            masks.append(strokes_mask(height, width, generator))
        else:
            raise GanforgeError(f"unknown mask kind '{kind}'; kinds: mixed, {', '.join(KINDS)}")
    return torch.stack(masks).unsqueeze(1)


def read_mask(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """A mask file (white = fill) as 1 x H x W floats; it must be `size` (W, H).
    A mask with grey levels between black and white is thresholded at 128,
    with a warning naming the file."""
    image = open_image(path, "L")
    if image.size != size:
        raise GanforgeError(f"mask {path} is {image.size[0]}x{image.size[1]} but its image is {size[0]}x{size[1]}; give a mask of the image's size")
    pixels = np.asarray(image)
    grey = int(((pixels > 0) & (pixels < 255)).sum())
    if grey:
        warnings.warn(f"mask {path}: {grey} pixel(s) neither black nor white, thresholded at {THRESHOLD} (white = fill)", stacklevel=2)
    return torch.from_numpy((pixels >= THRESHOLD).astype(np.float32)).unsqueeze(0)
