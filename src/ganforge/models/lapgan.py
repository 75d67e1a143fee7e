"""LAPGAN (Denton et al. 2015): a Laplacian pyramid of GANs, unconditional.

An image is split into a Laplacian pyramid: the coarsest low-pass image plus
one band-pass residual per finer scale. Each pyramid level has its own GAN:

- level 0 (coarsest) is an ordinary MLP GAN that makes the coarsest low-pass
  image from a latent code z (the paper's coarse 8x8 CIFAR model: G
  z -> 1200 -> 1200 -> pixels, tanh; D pixels -> 600 -> 600 -> 1 with dropout);
- every finer level k is a conditional convolutional GAN: G_k reads the
  upsampled coarser image and one noise plane and makes the band-pass residual
  h_k; D_k reads (h_k, upsampled coarser image) and says whether h_k is real.

Sampling runs coarse to fine: l = G_0(z_0), then l = up(l) + G_k(noise_k, up(l))
per finer level. Training follows the paper: the levels are trained
independently on real data, every finer G_k conditioned on the *real* image's
coarser low-pass (ganforge.objectives.laplacian). D returns all levels'
logits concatenated, so a loss's mean trains every level at once; the levels
share no parameters, so the sum equals training each level on its own.

Filters: ``downsample`` is a 2x2 average pool and ``upsample`` is 2x nearest
neighbour. Average pooling is the box low-pass filter decimated by 2 and
nearest upsampling is its adjoint (up to a factor), so
``downsample(upsample(x)) == x`` exactly and every band-pass image has zero
low-pass content: ``downsample(h_k) == 0``. The paper blurs more smoothly;
the box filter buys an exact, dependency-free pyramid at the price of blocky
conditioning images, which the per-level generators learn to correct.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.models.base import GAN, init_dcgan_weights
from ganforge.models.registry import register_model
from ganforge.models.vanilla import MLPDiscriminator, MLPGenerator

#: The smallest side, in pixels, of the coarsest pyramid level.
MIN_COARSE_SIZE = 4
#: Band-pass residuals of images in [-1, 1] lie in [-2, 2]: G_k ends in 2 * tanh.
RESIDUAL_SCALE = 2.0
#: Dropout of the coarse MLP discriminator (Denton et al. use dropout in D).
COARSE_DROPOUT = 0.5
#: The coarse level's networks: "paper" (Denton et al.'s 1200/600 MLPs) or
#: "mlp" (vanilla's MLP pair: G 128-256-512-1024 with batch norm, D 512-256).
COARSE_NETS = ("paper", "mlp")
MLP_G_HIDDEN = (128, 256, 512, 1024)
MLP_D_HIDDEN = (512, 256)


# -- the Laplacian pyramid ----------------------------------------------------


def downsample(x: torch.Tensor) -> torch.Tensor:
    """Halve the resolution of N x C x H x W images: a 2x2 average pool (box
    low-pass filter, then decimation by 2). H and W must be even."""
    return F.avg_pool2d(x, 2)


def upsample(x: torch.Tensor) -> torch.Tensor:
    """Double the resolution of N x C x H x W images by nearest-neighbour
    repetition, so that ``downsample(upsample(x)) == x`` exactly."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


def low_passes(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """The Gaussian (low-pass) pyramid ``[x, down(x), down(down(x)), ...]``,
    `levels` images from fine to coarse."""
    if levels < 1:
        raise ValueError(f"a pyramid needs at least one level, got {levels}")
    images = [x]
    for _ in range(levels - 1):
        images.append(downsample(images[-1]))
    return images


def laplacian_pyramid(
    x: torch.Tensor, levels: int
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Split `x` into ``(residuals, low)``: `levels - 1` band-pass residuals
    ``h_k = l_k - upsample(l_{k+1})`` from fine to coarse, and the coarsest
    low-pass image ``l_{levels-1}`` (``l_0 = x``, ``l_{k+1} = downsample(l_k)``)."""
    lows = low_passes(x, levels)
    residuals = [fine - upsample(coarse) for fine, coarse in itertools.pairwise(lows)]
    return residuals, lows[-1]


def reconstruct(residuals: list[torch.Tensor], low: torch.Tensor) -> torch.Tensor:
    """Invert :func:`laplacian_pyramid`: ``l_k = upsample(l_{k+1}) + h_k`` from
    the coarsest level up (`residuals` fine to coarse, as it returns them)."""
    image = low
    for residual in reversed(residuals):
        image = upsample(image) + residual
    return image


@dataclass
class Pyramid:
    """What LAPGAN's discriminator reads: one entry per level, coarse to fine.

    `low` is the coarsest low-pass image (level 0). For each finer level k
    (1 .. levels-1), ``bands[k-1]`` is its band-pass residual and
    ``conditions[k-1]`` the upsampled coarser low-pass image that G_k and D_k
    are conditioned on; both have that level's resolution.
    """

    low: torch.Tensor
    bands: list[torch.Tensor]
    conditions: list[torch.Tensor]

    @classmethod
    def of_images(cls, images: torch.Tensor, levels: int) -> Pyramid:
        """The real pyramid of N x C x H x W images."""
        coarse_to_fine = low_passes(images, levels)[::-1]
        conditions = [upsample(low) for low in coarse_to_fine[:-1]]
        bands = [fine - cond for fine, cond in zip(coarse_to_fine[1:], conditions)]
        return cls(coarse_to_fine[0], bands, conditions)

    @property
    def levels(self) -> int:
        return 1 + len(self.bands)

    def __len__(self) -> int:
        """The batch size."""
        return self.low.shape[0]

    def images(self) -> torch.Tensor:
        """The finest image: the coarsest low-pass plus every band, upsampled."""
        return reconstruct(self.bands[::-1], self.low)


# -- the networks -------------------------------------------------------------


def level_sizes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    """(H, W) of each pyramid level, coarse to fine."""
    return [(height >> k, width >> k) for k in reversed(range(levels))]


def check_size(height: int, width: int, levels: int) -> None:
    if levels < 1:
        raise GanforgeError(f"lapgan needs levels >= 1, got levels={levels}")
    step = 2 ** (levels - 1)
    coarse = (height // step, width // step)
    if height % step or width % step or min(coarse) < MIN_COARSE_SIZE:
        raise GanforgeError(
            f"lapgan with levels={levels} halves the image {levels - 1} time(s): it needs a height and width "
            f"divisible by {step} whose coarsest level is at least {MIN_COARSE_SIZE}x{MIN_COARSE_SIZE} px "
            f"(at least {MIN_COARSE_SIZE * step} px); got {height}x{width}. "
            f"Resize with --image-size or choose fewer levels (--model-option levels=N)"
        )


class CoarseGenerator(nn.Sequential):
    """Level 0 G: z -> hidden -> hidden -> C x h x w, ReLU between, tanh out;
    with `norm` "batch", batch norm on the second hidden layer (without it the
    MLP G covered 7 of 10 MNIST digits, as vanilla's did; docs/benchmarks/defaults.md)."""

    def __init__(self, z_dim: int, shape: tuple[int, int, int], hidden: int, norm: str = "none") -> None:
        super().__init__(
            nn.Linear(z_dim, hidden),
            nn.ReLU(True),
            nn.Linear(hidden, hidden),
            *([nn.BatchNorm1d(hidden)] if norm == "batch" else []),
            nn.ReLU(True),
            nn.Linear(hidden, math.prod(shape)),
            nn.Tanh(),
            nn.Unflatten(1, shape),
        )


class CoarseDiscriminator(nn.Sequential):
    """Level 0 D: pixels -> hidden -> hidden -> 1 logit, LeakyReLU(0.2) and dropout."""

    def __init__(self, shape: tuple[int, int, int], hidden: int) -> None:
        super().__init__(
            nn.Flatten(),
            nn.Linear(math.prod(shape), hidden),
            nn.LeakyReLU(0.2, True),
            nn.Dropout(COARSE_DROPOUT),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2, True),
            nn.Dropout(COARSE_DROPOUT),
            nn.Linear(hidden, 1),
        )


class BandGenerator(nn.Module):
    """Finer-level G_k: (noise plane, upsampled coarser image) -> band-pass.

    Three 3x3 convolutions at the level's resolution (C+1 -> ch -> ch -> C),
    batch norm and ReLU between, ending in ``2 * tanh`` (residuals lie in [-2, 2]).
    """

    def __init__(self, channels: int, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels + 1, ch, 3, 1, 1, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(True),
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(True),
            nn.Conv2d(ch, channels, 3, 1, 1),
            nn.Tanh(),
        )

    def forward(self, noise: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return RESIDUAL_SCALE * self.body(torch.cat([condition, noise], dim=1))


class BandDiscriminator(nn.Module):
    """Finer-level D_k: (band-pass, upsampled coarser image) -> one logit.

    Two stride-2 4x4 convolutions (2C -> ch -> 2ch, LeakyReLU(0.2), batch norm
    on the second), then a linear layer.
    """

    def __init__(self, channels: int, size: tuple[int, int], ch: int) -> None:
        super().__init__()
        height, width = (s // 4 for s in size)  # each 4x4/2/1 conv floors n to n // 2
        self.body = nn.Sequential(
            nn.Conv2d(2 * channels, ch, 4, 2, 1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ch, 2 * ch, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * ch),
            nn.LeakyReLU(0.2, True),
            nn.Flatten(),
            nn.Linear(2 * ch * height * width, 1),
        )

    def forward(self, band: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([band, condition], dim=1))


class LaplacianGenerator(nn.Module):
    """All levels' generators, coarse to fine, in one module (so EMA copies all).

    A latent code is laid out coarse to fine: ``z_dim`` entries for the coarse
    MLP, then one H_k*W_k noise plane per finer level k.
    """

    def __init__(
        self,
        z_dim: int,
        image_shape: tuple[int, int, int],
        levels: int,
        hidden: int,
        ch: int,
        coarse_norm: str = "none",
        coarse_net: str = "paper",
    ) -> None:
        super().__init__()
        channels, height, width = image_shape
        self.z_dim = z_dim
        self.sizes = level_sizes(height, width, levels)
        shape = (channels, *self.sizes[0])
        coarse = MLPGenerator(z_dim, shape, list(MLP_G_HIDDEN), "batch") if coarse_net == "mlp" else CoarseGenerator(z_dim, shape, hidden, coarse_norm)
        self.levels = nn.ModuleList([coarse])
        self.levels.extend(BandGenerator(channels, ch) for _ in self.sizes[1:])

    @property
    def noise_dim(self) -> int:
        return self.z_dim + sum(h * w for h, w in self.sizes[1:])

    def split_noise(self, z: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(coarse code N x z_dim, [noise plane N x 1 x H_k x W_k per finer level])."""
        if z.ndim != 2 or z.shape[1] != self.noise_dim:
            raise ValueError(
                f"lapgan latent codes are N x {self.noise_dim}, got {tuple(z.shape)}"
            )
        parts = torch.split(z, [self.z_dim, *(h * w for h, w in self.sizes[1:])], dim=1)
        planes = [
            part.reshape(-1, 1, h, w) for part, (h, w) in zip(parts[1:], self.sizes[1:])
        ]
        return parts[0], planes

    def band(
        self, level: int, noise: torch.Tensor, condition: torch.Tensor
    ) -> torch.Tensor:
        """G_level's band-pass for a noise plane and an upsampled coarser image."""
        return self.levels[level](noise, condition)

    def images_per_level(self, z: torch.Tensor) -> list[torch.Tensor]:
        """The image after each level, coarse to fine, each clamped to [-1, 1]
        (the range of the real low-pass images the finer levels were trained on)."""
        code, planes = self.split_noise(z)
        images = [self.levels[0](code)]
        for level, noise in enumerate(planes, start=1):
            condition = upsample(images[-1])
            images.append(
                (condition + self.band(level, noise, condition)).clamp(-1.0, 1.0)
            )
        return images

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.images_per_level(z)[-1]


class LaplacianDiscriminator(nn.Module):
    """All levels' discriminators, coarse to fine, in one module."""

    def __init__(
        self, image_shape: tuple[int, int, int], levels: int, hidden: int, ch: int, coarse_net: str = "paper"
    ) -> None:
        super().__init__()
        channels, height, width = image_shape
        sizes = level_sizes(height, width, levels)
        shape = (channels, *sizes[0])
        coarse = MLPDiscriminator(shape, list(MLP_D_HIDDEN)) if coarse_net == "mlp" else CoarseDiscriminator(shape, hidden)
        self.levels = nn.ModuleList([coarse])
        self.levels.extend(BandDiscriminator(channels, size, ch) for size in sizes[1:])

    def level_logits(self, pyramid: Pyramid) -> list[torch.Tensor]:
        """One flat N-vector of logits per level, coarse to fine."""
        if pyramid.levels != len(self.levels):
            raise ValueError(
                f"expected a {len(self.levels)}-level pyramid, got {pyramid.levels} levels"
            )
        logits = [self.levels[0](pyramid.low)]
        for level, (band, condition) in enumerate(
            zip(pyramid.bands, pyramid.conditions), start=1
        ):
            logits.append(self.levels[level](band, condition))
        return [logit.reshape(-1) for logit in logits]

    def forward(self, pyramid: Pyramid) -> torch.Tensor:
        return torch.cat(self.level_logits(pyramid))


# -- the model ------------------------------------------------------------------


class LAPGAN(GAN):
    """A Laplacian pyramid of GANs (see the module docstring).

    ``generator`` holds every level's G and ``discriminator`` every level's D
    (coarse to fine, in their ``levels`` ModuleLists), so one optimizer each
    and the base class's EMA cover all levels.
    """

    # D reads pyramids: image-space regularisers (gradient penalty, R1, DiffAugment) do not apply.
    image_discriminator = False
    data_parallel_safe = False  # its training calls G's levels directly

    generator: LaplacianGenerator
    discriminator: LaplacianDiscriminator

    def __init__(
        self,
        *,
        image_shape: tuple[int, int, int],
        z_dim: int,
        levels: int,
        coarse_g_hidden: int,
        coarse_d_hidden: int,
        ch: int,
        coarse_g_norm: str = "none",
        coarse_net: str = "paper",
        training_defaults: dict[str, Any] | None = None,
    ) -> None:
        _, height, width = image_shape
        check_size(height, width, levels)
        for name, value in (
            ("coarse_g_hidden", coarse_g_hidden),
            ("coarse_d_hidden", coarse_d_hidden),
            ("ch", ch),
        ):
            if value < 1:
                raise GanforgeError(
                    f"lapgan option {name} must be positive, got {value}"
                )
        if coarse_g_norm not in ("none", "batch"):
            raise GanforgeError(f"lapgan: coarse_g_norm must be 'none' or 'batch', not {coarse_g_norm!r}")
        if coarse_net not in COARSE_NETS:
            raise GanforgeError(f"lapgan: coarse_net must be one of {', '.join(COARSE_NETS)}, not {coarse_net!r}")
        super().__init__(
            LaplacianGenerator(z_dim, image_shape, levels, coarse_g_hidden, ch, coarse_g_norm, coarse_net),
            LaplacianDiscriminator(image_shape, levels, coarse_d_hidden, ch, coarse_net),
            z_dim=z_dim,
            image_shape=image_shape,
            training_defaults={
                "objective": "laplacian",  # ganforge.objectives.laplacian: the fakes are pyramids
                "loss": "non-saturating",
                **(training_defaults or RECIPES["paper"]["training"]),
            },
        )
        self.num_levels = levels
        self.generator.apply(init_dcgan_weights)
        self.discriminator.apply(init_dcgan_weights)

    @property
    def noise_dim(self) -> int:
        """z_dim for the coarse level plus one H_k*W_k noise plane per finer level."""
        return self.generator.noise_dim

    @property
    def level_sizes(self) -> list[tuple[int, int]]:
        """(H, W) of each level, coarse to fine."""
        return list(self.generator.sizes)

    def _generator(self, ema: bool) -> LaplacianGenerator:
        if ema and self.generator_ema is not None:
            return self.generator_ema  # type: ignore[return-value]
        return self.generator

    # -- sampling ---------------------------------------------------------------

    def generate(
        self, z: torch.Tensor, labels: torch.Tensor | None = None, *, ema: bool = False
    ) -> torch.Tensor:
        """Sample coarse to fine; the finest image, in [-1, 1]."""
        return self.generate_levels(z, ema=ema)[-1]

    def generate_levels(
        self, z: torch.Tensor, *, ema: bool = False
    ) -> list[torch.Tensor]:
        """The image after each level, coarse to fine (level k is
        H/2^(levels-1-k) px high), each in [-1, 1]."""
        return self._generator(ema).images_per_level(z)

    # -- training ---------------------------------------------------------------

    def pyramid(self, images: torch.Tensor) -> Pyramid:
        """The real pyramid D compares against."""
        if tuple(images.shape[1:]) != self.image_shape:
            shape = "x".join(map(str, self.image_shape))
            raise ValueError(
                f"lapgan expects N x {shape} images, got {tuple(images.shape)}"
            )
        return Pyramid.of_images(images, self.num_levels)

    def _as_pyramid(self, x: torch.Tensor | Pyramid) -> Pyramid:
        return x if isinstance(x, Pyramid) else self.pyramid(x)

    def level_logits(self, x: torch.Tensor | Pyramid) -> list[torch.Tensor]:
        """D's logits per level (N each), coarse to fine, for images or a pyramid."""
        return self.discriminator.level_logits(self._as_pyramid(x))

    def discriminate_with_classes(
        self, images: torch.Tensor | Pyramid, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, None]:
        return torch.cat(self.level_logits(images)), None

    def discriminate(
        self, images: torch.Tensor | Pyramid, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """All levels' logits, coarse to fine, in one flat tensor of levels*N
        entries (a real image batch is decomposed into its pyramid first)."""
        return self.discriminate_with_classes(images, labels)[0]


#: What both recipes share: the paper does not pin its optimiser, so the
#: DCGAN settings (Adam, lr 2e-4, beta1 0.5) with the non-saturating loss.
PAPER_TRAINING: dict[str, Any] = {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "ema": 0.0}
PAPER_LAYOUT: dict[str, Any] = {"levels": 3, "ch": 64}
RECIPES: dict[str, dict[str, Any]] = {
    # The default: batch norm in the coarse MLP G and an EMA of G; at 28x28 a
    # CPU layout, two levels (vanilla's MLP pair at 14x14 and one 28x28 band
    # of 16 channels) at Adam 1e-3, batch 32, measured in
    # docs/benchmarks/defaults.md: FID 15.8 in 5 CPU minutes, where the
    # paper's three levels of 64 channels made 4 steps/s and FID 117.
    "ganforge": {
        "coarse_g_norm": "batch",
        "layout": PAPER_LAYOUT,
        "training": {**PAPER_TRAINING, "ema": 0.999},
        "layout_28": {"levels": 2, "ch": 16, "coarse_net": "mlp"},
        "training_28": {"lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.5, "beta2": 0.999, "ema": 0.999, "batch_size": 32},
    },
    # Denton et al.'s networks as ganforge had them before: no batch norm in
    # the coarse G, no EMA, three levels of 64 channels.
    "paper": {"coarse_g_norm": "none", "layout": PAPER_LAYOUT, "training": PAPER_TRAINING},
}


@register_model(
    "lapgan",
    "Laplacian pyramid of GANs (Denton 2015): MLP GAN at the coarsest scale, conditional conv GANs per finer band",
    older_defaults={"recipe": "paper"},
)
def lapgan(
    *,
    image_shape: tuple[int, int, int],
    z_dim: int = 100,
    levels: int | None = None,
    recipe: str = "ganforge",
    coarse_g_hidden: int = 1200,
    coarse_d_hidden: int = 600,
    ch: int | None = None,
    coarse_g_norm: str | None = None,
    coarse_net: str | None = None,
) -> GAN:
    """`levels` pyramid levels (the image halves levels-1 times; 28 -> 14 -> 7);
    `coarse_net` "paper" (the paper's 1200/600 MLPs, `coarse_g_hidden`,
    `coarse_d_hidden`, `coarse_g_norm`) or "mlp" (vanilla's MLP pair); `ch`
    channels in the finer levels' convolutions. `recipe` "ganforge" (default:
    batch norm in the coarse G, EMA; at 28x28 two levels, vanilla's MLP pair
    and 16 channels, Adam 1e-3, batch 32) or "paper" (three levels of 64
    channels, the paper's MLPs without batch norm, no EMA, Adam 2e-4)."""
    if recipe not in RECIPES:
        raise GanforgeError(f"lapgan: recipe must be one of {', '.join(RECIPES)}, not {recipe!r}")
    chosen = RECIPES[recipe]
    at_28 = image_shape[1:] == (28, 28) and "layout_28" in chosen
    layout = chosen["layout_28"] if at_28 else chosen["layout"]
    return LAPGAN(
        image_shape=image_shape,
        z_dim=z_dim,
        levels=levels if levels is not None else layout["levels"],
        coarse_g_hidden=coarse_g_hidden,
        coarse_d_hidden=coarse_d_hidden,
        ch=ch if ch is not None else layout["ch"],
        coarse_g_norm=coarse_g_norm or chosen["coarse_g_norm"],
        coarse_net=coarse_net or layout.get("coarse_net", "paper"),
        training_defaults=dict(chosen["training_28" if at_28 else "training"]),
    )
