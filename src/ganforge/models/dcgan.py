"""DCGAN (Radford et al. 2016): all-convolutional G and D with batch norm.

Layouts, chosen from the image size:
- 28x28 (MNIST-sized), `layout="small"` (the default): a dense layer of
  7*7*(2*ngf) units (6272 for ngf=64) reshaped to 7x7 maps and upsampled
  twice to 28x28; D mirrors it with two strided convolutions and a dense
  output. Cheap, and what MNIST tutorials train.
- 28x28, `layout="deep"`: the Radford layout squeezed to 28 px, as in the
  DCGAN of the VEEGAN and PacGAN Stacked MNIST experiments: z projected to
  2x2 maps of 8*ngf channels, then 4, 7, 14, 28 px with channels halving;
  D mirrors it with four strided convolutions (8*ndf channels at 2x2) and a
  dense output. About three times the small layout's compute.
- square powers of two (8 ... 256): the Radford layout, a 4x4 projection of z
  then one stride-2 transposed convolution per octave, channels halving as the
  resolution doubles; D mirrors it and ends in a 4x4 convolution.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.models.base import GAN, init_dcgan_weights
from ganforge.models.registry import register_model

MIN_SIZE, MAX_SIZE = 8, 256


def _up(cin: int, cout: int) -> list[nn.Module]:
    """Double the resolution: transposed conv, batch norm, ReLU."""
    return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]


# Normalisation of D's hidden layers. WGAN-GP's critic must not use batch norm
# (the penalty is per sample); Gulrajani et al. suggest layer norm instead.
D_NORMS = ("batch", "layer", "none")


def _norm_layer(kind: str, channels: int) -> list[nn.Module]:
    if kind == "batch":
        return [nn.BatchNorm2d(channels)]
    if kind == "layer":
        return [nn.GroupNorm(1, channels)]  # one group: normalises over C, H and W per sample
    return []


def _down(cin: int, cout: int, norm: str = "batch") -> list[nn.Module]:
    """Halve the resolution: strided conv, (normalisation), LeakyReLU(0.2)."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 4, 2, 1, bias=norm == "none")]
    layers += _norm_layer(norm, cout)
    layers.append(nn.LeakyReLU(0.2, True))
    return layers


class ProjectedGenerator(nn.Module):
    """The 28x28 generators: z through a dense layer to `width` maps of
    side x side, then `body` up to 28x28."""

    def __init__(self, z_dim: int, width: int, side: int, body: list[nn.Module]) -> None:
        super().__init__()
        self.width, self.side = width, side
        self.project = nn.Sequential(
            nn.Linear(z_dim, width * side * side, bias=False), nn.BatchNorm1d(width * side * side), nn.ReLU(True)
        )
        self.body = nn.Sequential(*body)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(z).view(-1, self.width, self.side, self.side))


def generator28(z_dim: int, channels: int, ngf: int) -> ProjectedGenerator:
    """The small layout: 7 -> 14 -> 28."""
    return ProjectedGenerator(z_dim, 2 * ngf, 7, [
        *_up(2 * ngf, ngf),  # 7 -> 14
        nn.ConvTranspose2d(ngf, channels, 4, 2, 1),  # 14 -> 28
        nn.Tanh(),
    ])


class Discriminator28(nn.Sequential):
    def __init__(self, channels: int, ndf: int, norm: str = "batch") -> None:
        super().__init__(
            *_down(channels, ndf, norm="none"),  # 28 -> 14
            *_down(ndf, 2 * ndf, norm),  # 14 -> 7
            nn.Flatten(),
            nn.Linear(2 * ndf * 7 * 7, 1),
        )


def deep_generator28(z_dim: int, channels: int, ngf: int) -> ProjectedGenerator:
    """The deep layout: 2 -> 4 -> 7 -> 14 -> 28; the 4 -> 7 stage uses a 3x3
    kernel, the only odd size on the way."""
    return ProjectedGenerator(z_dim, 8 * ngf, 2, [
        *_up(8 * ngf, 4 * ngf),  # 2 -> 4
        nn.ConvTranspose2d(4 * ngf, 2 * ngf, 3, 2, 1, bias=False),  # 4 -> 7
        nn.BatchNorm2d(2 * ngf),
        nn.ReLU(True),
        *_up(2 * ngf, ngf),  # 7 -> 14
        nn.ConvTranspose2d(ngf, channels, 4, 2, 1),  # 14 -> 28
        nn.Tanh(),
    ])


class DeepDiscriminator28(nn.Sequential):
    def __init__(self, channels: int, ndf: int, norm: str = "batch") -> None:
        super().__init__(
            *_down(channels, ndf, norm="none"),  # 28 -> 14
            *_down(ndf, 2 * ndf, norm),  # 14 -> 7
            nn.Conv2d(2 * ndf, 4 * ndf, 3, 2, 1, bias=norm == "none"),  # 7 -> 4
            *_norm_layer(norm, 4 * ndf),
            nn.LeakyReLU(0.2, True),
            *_down(4 * ndf, 8 * ndf, norm),  # 4 -> 2
            nn.Flatten(),
            nn.Linear(8 * ndf * 2 * 2, 1),
        )


LAYOUTS_28 = ("small", "deep")


def _octaves(size: int) -> int:
    """Resolution doublings from 4x4 to `size`."""
    return int(math.log2(size)) - 2


def _deepest_width(base: int, size: int) -> int:
    """Channels at 4x4. Radford doubles them per octave; images below 32 px
    keep the 32 px layout's widths, or D would have a few thousand weights."""
    return base * 2 ** (max(_octaves(size), 3) - 1)


class GeneratorPow2(nn.Sequential):
    def __init__(self, z_dim: int, channels: int, size: int, ngf: int) -> None:
        octaves = _octaves(size)
        width = _deepest_width(ngf, size)
        layers: list[nn.Module] = [
            nn.Unflatten(1, (z_dim, 1, 1)),
            nn.ConvTranspose2d(z_dim, width, 4, 1, 0, bias=False),  # 1 -> 4
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        for _ in range(octaves - 1):
            layers += _up(width, width // 2)
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        super().__init__(*layers)


class DiscriminatorPow2(nn.Sequential):
    def __init__(self, channels: int, size: int, ndf: int, norm: str = "batch") -> None:
        octaves = _octaves(size)
        width = _deepest_width(ndf, size) // 2 ** (octaves - 1)
        layers: list[nn.Module] = _down(channels, width, norm="none")
        for _ in range(octaves - 1):
            layers += _down(width, width * 2, norm)
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0), nn.Flatten()]  # 4 -> 1
        super().__init__(*layers)


def _check_size(height: int, width: int) -> None:
    power_of_two = height >= MIN_SIZE and height <= MAX_SIZE and height & (height - 1) == 0
    if height != width or not (height == 28 or power_of_two):
        raise GanforgeError(
            f"dcgan needs square 28x28 images or a power-of-two size from {MIN_SIZE} to {MAX_SIZE}; "
            f"got {height}x{width} (use --image-size 32 or 64 to resize the data)"
        )


def _check_layout(layout: str, height: int) -> None:
    if layout not in LAYOUTS_28:
        raise GanforgeError(f"layout must be one of {', '.join(LAYOUTS_28)}, got '{layout}'")
    if layout != "small" and height != 28:
        raise GanforgeError(f"layout={layout} is a 28x28 layout; {height}x{height} images always use the Radford layout")


def dcgan_networks(
    image_shape: tuple[int, int, int], z_dim: int, ngf: int, ndf: int, d_norm: str = "batch", layout: str = "small"
) -> tuple[nn.Module, nn.Module]:
    """The DCGAN generator and discriminator for `image_shape`, Radford-initialised.
    Shared by the families that keep DCGAN's networks (WGAN, WGAN-GP, LSGAN)."""
    if d_norm not in D_NORMS:
        raise GanforgeError(f"d_norm must be one of {', '.join(D_NORMS)}, got '{d_norm}'")
    channels, height, width = image_shape
    _check_size(height, width)
    _check_layout(layout, height)
    if layout == "deep":
        g: nn.Module = deep_generator28(z_dim, channels, ngf)
        d: nn.Module = DeepDiscriminator28(channels, ndf, d_norm)
    elif height == 28:
        g = generator28(z_dim, channels, ngf)
        d = Discriminator28(channels, ndf, d_norm)
    else:
        g = GeneratorPow2(z_dim, channels, height, ngf)
        d = DiscriminatorPow2(channels, height, ndf, d_norm)
    g.apply(init_dcgan_weights)
    d.apply(init_dcgan_weights)
    return g, d


@register_model("dcgan", "Deep convolutional GAN (Radford 2016); 28x28 MNIST layouts (small, deep) or 8-256 px Radford layout")
def dcgan(
    *, image_shape: tuple[int, int, int], z_dim: int = 100, ngf: int = 64, ndf: int = 64, layout: str = "small",
    d_norm: str = "batch",
) -> GAN:
    # d_norm=layer or none: D without batch norm, for per-sample penalties (--gp).
    g, d = dcgan_networks(image_shape, z_dim, ngf, ndf, d_norm=d_norm, layout=layout)
    return GAN(g, d, z_dim=z_dim, image_shape=image_shape, training_defaults=dcgan_training_defaults(image_shape, layout))


# The 28x28 layout's recipe, measured on MNIST (docs/benchmarks/speed.md, "Time to
# quality"): at batch 64, Adam at LR_28 with an EMA of G reaches in 2 minutes
# of CPU training the FID that Radford's 2e-4 without EMA reaches in 10.
LR_28 = 1.6e-3
EMA_28 = 0.999


def dcgan_training_defaults(image_shape: tuple[int, int, int], layout: str = "small") -> dict[str, float]:
    """Radford et al.'s Adam (lr 2e-4, beta1 0.5); for the small 28x28 layout
    a higher rate and an EMA of G (the deep one keeps the papers' settings)."""
    if image_shape[1] == 28 and layout == "small":
        return {"lr_g": LR_28, "lr_d": LR_28, "beta1": 0.5, "beta2": 0.999, "ema": EMA_28}
    return {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999}
