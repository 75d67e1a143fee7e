"""pix2pix (Isola et al. 2017): a U-Net generator against a PatchGAN discriminator.

- Generator: an encoder-decoder whose decoder layer i also reads encoder
  layer n-i (skip connections), so low-level structure (edges, layout) passes
  straight from input to output. Encoder: 4x4 stride-2 convolutions with
  LeakyReLU 0.2, down to 1x1; decoder: 4x4 stride-2 transposed convolutions
  with ReLU; widths 64, 128, 256, 512, 512, ... (`ngf` and capped at 8 ngf).
  Dropout 0.5 on the decoder's widest layers is the only noise: as in the
  paper it stays on at inference, so outputs vary a little from run to run.
- Discriminator: the 70x70 PatchGAN, three stride-2 4x4 convolutions and two
  stride-1 ones, judging every overlapping 70x70 patch of cat(input, image)
  real or fake (one logit per patch).
- Normalisation: `batch` (the paper's) uses the statistics of the batch being
  processed at training and at inference alike, as the paper does with
  batch size 1 ("instance normalisation" by another name); `instance` is
  instance norm without learned scale, as in the authors' code's option.

Paper sizes are 256 px (8 U-Net levels); `pix2pix` builds the levels for any
square power-of-two size from 32 px, so the 128 px preset trains on a CPU.
The game (conditional GAN loss + 100 L1) is ganforge.objectives.paired.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.models.base import Networks, init_dcgan_weights
from ganforge.models.registry import register_model

NORMS = ("batch", "instance")
MIN_SIZE = 32
#: LeakyReLU slope of the encoder and of D (the paper's).
SLOPE = 0.2


def norm_layer(kind: str, channels: int) -> nn.Module:
    """`batch`: always the statistics of the batch at hand (no running
    averages), the paper's behaviour at training and test time; `instance`:
    per-image statistics, no learned scale and shift."""
    if kind == "batch":
        return nn.BatchNorm2d(channels, track_running_stats=False)
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class InferenceDropout(nn.Module):
    """Dropout that stays on in eval mode: pix2pix's only source of noise."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.dropout(x, self.p, training=True) if self.p else x


class UNetLevel(nn.Module):
    """One level of the U-Net: down, the inner levels, up; then the skip
    connection concatenates this level's input to its output (except at the
    outermost level, whose output is the image)."""

    def __init__(
        self, outer: int, inner: int, *, inside: nn.Module | None, in_channels: int | None = None, out_channels: int | None = None,
        norm: str, dropout: float = 0.0, squash: bool = True,
    ) -> None:
        super().__init__()
        outermost, innermost = out_channels is not None, inside is None
        bias = norm == "instance"  # batch norm's shift makes a bias redundant
        down: list[nn.Module] = [] if outermost else [nn.LeakyReLU(SLOPE)]
        down.append(nn.Conv2d(in_channels or outer, inner, 4, 2, 1, bias=bias or outermost))
        if not outermost and not innermost:
            down.append(norm_layer(norm, inner))
        up: list[nn.Module] = [nn.ReLU()]
        up_in = inner if innermost else 2 * inner  # the inner levels' output carries their skip
        if outermost:
            up.append(nn.ConvTranspose2d(up_in, out_channels, 4, 2, 1))  # type: ignore[arg-type]
            if squash:  # images in [-1, 1]; left out where the outputs are logits (ganforge.metrics.segmentation)
                up.append(nn.Tanh())
        else:
            up += [nn.ConvTranspose2d(up_in, outer, 4, 2, 1, bias=bias), norm_layer(norm, outer)]
            if dropout:
                up.append(InferenceDropout(dropout))
        self.down, self.inside, self.up = nn.Sequential(*down), inside, nn.Sequential(*up)
        self.outermost = outermost

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.down(x)
        if self.inside is not None:
            y = self.inside(y)
        y = self.up(y)
        return y if self.outermost else torch.cat([x, y], dim=1)


def unet_widths(levels: int, ngf: int) -> list[int]:
    """Channel width after each encoder level: ngf, 2 ngf, 4 ngf, 8 ngf, 8 ngf, ..."""
    return [ngf * min(2**i, 8) for i in range(levels)]


class UNetGenerator(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, size: int, ngf: int, norm: str, dropout: float, squash: bool = True) -> None:
        super().__init__()
        levels = int(math.log2(size))  # down to 1 x 1
        widths = unet_widths(levels, ngf)
        block: nn.Module | None = None
        for i in reversed(range(1, levels)):  # innermost first
            innermost = block is None
            # Dropout on the widest levels' decoders, as the paper's CD512 layers.
            drop = dropout if not innermost and widths[i] == widths[i - 1] == 8 * ngf else 0.0
            block = UNetLevel(widths[i - 1], widths[i], inside=block, norm=norm, dropout=drop)
        self.net = UNetLevel(widths[0], widths[0], inside=block, in_channels=in_channels, out_channels=out_channels, norm=norm, squash=squash)
        self.levels = levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """The PatchGAN: `layers` stride-2 convolutions after the first, one stride-1,
    then one logit per patch (70x70 receptive field for layers=3)."""

    def __init__(self, in_channels: int, ndf: int, norm: str, layers: int = 3) -> None:
        super().__init__()
        bias = norm == "instance"
        net: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(SLOPE)]
        width = ndf
        for i in range(1, layers + 1):
            wider = ndf * min(2**i, 8)
            stride = 2 if i < layers else 1
            net += [nn.Conv2d(width, wider, 4, stride, 1, bias=bias), norm_layer(norm, wider), nn.LeakyReLU(SLOPE)]
            width = wider
        net.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.net = nn.Sequential(*net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ImageTranslator(Networks):
    """A generator G(a) -> b in [-1, 1] and a conditional discriminator
    D(a, b) -> one logit per patch, for aligned pairs."""

    task = "paired"

    def __init__(self, generator: nn.Module, discriminator: nn.Module, *, image_shape: tuple[int, int, int], input_channels: int,
                 training_defaults: dict[str, Any] | None = None, batch_statistics: bool = False) -> None:
        super().__init__(generator, discriminator, image_shape=image_shape, training_defaults=training_defaults)
        self.input_channels = input_channels
        # Batch norm on the batch at hand, at inference too: images translated
        # one at a time, so none depends on the others.
        self.inference_batch = 1 if batch_statistics else 64

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.input_channels, *self.image_shape[1:])  # type: ignore[return-value]

    def translate(self, a: torch.Tensor, *, ema: bool = False) -> torch.Tensor:
        generator = self.generator_ema if ema and self.generator_ema is not None else self.generator
        return generator(a)

    def discriminate(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """D's patch logits for (input, image) pairs, flattened to N * patches."""
        return self.discriminator(torch.cat([a, b], dim=1)).reshape(-1)


def check_size(height: int, width: int) -> None:
    if height != width or height < MIN_SIZE or height & (height - 1):
        raise GanforgeError(
            f"pix2pix needs square images whose side is a power of two from {MIN_SIZE} px (the paper's 256, or 128 on a CPU); "
            f"got {height}x{width} (give --image-size 128 or 256)"
        )


#: The paper's recipe (section 3.3, 4): Adam 2e-4, beta1 0.5, batch 1, the
#: learning rate constant for the first half of training, then falling linearly to 0.
PIX2PIX_DEFAULTS = {
    "objective": "pix2pix",
    "loss": "non-saturating",
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "beta1": 0.5,
    "beta2": 0.999,
    "batch_size": 1,
    "lr_decay": "linear",
    "lr_decay_start": 0.5,
}


@register_model("pix2pix", "pix2pix (Isola 2017): U-Net generator, 70x70 PatchGAN on (input, output); paired data, --data paired", task="paired")
def pix2pix(
    *, image_shape: tuple[int, int, int], input_channels: int = 3, ngf: int = 64, ndf: int = 64, norm: str = "batch", dropout: float = 0.5,
    d_layers: int = 3,
) -> ImageTranslator:
    """`image_shape` is the target's (C, H, W), `input_channels` the input's
    channels. `d_layers` 3 gives the 70x70 PatchGAN (1: 16x16, 4: 142x142)."""
    channels, height, width = image_shape
    check_size(height, width)
    if norm not in NORMS:
        raise GanforgeError(f"pix2pix option norm must be one of {', '.join(NORMS)}, got '{norm}'")
    if not 0.0 <= dropout < 1.0:
        raise GanforgeError(f"pix2pix option dropout must be in [0, 1), got {dropout}")
    if d_layers < 1 or 2 ** (d_layers + 1) > height:
        raise GanforgeError(f"pix2pix option d_layers must be from 1 to {int(math.log2(height)) - 1} at {height} px, got {d_layers}")
    generator = UNetGenerator(input_channels, channels, height, ngf, norm, dropout)
    discriminator = PatchDiscriminator(input_channels + channels, ndf, norm, d_layers)
    generator.apply(init_dcgan_weights)
    discriminator.apply(init_dcgan_weights)
    return ImageTranslator(
        generator, discriminator, image_shape=image_shape, input_channels=input_channels, training_defaults=PIX2PIX_DEFAULTS,
        batch_statistics=norm == "batch",
    )
