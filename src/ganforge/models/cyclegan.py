"""CycleGAN (Zhu et al. 2017): two translators between unpaired domains, each checked by the other.

- Generators G_ab: A -> B and G_ba: B -> A, Johnson et al.'s ResNet
  translator: a 7x7 convolution, two stride-2 3x3 convolutions down, `blocks`
  residual blocks (9 at 256 px, 6 at 128 px and below: the paper's choice),
  two stride-2 transposed convolutions up and a 7x7 convolution to the image;
  reflection padding (no border artefacts), instance norm, ReLU, tanh.
- Discriminators D_a and D_b: the 70x70 PatchGAN of pix2pix on single
  images (not pairs), with instance norm.

The game (least squares GAN, cycle consistency 10, identity 0.5 x 10, image
pools of 50) is ganforge.objectives.cycle. The ganforge names: `generator`
is G_ab and `discriminator` D_b (the B side, as pix2pix's A -> B), and
`generator_ba` and `discriminator_a` the other direction.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.models.base import Networks, init_dcgan_weights
from ganforge.models.pix2pix import PIX2PIX_DEFAULTS, PatchDiscriminator
from ganforge.models.registry import register_model

DIRECTIONS = ("AtoB", "BtoA")
#: Sizes from which the paper uses 9 residual blocks (256 px); 6 below.
LARGE_SIZE = 256
MIN_SIZE = 16


def instance_norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResidualBlock(nn.Module):
    """x + (pad, 3x3 conv, norm, ReLU, pad, 3x3 conv, norm)(x)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), instance_norm(channels), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), instance_norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetTranslator(nn.Module):
    """Image to image of the same size: c7s1-ngf, d2ngf, d4ngf, R4ngf x blocks, u2ngf, ungf, c7s1-out (the paper's notation)."""

    def __init__(self, in_channels: int, out_channels: int, ngf: int, blocks: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7), instance_norm(ngf), nn.ReLU()]
        width = ngf
        for _ in range(2):
            layers += [nn.Conv2d(width, 2 * width, 3, 2, 1), instance_norm(2 * width), nn.ReLU()]
            width *= 2
        layers += [ResidualBlock(width) for _ in range(blocks)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(width, width // 2, 3, 2, 1, output_padding=1), instance_norm(width // 2), nn.ReLU()]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CycleTranslator(Networks):
    """G_ab and G_ba with their discriminators D_b and D_a (see the module doc for the names)."""

    task = "unpaired"

    def __init__(
        self, generator: nn.Module, discriminator: nn.Module, generator_ba: nn.Module, discriminator_a: nn.Module, *,
        image_shape: tuple[int, int, int], input_channels: int, training_defaults: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(generator, discriminator, image_shape=image_shape, training_defaults=training_defaults)
        self.generator_ba = generator_ba
        self.discriminator_a = discriminator_a
        self.input_channels = input_channels
        self.inference_batch = 16  # instance norm: every image on its own, so batches only bound memory

    def enable_ema(self) -> None:
        raise GanforgeError("cyclegan keeps no moving average of its two generators (the paper has none); leave --ema out")

    def shape_of(self, domain: str) -> tuple[int, int, int]:
        """(C, H, W) of one image of domain "a" or "b"."""
        channels = self.input_channels if domain == "a" else self.image_shape[0]
        return (channels, *self.image_shape[1:])  # type: ignore[return-value]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.shape_of("a")

    def translate(self, x: torch.Tensor, *, direction: str = "AtoB", ema: bool = False) -> torch.Tensor:
        """G_ab(x) for AtoB, G_ba(x) for BtoA. (`ema` is accepted for the
        translation interface; CycleGAN keeps none.)"""
        return self.generator(x) if direction == "AtoB" else self.generator_ba(x)

    def discriminate(self, domain: str, images: torch.Tensor) -> torch.Tensor:
        """D_a's or D_b's patch outputs for images of `domain`, flattened to N * patches."""
        judge = self.discriminator_a if domain == "a" else self.discriminator
        return judge(images).reshape(-1)


#: The paper's recipe (section 4, appendix 7.1) is pix2pix's: Adam 2e-4, beta1
#: 0.5, batch 1, the learning rate constant for the first half of training,
#: then falling linearly to 0 (100 + 100 epochs).
CYCLEGAN_DEFAULTS = {**PIX2PIX_DEFAULTS, "objective": "cycle", "loss": None}  # the objective plays least squares itself


def check_size(height: int, width: int) -> None:
    if height % 4 or width % 4 or min(height, width) < MIN_SIZE:
        raise GanforgeError(f"cyclegan needs images whose sides are multiples of 4 from {MIN_SIZE} px (the paper's 256, or 128 on a CPU); got {height}x{width} (give --image-size 128)")


@register_model("cyclegan", "CycleGAN (Zhu 2017): two ResNet translators and two PatchGANs, cycle-consistent; unpaired data, --data unpaired", task="unpaired")
def cyclegan(*, image_shape: tuple[int, int, int], input_channels: int = 3, ngf: int = 64, ndf: int = 64, blocks: int | None = None, d_layers: int = 3) -> CycleTranslator:
    """`image_shape` is domain B's (C, H, W), `input_channels` domain A's
    channels. `blocks` defaults to the paper's: 9 at 256 px and above, else 6."""
    channels, height, width = image_shape
    check_size(height, width)
    blocks = blocks if blocks is not None else (9 if min(height, width) >= LARGE_SIZE else 6)
    if blocks < 0:
        raise GanforgeError(f"cyclegan option blocks must be 0 or more, got {blocks}")
    if d_layers < 1 or 2 ** (d_layers + 1) > min(height, width):
        raise GanforgeError(f"cyclegan option d_layers must be from 1 to {min(height, width).bit_length() - 2} at {height}x{width} px, got {d_layers}")
    networks = {
        "generator": ResnetTranslator(input_channels, channels, ngf, blocks),
        "discriminator": PatchDiscriminator(channels, ndf, "instance", d_layers),
        "generator_ba": ResnetTranslator(channels, input_channels, ngf, blocks),
        "discriminator_a": PatchDiscriminator(input_channels, ndf, "instance", d_layers),
    }
    for network in networks.values():
        network.apply(init_dcgan_weights)
    return CycleTranslator(**networks, image_shape=image_shape, input_channels=input_channels, training_defaults=CYCLEGAN_DEFAULTS)
