"""SPADE's game (Park et al. 2019): hinge GAN, discriminator feature matching, VGG perceptual loss.

With s a label map, x its photo and D_k the k-th scale's discriminator:

    loss_D = sum_k mean(relu(1 - D_k(s, x))) + mean(relu(1 + D_k(s, G(s))))
    loss_G = -sum_k mean(D_k(s, G(s)))
             + fm_weight / K * sum_k sum_i |D_k^i(s, G(s)) - D_k^i(s, x)|_1     (every layer i but the logits)
             + vgg_weight * sum_j w_j |VGG_j(G(s)) - VGG_j(x)|_1              (relu1_1 .. relu5_1, w = 1/32 .. 1)

Feature matching (pix2pixHD's) steadies the game: G matches the statistics
D finds in real photos at every depth, not only D's verdict. The VGG term
needs the ImageNet weights of VGG19 (found as the super-resolution losses
find them); without them it is off, and a warning says so. One D update,
then one G update on the same generated batch, as pix2pix's objective.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.objectives.base import Objective, Stats, StepContext
from ganforge.objectives.registry import register_objective
from ganforge.perceptual import VGG19_FILE, VGGFeatures

VGG_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
VGG_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


def logits_of(outputs: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    return [scale[-1] for scale in outputs]


@register_objective("spade", "SPADE: hinge GAN on a multi-scale D, fm_weight x D feature matching, vgg_weight x VGG19 perceptual L1 (Park 2019)")
class SpadeObjective(Objective):
    stats = ("loss_d", "loss_g", "feature_matching", "vgg", "d_real", "d_fake")
    task = "paired"

    def __init__(self, *, fm_weight: float = 10.0, vgg_weight: float = 10.0, vgg_weights: str | None = None) -> None:
        if fm_weight < 0 or vgg_weight < 0:
            raise GanforgeError(f"spade weights must be 0 or positive, got fm_weight={fm_weight}, vgg_weight={vgg_weight}")
        self.fm_weight, self.vgg_weight, self.vgg_weights = fm_weight, vgg_weight, vgg_weights
        self.vgg: VGGFeatures | None = None

    def check_model(self, model: Any) -> None:
        super().check_model(model)
        if not hasattr(model, "discriminate_features"):
            raise GanforgeError(f"objective 'spade' needs a discriminator that returns its features (--model spade), not model '{model.config.get('name', type(model).__name__)}'")

    def setup(self, model: Any, *, seed: int, device: torch.device) -> None:
        if self.vgg_weight > 0 and self.vgg is None:
            if VGG19_FILE.available(self.vgg_weights):
                self.vgg = VGGFeatures.pretrained("conv5_1", weights=self.vgg_weights).to(device)
            else:
                warnings.warn(
                    f"the VGG perceptual term is off: no {VGG19_FILE.what} ({VGG19_FILE.cache_path.name} at {VGG19_FILE.cache_path}); "
                    f"give -X vgg_weights=FILE or set ${VGG19_FILE.env} to train with it, or -X vgg_weight=0 to train without it and no warning",
                    stacklevel=2,
                )

    def frozen(self, player: str) -> tuple[str, ...]:
        # D's update leaves G unfrozen: the generated batch keeps G's graph for G's update.
        return ("d",) if player == "g" else ()

    def loss(self, player: str, nets: Any, ctx: StepContext) -> tuple[torch.Tensor, Stats]:
        if player == "d":
            batch = ctx.batch()
            maps, photos = batch["a"], batch["b"]
            fake = nets.translate(maps)
            ctx.scratch.update(maps=maps, photos=photos, fake=fake)
            real_logits = logits_of(nets.discriminate_features(maps, photos))
            fake_logits = logits_of(nets.discriminate_features(maps, fake.detach()))
            loss = sum(F.relu(1.0 - r).mean() + F.relu(1.0 + f).mean() for r, f in zip(real_logits, fake_logits))
            return loss, {  # type: ignore[return-value]
                "loss_d": loss.detach().float(),  # type: ignore[union-attr]
                "d_real": torch.stack([r.detach().float().mean() for r in real_logits]).mean(),
                "d_fake": torch.stack([f.detach().float().mean() for f in fake_logits]).mean(),
            }
        if player == "g":
            maps, photos, fake = ctx.scratch["maps"], ctx.scratch["photos"], ctx.scratch["fake"]
            fake_outputs = nets.discriminate_features(maps, fake)
            with torch.no_grad():
                real_outputs = nets.discriminate_features(maps, photos)
            adversarial = -sum(f.mean() for f in logits_of(fake_outputs))
            matching = sum(F.l1_loss(f, r) for fs, rs in zip(fake_outputs, real_outputs) for f, r in zip(fs[:-1], rs[:-1])) / len(fake_outputs)
            vgg = self.perceptual(fake, photos)
            loss = adversarial + self.fm_weight * matching + self.vgg_weight * vgg
            return loss, {"loss_g": adversarial.detach().float(), "feature_matching": matching.detach().float(), "vgg": vgg.detach().float()}  # type: ignore[union-attr]
        raise ValueError(f"objective '{self.name}' has no player '{player}'")

    def perceptual(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        if self.vgg is None:
            return fake.new_zeros(())
        fakes, reals = self.vgg.activations(fake, VGG_LAYERS), self.vgg.activations(real, VGG_LAYERS)
        return sum(w * F.l1_loss(f, r.detach()) for w, f, r in zip(VGG_LAYER_WEIGHTS, fakes, reals))  # type: ignore[return-value]
