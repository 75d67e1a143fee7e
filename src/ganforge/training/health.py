"""Warnings while training: a collapsing generator or a discriminator that
rejects everything, seen in the logged window averages.

Two signs, each checked at every log flush over the window's steps:
- D(G(z)) near 0 for several windows in a row: D rejects every generated
  sample, so the (saturating part of the) G loss gives G little to learn from;
- batch diversity near 0: the spread of a generated batch (mean over features
  of the standard deviation across the batch) is a small fraction of a real
  batch's, i.e. G produces nearly the same sample for every z.
Each warning is given once when its sign appears and again only after it has
cleared, so a long run is not flooded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LOW_D_FAKE = 0.05
LOW_DIVERSITY = 0.1
WINDOWS = 3  # consecutive log windows a sign must last


@dataclass
class HealthWatch:
    watch_d_fake: bool = True  # off for the wasserstein critic, whose scores are not probabilities
    watch_diversity: bool = True  # off for games without a collapse to watch (translation)
    windows: int = WINDOWS
    streaks: dict[str, int] = field(default_factory=lambda: {"d_fake": 0, "diversity": 0})
    warned: dict[str, bool] = field(default_factory=lambda: {"d_fake": False, "diversity": False})

    def update(self, step: int, means: dict[str, float]) -> list[str]:
        """Warnings due after a window with these mean values."""
        signs = {
            "d_fake": self.watch_d_fake and means.get("d_fake", 1.0) < LOW_D_FAKE,
            "diversity": self.watch_diversity and means.get("diversity", 1.0) < LOW_DIVERSITY,
        }
        messages = []
        for name, present in signs.items():
            self.streaks[name] = self.streaks[name] + 1 if present else 0
            if not present:
                self.warned[name] = False
            elif self.streaks[name] >= self.windows and not self.warned[name]:
                self.warned[name] = True
                messages.append(self.message(name, step, means))
        return messages

    def message(self, name: str, step: int, means: dict[str, float]) -> str:
        if name == "d_fake":
            return (
                f"step {step}: D(G(z)) has stayed below {LOW_D_FAKE} for {self.windows} log windows (now {means['d_fake']:.3f}): "
                "D rejects every generated sample and G learns little; try a lower --lr-d, fewer --d-steps, "
                "--label-smoothing 0.1 or --spectral-norm (`ganforge diagnose RUN` for more)"
            )
        return (
            f"step {step}: generated batches have collapsed: their spread is {means['diversity']:.3f} of a real batch's "
            f"for {self.windows} log windows (mode collapse); try --pack 2, --minibatch-std, --minibatch-disc 50, "
            "--unroll 5 or --loss wasserstein --gp 10 (`ganforge diagnose RUN` for more)"
        )
