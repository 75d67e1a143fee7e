"""The original fully connected GAN (Goodfellow et al. 2014), as an MLP pair.

Two recipes (`-O recipe=...`):
- "ganforge" (the default): G z -> 128, 256, 512, 1024 LeakyReLU units with
  batch norm after all but the first -> pixels (the MLP G of most GAN code),
  Adam 2e-4 (0.5, 0.999) and an EMA of G (0.999). Without batch norm the MLP
  G collapsed to one digit on MNIST within 150 s (docs/benchmarks/families.md).
- "paper": the original paper's optimizer, SGD with momentum 0.5 and learning
  rate 0.1 (Goodfellow et al.'s MNIST setting, without its slow decay and
  momentum ramp), on G without batch norm and no EMA. The paper's maxout D
  and dropout are not reproduced: D is the same 512-256 LeakyReLU MLP.
"""

from __future__ import annotations

import math
from typing import Any

from torch import nn

from ganforge.errors import GanforgeError
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
    """z -> hidden LeakyReLU layers (batch norm after all but the first, when
    `norm` is "batch") -> tanh pixels."""

    def __init__(self, z_dim: int, image_shape: tuple[int, int, int], hidden: list[int], norm: str = "none") -> None:
        layers: list[nn.Module] = []
        width = z_dim
        for i, units in enumerate(hidden):
            layers.append(nn.Linear(width, units))
            if norm == "batch" and i > 0:
                layers.append(nn.BatchNorm1d(units))
            layers.append(nn.LeakyReLU(0.2))
            width = units
        super().__init__(*layers, nn.Linear(width, math.prod(image_shape)), nn.Tanh(), nn.Unflatten(1, image_shape))


class MLPDiscriminator(nn.Sequential):
    def __init__(self, image_shape: tuple[int, int, int], hidden: list[int]) -> None:
        pixels = math.prod(image_shape)
        super().__init__(nn.Flatten(), *_mlp([pixels, *hidden, 1], 0.2))


RECIPES: dict[str, dict[str, Any]] = {
    "ganforge": {
        "g_hidden": (128, 256, 512, 1024),
        "g_norm": "batch",
        "training": {"optimizer": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "ema": 0.999},
    },
    "paper": {
        "g_hidden": (128, 256, 512),
        "g_norm": "none",
        "training": {"optimizer": "sgd", "lr_g": 0.1, "lr_d": 0.1, "momentum": 0.5, "ema": 0.0},
    },
}


@register_model(
    "vanilla",
    "MLP GAN (Goodfellow 2014): MLP G with batch norm, MLP D, EMA; -O recipe=paper: SGD with momentum, no batch norm",
    older_defaults={"g_hidden": [128, 256, 512], "g_norm": "none"},
)
def vanilla(
    *,
    image_shape: tuple[int, int, int],
    z_dim: int = 100,
    recipe: str = "ganforge",
    g_hidden: tuple[int, ...] | None = None,
    d_hidden: tuple[int, ...] = (512, 256),
    g_norm: str | None = None,
) -> GAN:
    if recipe not in RECIPES:
        raise GanforgeError(f"vanilla: recipe must be one of {', '.join(RECIPES)}, not {recipe!r}")
    chosen = RECIPES[recipe]
    norm = chosen["g_norm"] if g_norm is None else g_norm
    if norm not in ("none", "batch"):
        raise GanforgeError(f"vanilla: g_norm must be 'none' or 'batch', not {norm!r}")
    return GAN(
        MLPGenerator(z_dim, image_shape, list(g_hidden or chosen["g_hidden"]), norm),
        MLPDiscriminator(image_shape, list(d_hidden)),
        z_dim=z_dim,
        image_shape=image_shape,
        training_defaults=dict(chosen["training"]),
    )
