"""ResNet GANs with a spectrally normalised discriminator.

Three models share one generator and one discriminator trunk:

- ``sngan`` (Miyato et al. 2018): unconditional; D is a ResNet with spectral
  norm on every layer, trained with the hinge loss, 5 D steps per G step.
- ``cgan-pd`` (Miyato & Koyama 2018): class-conditional; G uses conditional
  batch norm, D adds a *projection* term ``<embed(y), h>`` to its logit.
- ``acgan`` (Odena et al. 2017): class-conditional G; D does not see the
  label but predicts it with an auxiliary classifier head.

Layouts, chosen from the image size (G widths ``g_ch``, D widths ``d_ch``,
constant through the network as in the SNGAN CIFAR model):

- 28x28 (MNIST): G z -> 7x7, two up blocks to 28x28; D an optimised block
  28->14, a down block 14->7 and two blocks that keep 7x7.
- 32x32 (CIFAR-10): G z -> 4x4, three up blocks; D 32->16->8, two 8x8 blocks.
- 64x64: G z -> 4x4, four up blocks; D 64->32->16->8->4 and one 4x4 block,
  so D ends on the same 4x4 grid as G starts from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganforge.errors import GanforgeError
from ganforge.models.base import GAN
from ganforge.models.registry import register_model

__all__ = [
    "LAYOUTS",
    "ACGAN_TRAINING_DEFAULTS",
    "SNGAN_TRAINING_DEFAULTS",
    "AuxiliaryClassifierDiscriminator",
    "ConditionalBatchNorm2d",
    "DiscriminatorBlock",
    "GeneratorBlock",
    "Layout",
    "OptimizedDiscriminatorBlock",
    "ProjectionDiscriminator",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "acgan",
    "cgan_pd",
    "sngan",
]

#: Miyato et al. 2018, CIFAR-10 ResNet: hinge loss, Adam(2e-4, 0.0, 0.9),
#: 5 discriminator updates per generator update. The projection and AC-GAN
#: models reuse them so the three are compared under one training recipe.
SNGAN_TRAINING_DEFAULTS: dict[str, Any] = {
    "loss": "hinge",
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "beta1": 0.0,
    "beta2": 0.9,
    "d_steps": 5,
}

#: AC-GAN's recipe: one D step per G step, as Odena et al. trained it, with
#: the two time-scale learning rates that make a single SN-hinge D step work
#: (Zhang et al., SAGAN: D 4e-4, G 1e-4). Measured on MNIST (H100, paper
#: widths, docs/benchmarks/families.md): 98.8% requested class and FID 0.58 in 180 s, where
#: SNGAN's 5-step recipe reached 27% in 100 s.
ACGAN_TRAINING_DEFAULTS: dict[str, Any] = {**SNGAN_TRAINING_DEFAULTS, "d_steps": 1, "lr_d": 4e-4, "lr_g": 1e-4}

#: At 28x28 (MNIST-sized data) the three ResNet models default to a layout and
#: recipe that learns on a CPU: 16 channels in G and D, batch 32, one D step
#: per G step at Adam 1e-3 for both, and an EMA of G. The paper widths (G 256,
#: D 128) make about 0.1 steps/s on 2 CPU cores. Screened on MNIST (2 CPU
#: cores, 150 s, cgan-pd): FID 3.27 and 89.5% of the asked class, where 32
#: channels at the two time-scale rates (D 4e-4, G 1e-4) gave FID 42 and
#: 12.9% (docs/benchmarks/defaults.md). `-O g_ch=256 -O d_ch=128` and the
#: recipe's flags give the paper's setting back at 28x28 too.
CH_28 = 16
TRAINING_DEFAULTS_28: dict[str, Any] = {
    "loss": "hinge", "lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.0, "beta2": 0.9, "d_steps": 1, "batch_size": 32, "ema": 0.999,
}
PAPER_WIDTHS = {"g_ch": 256, "d_ch": 128}


def widths_and_recipe(
    image_shape: tuple[int, int, int], g_ch: int | None, d_ch: int | None, paper_recipe: dict[str, Any]
) -> tuple[int, int, dict[str, Any]]:
    """(g_ch, d_ch, training defaults): the CPU layout at 28x28, the paper's otherwise."""
    if image_shape[1] == 28:
        return g_ch or CH_28, d_ch or CH_28, TRAINING_DEFAULTS_28
    return g_ch or PAPER_WIDTHS["g_ch"], d_ch or PAPER_WIDTHS["d_ch"], paper_recipe

# Residual convolutions get Glorot-uniform with gain sqrt(2) (they feed ReLUs),
# shortcuts and the layers at either end gain 1, as in the SNGAN reference code.
RESIDUAL_GAIN = math.sqrt(2.0)

ModuleT = TypeVar("ModuleT", bound=nn.Module)


@dataclass(frozen=True)
class Layout:
    """How many blocks G and D have for one image size."""

    bottom: int  # G's first feature map is bottom x bottom
    up_blocks: int  # G blocks, each doubling the resolution
    down_blocks: int  # D blocks after the optimised first block that halve it
    flat_blocks: int  # D blocks that keep the resolution


LAYOUTS: dict[int, Layout] = {
    28: Layout(bottom=7, up_blocks=2, down_blocks=1, flat_blocks=2),
    32: Layout(bottom=4, up_blocks=3, down_blocks=1, flat_blocks=2),
    64: Layout(bottom=4, up_blocks=4, down_blocks=3, flat_blocks=1),
}


# -- layers ------------------------------------------------------------------


def _conv(cin: int, cout: int, kernel: int, gain: float = 1.0) -> nn.Conv2d:
    """A 'same'-padded convolution with Glorot-uniform weights and zero bias."""
    conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2)
    nn.init.xavier_uniform_(conv.weight, gain)
    nn.init.zeros_(conv.bias)
    return conv


def _linear(fin: int, fout: int) -> nn.Linear:
    linear = nn.Linear(fin, fout)
    nn.init.xavier_uniform_(linear.weight)
    nn.init.zeros_(linear.bias)
    return linear


def _sn(module: ModuleT) -> ModuleT:
    """Spectral norm: divide the weight by a power-iteration estimate of its
    largest singular value, so each D layer is (about) 1-Lipschitz.
    Initialise the weight first; the parametrization wraps what is there."""
    return spectral_norm(module)


def _upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


def _downsample(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2)


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose scale and shift are looked up per class (de Vries et
    al. 2017; the SNGAN projection G): normalise without affine parameters,
    then ``gain[y] * x + bias[y]``. Gains start at 1 and biases at 0, so the
    untrained layer is plain batch norm for every class."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        gain = self.gain(labels)[:, :, None, None]
        bias = self.bias(labels)[:, :, None, None]
        return gain * self.norm(x) + bias


def _batch_norm(channels: int, num_classes: int) -> nn.Module:
    """Conditional batch norm for a conditional model, plain otherwise."""
    if num_classes > 0:
        return ConditionalBatchNorm2d(channels, num_classes)
    return nn.BatchNorm2d(channels)


def _normalise(
    norm: nn.Module, x: torch.Tensor, labels: torch.Tensor | None
) -> torch.Tensor:
    if isinstance(norm, ConditionalBatchNorm2d):
        assert labels is not None  # ResNetGenerator.forward checks this
        return norm(x, labels)
    return norm(x)


# -- blocks --------------------------------------------------------------------


class GeneratorBlock(nn.Module):
    """Pre-activation residual block that doubles the resolution:
    BN -> ReLU -> 2x nearest upsample -> conv3x3 -> BN -> ReLU -> conv3x3,
    plus a shortcut upsample -> conv1x1."""

    def __init__(self, cin: int, cout: int, num_classes: int = 0) -> None:
        super().__init__()
        self.norm1 = _batch_norm(cin, num_classes)
        self.conv1 = _conv(cin, cout, 3, RESIDUAL_GAIN)
        self.norm2 = _batch_norm(cout, num_classes)
        self.conv2 = _conv(cout, cout, 3, RESIDUAL_GAIN)
        self.shortcut = _conv(cin, cout, 1)

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        h = F.relu(_normalise(self.norm1, x, labels))
        h = self.conv1(_upsample(h))
        h = F.relu(_normalise(self.norm2, h, labels))
        h = self.conv2(h)
        # A 1x1 convolution commutes with nearest upsampling, so applying it
        # first gives the same output as upsample -> conv1x1 at a quarter of
        # the cost.
        return h + _upsample(self.shortcut(x))


class DiscriminatorBlock(nn.Module):
    """ReLU -> conv3x3 -> ReLU -> conv3x3 (-> 2x average pool), all convs
    spectrally normalised. The shortcut is a conv1x1 (-> average pool) when
    the block changes the channels or the resolution, the identity otherwise."""

    def __init__(self, cin: int, cout: int, *, downsample: bool) -> None:
        super().__init__()
        self.downsample = downsample
        self.conv1 = _sn(_conv(cin, cout, 3, RESIDUAL_GAIN))
        self.conv2 = _sn(_conv(cout, cout, 3, RESIDUAL_GAIN))
        learnable = cin != cout or downsample
        self.shortcut = _sn(_conv(cin, cout, 1)) if learnable else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Not in place: x is still needed by the shortcut.
        h = self.conv2(F.relu(self.conv1(F.relu(x))))
        skip = x if self.shortcut is None else self.shortcut(x)
        if self.downsample:
            h, skip = _downsample(h), _downsample(skip)
        return h + skip


class OptimizedDiscriminatorBlock(nn.Module):
    """D's first block: conv3x3 -> ReLU -> conv3x3 -> average pool, shortcut
    average pool -> conv1x1. It has no leading ReLU (the input is an image, not
    a feature map), and pooling before the 1x1 shortcut saves compute."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = _sn(_conv(cin, cout, 3, RESIDUAL_GAIN))
        self.conv2 = _sn(_conv(cout, cout, 3, RESIDUAL_GAIN))
        self.shortcut = _sn(_conv(cin, cout, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = _downsample(self.conv2(F.relu(self.conv1(x))))
        return h + self.shortcut(_downsample(x))


# -- networks ------------------------------------------------------------------


class ResNetGenerator(nn.Module):
    """z -> linear -> bottom x bottom x g_ch -> up blocks -> BN -> ReLU ->
    conv3x3 -> tanh. With ``num_classes > 0`` the blocks' batch norms are
    class-conditional and ``forward`` needs int64 labels of shape (N,); the
    final batch norm stays unconditional, as in the SNGAN projection code."""

    def __init__(
        self, z_dim: int, channels: int, size: int, g_ch: int, num_classes: int = 0
    ) -> None:
        super().__init__()
        layout = LAYOUTS[size]
        self.num_classes = num_classes
        self.bottom = layout.bottom
        self.g_ch = g_ch
        self.linear = _linear(z_dim, layout.bottom * layout.bottom * g_ch)
        self.blocks = nn.ModuleList(
            GeneratorBlock(g_ch, g_ch, num_classes) for _ in range(layout.up_blocks)
        )
        self.norm = nn.BatchNorm2d(g_ch)
        self.to_image = _conv(g_ch, channels, 3)

    def forward(
        self, z: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.num_classes and labels is None:
            raise GanforgeError(
                "this generator is class-conditional: give class labels"
            )
        h = self.linear(z).view(-1, self.g_ch, self.bottom, self.bottom)
        for block in self.blocks:
            h = block(h, labels)
        return torch.tanh(self.to_image(F.relu(self.norm(h))))


class ResNetDiscriminator(nn.Module):
    """The SNGAN discriminator: an optimised block, down blocks, blocks at
    constant resolution, ReLU, global *sum* pooling (the reference code sums,
    so the logit scale grows with the feature map) and an SN linear to one
    logit per image, shape (N,)."""

    def __init__(self, channels: int, size: int, d_ch: int) -> None:
        super().__init__()
        layout = LAYOUTS[size]
        blocks: list[nn.Module] = [OptimizedDiscriminatorBlock(channels, d_ch)]
        blocks += [
            DiscriminatorBlock(d_ch, d_ch, downsample=True)
            for _ in range(layout.down_blocks)
        ]
        blocks += [
            DiscriminatorBlock(d_ch, d_ch, downsample=False)
            for _ in range(layout.flat_blocks)
        ]
        self.blocks = nn.Sequential(*blocks)
        self.linear = _sn(_linear(d_ch, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled feature vector h, shape (N, d_ch)."""
        return F.relu(self.blocks(x)).sum(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.features(x)).squeeze(1)


class ProjectionDiscriminator(ResNetDiscriminator):
    """Miyato & Koyama 2018: logit = linear(h) + <embed(y), h>. The inner
    product with a class embedding is the projection term that conditions D,
    in place of concatenating the label to its input."""

    def __init__(self, channels: int, size: int, d_ch: int, num_classes: int) -> None:
        super().__init__(channels, size, d_ch)
        embed = nn.Embedding(num_classes, d_ch)
        nn.init.xavier_uniform_(embed.weight)
        self.embed = _sn(embed)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        h = self.features(x)
        projection = (self.embed(labels) * h).sum(dim=1)
        return self.linear(h).squeeze(1) + projection


class AuxiliaryClassifierDiscriminator(ResNetDiscriminator):
    """Odena et al. 2017: D is not given the label; besides the real/fake
    logit it predicts the class with an SN linear head on the same features.
    Returns ``(logits (N,), class_logits (N, num_classes))``."""

    def __init__(self, channels: int, size: int, d_ch: int, num_classes: int) -> None:
        super().__init__(channels, size, d_ch)
        self.classifier = _sn(_linear(d_ch, num_classes))

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        del labels  # accepted because GAN passes it; AC-GAN's D never reads it
        h = self.features(x)
        return self.linear(h).squeeze(1), self.classifier(h)


# -- factories -------------------------------------------------------------------


def _check_size(model: str, image_shape: tuple[int, int, int]) -> int:
    _, height, width = image_shape
    if height != width or height not in LAYOUTS:
        sizes = ", ".join(f"{s}x{s}" for s in sorted(LAYOUTS))
        raise GanforgeError(
            f"{model} needs square images of size {sizes}; got {height}x{width} "
            f"(use --image-size 32 or 64 to resize the data)"
        )
    return height


def _check_widths(g_ch: int, d_ch: int) -> None:
    if g_ch < 1 or d_ch < 1:
        raise GanforgeError(f"g_ch and d_ch must be positive, got {g_ch} and {d_ch}")


def _check_classes(model: str, num_classes: int) -> None:
    if num_classes < 2:
        raise GanforgeError(
            f"{model} is class-conditional and needs labelled data with at least "
            f"2 classes, got num_classes={num_classes}"
        )


@register_model(
    "sngan",
    "ResNet GAN with a spectrally normalised D (Miyato 2018); 28, 32 or 64 px; at 28 px a 16-channel CPU layout",
    older_defaults=PAPER_WIDTHS,
)
def sngan(
    *,
    image_shape: tuple[int, int, int],
    z_dim: int = 100,  # create_model always passes --z-dim (SNGAN used 128: --z-dim 128)
    g_ch: int | None = None,  # 256 (16 at 28x28)
    d_ch: int | None = None,  # 128 (16 at 28x28)
) -> GAN:
    size = _check_size("sngan", image_shape)
    g_ch, d_ch, recipe = widths_and_recipe(image_shape, g_ch, d_ch, SNGAN_TRAINING_DEFAULTS)
    _check_widths(g_ch, d_ch)
    return GAN(
        ResNetGenerator(z_dim, image_shape[0], size, g_ch),
        ResNetDiscriminator(image_shape[0], size, d_ch),
        z_dim=z_dim,
        image_shape=image_shape,
        training_defaults=dict(recipe),
    )


def _conditional_resnet(
    name: str,
    image_shape: tuple[int, int, int],
    num_classes: int,
    z_dim: int,
    g_ch: int | None,
    d_ch: int | None,
    discriminator: type[ProjectionDiscriminator] | type[AuxiliaryClassifierDiscriminator],
    training_defaults: dict[str, Any],
) -> GAN:
    """A conditional-BN ResNet generator with the given kind of conditional D."""
    size = _check_size(name, image_shape)
    _check_classes(name, num_classes)
    g_ch, d_ch, training_defaults = widths_and_recipe(image_shape, g_ch, d_ch, training_defaults)
    _check_widths(g_ch, d_ch)
    return GAN(
        ResNetGenerator(z_dim, image_shape[0], size, g_ch, num_classes),
        discriminator(image_shape[0], size, d_ch, num_classes),
        z_dim=z_dim,
        image_shape=image_shape,
        num_classes=num_classes,
        auxiliary_classifier=discriminator is AuxiliaryClassifierDiscriminator,
        training_defaults=dict(training_defaults),
    )


@register_model(
    "cgan-pd",
    "Conditional ResNet GAN: conditional-BN G, SN projection D (Miyato & Koyama 2018); at 28 px a 16-channel CPU layout",
    older_defaults=PAPER_WIDTHS,
)
def cgan_pd(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int,
    z_dim: int = 100,  # create_model always passes --z-dim (SNGAN used 128: --z-dim 128)
    g_ch: int | None = None,  # 256 (16 at 28x28)
    d_ch: int | None = None,  # 128 (16 at 28x28)
) -> GAN:
    return _conditional_resnet("cgan-pd", image_shape, num_classes, z_dim, g_ch, d_ch, ProjectionDiscriminator, SNGAN_TRAINING_DEFAULTS)


@register_model(
    "acgan",
    "AC-GAN (Odena 2017) on the ResNet G/D: D predicts the class with an auxiliary head; at 28 px a 16-channel CPU layout",
    older_defaults=PAPER_WIDTHS,
)
def acgan(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int,
    z_dim: int = 100,  # create_model always passes --z-dim (SNGAN used 128: --z-dim 128)
    g_ch: int | None = None,  # 256 (16 at 28x28)
    d_ch: int | None = None,  # 128 (16 at 28x28)
) -> GAN:
    return _conditional_resnet("acgan", image_shape, num_classes, z_dim, g_ch, d_ch, AuxiliaryClassifierDiscriminator, ACGAN_TRAINING_DEFAULTS)
