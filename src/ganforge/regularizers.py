"""Discriminator regularisers: weight clipping (WGAN), gradient penalty
(WGAN-GP), the R1 penalty, and spectral normalisation.

The penalties take a function `critic(images) -> flat logits` so they work for
conditional discriminators (labels bound in) and after augmentation alike.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Critic = Callable[[torch.Tensor], torch.Tensor]


def _input_gradient(outputs: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """d sum(outputs) / d inputs, kept in the graph so the penalty is trained."""
    (grad,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return grad.flatten(1)


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """E[(||grad D(x_hat)||_2 - 1)^2] at x_hat on random lines between real and
    fake samples (Gulrajani et al. 2017); multiply by lambda (10 in the paper)."""
    # One mixing weight per sample, broadcast over its other axes (images or points).
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), generator=generator, device=real.device, dtype=real.dtype)
    mixed = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
    grad = _input_gradient(critic(mixed), mixed)
    return ((grad.norm(2, dim=1) - 1.0) ** 2).mean()


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """1/2 E[||grad D(x)||^2] on real data (Mescheder et al. 2018); multiply by
    gamma. `real` must have had requires_grad set before D saw it."""
    grad = _input_gradient(real_logits, real)
    return 0.5 * grad.pow(2).sum(dim=1).mean()


@torch.no_grad()
def clip_weights(module: nn.Module, limit: float) -> None:
    """Clamp every parameter to [-limit, limit] (WGAN's crude Lipschitz bound)."""
    for parameter in module.parameters():
        parameter.clamp_(-limit, limit)


SPECTRAL_NORM_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)


def add_spectral_norm(module: nn.Module) -> int:
    """Spectrally normalise every conv, linear and embedding layer of `module`
    (Miyato et al. 2018); returns how many layers it wrapped."""
    from torch.nn.utils import parametrize
    from torch.nn.utils.parametrizations import spectral_norm

    layers = [m for m in module.modules() if isinstance(m, SPECTRAL_NORM_LAYERS)]
    for layer in layers:
        if not parametrize.is_parametrized(layer, "weight"):
            # Transposed convolutions keep output channels in dim 1.
            spectral_norm(layer, dim=1 if isinstance(layer, nn.ConvTranspose2d) else 0)
    return len(layers)


def has_spectral_norm(module: nn.Module) -> bool:
    """Whether any layer of `module` is already spectrally normalised."""
    from torch.nn.utils import parametrize

    return any(parametrize.is_parametrized(m, "weight") for m in module.modules() if isinstance(m, SPECTRAL_NORM_LAYERS))
