"""Super-resolution games: a pixel loss alone, SRGAN's and ESRGAN's.

Batches are {"lr", "hr"} (ganforge.tasks.upscale). Three objectives:

- `pixel`: G alone minimises L1 (default) or MSE to the HR image: SRResNet,
  and the PSNR-oriented stage before a GAN fine-tuning.
- `srgan` (Ledig et al. 2017): content loss, the MSE between VGG19 "54"
  features (after conv5_4's ReLU) of SR and HR, the features scaled by
  1/12.75 as in the paper, plus 1e-3 times the non-saturating adversarial
  loss; D is a standard real/fake classifier.
- `esrgan` (Wang et al. 2018): perceptual L1 on VGG19 conv5_4 features
  *before* the activation (weight 1), L1 on pixels (1e-2) and the
  relativistic average GAN (5e-3): D judges whether a real image is more
  realistic than the average fake, and G is trained on both directions.

One D update, then one G update on the same SR batch (its graph kept).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.losses import GANLoss, create_loss
from ganforge.objectives.base import Objective, Stats, StepContext, discriminator_stats
from ganforge.objectives.registry import register_objective
from ganforge.perceptual import VGG19_LAYERS, VGGFeatures

PIXEL_LOSSES = {"l1": F.l1_loss, "mse": F.mse_loss}
#: Ledig et al. rescale the VGG feature maps by 1/12.75 before the MSE.
SRGAN_FEATURE_SCALE = 1.0 / 12.75


def pixel_loss_fn(name: str) -> Any:
    if name not in PIXEL_LOSSES:
        raise GanforgeError(f"pixel_loss must be one of {', '.join(PIXEL_LOSSES)}, got {name!r}")
    return PIXEL_LOSSES[name]


@register_objective("pixel", "super-resolution by a pixel loss alone, L1 (default) or MSE to the HR image (SRResNet; the PSNR stage before SRGAN/ESRGAN)")
class PixelObjective(Objective):
    players = ("g",)
    networks = {"g": ("generator",)}
    stats = ("loss_pixel",)
    task = "upscale"

    def __init__(self, *, pixel_loss: str = "l1") -> None:
        self.pixel = pixel_loss_fn(pixel_loss)

    def loss(self, player: str, nets: Any, ctx: StepContext) -> tuple[torch.Tensor, Stats]:
        batch = ctx.batch()
        loss = self.pixel(nets.upscale(batch["lr"]), batch["hr"])
        return loss, {"loss_pixel": loss.detach().float()}


class PerceptualGANObjective(Objective):
    """Content on VGG19 features + pixel + adversarial terms (SRGAN, ESRGAN)."""

    stats = ("loss_d", "loss_g", "content", "pixel", "d_real", "d_fake")
    task = "upscale"
    # VGG19 is built once, at setup, on the training device.
    layer, before_activation, feature_scale, content_loss = "conv5_4", False, 1.0, "mse"

    def __init__(
        self, *, loss: str, relativistic: bool, perceptual_weight: float, pixel_weight: float, gan_weight: float,
        pixel_loss: str = "l1", vgg_weights: str | None = None, layer: str | None = None,
    ) -> None:
        for name, value in (("perceptual_weight", perceptual_weight), ("pixel_weight", pixel_weight), ("gan_weight", gan_weight)):
            if value < 0:
                raise GanforgeError(f"objective '{self.name}': {name} must be 0 or positive, got {value}")
        if layer is not None:
            if layer not in VGG19_LAYERS:
                raise GanforgeError(f"layer must be one of {', '.join(VGG19_LAYERS)}, got {layer!r}")
            self.layer = layer
        self.loss_fn: GANLoss = create_loss(loss, 0.0)
        self.relativistic = relativistic
        self.perceptual_weight, self.pixel_weight, self.gan_weight = perceptual_weight, pixel_weight, gan_weight
        self.pixel = pixel_loss_fn(pixel_loss)
        self.vgg_weights = vgg_weights
        self.vgg: VGGFeatures | None = None

    def setup(self, model: Any, *, seed: int, device: torch.device) -> None:
        if self.perceptual_weight > 0 and self.vgg is None:
            self.vgg = VGGFeatures.pretrained(self.layer, before_activation=self.before_activation, weights=self.vgg_weights).to(device)

    def frozen(self, player: str) -> tuple[str, ...]:
        # D's update leaves G unfrozen: the SR batch keeps G's graph for G's update.
        return ("d",) if player == "g" else ()

    def adversarial(self, real_logits: torch.Tensor, fake_logits: torch.Tensor, player: str) -> torch.Tensor:
        """`player`'s adversarial loss. Relativistic average: each side's
        logits less the other side's mean, real targets 1 and fakes 0 for D,
        swapped for G (averaged over both directions, as ESRGAN's code)."""
        if not self.relativistic:
            return self.loss_fn.d_loss(real_logits, fake_logits) if player == "d" else self.loss_fn.g_loss(fake_logits)
        real_vs_fake = real_logits - fake_logits.mean()
        fake_vs_real = fake_logits - real_logits.mean()
        if player == "d":
            return 0.5 * (F.softplus(-real_vs_fake).mean() + F.softplus(fake_vs_real).mean())
        return 0.5 * (F.softplus(real_vs_fake).mean() + F.softplus(-fake_vs_real).mean())

    def content(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        if self.vgg is None:
            return sr.new_zeros(())
        fake, real = self.vgg(sr), self.vgg(hr).detach()
        if self.content_loss == "mse":
            return F.mse_loss(fake * self.feature_scale, real * self.feature_scale)
        return F.l1_loss(fake, real)

    def loss(self, player: str, nets: Any, ctx: StepContext) -> tuple[torch.Tensor, Stats]:
        if player == "d":
            batch = ctx.batch()
            sr = nets.upscale(batch["lr"])
            ctx.scratch.update(hr=batch["hr"], sr=sr)
            real_logits, fake_logits = nets.discriminate(batch["hr"]), nets.discriminate(sr.detach())
            loss = self.adversarial(real_logits, fake_logits, "d")
            return loss, discriminator_stats(loss, real_logits, fake_logits)
        if player == "g":
            hr, sr = ctx.scratch["hr"], ctx.scratch["sr"]
            real_logits = nets.discriminate(hr).detach() if self.relativistic else None
            fake_logits = nets.discriminate(sr)
            adversarial = self.adversarial(real_logits if real_logits is not None else fake_logits, fake_logits, "g")
            content, pixel = self.content(sr, hr), self.pixel(sr, hr)
            loss = self.gan_weight * adversarial + self.perceptual_weight * content + self.pixel_weight * pixel
            return loss, {"loss_g": adversarial.detach().float(), "content": content.detach().float(), "pixel": pixel.detach().float()}
        raise ValueError(f"objective '{self.name}' has no player '{player}'")


@register_objective("srgan", "SRGAN (Ledig 2017): MSE on VGG19 conv5_4 features (after ReLU, /12.75) + 1e-3 adversarial")
class SRGANObjective(PerceptualGANObjective):
    feature_scale, content_loss = SRGAN_FEATURE_SCALE, "mse"

    def __init__(
        self, *, loss: str = "non-saturating", perceptual_weight: float = 1.0, pixel_weight: float = 0.0, gan_weight: float = 1e-3,
        pixel_loss: str = "mse", vgg_weights: str | None = None, layer: str | None = None,
    ) -> None:
        super().__init__(
            loss=loss, relativistic=False, perceptual_weight=perceptual_weight, pixel_weight=pixel_weight, gan_weight=gan_weight,
            pixel_loss=pixel_loss, vgg_weights=vgg_weights, layer=layer,
        )


@register_objective("esrgan", "ESRGAN (Wang 2018): L1 on VGG19 conv5_4 features before ReLU + 1e-2 L1 + 5e-3 relativistic average GAN")
class ESRGANObjective(PerceptualGANObjective):
    before_activation, content_loss = True, "l1"

    def __init__(
        self, *, perceptual_weight: float = 1.0, pixel_weight: float = 1e-2, gan_weight: float = 5e-3, vgg_weights: str | None = None,
        layer: str | None = None,
    ) -> None:
        super().__init__(
            loss="non-saturating", relativistic=True, perceptual_weight=perceptual_weight, pixel_weight=pixel_weight, gan_weight=gan_weight,
            pixel_loss="l1", vgg_weights=vgg_weights, layer=layer,
        )
