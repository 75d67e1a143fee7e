"""Super-resolution networks: SRResNet and SRGAN (Ledig et al. 2017).

- `srresnet`: the generator alone, trained with a pixel loss (objective
  `pixel`). A 9x9 convolution, 16 residual blocks of two 3x3 convolutions
  (64 channels, PReLU), a convolution and a skip around the blocks, then
  sub-pixel upsampling (a convolution to r^2 times the channels and a pixel
  shuffle, x2 per stage for x2/x4, one x3 stage for x3) and a 9x9
  convolution to the image.
- `srgan`: the same generator against the paper's VGG-style discriminator
  (eight 3x3 convolutions 64 -> 512, every second one stride 2, batch norm
  and LeakyReLU 0.2, then dense 1024 -> 1), trained with content loss on
  VGG19 features plus 1e-3 adversarial (objective `srgan`), started from a
  trained `srresnet` run (--init-from RUN).

Two variants of the generator (`-O variant=...`):
- "ganforge" (default): no batch norm (it lowers PSNR and brings artifacts:
  Lim et al. 2017, Wang et al. 2018) and the bicubic upsampled input added to
  the output, so the network learns the residual over bicubic and starts at
  bicubic's PSNR (BasicSR's MSRResNet adds a bilinear one); residual blocks
  initialised at a tenth of their usual scale so the deep stack without
  normalisation starts near identity. This is what reaches Set5 30 dB in 30
  CPU minutes (docs/benchmarks/super-resolution.md).
- "paper": Ledig et al.'s network as published: batch norm in every residual
  block and after the body's last convolution, no input skip.

The networks are pure modules; the games are ganforge.objectives.sr.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganforge.data.sr import SCALES, bicubic_resize
from ganforge.errors import GanforgeError
from ganforge.models.base import Networks
from ganforge.models.registry import register_model

VARIANTS = ("ganforge", "paper")
#: Initial scale of the residual branches of the variant without batch norm.
RESIDUAL_INIT_SCALE = 0.1


def scaled_kaiming(module: nn.Module, scale: float) -> None:
    """Kaiming-normal weights times `scale` and zero biases for every
    convolution of `module` (scale < 1 starts residual branches near 0)."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, a=0.0, mode="fan_in")
            layer.weight.data.mul_(scale)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class ResidualBlock(nn.Module):
    """x + conv(act(conv(x))), with batch norm after each convolution when `norm`."""

    def __init__(self, channels: int, norm: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, channels, 3, 1, 1, bias=not norm)]
        if norm:
            layers.append(nn.BatchNorm2d(channels))
        layers.append(nn.PReLU(channels))
        layers.append(nn.Conv2d(channels, channels, 3, 1, 1, bias=not norm))
        if norm:
            layers.append(nn.BatchNorm2d(channels))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def upsampling_stages(scale: int) -> list[int]:
    """The factor of each upsampling stage: x4 is two x2 stages."""
    if scale not in SCALES:
        raise GanforgeError(f"super-resolution scale must be one of {', '.join(map(str, SCALES))}, got {scale}")
    return [2, 2] if scale == 4 else [scale]


class SubPixelUpsampler(nn.Sequential):
    """Per stage: a 3x3 convolution to r^2 x channels, a pixel shuffle by r, PReLU."""

    def __init__(self, channels: int, scale: int) -> None:
        layers: list[nn.Module] = []
        for factor in upsampling_stages(scale):
            layers += [nn.Conv2d(channels, channels * factor**2, 3, 1, 1), nn.PixelShuffle(factor), nn.PReLU(channels)]
        super().__init__(*layers)


class SRResNet(nn.Module):
    """LR image (N x C x h x w, [-1, 1]) -> HR image (N x C x rh x rw)."""

    def __init__(self, channels: int, scale: int, *, features: int = 64, blocks: int = 16, norm: bool = False, input_skip: bool = True) -> None:
        super().__init__()
        self.scale, self.input_skip = scale, input_skip
        self.head = nn.Sequential(nn.Conv2d(channels, features, 9, 1, 4), nn.PReLU(features))
        body: list[nn.Module] = [ResidualBlock(features, norm) for _ in range(blocks)]
        body.append(nn.Conv2d(features, features, 3, 1, 1, bias=not norm))
        if norm:
            body.append(nn.BatchNorm2d(features))
        self.body = nn.Sequential(*body)
        self.upsample = SubPixelUpsampler(features, scale)
        self.tail = nn.Conv2d(features, channels, 9, 1, 4)
        if not norm:
            for block in self.body[:blocks]:
                scaled_kaiming(block, RESIDUAL_INIT_SCALE)
            if input_skip:  # the output starts at bicubic: the residual over it starts small
                nn.init.zeros_(self.tail.bias)
                self.tail.weight.data.mul_(RESIDUAL_INIT_SCALE)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        features = self.head(lr)
        out = self.tail(self.upsample(features + self.body(features)))
        if self.input_skip:
            out = out + bicubic_resize(lr, (lr.shape[-2] * self.scale, lr.shape[-1] * self.scale))
        return out


class VGGStyleDiscriminator(nn.Module):
    """SRGAN's discriminator: 3x3 convolutions 64, 64/2, 128, 128/2, 256,
    256/2, 512, 512/2 (batch norm on all but the first, LeakyReLU 0.2), then
    dense `hidden` units, LeakyReLU, dense 1. ESRGAN's VGG-128 discriminator
    is the same plan. Reads HR crops of a fixed size (multiple of 16)."""

    def __init__(self, channels: int, size: int, *, features: int = 64, hidden: int = 1024) -> None:
        super().__init__()
        if size % 16:
            raise GanforgeError(f"the VGG-style discriminator reads crops whose side divides by 16, got {size} (give --image-size 96 or 128)")
        layers: list[nn.Module] = [nn.Conv2d(channels, features, 3, 1, 1), nn.LeakyReLU(0.2, True)]
        width = features
        for i in range(7):
            wider = features * 2 ** ((i + 1) // 2)
            layers += [nn.Conv2d(width, wider, 3, 2 if i % 2 == 0 else 1, 1, bias=False), nn.BatchNorm2d(wider), nn.LeakyReLU(0.2, True)]
            width = wider
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(width * (size // 16) ** 2, hidden), nn.LeakyReLU(0.2, True), nn.Linear(hidden, 1)
        )

    def forward(self, hr: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(hr))


class Upscaler(Networks):
    """A generator G(LR) -> HR at `scale` times the size, and (for the GAN
    families) a discriminator D(HR) -> one logit per image."""

    task = "upscale"

    def __init__(
        self, generator: nn.Module, discriminator: nn.Module | None, *, image_shape: tuple[int, int, int], scale: int,
        training_defaults: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(generator, discriminator, image_shape=image_shape, training_defaults=training_defaults)  # type: ignore[arg-type]
        self.scale = scale
        self.inference_batch = 16

    def upscale(self, lr: torch.Tensor, *, ema: bool = False) -> torch.Tensor:
        """G(lr): N x C x h x w in [-1, 1] -> N x C x (scale h) x (scale w), unclamped."""
        generator = self.generator_ema if ema and self.generator_ema is not None else self.generator
        return generator(lr)

    def discriminate(self, hr: torch.Tensor) -> torch.Tensor:
        """D's logit for each HR image, flattened to N."""
        if self.discriminator is None:
            raise GanforgeError(f"model '{self.config.get('name', '')}' has no discriminator: it trains with a pixel loss only")
        return self.discriminator(hr).reshape(-1)


def check_crop(image_shape: tuple[int, int, int], scale: int) -> None:
    _, height, width = image_shape
    if height % scale or width % scale:
        raise GanforgeError(f"HR crops of {height}x{width} px do not divide by the scale {scale}")


def srresnet_generator(image_shape: tuple[int, int, int], scale: int, features: int, blocks: int, variant: str) -> SRResNet:
    """The SRResNet of one variant for HR crops of `image_shape` (checked against the scale)."""
    check_crop(image_shape, scale)
    if variant not in VARIANTS:
        raise GanforgeError(f"option variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    return SRResNet(image_shape[0], scale, features=features, blocks=blocks, norm=variant == "paper", input_skip=variant == "ganforge")


#: The HR crop of every SR model's data (`--image-size`): 64 px (16 px LR at
#: x4). Ledig et al. use 96 px; on 2 CPU cores 64 px crops make 2.5 times
#: the updates in the same time at about the same pixels per second (0.57
#: against 1.41 s per step of batch 16; docs/benchmarks/super-resolution.md).
SR_BUILD_DEFAULTS = {"image_size": 64}

#: SRResNet's recipe on a CPU: L1 and Adam 2e-4 (0.9, 0.999), BasicSR's
#: MSRResNet settings (5e-4 was 0.2 dB better after 600 steps, 1e-3 diverged
#: within 150), batch 16 of 64 px crops, constant for half the run, then
#: falling linearly to 0. 3,000 steps: about 30 minutes on 2 CPU cores.
SRRESNET_DEFAULTS: dict[str, Any] = {
    "objective": "pixel",
    "loss": None,  # no adversarial loss
    "lr_g": 2e-4,
    "beta1": 0.9,
    "beta2": 0.999,
    "batch_size": 16,
    "steps": 3000,
    "lr_decay": "linear",
    "lr_decay_start": 0.5,
}


@register_model(
    "srresnet",
    "SRResNet (Ledig 2017): 16 residual blocks, sub-pixel upsampling, pixel loss; super-resolution data, --data sr",
    task="upscale",
    build_defaults=SR_BUILD_DEFAULTS,
)
def srresnet(
    *, image_shape: tuple[int, int, int], scale: int = 4, features: int = 64, blocks: int = 16, variant: str = "ganforge",
) -> Upscaler:
    """`image_shape` is one HR crop's (C, H, W); `scale` 2, 3 or 4."""
    return Upscaler(srresnet_generator(image_shape, scale, features, blocks, variant), None, image_shape=image_shape, scale=scale, training_defaults=SRRESNET_DEFAULTS)


#: Ledig et al.'s SRGAN recipe: Adam 1e-4 (0.9, 0.999) for both players,
#: batch 16, from a trained SRResNet.
SRGAN_DEFAULTS: dict[str, Any] = {
    "objective": "srgan",
    "lr_g": 1e-4,
    "lr_d": 1e-4,
    "beta1": 0.9,
    "beta2": 0.999,
    "batch_size": 16,
    "steps": 2000,
}


@register_model(
    "srgan",
    "SRGAN (Ledig 2017): SRResNet generator, VGG-style discriminator, VGG19 content loss + 1e-3 adversarial; --init-from an srresnet run",
    task="upscale",
    build_defaults=SR_BUILD_DEFAULTS,
)
def srgan(
    *, image_shape: tuple[int, int, int], scale: int = 4, features: int = 64, blocks: int = 16, variant: str = "ganforge", d_features: int = 64,
) -> Upscaler:
    generator = srresnet_generator(image_shape, scale, features, blocks, variant)
    discriminator = VGGStyleDiscriminator(image_shape[0], image_shape[1], features=d_features)
    return Upscaler(generator, discriminator, image_shape=image_shape, scale=scale, training_defaults=SRGAN_DEFAULTS)
