"""The inpainting game: reconstruct the hole, and make the completed image pass as real.

With x the image, m its mask (1 in the hole) and y = x (1 - m) + G(x (1 - m), m) m:

    loss_D = (L(D(x, m), real) + L(D(y, m), fake)) / 2
    loss_G = gan_weight * L(D(y, m), real) + l1_weight * |y - x|_1 over the hole's pixels

Pathak et al. weigh reconstruction 0.999 and the adversarial term 0.001 (on
L2); Iizuka et al. 1 and 0.0004 (on MSE). Both keep the adversarial term
small: it sharpens the texture, the reconstruction places it. ganforge's
default is pix2pix's balance, 100 L1 to 1 GAN (L1 blurs less than L2), with
the L1 averaged over the hole's pixels so that small and large holes count
alike.
"""

from __future__ import annotations

from typing import Any

import torch

from ganforge.objectives.paired import ReconstructionGame
from ganforge.objectives.registry import register_objective


def hole_l1(completed: torch.Tensor, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference over the hole's pixels (and channels)."""
    hole = masks.expand_as(images)
    return ((completed - images).abs() * hole).sum() / hole.sum().clamp(min=1.0)


@register_objective("inpaint", "inpainting: l1_weight x L1 in the hole plus gan_weight x a GAN term on the completed image (Pathak 2016, Iizuka 2017)")
class InpaintObjective(ReconstructionGame):
    """The condition is the mask; D judges completed images (and the window
    around the hole, with a local discriminator)."""

    stats = ("loss_d", "loss_g", "hole_l1", "d_real", "d_fake")
    reconstruction_stat = "hole_l1"
    task = "inpaint"

    def generate(self, nets: Any, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return batch["mask"], batch["image"], nets.inpaint(batch["image"], batch["mask"])

    def judge(self, nets: Any, condition: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        return nets.discriminate(images, condition)  # type: ignore[no-any-return]

    def reconstruction(self, generated: torch.Tensor, target: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return hole_l1(generated, target, condition)
