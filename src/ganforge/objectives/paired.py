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

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.losses import GANLoss, create_loss
from ganforge.objectives.base import Objective, Stats, StepContext, discriminator_stats
from ganforge.objectives.registry import register_objective


class ReconstructionGame(Objective):
    """A conditional GAN whose G also stays near a target: D judges images
    given a condition, G fools D plus `l1_weight` x a reconstruction term.
    One D update, then one G update on the same generated batch (its graph
    kept), as pix2pix's code does. Subclasses say what the condition, the
    target and the generated batch are (`generate`), how D reads them
    (`judge`) and how far the generated batch is from the target
    (`reconstruction`, logged as `reconstruction_stat`)."""

    reconstruction_stat: ClassVar[str] = "l1"

    def __init__(self, *, loss: str = "non-saturating", label_smoothing: float = 0.0, l1_weight: float = 100.0, gan_weight: float = 1.0) -> None:
        if l1_weight < 0 or gan_weight < 0:
            raise GanforgeError(f"{self.name} weights must be 0 or positive, got l1_weight={l1_weight}, gan_weight={gan_weight}")
        self.loss_fn: GANLoss = create_loss(loss, label_smoothing)
        self.real_target = 1.0 - label_smoothing
        self.l1_weight, self.gan_weight = l1_weight, gan_weight

    def generate(self, nets: Any, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(condition, target, generated) of a batch."""
        raise NotImplementedError

    def judge(self, nets: Any, condition: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def reconstruction(self, generated: torch.Tensor, target: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def frozen(self, player: str) -> tuple[str, ...]:
        # D's update leaves G unfrozen: the generated batch keeps G's graph
        # for G's update (D's own loss reads it detached).
        return ("d",) if player == "g" else ()

    def loss(self, player: str, nets: Any, ctx: StepContext) -> tuple[torch.Tensor, Stats]:
        if player == "d":
            condition, target, fake = self.generate(nets, ctx.batch())
            ctx.scratch.update(condition=condition, target=target, fake=fake)
            real_logits, fake_logits = self.judge(nets, condition, target), self.judge(nets, condition, fake.detach())
            loss = 0.5 * self.loss_fn.d_loss(real_logits, fake_logits, self.real_target)
            return loss, discriminator_stats(loss, real_logits, fake_logits)
        if player == "g":
            condition, target, fake = ctx.scratch["condition"], ctx.scratch["target"], ctx.scratch["fake"]
            adversarial = self.loss_fn.g_loss(self.judge(nets, condition, fake))
            distance = self.reconstruction(fake, target, condition)
            loss = self.gan_weight * adversarial + self.l1_weight * distance
            return loss, {"loss_g": adversarial.detach().float(), self.reconstruction_stat: distance.detach().float()}
        raise ValueError(f"objective '{self.name}' has no player '{player}'")


@register_objective("pix2pix", "conditional GAN on (input, output) pairs plus l1_weight * L1 to the target (Isola 2017)")
class Pix2PixObjective(ReconstructionGame):
    """D judges (input, image) pairs; the reconstruction is L1 to the target."""

    stats = ("loss_d", "loss_g", "l1", "d_real", "d_fake")
    task = "paired"

    def generate(self, nets: Any, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return batch["a"], batch["b"], nets.translate(batch["a"])

    def judge(self, nets: Any, condition: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        return nets.discriminate(condition, images)  # type: ignore[no-any-return]

    def reconstruction(self, generated: torch.Tensor, target: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(generated, target)
