"""The original fully connected GAN (Goodfellow et al. 2014), as an MLP pair."""

from __future__ import annotations

import math

from torch import nn

from ganforge.models.base import GAN
from ganforge.models.registry import register_model


def _mlp(sizes: list[int], slope: float) -> list[nn.Module]:
    """Linear layers with LeakyReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(slope))
    return layers


class MLPGenerator(nn.Sequential):
    def __init__(self, z_dim: int, image_shape: tuple[int, int, int], hidden: list[int]) -> None:
        pixels = math.prod(image_shape)
        super().__init__(*_mlp([z_dim, *hidden, pixels], 0.2), nn.Tanh(), nn.Unflatten(1, image_shape))


class MLPDiscriminator(nn.Sequential):
    def __init__(self, image_shape: tuple[int, int, int], hidden: list[int]) -> None:
        pixels = math.prod(image_shape)
        super().__init__(nn.Flatten(), *_mlp([pixels, *hidden, 1], 0.2))


@register_model("vanilla", "MLP GAN (Goodfellow 2014): G z->128->256->512->image, D image->512->256->1")
def vanilla(
    *,
    image_shape: tuple[int, int, int],
    z_dim: int = 100,
    g_hidden: tuple[int, ...] = (128, 256, 512),
    d_hidden: tuple[int, ...] = (512, 256),
) -> GAN:
    return GAN(
        MLPGenerator(z_dim, image_shape, list(g_hidden)),
        MLPDiscriminator(image_shape, list(d_hidden)),
        z_dim=z_dim,
        image_shape=image_shape,
        training_defaults={"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
    )
