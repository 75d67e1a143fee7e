"""pix2pix's game (Isola et al. 2017): a conditional GAN plus an L1 term.

D judges (input, image) pairs, real or translated; G fools D and stays near
the target in L1:

    loss_D = (L(D(a, b), real) + L(D(a, G(a)), fake)) / 2
    loss_G = L(D(a, G(a)), real) + l1_weight * |G(a) - b|_1

The halved D loss slows D relative to G, as the paper does. `loss` is one of
the registered GAN losses (the paper's is the non-saturating cross-entropy;
LSGAN's least squares is its authors' later default). With `gan_weight=0`
the objective is the L1-only ablation of the paper's table 1: D still trains
(and is reported) but G learns from L1 alone.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.losses import GANLoss, create_loss
from ganforge.objectives.base import Objective, Stats, StepContext, discriminator_stats
from ganforge.objectives.registry import register_objective


@register_objective("pix2pix", "conditional GAN on (input, output) pairs plus l1_weight * L1 to the target (Isola 2017)")
class Pix2PixObjective(Objective):
    """One D update, then one G update on the same translated batch (its graph
    kept), as the authors' code does."""

    stats = ("loss_d", "loss_g", "l1", "d_real", "d_fake")
    task = "paired"

    def __init__(self, *, loss: str = "non-saturating", label_smoothing: float = 0.0, l1_weight: float = 100.0, gan_weight: float = 1.0) -> None:
        if l1_weight < 0 or gan_weight < 0:
            raise GanforgeError(f"pix2pix weights must be 0 or positive, got l1_weight={l1_weight}, gan_weight={gan_weight}")
        self.loss_fn: GANLoss = create_loss(loss, label_smoothing)
        self.real_target = 1.0 - label_smoothing
        self.l1_weight, self.gan_weight = l1_weight, gan_weight

    def frozen(self, player: str) -> tuple[str, ...]:
        # D's update leaves G unfrozen: the translated batch keeps G's graph
        # for G's update (D's own loss reads it detached).
        return ("d",) if player == "g" else ()

    def loss(self, player: str, nets: Any, ctx: StepContext) -> tuple[torch.Tensor, Stats]:
        if player == "d":
            batch = ctx.batch()
            a, b = batch["a"], batch["b"]
            fake = nets.translate(a)
            ctx.scratch.update(a=a, b=b, fake=fake)
            real_logits, fake_logits = nets.discriminate(a, b), nets.discriminate(a, fake.detach())
            loss = 0.5 * self.loss_fn.d_loss(real_logits, fake_logits, self.real_target)
            return loss, discriminator_stats(loss, real_logits, fake_logits)
        if player == "g":
            a, b, fake = ctx.scratch["a"], ctx.scratch["b"], ctx.scratch["fake"]
            adversarial = self.loss_fn.g_loss(nets.discriminate(a, fake))
            l1 = F.l1_loss(fake, b)
            loss = self.gan_weight * adversarial + self.l1_weight * l1
            return loss, {"loss_g": adversarial.detach().float(), "l1": l1.detach().float()}
        raise ValueError(f"objective '{self.name}' has no player '{player}'")
