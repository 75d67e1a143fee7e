"""Inception Score (Salimans et al., 2016): exp(E_x KL(p(y|x) || p(y))).

Computed over 10 splits of the generated set after a seeded shuffle, as
torch-fidelity does, so the two agree on the same logits. Higher is better;
its ceiling is the number of classes.
"""

from __future__ import annotations

import numpy as np
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.features import Features
from ganforge.metrics.registry import register_metric

IS_SPLITS = 10
RNG_SEED = 2020


def inception_score_of(logits: torch.Tensor, splits: int = IS_SPLITS, seed: int | None = RNG_SEED) -> tuple[float, float]:
    """(mean, std) over splits; `seed` None keeps the given order."""
    n = len(logits)
    if n < splits:
        raise GanforgeError(f"IS needs at least {splits} images ({splits} splits), got {n}")
    if seed is not None:
        logits = logits[torch.from_numpy(np.random.RandomState(seed).permutation(n))]
    log_p = logits.double().log_softmax(dim=1)
    p = log_p.exp()
    scores = []
    for i in range(splits):
        part, log_part = p[i * n // splits : (i + 1) * n // splits], log_p[i * n // splits : (i + 1) * n // splits]
        log_marginal = part.mean(dim=0, keepdim=True).log()
        kl = (part * (log_part - log_marginal)).sum(dim=1).mean()
        scores.append(float(kl.exp()))
    return float(np.mean(scores)), float(np.std(scores))


@register_metric("is", "Inception Score of the fake set over 10 splits (higher is better; at most the class count)")
def inception_score(real: Features, fake: Features) -> dict[str, float]:
    mean, std = inception_score_of(fake.logits)
    return {"is": mean, "is_std": std}
