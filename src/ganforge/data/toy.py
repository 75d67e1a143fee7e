"""`ring` and `grid`: the 2-D mixtures of the mode-collapse literature.

As in VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018):
- ring: 8 Gaussians evenly spaced on the unit circle, standard deviation 0.01;
- grid: 25 Gaussians at {-4, -2, 0, 2, 4}^2, standard deviation 0.05.
Each data set is 100,000 points drawn with a fixed seed, so every run sees the
same points (the run's --seed orders them).
"""

from __future__ import annotations

import itertools
import math

import torch

from ganforge.data.points import GaussianMixture, PointData
from ganforge.data.registry import register_data_source

NUM_POINTS = 100_000
DATA_SEED = 0


def ring_mixture(modes: int = 8, radius: float = 1.0, std: float = 0.01) -> GaussianMixture:
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    means = torch.stack([radius * angles.cos(), radius * angles.sin()], dim=1).to(torch.float32)
    return GaussianMixture(means, std)


def grid_mixture(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
    coords = [spacing * (i - (side - 1) / 2) for i in range(side)]
    means = torch.tensor(list(itertools.product(coords, coords)), dtype=torch.float32)
    return GaussianMixture(means, std)


def mixture_data(mixture: GaussianMixture, name: str, origin: str) -> PointData:
    points, _ = mixture.sample(NUM_POINTS, torch.Generator().manual_seed(DATA_SEED))
    return PointData(points, mixture, name=name, origin=origin)


@register_data_source("ring", "2-D toy: 8 Gaussians on the unit circle, std 0.01 (mode-collapse benchmark)")
def load_ring() -> PointData:
    return mixture_data(ring_mixture(), "ring", f"{NUM_POINTS} points drawn with seed {DATA_SEED}")


@register_data_source("grid", "2-D toy: 25 Gaussians on a 5x5 grid spaced 2 apart, std 0.05 (mode-collapse benchmark)")
def load_grid() -> PointData:
    return mixture_data(grid_mixture(), "grid", f"{NUM_POINTS} points drawn with seed {DATA_SEED}")
