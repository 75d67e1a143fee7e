"""Fréchet Inception Distance (Heusel et al., 2017).

FID = |mu_r - mu_f|^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)) between Gaussians
fitted to real and generated features. The trace of the matrix square root
is computed from symmetric eigendecompositions, since
Tr((S_r S_f)^(1/2)) = sum sqrt(eig(S_r^(1/2) S_f S_r^(1/2))); that equals
pytorch-fid's scipy `sqrtm` result to ~1e-10 relative and is several times
faster on 2048-d features.
"""

from __future__ import annotations

import warnings

import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.features import Features
from ganforge.metrics.registry import register_metric


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased covariance (as numpy.cov), in float64."""
    x = features.double()
    if len(x) < 2:
        raise GanforgeError(f"FID needs at least 2 images per set, got {len(x)}")
    mu = x.mean(dim=0)
    centred = x - mu
    return mu, centred.T @ centred / (len(x) - 1)


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise GanforgeError(f"FID: feature sizes differ ({tuple(mu1.shape)} vs {tuple(mu2.shape)})")
    root1 = _sqrt_psd(sigma1.double())
    middle = root1 @ sigma2.double() @ root1
    middle = (middle + middle.T) / 2  # symmetric in exact arithmetic; make it so in floats too
    trace_sqrt = torch.linalg.eigvalsh(middle).clamp_min(0).sqrt().sum()
    diff = (mu1 - mu2).double()
    value = diff @ diff + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt
    return float(value)


def warn_if_singular(n: int, dim: int, metric: str) -> None:
    if n <= dim:
        warnings.warn(
            f"{metric} from {n} images of {dim}-d features: the covariance is singular "
            f"(it needs more than {dim} images), so the number is biased and not comparable; use more samples",
            stacklevel=3,
        )


@register_metric("fid", "Fréchet distance between Gaussians fitted to real and fake features (lower is better)")
def fid(real: Features, fake: Features) -> dict[str, float]:
    dim = real.features.shape[1]
    warn_if_singular(min(len(real), len(fake)), dim, "FID")
    return {"fid": frechet_distance(*gaussian_stats(real.features), *gaussian_stats(fake.features))}
