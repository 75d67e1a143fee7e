"""SPADE / GauGAN (Park et al. 2019): a semantic label map to a photo, the layout fed in at every scale.

- Label maps arrive as colour images (the paired task's inputs) and become
  one-hot classes inside the model: every pixel takes the class of the
  nearest palette colour (`palette`: "facades", the 12 CMP Facades colours;
  or colours inline, "r,g,b;r,g,b;..."), or with `classes=N` the class is the
  grey level itself (label maps stored as class indices 0..N-1).
- Generator: no encoder; the one-hot map, shrunk to 1/32 of the side, goes
  through a 3x3 convolution, then residual blocks whose normalisation is
  spatially adaptive: each activation is instance-normalised and then scaled
  and shifted per pixel by gamma and beta that two 3x3 convolutions read
  off the label map at that block's resolution, so the layout is not washed
  out by normalisation. Five 2x upsamplings, spectral norm on every
  convolution, a 3x3 convolution and tanh to the image.
- Discriminator: two PatchGANs (the image at full and half size), each on
  cat(one-hot map, image), 4x4 convolutions with spectral and instance
  norm; they return their intermediate features for the feature-matching
  loss (ganforge.objectives.spade).

Presets: `small` (default, for CPUs: 32 base channels, 64 hidden in each
SPADE) and `paper` (64 and 128, the paper's at 256 px). The paper
normalises with synchronised batch norm over batches of 32 on 8 GPUs; with
the batch of 1 a CPU trains on, instance norm is the same statistic.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from ganforge.data.labelmaps import FACADES_PALETTE
from ganforge.errors import GanforgeError
from ganforge.models.base import init_dcgan_weights
from ganforge.models.pix2pix import ImageTranslator
from ganforge.models.registry import register_model

PRESETS = {"small": {"ngf": 32, "hidden": 64, "ndf": 32}, "paper": {"ngf": 64, "hidden": 128, "ndf": 64}}
UPSAMPLINGS = 5  # the "normal" generator: 1/32 of the side up to the full size
SIDE_MULTIPLE = 2**UPSAMPLINGS
MIN_SIZE = 2 * SIDE_MULTIPLE  # instance norm needs at least 2 x 2 at the start
SLOPE = 0.2


def parse_palette(palette: str) -> tuple[tuple[int, int, int], ...]:
    """"facades", or colours "r,g,b;r,g,b;..." (0-255)."""
    if palette == "facades":
        return FACADES_PALETTE
    try:
        colours = tuple(tuple(int(v) for v in colour.split(",")) for colour in palette.split(";") if colour.strip())
    except ValueError:
        colours = ()
    if len(colours) < 2 or any(len(c) != 3 or not all(0 <= v <= 255 for v in c) for c in colours):
        raise GanforgeError(f"spade option palette must be 'facades' or at least two colours 'r,g,b;r,g,b;...' (0-255), got '{palette}'")
    return colours  # type: ignore[return-value]


class LabelEncoder(nn.Module):
    """Label map images in [-1, 1] (as the paired task gives them) to one-hot
    classes: the nearest palette colour, or (palette None) the grey level as
    the class index."""

    def __init__(self, palette: tuple[tuple[int, int, int], ...] | None, classes: int) -> None:
        super().__init__()
        self.classes = classes
        colours = torch.tensor(palette if palette is not None else [], dtype=torch.float32).view(-1, 3, 1, 1)
        self.register_buffer("palette", colours, persistent=False)

    def levels(self, maps: torch.Tensor) -> torch.Tensor:
        return (maps.float() + 1.0) * 127.5

    def class_indices(self, maps: torch.Tensor) -> torch.Tensor:
        """N x H x W class of each pixel."""
        levels = self.levels(maps)
        if len(self.palette) == 0:
            return levels[:, 0].round().clamp(0, self.classes - 1).long()
        distances = (levels[:, None, :3] - self.palette[None]).abs().sum(dim=2)  # N x K x H x W
        return distances.argmin(dim=1)

    def off_palette(self, maps: torch.Tensor, threshold: float = 90.0) -> float:
        """The share of pixels farther than `threshold` (summed absolute RGB) from every palette colour."""
        if len(self.palette) == 0:
            return 0.0
        distances = (self.levels(maps)[:, None, :3] - self.palette[None]).abs().sum(dim=2)
        return float((distances.min(dim=1).values > threshold).float().mean())

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return F.one_hot(self.class_indices(maps), self.classes).permute(0, 3, 1, 2).to(maps.dtype)


class SPADE(nn.Module):
    """Instance norm without a learned affine, then (1 + gamma) x + beta with gamma and beta read off the label map."""

    def __init__(self, channels: int, classes: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(classes, hidden, 3, padding=1), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, segmap: torch.Tensor) -> torch.Tensor:
        features = self.shared(F.interpolate(segmap, size=x.shape[2:], mode="nearest"))
        return self.norm(x) * (1 + self.gamma(features)) + self.beta(features)


class SPADEResBlock(nn.Module):
    def __init__(self, fin: int, fout: int, classes: int, hidden: int) -> None:
        super().__init__()
        middle = min(fin, fout)
        self.conv_0 = spectral_norm(nn.Conv2d(fin, middle, 3, padding=1))
        self.conv_1 = spectral_norm(nn.Conv2d(middle, fout, 3, padding=1))
        self.norm_0, self.norm_1 = SPADE(fin, classes, hidden), SPADE(middle, classes, hidden)
        self.learned_shortcut = fin != fout
        if self.learned_shortcut:
            self.conv_s = spectral_norm(nn.Conv2d(fin, fout, 1, bias=False))
            self.norm_s = SPADE(fin, classes, hidden)

    def forward(self, x: torch.Tensor, segmap: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, segmap)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, segmap), SLOPE))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, segmap), SLOPE))
        return shortcut + dx


class SPADEGenerator(nn.Module):
    """Label map (colour image in [-1, 1]) to image."""

    def __init__(self, encoder: LabelEncoder, out_channels: int, ngf: int, hidden: int) -> None:
        super().__init__()
        classes = encoder.classes
        self.encoder = encoder
        self.fc = nn.Conv2d(classes, 16 * ngf, 3, padding=1)
        self.head = SPADEResBlock(16 * ngf, 16 * ngf, classes, hidden)
        self.middle = nn.ModuleList([SPADEResBlock(16 * ngf, 16 * ngf, classes, hidden) for _ in range(2)])
        widths = [16 * ngf, 8 * ngf, 4 * ngf, 2 * ngf, ngf]
        self.ups = nn.ModuleList([SPADEResBlock(fin, fout, classes, hidden) for fin, fout in zip(widths, widths[1:])])
        self.to_image = nn.Conv2d(ngf, out_channels, 3, padding=1)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        segmap = self.encoder(maps)
        height, width = segmap.shape[2:]
        x = self.fc(F.interpolate(segmap, size=(height >> UPSAMPLINGS, width >> UPSAMPLINGS), mode="nearest"))
        x = F.interpolate(self.head(x, segmap), scale_factor=2.0, mode="nearest")
        for block in self.middle:
            x = block(x, segmap)
        for block in self.ups:
            x = block(F.interpolate(x, scale_factor=2.0, mode="nearest"), segmap)
        return torch.tanh(self.to_image(F.leaky_relu(x, SLOPE)))


class FeaturePatchGAN(nn.Module):
    """A PatchGAN that returns the output of every layer (the last is the patch logits)."""

    def __init__(self, in_channels: int, ndf: int, layers: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.Sequential(nn.Conv2d(in_channels, ndf, 4, 2, 2), nn.LeakyReLU(SLOPE))]
        width = ndf
        for i in range(1, layers):
            wider = min(2 * width, 8 * ndf)
            stride = 2 if i < layers - 1 else 1
            blocks.append(nn.Sequential(spectral_norm(nn.Conv2d(width, wider, 4, stride, 2, bias=False)), nn.InstanceNorm2d(wider), nn.LeakyReLU(SLOPE)))
            width = wider
        blocks.append(nn.Conv2d(width, 1, 4, 1, 2))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features


class MultiscaleDiscriminator(nn.Module):
    """PatchGANs on cat(one-hot map, image) at full size and at each halving."""

    def __init__(self, encoder: LabelEncoder, channels: int, ndf: int, layers: int, scales: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.nets = nn.ModuleList([FeaturePatchGAN(encoder.classes + channels, ndf, layers) for _ in range(scales)])

    def forward(self, maps: torch.Tensor, images: torch.Tensor) -> list[list[torch.Tensor]]:
        x = torch.cat([self.encoder(maps), images], dim=1)
        outputs = []
        for i, net in enumerate(self.nets):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outputs.append(net(x))
        return outputs


class SemanticImageSynthesizer(ImageTranslator):
    """SPADE's generator and multi-scale discriminator, as a paired translator of label maps to images."""

    def discriminate_features(self, maps: torch.Tensor, images: torch.Tensor) -> list[list[torch.Tensor]]:
        """Every scale's layer outputs (the last of each: its patch logits)."""
        return self.discriminator(maps, images)  # type: ignore[no-any-return]

    def data_notes(self, data: Any) -> list[str]:
        """How well the data's label maps fit the palette (off-palette pixels take the nearest class)."""
        encoder: LabelEncoder = self.generator.encoder
        if len(encoder.palette) == 0:
            return []
        maps = data.a[: min(len(data), 64)].float() / 127.5 - 1.0
        off = encoder.off_palette(maps)
        return [f"label maps: {100 * off:.1f}% of the pixels of the first {len(maps)} are off the {encoder.classes}-colour palette (JPEG edges or other colours), each given its nearest class"] if off else []


#: The paper's recipe: Adam with TTUR (G 1e-4, D 4e-4, betas 0 and 0.9),
#: hinge loss, the learning rate falling linearly over the second half.
#: Batch 1, as pix2pix's, on a CPU.
SPADE_DEFAULTS = {
    "objective": "spade",
    "loss": None,  # the objective plays the hinge loss itself
    "lr_g": 1e-4,
    "lr_d": 4e-4,
    "beta1": 0.0,
    "beta2": 0.9,
    "batch_size": 1,
    "lr_decay": "linear",
    "lr_decay_start": 0.5,
}


@register_model("spade", "SPADE / GauGAN (Park 2019): label map to photo through spatially-adaptive normalisation, multi-scale PatchGAN; --data paired", task="paired")
def spade(
    *, image_shape: tuple[int, int, int], input_channels: int = 3, preset: str = "small", palette: str = "facades", classes: int = 0,
    d_layers: int = 4, d_scales: int = 2,
) -> SemanticImageSynthesizer:
    """`image_shape` is the photo's (C, H, W); the inputs are label map
    images. `classes` > 0: label maps hold class indices as grey levels
    (palette unused)."""
    channels, height, width = image_shape
    if preset not in PRESETS:
        raise GanforgeError(f"spade option preset must be one of {', '.join(PRESETS)}, got '{preset}'")
    if height % SIDE_MULTIPLE or width % SIDE_MULTIPLE or min(height, width) < MIN_SIZE:
        raise GanforgeError(f"spade needs image sides that are multiples of {SIDE_MULTIPLE} from {MIN_SIZE} px (five 2x upsamplings); got {height}x{width} (give --image-size 128 or 256)")
    if classes < 0 or classes == 1:
        raise GanforgeError(f"spade option classes must be 0 (colours read by palette) or at least 2, got {classes}")
    colours = None if classes else parse_palette(palette)
    num_classes = classes or len(colours)  # type: ignore[arg-type]
    if d_layers < 2 or d_scales < 1 or min(height, width) >> (d_scales - 1) < 2**d_layers:
        raise GanforgeError(f"spade options d_layers (from 2) and d_scales (from 1) are too large for {height}x{width} images: got {d_layers} and {d_scales}")
    sizes = PRESETS[preset]
    generator = SPADEGenerator(LabelEncoder(colours, num_classes), channels, sizes["ngf"], sizes["hidden"])
    discriminator = MultiscaleDiscriminator(LabelEncoder(colours, num_classes), channels, sizes["ndf"], d_layers, d_scales)
    generator.apply(init_spade_weights)
    discriminator.apply(init_spade_weights)
    return SemanticImageSynthesizer(generator, discriminator, image_shape=image_shape, input_channels=input_channels, training_defaults=SPADE_DEFAULTS)


def init_spade_weights(module: nn.Module) -> None:
    """SPADE's Xavier init (gain 0.02) for convolutions; DCGAN's elsewhere."""
    if isinstance(module, nn.Conv2d):
        weight = getattr(module, "weight_orig", module.weight)  # spectral norm keeps the raw weight apart
        nn.init.xavier_normal_(weight, gain=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    else:
        init_dcgan_weights(module)
