"""Manifold metrics from k-nearest-neighbour balls in feature space.

- Improved precision and recall (Kynkäänniemi et al., 2019): precision is
  the share of fake samples inside some real sample's k-NN ball, recall the
  share of real samples inside some fake sample's ball.
- Density and coverage (Naeem et al., 2020): density counts, per fake
  sample, the real balls holding it (divided by k; about 1 when the
  distributions match); coverage is the share of real balls that hold at
  least one fake sample.

Distances are computed in float64 in row chunks, so 10,000 x 10,000 sets fit
in a few hundred MB.
"""

from __future__ import annotations

import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.features import Features
from ganforge.metrics.registry import register_metric

NEAREST_K = 3
CHUNK = 1024


def _chunks(x: torch.Tensor) -> list[torch.Tensor]:
    return list(x.split(CHUNK))


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row."""
    if len(x) <= k:
        raise GanforgeError(f"k-NN manifolds with k={k} need more than {k} images per set, got {len(x)}")
    # k + 1: each point is its own nearest neighbour at distance 0.
    return torch.cat([torch.cdist(part, x).kthvalue(k + 1, dim=1).values for part in _chunks(x)])


def manifold_metrics(real: torch.Tensor, fake: torch.Tensor, k: int = NEAREST_K) -> dict[str, float]:
    """precision, recall, density and coverage of `fake` against `real` (rows are samples)."""
    real, fake = real.double(), fake.double()
    real_radii, fake_radii = knn_radii(real, k), knn_radii(fake, k)
    # Per fake sample: how many real balls hold it.
    in_real_balls = torch.cat([(torch.cdist(part, real) <= real_radii).sum(dim=1) for part in _chunks(fake)])
    # Per real sample: inside some fake ball (recall); its own ball holds a fake sample (coverage).
    in_fake_ball, covered = [], []
    for part, radii in zip(_chunks(real), _chunks(real_radii)):
        d = torch.cdist(part, fake)
        in_fake_ball.append((d <= fake_radii).any(dim=1))
        covered.append(d.min(dim=1).values <= radii)
    return {
        "precision": float((in_real_balls > 0).double().mean()),
        "recall": float(torch.cat(in_fake_ball).double().mean()),
        "density": float(in_real_balls.double().mean() / k),
        "coverage": float(torch.cat(covered).double().mean()),
    }


class _LastResult:
    """`pr` and `coverage` share one distance computation: remember the last
    pair of feature tensors (by identity) and what they gave."""

    def __init__(self) -> None:
        self.key: tuple[torch.Tensor, torch.Tensor] | None = None
        self.value: dict[str, float] = {}

    def __call__(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
        if self.key is None or self.key[0] is not real or self.key[1] is not fake:
            self.value = manifold_metrics(real, fake)
            self.key = (real, fake)
        return self.value


_shared = _LastResult()


@register_metric("pr", "improved precision and recall with k=3 nearest-neighbour manifolds (higher is better)")
def precision_recall(real: Features, fake: Features) -> dict[str, float]:
    scores = _shared(real.features, fake.features)
    return {"precision": scores["precision"], "recall": scores["recall"]}


@register_metric("coverage", "density and coverage with k=3 nearest-neighbour balls (density ~1 and coverage ~1 are best)")
def density_coverage(real: Features, fake: Features) -> dict[str, float]:
    scores = _shared(real.features, fake.features)
    return {"density": scores["density"], "coverage": scores["coverage"]}
