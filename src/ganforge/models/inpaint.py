"""Inpainting (Pathak et al. 2016; Iizuka et al. 2017): fill a hole so that the whole image looks real.

- Generator: reads the image with the hole blanked out plus the mask (4
  channels for RGB) and paints every pixel; only the hole is kept (the rest
  is the input's own pixels). Iizuka et al.'s completion network, scaled to
  small images: a 5x5 convolution, two stride-2 convolutions down to a
  quarter of the side, 3x3 convolutions with dilations 2, 4, 8 (and 16 from
  128 px) so that a hole's centre sees its surroundings, two 4x4 transposed
  convolutions up and a 3x3 convolution to the image; batch norm and ReLU as
  in the paper, tanh at the output.
- Discriminator: a PatchGAN on the completed image (the global one) and,
  with `-O local=true`, a second PatchGAN on a window of half the side
  centred on the hole (Iizuka's local discriminator); its patch outputs are
  judged beside the global ones.

The game (reconstruction in the hole plus a small adversarial term) is
ganforge.objectives.inpaint.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.models.base import Networks, init_dcgan_weights
from ganforge.models.pix2pix import PatchDiscriminator
from ganforge.models.registry import register_model

MIN_SIZE = 16
#: From this side up the middle of G gets a fourth dilation (16): holes grow with the image.
LARGE_SIZE = 128


def conv_block(in_channels: int, out_channels: int, kernel: int, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
    padding = dilation * (kernel - 1) // 2
    return [nn.Conv2d(in_channels, out_channels, kernel, stride, padding, dilation=dilation, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU()]


class CompletionNetwork(nn.Module):
    """Masked image and mask in, a full image out (the caller keeps its hole only)."""

    def __init__(self, channels: int, ngf: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        layers = conv_block(channels + 1, ngf, 5)
        layers += conv_block(ngf, 2 * ngf, 3, stride=2) + conv_block(2 * ngf, 2 * ngf, 3)
        layers += conv_block(2 * ngf, 4 * ngf, 3, stride=2) + conv_block(4 * ngf, 4 * ngf, 3)
        for dilation in dilations:
            layers += conv_block(4 * ngf, 4 * ngf, 3, dilation=dilation)
        layers += conv_block(4 * ngf, 4 * ngf, 3)
        layers += [nn.ConvTranspose2d(4 * ngf, 2 * ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ngf), nn.ReLU()]
        layers += [nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU()]
        layers += [nn.Conv2d(ngf, channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def hole_windows(masks: torch.Tensor, size: int) -> list[tuple[int, int]]:
    """(top, left) of a size x size window centred on each mask's hole (its
    bounding box), moved inside the image; the image centre for an empty mask."""
    height, width = masks.shape[-2:]
    corners = []
    for mask in masks[:, 0]:
        rows, cols = mask.any(dim=1).nonzero(), mask.any(dim=0).nonzero()
        cy = (int(rows.min()) + int(rows.max())) // 2 if len(rows) else height // 2
        cx = (int(cols.min()) + int(cols.max())) // 2 if len(cols) else width // 2
        corners.append((min(max(cy - size // 2, 0), height - size), min(max(cx - size // 2, 0), width - size)))
    return corners


class HoleDiscriminator(nn.Module):
    """The global PatchGAN on the whole image and, when `local` is set, a
    local PatchGAN on the window around the hole: their patch outputs,
    flattened and concatenated per image (N x patches)."""

    def __init__(self, channels: int, ndf: int, size: int, d_layers: int, local: bool) -> None:
        super().__init__()
        self.global_net = PatchDiscriminator(channels, ndf, "batch", d_layers)
        self.window = size // 2
        self.local_net = PatchDiscriminator(channels, ndf, "batch", max(1, d_layers - 1)) if local else None

    def forward(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        outputs = [self.global_net(images).flatten(1)]
        if self.local_net is not None:
            crops = torch.stack([image[:, top : top + self.window, left : left + self.window]
                                 for image, (top, left) in zip(images, hole_windows(masks, self.window))])
            outputs.append(self.local_net(crops).flatten(1))
        return torch.cat(outputs, dim=1)


class Inpainter(Networks):
    """G(masked image, mask) -> image, composited so only the hole changes; D(image, mask) -> patch logits."""

    task = "inpaint"

    def __init__(self, generator: nn.Module, discriminator: nn.Module, *, image_shape: tuple[int, int, int], training_defaults: dict[str, Any] | None = None) -> None:
        super().__init__(generator, discriminator, image_shape=image_shape, training_defaults=training_defaults)
        self.inference_batch = 64

    def inpaint(self, images: torch.Tensor, masks: torch.Tensor, *, ema: bool = False) -> torch.Tensor:
        """`images` in [-1, 1] with their holes (masks: 1 = fill) painted by G; every other pixel is the input's."""
        generator = self.generator_ema if ema and self.generator_ema is not None else self.generator
        kept = images * (1.0 - masks)
        painted = generator(torch.cat([kept, masks], dim=1))
        return kept + painted * masks

    def discriminate(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """D's patch logits (global, then local), flattened to N * patches."""
        return self.discriminator(images, masks).reshape(-1)


#: Adam 2e-4, beta1 0.5 (the DCGAN-family settings Pathak et al. use), batch
#: 32; the game's weights are the objective's.
INPAINT_DEFAULTS = {
    "objective": "inpaint",
    "loss": "non-saturating",
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "beta1": 0.5,
    "beta2": 0.999,
    "batch_size": 32,
}


@register_model("inpainter", "inpainting (Pathak 2016, Iizuka 2017): dilated completion network, PatchGAN on the completed image (+ -O local=true); --masks", task="inpaint")
def inpainter(*, image_shape: tuple[int, int, int], ngf: int = 32, ndf: int = 64, d_layers: int | None = None, local: bool = False) -> Inpainter:
    """`d_layers` defaults to 3 (the 70x70 PatchGAN) from 64 px, else 2."""
    channels, height, width = image_shape
    if height % 4 or width % 4 or min(height, width) < MIN_SIZE:
        raise GanforgeError(f"inpainter needs images whose sides are multiples of 4 from {MIN_SIZE} px; got {height}x{width} (give --image-size N)")
    side = min(height, width)
    d_layers = d_layers if d_layers is not None else (3 if side >= 64 else 2)
    if d_layers < 1 or 2 ** (d_layers + 1) > side // (2 if local else 1):
        raise GanforgeError(f"inpainter option d_layers must be from 1 to {(side // (2 if local else 1)).bit_length() - 2} at {side} px, got {d_layers}")
    dilations = (2, 4, 8, 16) if side >= LARGE_SIZE else (2, 4, 8)
    generator = CompletionNetwork(channels, ngf, dilations)
    discriminator = HoleDiscriminator(channels, ndf, side, d_layers, local)
    generator.apply(init_dcgan_weights)
    discriminator.apply(init_dcgan_weights)
    return Inpainter(generator, discriminator, image_shape=image_shape, training_defaults=INPAINT_DEFAULTS)
