"""Mode metrics for samples of a known Gaussian mixture (the ring and grid).

The measures of VEEGAN and PacGAN, computed from `n` generated points:
- `high_quality`: the share of samples within THRESHOLD standard deviations
  of their nearest mode;
- `modes`: modes covered, out of `modes_total`. A mode counts when at least
  MIN_SHARE of its fair share (n / K) of samples are high-quality samples
  nearest to it, so a single stray point does not count (PacGAN counted one);
- `modes_kl`: the reverse KL divergence KL(p || uniform) of the histogram p of
  high-quality samples over the modes: 0 when every mode gets the same share,
  log K when all fall on one mode (also reported when no sample is of high
  quality, since the histogram is then undefined).
"""

from __future__ import annotations

import math
import time

import torch

from ganforge.data.points import GaussianMixture, PointData
from ganforge.metrics.evaluate import EvalResult
from ganforge.metrics.modes import MIN_SHARE, kl_to_uniform

THRESHOLD = 3.0  # in standard deviations


def nearest_modes(points: torch.Tensor, mixture: GaussianMixture) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of each point's nearest mode and its distance in standard deviations."""
    distances = torch.cdist(points.double(), mixture.means.double().to(points.device))
    nearest = distances.min(dim=1)
    return nearest.indices.cpu(), (nearest.values / mixture.std).cpu()


def mode_histogram(points: torch.Tensor, mixture: GaussianMixture) -> torch.Tensor:
    """High-quality samples per mode (K counts)."""
    index, distance = nearest_modes(points, mixture)
    good = distance < THRESHOLD
    return torch.bincount(index[good], minlength=mixture.num_modes)


def mixture_mode_stats(points: torch.Tensor, mixture: GaussianMixture) -> dict[str, float]:
    counts = mode_histogram(points, mixture).double()
    k, n = mixture.num_modes, len(points)
    covered = counts >= MIN_SHARE * n / k
    good = counts.sum()
    return {
        "modes": int(covered.sum()),
        "modes_total": k,
        "high_quality": float(good / n),
        "modes_kl": kl_to_uniform(counts) if good > 0 else math.log(k),
    }


class MixtureEvaluator:
    """Scores a point model's samples against the mixture its data came from
    (what `Evaluator` is for images)."""

    name = "mixture modes"

    def __init__(self, data: PointData) -> None:
        self.data = data

    def evaluate_points(self, points: torch.Tensor) -> EvalResult:
        started = time.perf_counter()
        values = mixture_mode_stats(points, self.data.mixture)
        return EvalResult(values, self.name, len(self.data), len(points), time.perf_counter() - started)
