"""Conditional GAN (Mirza & Osindero 2014).

Both players see the class: G maps z and y to an image, D judges an image
together with y. By default (g_net="mlp", d_net="mlp", with an EMA of G) the
networks most MLP cGAN code uses; on MNIST they make the asked digit about
95% of the time after 5 CPU minutes (docs/benchmarks/families.md):
- G: z joined with y's embedding -> 128, 256, 512, 1024 units (`g_hidden` is
  the last), LeakyReLU(0.2), batch norm after the first -> pixels;
- D: y's embedding joined to the pixels at the input, three LeakyReLU(0.2)
  layers of `d_hidden` (512) units, dropout 0.4 on the last two.

`-O g_net=paper -O d_net=paper` gives the paper's MNIST networks:
- G: z -> 200 ReLU and y -> 1000 ReLU, joined -> 1200 ReLU -> pixels;
- D: x -> maxout 240 units (5 pieces) and y -> maxout 50 (5 pieces), joined ->
  maxout 240 (4 pieces) -> logit, dropout 0.5 on D's inputs and hidden layers.
The paper's one-hot y times a weight matrix is an embedding lookup, which is
what nn.Embedding computes. Output is tanh (data in [-1, 1]) instead of the
paper's sigmoid on [0, 1] pixels. The paper used SGD with momentum and a
decaying rate; ganforge uses Adam 2e-4 (0.5, 0.999) for both. On MNIST the
paper's G learns to ignore z, and its D meets y only in its second layer,
through 50 maxout units: one speckled image per class, the asked class
rarely (docs/benchmarks/families.md). Runs made before these defaults (no
"defaults": 2 in their model config) are rebuilt with the paper's networks.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.models.base import GAN
from ganforge.models.registry import register_model

DROPOUT = 0.5
NETS = ("paper", "mlp")
# Widths and dropout of the common MLP cGAN networks (g_net / d_net "mlp").
MLP_G_HIDDEN, MLP_D_HIDDEN, MLP_D_DROPOUT = 1024, 512, 0.4


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


class CommonConditionalGenerator(nn.Module):
    """z joined with y's embedding, widening LeakyReLU layers with batch norm:
    z is 100 of G's ~110 inputs, so G cannot drop it as easily as the paper's
    G, whose 1000 label units outnumber z's 200."""

    def __init__(self, z_dim: int, num_classes: int, image_shape: tuple[int, int, int], hidden: int) -> None:
        super().__init__()
        widths = [max(hidden // 8, 1), max(hidden // 4, 1), max(hidden // 2, 1), hidden]
        self.y_embed = nn.Embedding(num_classes, num_classes)
        layers: list[nn.Module] = []
        width = z_dim + num_classes
        for i, out in enumerate(widths):
            layers.append(nn.Linear(width, out))
            if i > 0:
                layers.append(nn.BatchNorm1d(out))
            layers.append(nn.LeakyReLU(0.2, True))
            width = out
        self.body = nn.Sequential(*layers, nn.Linear(width, math.prod(image_shape)), nn.Tanh(), nn.Unflatten(1, image_shape))

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([z, self.y_embed(labels)], dim=1))


def cgan_generator(
    g_net: str, z_dim: int, num_classes: int, image_shape: tuple[int, int, int], hidden: int | None, dropout: float, norm: str
) -> nn.Module:
    """The paper's two-path G, or the common MLP G; None takes each one's own width."""
    if g_net not in NETS:
        raise GanforgeError(f"cgan: g_net must be one of {', '.join(NETS)}, not {g_net!r}")
    if norm not in ("none", "batch"):
        raise GanforgeError(f"cgan: g_norm must be 'none' or 'batch', not {norm!r}")
    if not 0 <= dropout < 1:
        raise GanforgeError(f"cgan: g_dropout must be in [0, 1), not {dropout}")
    if g_net == "mlp":
        if dropout or norm != "none":
            raise GanforgeError("cgan: g_dropout and g_norm apply to g_net=paper; g_net=mlp has its own batch norm")
        return CommonConditionalGenerator(z_dim, num_classes, image_shape, hidden or MLP_G_HIDDEN)
    return ConditionalMLPGenerator(
        z_dim, num_classes, image_shape, z_units=200, y_units=1000, hidden=hidden or 1200, dropout=dropout, norm=norm
    )


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


class ConditionalMLPDiscriminator(nn.Module):
    """x joined with y's embedding at the input, then LeakyReLU layers: D can
    check the class from its first layer on."""

    def __init__(
        self, num_classes: int, image_shape: tuple[int, int, int], hidden: int, input_dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.y_embed = nn.Embedding(num_classes, num_classes)
        self.flatten = nn.Sequential(nn.Flatten(), nn.Dropout(input_dropout))
        self.body = nn.Sequential(
            nn.Linear(math.prod(image_shape) + num_classes, hidden),
            nn.LeakyReLU(0.2, True),
            nn.Linear(hidden, hidden),
            nn.Dropout(MLP_D_DROPOUT),
            nn.LeakyReLU(0.2, True),
            nn.Linear(hidden, hidden),
            nn.Dropout(MLP_D_DROPOUT),
            nn.LeakyReLU(0.2, True),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([self.flatten(x), self.y_embed(labels)], dim=1))


def cgan_discriminator(
    d_net: str, num_classes: int, image_shape: tuple[int, int, int], hidden: int | None, input_dropout: float | None
) -> nn.Module:
    """The paper's maxout D, or the common MLP D; None takes each one's own default."""
    if d_net not in NETS:
        raise GanforgeError(f"cgan: d_net must be one of {', '.join(NETS)}, not {d_net!r}")
    if input_dropout is not None and not 0 <= input_dropout < 1:
        raise GanforgeError(f"cgan: d_input_dropout must be in [0, 1), not {input_dropout}")
    if d_net == "mlp":
        return ConditionalMLPDiscriminator(
            num_classes, image_shape, hidden or MLP_D_HIDDEN, 0.0 if input_dropout is None else input_dropout
        )
    return ConditionalMaxoutDiscriminator(
        num_classes, image_shape, x_units=240, y_units=50, hidden=hidden or 240,
        input_dropout=DROPOUT if input_dropout is None else input_dropout,
    )


@register_model(
    "cgan",
    "Conditional GAN (Mirza 2014): MLP G and D given the class label, EMA; the paper's G and maxout D: -O g_net=paper -O d_net=paper",
    older_defaults={"g_net": "paper", "d_net": "paper"},
)
def cgan(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int,
    z_dim: int = 100,
    g_hidden: int | None = None,
    d_hidden: int | None = None,
    g_dropout: float = 0.0,
    g_norm: str = "none",
    g_net: str = "mlp",
    d_net: str = "mlp",
    d_input_dropout: float | None = None,
) -> GAN:
    g = cgan_generator(g_net, z_dim, num_classes, image_shape, g_hidden, g_dropout, g_norm)
    d = cgan_discriminator(d_net, num_classes, image_shape, d_hidden, d_input_dropout)
    defaults = {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999}
    if g_net == "mlp":  # the average G makes the asked class far more often (88% against 77% after 150 s)
        defaults["ema"] = 0.999
    return GAN(g, d, z_dim=z_dim, image_shape=image_shape, num_classes=num_classes, training_defaults=defaults)
