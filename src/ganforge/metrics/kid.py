"""Kernel Inception Distance (Bińkowski et al., 2018).

The unbiased estimate of the squared MMD with the polynomial kernel
k(x, y) = (x.y / d + 1)^3, averaged over random subsets, as the KID paper and
torch-fidelity compute it (100 subsets of 1,000; numpy's RandomState(2020)
draws the subsets, generated set first), so the numbers agree with
torch-fidelity's on the same features.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.features import Features
from ganforge.metrics.registry import register_metric

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
RNG_SEED = 2020  # torch-fidelity's default seed, for comparable subsets


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, degree: int = 3, coef0: float = 1.0) -> torch.Tensor:
    # Dot products in float32 (as torch-fidelity, and several times faster on
    # 2048-d features), the rest in float64.
    return ((x @ y.T).double() / x.shape[1] + coef0) ** degree


def mmd2_unbiased(k_xx: torch.Tensor, k_xy: torch.Tensor, k_yy: torch.Tensor) -> float:
    """Unbiased MMD^2: within-set kernel means without the diagonal."""
    m = k_xx.shape[0]
    within = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / (m * m))


def kernel_distance(
    fake: torch.Tensor,
    real: torch.Tensor,
    subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    seed: int = RNG_SEED,
) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD^2 over `subsets` random subsets."""
    size = min(subset_size, len(fake), len(real))
    if size < 2:
        raise GanforgeError(f"KID needs at least 2 images per set, got {len(fake)} fake and {len(real)} real")
    if size < subset_size:
        warnings.warn(f"KID: subsets of {size} images instead of {subset_size} (only {min(len(fake), len(real))} in the smaller set)", stacklevel=3)
    rng = np.random.RandomState(seed)
    x_all, y_all = fake.float(), real.float()
    values = np.empty(subsets)
    for i in range(subsets):
        x = x_all[torch.from_numpy(rng.choice(len(fake), size, replace=False))]
        y = y_all[torch.from_numpy(rng.choice(len(real), size, replace=False))]
        values[i] = mmd2_unbiased(polynomial_kernel(x, x), polynomial_kernel(x, y), polynomial_kernel(y, y))
    return float(values.mean()), float(values.std())


@register_metric("kid", "Kernel Inception Distance: unbiased polynomial-kernel MMD^2 over subsets (lower is better)")
def kid(real: Features, fake: Features) -> dict[str, float]:
    mean, std = kernel_distance(fake.features, real.features)
    return {"kid": mean, "kid_std": std}
