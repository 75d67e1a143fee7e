"""ESRGAN (Wang et al. 2018): the RRDB generator and its two training stages.

- `rrdbnet`: the generator alone with a pixel loss (objective `pixel`), the
  paper's PSNR-oriented first stage.
- `esrgan`: the same generator, started from an `rrdbnet` run
  (--init-from RUN), against a VGG-style discriminator with the relativistic
  average GAN, perceptual loss on VGG19 features before activation and a
  small L1 term (objective `esrgan`).

RRDBNet: a 3x3 convolution, `blocks` residual-in-residual dense blocks (each
three dense blocks of five 3x3 convolutions, every one reading all earlier
outputs, LeakyReLU 0.2; each dense block's output scaled by 0.2 before its
skip, and the RRDB's too), a convolution and a skip around the body, then
nearest-neighbour upsampling x2 with a convolution per stage (one x3 stage
at x3), a convolution and the output convolution. No batch norm.

Presets (`-O preset=...`): "paper" is 64 features, 32 growth channels and
23 blocks; "small" (the default) is 32 / 16 / 4 blocks, which trains on a
CPU. Either can be overridden option by option.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.models.registry import register_model
from ganforge.models.srresnet import SR_BUILD_DEFAULTS, Upscaler, VGGStyleDiscriminator, check_crop, scaled_kaiming, upsampling_stages

#: Residual scaling of the dense blocks and RRDBs (the paper's beta).
RESIDUAL_SCALE = 0.2
#: Initial scale of the dense blocks' weights (smaller initialisation, section 3.1).
INIT_SCALE = 0.1
PRESETS: dict[str, dict[str, int]] = {
    "paper": {"features": 64, "growth": 32, "blocks": 23},
    "small": {"features": 32, "growth": 16, "blocks": 4},
}


class DenseBlock(nn.Module):
    """Five 3x3 convolutions, each reading the input and every earlier output;
    the last one's output, scaled by RESIDUAL_SCALE, is added to the input."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(features + i * growth, growth if i < 4 else features, 3, 1, 1) for i in range(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [x]
        for i, conv in enumerate(self.convs):
            y = conv(torch.cat(outputs, dim=1))
            if i < 4:
                outputs.append(F.leaky_relu(y, 0.2))
        return x + RESIDUAL_SCALE * y


class RRDB(nn.Module):
    """Three dense blocks in a row, with a scaled skip around them."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(DenseBlock(features, growth) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + RESIDUAL_SCALE * self.blocks(x)


class RRDBNet(nn.Module):
    """LR image (N x C x h x w, [-1, 1]) -> HR image (N x C x rh x rw)."""

    def __init__(self, channels: int, scale: int, *, features: int, growth: int, blocks: int) -> None:
        super().__init__()
        self.stages = upsampling_stages(scale)
        self.head = nn.Conv2d(channels, features, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(features, growth) for _ in range(blocks)))
        self.body_conv = nn.Conv2d(features, features, 3, 1, 1)
        self.up_convs = nn.ModuleList(nn.Conv2d(features, features, 3, 1, 1) for _ in self.stages)
        self.hr_conv = nn.Conv2d(features, features, 3, 1, 1)
        self.tail = nn.Conv2d(features, channels, 3, 1, 1)
        for block in self.body:
            scaled_kaiming(block, INIT_SCALE)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        features = self.head(lr)
        x = features + self.body_conv(self.body(features))
        for factor, conv in zip(self.stages, self.up_convs):
            x = F.leaky_relu(conv(F.interpolate(x, scale_factor=factor, mode="nearest")), 0.2)
        return self.tail(F.leaky_relu(self.hr_conv(x), 0.2))


def rrdb_options(preset: str, features: int | None, growth: int | None, blocks: int | None) -> dict[str, int]:
    if preset not in PRESETS:
        raise GanforgeError(f"option preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    chosen = dict(PRESETS[preset])
    for name, value in (("features", features), ("growth", growth), ("blocks", blocks)):
        if value is not None:
            if value < 1:
                raise GanforgeError(f"option {name} must be positive, got {value}")
            chosen[name] = value
    return chosen


#: The PSNR stage (Wang et al.: L1, Adam 2e-4 (0.9, 0.99), batch 16); --steps sized for a CPU.
RRDBNET_DEFAULTS: dict[str, Any] = {
    "objective": "pixel",
    "loss": None,
    "lr_g": 2e-4,
    "beta1": 0.9,
    "beta2": 0.99,
    "batch_size": 16,
    "steps": 2000,
    "lr_decay": "linear",
    "lr_decay_start": 0.5,
}
#: The GAN stage (Wang et al.: Adam 1e-4 (0.9, 0.99) for both players).
ESRGAN_DEFAULTS: dict[str, Any] = {
    "objective": "esrgan",
    "loss": None,
    "lr_g": 1e-4,
    "lr_d": 1e-4,
    "beta1": 0.9,
    "beta2": 0.99,
    "batch_size": 16,
    "steps": 1000,
}


@register_model("rrdbnet", "ESRGAN's RRDB generator (Wang 2018) with a pixel loss: the PSNR stage; super-resolution data, --data sr", task="upscale", build_defaults=SR_BUILD_DEFAULTS)
def rrdbnet(
    *, image_shape: tuple[int, int, int], scale: int = 4, preset: str = "small", features: int | None = None, growth: int | None = None,
    blocks: int | None = None,
) -> Upscaler:
    check_crop(image_shape, scale)
    generator = RRDBNet(image_shape[0], scale, **rrdb_options(preset, features, growth, blocks))
    return Upscaler(generator, None, image_shape=image_shape, scale=scale, training_defaults=RRDBNET_DEFAULTS)


@register_model(
    "esrgan",
    "ESRGAN (Wang 2018): RRDB generator, relativistic average VGG-style D, perceptual (before ReLU) + L1 + GAN; --init-from an rrdbnet run",
    task="upscale",
    build_defaults=SR_BUILD_DEFAULTS,
)
def esrgan(
    *, image_shape: tuple[int, int, int], scale: int = 4, preset: str = "small", features: int | None = None, growth: int | None = None,
    blocks: int | None = None, d_features: int | None = None,
) -> Upscaler:
    check_crop(image_shape, scale)
    options = rrdb_options(preset, features, growth, blocks)
    generator = RRDBNet(image_shape[0], scale, **options)
    discriminator = VGGStyleDiscriminator(image_shape[0], image_shape[1], features=d_features or options["features"], hidden=100)
    return Upscaler(generator, discriminator, image_shape=image_shape, scale=scale, training_defaults=ESRGAN_DEFAULTS)
