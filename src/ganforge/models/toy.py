"""`toy-mlp`: the MLP pair of the 2-D mode-collapse benchmarks (ring, grid).

The networks of PacGAN's 2-D experiments (Lin et al. 2018, after VEEGAN),
narrower by default:
- G: z -> 4 hidden layers of 128 units (batch norm, ReLU) -> a 2-D point,
  with no output squashing (the grid spans [-4, 4]);
- D: 3 maxout layers of 64 units with 5 pieces -> a logit.
The defaults are the recipe measured to cover all 8 ring modes on every seed
tried (0-9) in about four CPU minutes: z of 2 dimensions (as the papers),
PacGAN's packing of 2 samples, batch 256, Adam(1e-3, beta1 0.8) decaying
linearly to 0 over 20,000 steps. (Batch 100, the papers', covered 8 modes on
only 3 of 5 seeds: docs/benchmarks/reproducibility.md.) The papers' widths: `-O g_hidden=400 -O d_hidden=200`
with `--lr 1e-4 --lr-decay none` (their Adam 1e-4); without packing: `--pack 1`.
Runs made before these defaults are rebuilt with the 400/200 widths.

`g_norm="none"` and `d_act="relu"` give the plainer networks of the Unrolled
GAN's ring experiment (Metz et al. 2017: G 2x128 ReLU without batch norm,
D one ReLU layer of 128): `-O g_hidden=128 -O g_layers=2 -O g_norm=none
-O d_hidden=128 -O d_layers=1 -O d_act=relu`; their code also initialised
every layer orthogonally with gain 0.8 and scaled D's input down
(`-O init=orthogonal -O d_input_scale=0.5`: their ring had radius 2 and D saw
it at a quarter, so radius 0.5; this ring has radius 1).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.models.base import GAN
from ganforge.models.cgan import Maxout
from ganforge.models.registry import register_point_model


G_NORMS = ("batch", "none")
D_ACTIVATIONS = ("maxout", "relu")
INITS = ("default", "orthogonal")


class Scale(nn.Module):
    """Multiplies its input by a constant (D's view of the data's scale)."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def orthogonal_init(module: nn.Module, gain: float) -> None:
    """Orthogonal weights of the given gain and zero biases for every linear
    layer (Metz et al.'s 2-D networks): the initial D loss surface and G's
    initial spread, which they found to decide whether G separates."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.orthogonal_(layer.weight, gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class PointGenerator(nn.Sequential):
    def __init__(self, z_dim: int, dim: int, hidden: int, layers: int, norm: str = "batch") -> None:
        blocks: list[nn.Module] = []
        width = z_dim
        for _ in range(layers):
            if norm == "batch":
                # No bias before batch norm: BN's shift replaces it.
                blocks += [nn.Linear(width, hidden, bias=False), nn.BatchNorm1d(hidden)]
            else:
                blocks.append(nn.Linear(width, hidden))
            blocks.append(nn.ReLU(True))
            width = hidden
        super().__init__(*blocks, nn.Linear(width, dim))


class PointDiscriminator(nn.Sequential):
    def __init__(self, dim: int, hidden: int, layers: int, pieces: int, activation: str = "maxout", input_scale: float = 1.0) -> None:
        blocks: list[nn.Module] = [Scale(input_scale)] if input_scale != 1.0 else []
        width = dim
        for _ in range(layers):
            if activation == "maxout":
                blocks.append(Maxout(width, hidden, pieces))
            else:
                blocks += [nn.Linear(width, hidden), nn.ReLU(True)]
            width = hidden
        super().__init__(*blocks, nn.Linear(width, 1), nn.Flatten(0))


# The ring recipe that covers all 8 modes on every seed (docs/benchmarks/mode-collapse.md,
# configs/ring-pack2.json): narrower networks than the papers', z of 2 dimensions,
# PacGAN's packing of 2, batch 256, Adam 1e-3 falling linearly to 0 over 20,000 steps.
# Batch 256 rather than the papers' 100: at 100, 2 of 5 seeds ended with one mode
# nearly empty (docs/benchmarks/reproducibility.md); the larger batch gives D and G
# less noisy gradients in the last, slowly decaying steps where a mode is kept or lost.
TOY_TRAINING_DEFAULTS: dict[str, Any] = {
    "lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.8, "beta2": 0.999, "batch_size": 256, "lr_decay": "linear", "steps": 20000,
}


@register_point_model(
    "toy-mlp",
    "2-D toy GAN (PacGAN/VEEGAN): G 4x128 BN-ReLU MLP, D 3x64 maxout MLP, --pack 2, z of 2; data ring or grid",
    older_defaults={"g_hidden": 400, "d_hidden": 200},
    build_defaults={"z_dim": 2, "pack": 2},
)
def toy_mlp(
    *,
    image_shape: tuple[int, ...],
    z_dim: int = 2,  # create_model always passes z_dim (the model's default: 2, as in the papers)
    g_hidden: int = 128,
    g_layers: int = 4,
    d_hidden: int = 64,
    d_layers: int = 3,
    pieces: int = 5,
    g_norm: str = "batch",
    d_act: str = "maxout",
    init: str = "default",
    init_gain: float = 0.8,
    d_input_scale: float = 1.0,
) -> GAN:
    if len(image_shape) != 1:
        shape = "x".join(map(str, image_shape))
        raise GanforgeError(f"toy-mlp models points (data ring or grid), not {shape} images; for images use vanilla or dcgan")
    if min(g_hidden, g_layers, d_hidden, d_layers, pieces) < 1:
        raise GanforgeError("toy-mlp: g_hidden, g_layers, d_hidden, d_layers and pieces must be positive")
    if g_norm not in G_NORMS:
        raise GanforgeError(f"toy-mlp: g_norm must be one of {', '.join(G_NORMS)}, not '{g_norm}'")
    if d_act not in D_ACTIVATIONS:
        raise GanforgeError(f"toy-mlp: d_act must be one of {', '.join(D_ACTIVATIONS)}, not '{d_act}'")
    if init not in INITS:
        raise GanforgeError(f"toy-mlp: init must be one of {', '.join(INITS)}, not '{init}'")
    if init_gain <= 0 or d_input_scale <= 0:
        raise GanforgeError(f"toy-mlp: init_gain and d_input_scale must be positive, got {init_gain} and {d_input_scale}")
    dim = image_shape[0]
    generator = PointGenerator(z_dim, dim, g_hidden, g_layers, g_norm)
    discriminator = PointDiscriminator(dim, d_hidden, d_layers, pieces, d_act, d_input_scale)
    if init == "orthogonal":
        orthogonal_init(generator, init_gain)
        orthogonal_init(discriminator, init_gain)
    return GAN(
        generator,
        discriminator,
        z_dim=z_dim,
        image_shape=image_shape,
        training_defaults=dict(TOY_TRAINING_DEFAULTS),
    )
