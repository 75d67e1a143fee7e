"""LAPGAN's game (Denton et al. 2015): every pyramid level trained at once.

Each finer level's G_k is conditioned on the *real* image's coarser low-pass,
as in the paper, so the fake batch D sees is a pyramid made from a real batch:
the coarse image G_0(z) for fresh z, and per finer level a band-pass residual
G_k(fresh noise plane, upsample(real low-pass one level coarser)). D returns
all levels' logits concatenated, so the loss's mean trains every level; the
levels share no parameters, so the sum equals training each on its own.

Image-space regularisers (gradient penalty, R1, DiffAugment) and the unrolled
D do not apply to a D that reads pyramids, so this objective does not take them.
"""

from __future__ import annotations

from typing import Any

import torch

from ganforge.errors import GanforgeError
from ganforge.models.base import batch_spread
from ganforge.models.lapgan import LAPGAN, Pyramid
from ganforge.objectives.adversarial import AdversarialObjective
from ganforge.objectives.base import Batch
from ganforge.objectives.registry import register_objective


def training_pyramid(model: LAPGAN, real: torch.Tensor, noise: torch.Generator) -> Pyramid:
    """Every level's fake for a real batch, drawn independently per level."""
    generator = model.generator
    real_pyramid = model.pyramid(real)
    code, planes = generator.split_noise(model.training_noise(real.shape[0], noise, device=real.device))
    bands = [
        generator.band(level, plane, condition)
        for level, (plane, condition) in enumerate(zip(planes, real_pyramid.conditions), start=1)
    ]
    return Pyramid(generator.levels[0](code), bands, real_pyramid.conditions)


@register_objective("laplacian", "LAPGAN: every pyramid level's GAN at once, finer levels conditioned on the real coarser image")
class LaplacianObjective(AdversarialObjective):
    def __init__(self, *, loss: str = "non-saturating", label_smoothing: float = 0.0, d_steps: int = 1, clip: float = 0.0) -> None:
        super().__init__(loss=loss, label_smoothing=label_smoothing, d_steps=d_steps, clip=clip)

    def check_model(self, model: Any) -> None:
        if not isinstance(model, LAPGAN):
            raise GanforgeError(f"objective 'laplacian' trains LAPGAN's pyramid of GANs; model '{model.config.get('name', '')}' is not one")

    def fake(self, nets: Any, batch: Batch, noise: torch.Generator) -> Pyramid:
        return training_pyramid(nets, batch["image"], noise)

    def diversity(self, real: torch.Tensor, fake: Any) -> torch.Tensor:
        """Spread of the generated coarsest level (the one G_0 makes from z
        alone) over the real coarsest level."""
        assert self.model is not None
        return batch_spread(fake.low) / batch_spread(self.model.pyramid(real).low).clamp_min(1e-12)
