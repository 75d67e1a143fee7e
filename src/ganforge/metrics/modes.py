"""Mode coverage from a classifier's verdicts on generated images.

A collapsed GAN draws most samples from a few classes. Three numbers show it:
- `modes`: classes covered, out of `modes_total` (the classes the classifier
  finds in the real data). A class counts as covered when it gets at least
  MIN_SHARE of the share it has in the real data, so a class seen in a single
  stray sample out of thousands does not count;
- `modes_kl`: KL(fake class histogram || real class histogram), 0 when the
  class proportions match;
- `confident`: the share of fake samples the classifier assigns to one class
  with probability >= CONFIDENCE (blurry or mixed digits are not).
"""

from __future__ import annotations

import torch

from ganforge.metrics.features import Features
from ganforge.metrics.registry import register_metric

MIN_SHARE = 0.1
CONFIDENCE = 0.9
EPS = 1e-6  # keeps the KL finite when fakes land in a class real data never shows


def kl_to_uniform(counts: torch.Tensor) -> float:
    """KL(histogram || uniform over its bins), in nats: 0 for an even spread,
    log(bins) when every count is in one bin. Shared by the known-mode metrics
    (ring, grid, Stacked MNIST)."""
    p = counts.double() / counts.sum()
    p = p[p > 0]
    return float((p * (p * len(counts)).log()).sum())


def class_histogram(logits: torch.Tensor) -> torch.Tensor:
    counts = torch.bincount(logits.argmax(dim=1), minlength=logits.shape[1]).double()
    return counts / counts.sum()


def mode_stats(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> dict[str, float]:
    real_hist, fake_hist = class_histogram(real_logits), class_histogram(fake_logits)
    present = real_hist > 0
    covered = present & (fake_hist >= MIN_SHARE * real_hist)
    smoothed = (real_hist + EPS) / (1 + EPS * len(real_hist))
    nonzero = fake_hist > 0
    kl = (fake_hist[nonzero] * (fake_hist[nonzero] / smoothed[nonzero]).log()).sum()
    confidence = fake_logits.double().softmax(dim=1).max(dim=1).values
    return {
        "modes": int(covered.sum()),
        "modes_total": int(present.sum()),
        "modes_kl": float(kl),
        "confident": float((confidence >= CONFIDENCE).double().mean()),
    }


@register_metric("modes", "classes covered, KL between fake and real class histograms, share of confident samples")
def modes(real: Features, fake: Features) -> dict[str, float]:
    return mode_stats(real.logits, fake.logits)
