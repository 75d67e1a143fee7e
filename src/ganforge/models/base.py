"""The GAN container: a generator, a discriminator and the config that built them.

Like diffusers' models, the factory arguments *are* the saved config, so a run
folder can rebuild the exact networks with :func:`ganforge.models.from_config`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class GAN(nn.Module):
    """A generator G(z[, y]) -> image in [-1, 1] and a discriminator D(x[, y]) -> logit.

    The discriminator returns raw logits (one per image); losses apply the
    sigmoid themselves, which is numerically safer than a sigmoid layer.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        *,
        z_dim: int,
        image_shape: tuple[int, int, int],
        num_classes: int = 0,
        training_defaults: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.z_dim = z_dim
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        # Paper defaults (learning rates, betas, loss, D steps) that a training
        # config falls back on when the user leaves them unset.
        self.training_defaults: dict[str, Any] = dict(training_defaults or {})
        self.config: dict[str, Any] = {}  # filled in by create_model

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def sample_noise(
        self, n: int, *, generator: torch.Generator | None = None, device: torch.device | None = None
    ) -> torch.Tensor:
        """Standard Gaussian latent codes, shape n x z_dim."""
        device = device if device is not None else next(self.parameters()).device
        return torch.randn(n, self.z_dim, generator=generator, device=device)

    def seeded_noise(self, n: int, seed: int) -> torch.Tensor:
        """Latent codes fixed by `seed`, drawn on the CPU so a seed gives the
        same codes on every device (sampling, evaluation)."""
        return self.sample_noise(n, generator=torch.Generator().manual_seed(seed), device=torch.device("cpu"))

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z, labels) if self.conditional else self.generator(z)

    def discriminate(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.discriminator(images, labels) if self.conditional else self.discriminator(images)
        return logits.reshape(-1)


def init_dcgan_weights(module: nn.Module) -> None:
    """Radford et al. initialisation: N(0, 0.02) for convolutions and linear
    layers, N(1, 0.02) for batch-norm scales, zero biases."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
