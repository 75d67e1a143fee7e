"""Conditional GAN in its original form (Mirza & Osindero 2014).

Both players see the class: G maps z and y to an image, D judges an image
together with y. The MNIST networks of the paper:
- G: z -> 200 ReLU and y -> 1000 ReLU, joined -> 1200 ReLU -> pixels;
- D: x -> maxout 240 units (5 pieces) and y -> maxout 50 (5 pieces), joined ->
  maxout 240 (4 pieces) -> logit, dropout 0.5 on D's inputs and hidden layers.
The paper's one-hot y times a weight matrix is an embedding lookup, which is
what nn.Embedding computes. Output is tanh (data in [-1, 1]) instead of the
paper's sigmoid on [0, 1] pixels. The paper used SGD with momentum and a
decaying rate; ganforge defaults to Adam 2e-4 (0.5, 0.999), which needs no
schedule tuned to the data set.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.models.base import GAN
from ganforge.models.registry import register_model

DROPOUT = 0.5


class Maxout(nn.Module):
    """Goodfellow et al. 2013: `pieces` linear maps, keep the largest per unit."""

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(-1, self.units, self.pieces).amax(dim=2)


def hidden_block(units: int, dropout: float, norm: str) -> list[nn.Module]:
    """What follows a hidden linear layer of G: [batch norm,] ReLU [, dropout]."""
    layers: list[nn.Module] = [nn.BatchNorm1d(units)] if norm == "batch" else []
    layers.append(nn.ReLU(True))
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return layers


class ConditionalMLPGenerator(nn.Module):
    def __init__(
        self, z_dim: int, num_classes: int, image_shape: tuple[int, int, int], z_units: int, y_units: int, hidden: int,
        dropout: float = 0.0, norm: str = "none",
    ) -> None:
        super().__init__()
        self.z_path = nn.Sequential(nn.Linear(z_dim, z_units), *hidden_block(z_units, dropout, norm))
        self.y_path = nn.Sequential(nn.Embedding(num_classes, y_units), *hidden_block(y_units, dropout, norm))
        self.joint = nn.Sequential(
            nn.Linear(z_units + y_units, hidden),
            *hidden_block(hidden, dropout, norm),
            nn.Linear(hidden, math.prod(image_shape)),
            nn.Tanh(),
            nn.Unflatten(1, image_shape),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.joint(torch.cat([self.z_path(z), self.y_path(labels)], dim=1))


class ConditionalMaxoutDiscriminator(nn.Module):
    def __init__(
        self, num_classes: int, image_shape: tuple[int, int, int], x_units: int, y_units: int, hidden: int, input_dropout: float = DROPOUT
    ) -> None:
        super().__init__()
        self.x_path = nn.Sequential(nn.Flatten(), nn.Dropout(input_dropout), Maxout(math.prod(image_shape), x_units, 5))
        # The embedding holds y's first-layer weights; maxout over its pieces.
        self.y_embed = nn.Embedding(num_classes, y_units * 5)
        self.y_units = y_units
        self.joint = nn.Sequential(nn.Dropout(DROPOUT), Maxout(x_units + y_units, hidden, 4), nn.Dropout(DROPOUT), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        y = self.y_embed(labels).view(-1, self.y_units, 5).amax(dim=2)
        return self.joint(torch.cat([self.x_path(x), y], dim=1))


@register_model("cgan", "Conditional GAN (Mirza 2014): MLP G and maxout D, both given the class label")
def cgan(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int,
    z_dim: int = 100,
    g_hidden: int = 1200,
    d_hidden: int = 240,
    g_dropout: float = 0.0,
    g_norm: str = "none",
    d_input_dropout: float = DROPOUT,
) -> GAN:
    if g_norm not in ("none", "batch"):
        raise GanforgeError(f"cgan: g_norm must be 'none' or 'batch', not {g_norm!r}")
    if not 0 <= g_dropout < 1:
        raise GanforgeError(f"cgan: g_dropout must be in [0, 1), not {g_dropout}")
    g = ConditionalMLPGenerator(z_dim, num_classes, image_shape, z_units=200, y_units=1000, hidden=g_hidden, dropout=g_dropout, norm=g_norm)
    d = ConditionalMaxoutDiscriminator(num_classes, image_shape, x_units=240, y_units=50, hidden=d_hidden, input_dropout=d_input_dropout)
    defaults = {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999}
    return GAN(g, d, z_dim=z_dim, image_shape=image_shape, num_classes=num_classes, training_defaults=defaults)
