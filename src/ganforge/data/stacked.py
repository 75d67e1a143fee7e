"""`stacked-mnist`: three MNIST digits stacked as the R, G and B channels.

The 1,000-mode benchmark of Metz et al. (Unrolled GAN), VEEGAN and PacGAN:
each image holds three independently drawn digits, so its mode is the number
100 * red + 10 * green + blue, from 000 to 999, and a generator that covers
the data covers all 1,000 about equally. Built from whatever MNIST the `mnist`
source reads (here the 10,000-image test split), with a fixed seed, so every
run sees the same images; the label of an image is its mode.
"""

from __future__ import annotations

import torch

from ganforge.data.base import ImageData
from ganforge.data.idx import load_mnist
from ganforge.data.registry import register_data_source

NUM_IMAGES = 50_000
DATA_SEED = 0
DIGITS = 3


def stack_digits(digits: ImageData, count: int, seed: int) -> ImageData:
    """`count` images of DIGITS digits drawn from `digits`, one per channel."""
    assert digits.labels is not None and digits.image_shape[0] == 1
    picks = torch.randint(len(digits), (count, DIGITS), generator=torch.Generator().manual_seed(seed))
    images = digits.images[:, 0][picks]  # count x 3 x H x W
    labels = stacked_modes(digits.labels[picks])
    return ImageData(
        images=images,
        labels=labels,
        class_names=[f"{m:03d}" for m in range(10**DIGITS)],
        name="stacked-mnist",
        origin=f"{count} stacks (seed {seed}) of {len(digits)} digits from {digits.origin}",
    )


@register_data_source("stacked-mnist", "three MNIST digits as R, G, B (28x28x3, 1,000 modes: the mode-collapse benchmark)")
def load_stacked_mnist(*, root: str | None = None, download: bool = False, split: str = "all") -> ImageData:
    return stack_digits(load_mnist(root=root, download=download, split=split), NUM_IMAGES, DATA_SEED)


def stacked_modes(digit_classes: torch.Tensor) -> torch.Tensor:
    """Per-channel digit classes (N x 3) -> the stack's mode 0..999."""
    place = torch.tensor([10 ** (DIGITS - 1 - k) for k in range(DIGITS)], device=digit_classes.device)
    return (digit_classes * place).sum(dim=1)
