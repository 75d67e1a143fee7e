"""Scatter plots of 2-D points: real data, generated samples and the modes.

Drawn with Pillow (no plotting library needed): light grey real points, dark
blue generated points, and a red circle of radius 3 standard deviations around
each mode (the "high quality" region of the mode metrics).
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, ImageDraw

from ganforge.data.points import GaussianMixture
from ganforge.io import atomic_path

SIZE = 512
MARGIN = 0.25  # of the modes' extent, added on each side
REAL, FAKE, MODE, BACKGROUND = (200, 200, 200), (25, 60, 160), (220, 30, 30), (255, 255, 255)


def plot_bounds(mixture: GaussianMixture) -> tuple[float, float]:
    """Square plot limits that hold every mode with a margin."""
    low, high = float(mixture.means.min()), float(mixture.means.max())
    pad = max(high - low, 1.0) * MARGIN + 3 * mixture.std
    return low - pad, high + pad


def scatter_image(fake: torch.Tensor, mixture: GaussianMixture, real: torch.Tensor | None = None) -> Image.Image:
    """An RGB picture of the first two coordinates; points off the plot are left out."""
    low, high = plot_bounds(mixture)
    scale = (SIZE - 1) / (high - low)

    def pixels(points: torch.Tensor) -> list[tuple[float, float]]:
        xy = (points[:, :2].detach().double().cpu() - low) * scale
        xy[:, 1] = (SIZE - 1) - xy[:, 1]  # y grows upwards on the plot
        inside = ((xy >= 0) & (xy <= SIZE - 1)).all(dim=1)
        return [tuple(p) for p in xy[inside].tolist()]

    image = Image.new("RGB", (SIZE, SIZE), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if real is not None:
        draw.point(pixels(real), fill=REAL)
    for x, y in pixels(fake):
        draw.rectangle((x - 1, y - 1, x + 1, y + 1), fill=FAKE)
    radius = max(3 * mixture.std * scale, 2.0)
    for x, y in pixels(mixture.means):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=MODE, width=2)
    return image


def save_scatter(path: str | Path, fake: torch.Tensor, mixture: GaussianMixture, real: torch.Tensor | None = None) -> Path:
    with atomic_path(path) as tmp:
        scatter_image(fake, mixture, real).save(tmp, format="PNG")
    return Path(path)
