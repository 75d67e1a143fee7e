"""Mode metrics of Stacked MNIST (1,000 modes), as VEEGAN and PacGAN measure them.

Each channel of a generated 3 x 28 x 28 image is read by the MNIST classifier
(ganforge's `classifier` extractor trained on MNIST); the three digits give
the mode 000-999. Reported:
- `modes`: modes covered, each with at least MIN_SHARE of its fair share n/1000
  of the samples (ganforge's rule everywhere);
- `modes_any`: modes with at least one sample (the papers' count: PacGAN's
  1,000 for packed DCGAN is this number);
- `modes_kl`: KL(mode histogram || uniform), 0 for a perfect spread, log 1000
  (6.9) for a single mode;
- `digits_kl`: the part of `modes_kl` that comes from the digits of each
  channel on their own: the sum over the three channels of KL(digit
  histogram || uniform over 10). Against a uniform target the KL splits
  exactly into this sum plus the total correlation of the three channels, so
  `modes_kl - digits_kl` is what the channels' dependence adds. A generator
  that covers the combinations but draws some digits more often than others
  (or draws digits the classifier reads as some more often) shows it here.
"""

from __future__ import annotations

import time

import torch

from ganforge.data.base import ImageData
from ganforge.data.stacked import DIGITS, stacked_modes
from ganforge.errors import GanforgeError
from ganforge.metrics.evaluate import EvalResult
from ganforge.metrics.features import extract_features
from ganforge.metrics.modes import MIN_SHARE, kl_to_uniform

NUM_MODES = 10**DIGITS


def stacked_mode_stats(modes: torch.Tensor) -> dict[str, float]:
    modes = modes.cpu()
    counts = torch.bincount(modes, minlength=NUM_MODES).double()
    n = len(modes)
    channel_digits = [modes // 10 ** (DIGITS - 1 - k) % 10 for k in range(DIGITS)]
    return {
        "modes": int((counts >= MIN_SHARE * n / NUM_MODES).sum()),
        "modes_any": int((counts > 0).sum()),
        "modes_total": NUM_MODES,
        "modes_kl": kl_to_uniform(counts),
        "digits_kl": sum(kl_to_uniform(torch.bincount(d, minlength=10)) for d in channel_digits),
    }


class StackedMnistEvaluator:
    """Reads generated stacks with the MNIST classifier (trained once, cached)."""

    name = "stacked modes (classifier:mnist per channel)"

    def __init__(self, digits: ImageData, device: torch.device) -> None:
        from ganforge.metrics.classifier import classifier_for

        if digits.image_shape[0] != 1 or digits.labels is None:
            raise GanforgeError(f"Stacked MNIST modes need labelled one-channel digits to train the classifier on, not {digits.describe()}")
        self.digits = digits
        self.device = device
        self.extractor = classifier_for(digits, device)

    def classify_stacks(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 N x 3 x H x W -> the mode (0..999) of each stack."""
        if images.dim() != 4 or images.shape[1] != DIGITS:
            raise GanforgeError(f"Stacked MNIST images have {DIGITS} channels, got shape {tuple(images.shape)}")
        channels = images.reshape(-1, 1, *images.shape[2:])
        features = extract_features(self.extractor, channels, self.device, what="stacked digits")
        assert features.logits is not None
        return stacked_modes(features.logits.argmax(dim=1).view(-1, DIGITS).cpu())

    def evaluate_images(self, images: torch.Tensor) -> EvalResult:
        started = time.perf_counter()
        values = stacked_mode_stats(self.classify_stacks(images))
        return EvalResult(values, self.name, len(self.digits), len(images), time.perf_counter() - started)

