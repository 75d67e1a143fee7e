"""Semantic label maps drawn as colour images, turned into class indices.

A data set's label maps use one colour per class; after JPEG compression the
colours are only near their palette entries, so every pixel takes the class
of the nearest palette colour. FACADES_PALETTE holds the 12 colours of the
CMP Facades label maps of the pix2pix data set, found as the most frequent
colours of flat regions of the 400 training maps (after merging colours within
60 of each other in summed absolute difference, no 13th colour remained),
ordered from blue to red.
"""

from __future__ import annotations

import torch

FACADES_PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 224),
    (0, 48, 255),
    (0, 128, 255),
    (0, 208, 255),
    (32, 255, 224),
    (112, 255, 144),
    (192, 255, 64),
    (255, 240, 0),
    (255, 160, 0),
    (255, 80, 0),
    (255, 0, 0),
    (176, 0, 0),
)
#: A pixel this far (summed absolute difference) from every palette colour is "off the palette".
OFF_PALETTE = 90


def palette_distances(images: torch.Tensor, palette: tuple[tuple[int, int, int], ...] = FACADES_PALETTE) -> torch.Tensor:
    """N x K x H x W summed absolute differences of uint8 RGB images to each palette colour."""
    colours = torch.tensor(palette, dtype=torch.int16, device=images.device).view(1, -1, 3, 1, 1)
    return (images.to(torch.int16).unsqueeze(1) - colours).abs().sum(dim=2)


def to_classes(images: torch.Tensor, palette: tuple[tuple[int, int, int], ...] = FACADES_PALETTE) -> tuple[torch.Tensor, float]:
    """(class of each pixel N x H x W as int64, share of pixels off the palette)."""
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
        raise ValueError("label maps must be uint8 RGB images, N x 3 x H x W")
    classes, off = [], 0
    for part in images.split(32):  # N x K x H x W int16 is large: a few maps at a time
        distances = palette_distances(part, palette)
        nearest, index = distances.min(dim=1)
        classes.append(index)
        off += int((nearest > OFF_PALETTE).sum())
    return torch.cat(classes), off / images[:, 0].numel()
