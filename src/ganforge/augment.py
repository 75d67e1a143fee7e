"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied to every
image D sees, real and fake alike, so D cannot memorise a small data set while G
still receives gradients through the augmentation.

Policies: `color` (brightness, saturation, contrast), `translation` (shift by up
to 1/8 of the image, zero-filled) and `cutout` (a zeroed square of half the
image side). Random draws come from a dedicated torch.Generator, so a seed
fixes them and a checkpoint can restore them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError

TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5

Augmentation = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _uniform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One U[0, 1) draw per image, shaped to broadcast over C x H x W."""
    return torch.rand(x.shape[0], 1, 1, 1, generator=generator, device=x.device, dtype=x.dtype)


def color(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Brightness +-0.5, saturation x[0, 2], contrast x[0.5, 1.5] (images in [-1, 1])."""
    x = x + (_uniform(x, generator) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_uniform(x, generator) * 2.0) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, generator) + 0.5) + mean


def _shift_indices(size: int, shifts: torch.Tensor) -> torch.Tensor:
    """Per-image source index of each target pixel along one axis; indices
    that fall outside the image point at a zero border added by padding."""
    positions = torch.arange(size, device=shifts.device).unsqueeze(0) - shifts.unsqueeze(1)
    return (positions + 1).clamp(0, size + 1)  # +1: the padded border is at 0 and size+1


def translation(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by a random integer offset of up to 1/8 of its size, filling with zeros."""
    n, c, h, w = x.shape
    max_dy, max_dx = int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (n,), generator=generator, device=x.device)
    dx = torch.randint(-max_dx, max_dx + 1, (n,), generator=generator, device=x.device)
    padded = F.pad(x, [1, 1, 1, 1])
    rows = _shift_indices(h, dy)[:, None, :, None].expand(n, c, h, w + 2)
    shifted_rows = padded.gather(2, rows)
    cols = _shift_indices(w, dx)[:, None, None, :].expand(n, c, h, w)
    return shifted_rows.gather(3, cols)


def cutout(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Zero a square of half the image side at a random centre (it may overhang the edge)."""
    n, _, h, w = x.shape
    size_y, size_x = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    # Top-left corners such that the square's centre falls anywhere in the image.
    top = torch.randint(0, h, (n, 1, 1), generator=generator, device=x.device) - size_y // 2
    left = torch.randint(0, w, (n, 1, 1), generator=generator, device=x.device) - size_x // 2
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (ys >= top) & (ys < top + size_y) & (xs >= left) & (xs < left + size_x)
    return x * (~inside).unsqueeze(1).to(x.dtype)


AUGMENTATIONS: dict[str, Augmentation] = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str | list[str] | None) -> list[str]:
    """'translation,cutout,color' -> ['translation', 'cutout', 'color']; rejects unknown names."""
    if not policy:
        return []
    names = [p.strip() for p in policy.split(",")] if isinstance(policy, str) else [str(p) for p in policy]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise GanforgeError(
            f"unknown DiffAugment policy {', '.join(unknown)}; choose from {', '.join(AUGMENTATIONS)} (comma-separated)"
        )
    return names


class DiffAugment:
    """Applies the policy's augmentations in order, each with fresh random draws."""

    def __init__(self, policy: str | list[str], generator: torch.Generator) -> None:
        self.names = parse_policy(policy)
        self.generator = generator

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.names:
            x = AUGMENTATIONS[name](x, self.generator)
        return x
