"""Adversarial losses, computed from the discriminator's raw logits.

With D(x) = sigmoid(l):  log D = -softplus(-l)  and  log(1 - D) = -softplus(l),
which stay finite where a sigmoid followed by a log would not.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.registry import Registry


class GANLoss:
    """A pair of objectives: D minimises `d_loss`, G minimises `g_loss`."""

    #: Whether one-sided label smoothing (a real target below 1) is meaningful.
    supports_label_smoothing = False

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
        raise NotImplementedError

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def bce_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float) -> torch.Tensor:
    """-E[t log D(x) + (1 - t) log(1 - D(x))] - E[log(1 - D(G(z)))], t = real_target.

    A real target below 1 is one-sided label smoothing (Salimans et al. 2016):
    fakes keep target 0 so D is not pushed to rate them as real.
    """
    real = real_target * F.softplus(-real_logits) + (1.0 - real_target) * F.softplus(real_logits)
    return real.mean() + F.softplus(fake_logits).mean()


LOSSES: Registry[Callable[[], GANLoss]] = Registry("loss")


@LOSSES.register("minimax", "original saturating minimax: G minimises E[log(1 - D(G(z)))]")
class MinimaxLoss(GANLoss):
    supports_label_smoothing = True

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
        return bce_discriminator_loss(real_logits, fake_logits, real_target)

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -F.softplus(fake_logits).mean()  # = E[log(1 - D(G(z)))]


@LOSSES.register("non-saturating", "non-saturating: G maximises E[log D(G(z))] (default)")
class NonSaturatingLoss(MinimaxLoss):
    """The same discriminator objective; G's gradient stays strong while D
    still rejects its samples (Goodfellow et al. 2014, section 3)."""

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(-fake_logits).mean()  # = -E[log D(G(z))]


@LOSSES.register("least-squares", "LSGAN (Mao et al. 2017): squared error to targets 1 (real) and 0 (fake) on D's raw output")
class LeastSquaresLoss(GANLoss):
    """a=0, b=1, c=1 of the LSGAN paper; minimising it minimises a Pearson chi^2
    divergence, and the gradient does not vanish for fakes far from the boundary."""

    supports_label_smoothing = True

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
        return 0.5 * ((real_logits - real_target) ** 2).mean() + 0.5 * (fake_logits**2).mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((fake_logits - 1.0) ** 2).mean()


@LOSSES.register("hinge", "hinge loss (Lim & Ye 2017; SNGAN, BigGAN): D margins of 1, G maximises D(G(z))")
class HingeLoss(GANLoss):
    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()


@LOSSES.register("wasserstein", "Wasserstein critic loss (Arjovsky et al. 2017); needs clipping or a gradient penalty")
class WassersteinLoss(GANLoss):
    """The critic maximises E[D(x)] - E[D(G(z))], an estimate of the
    Wasserstein-1 distance only while D is kept (roughly) 1-Lipschitz."""

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
        return fake_logits.mean() - real_logits.mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()


def create_loss(name: str, label_smoothing: float = 0.0) -> GANLoss:
    loss = LOSSES.get(name).fn()
    if not 0.0 <= label_smoothing < 0.5:
        raise GanforgeError(f"--label-smoothing must be in [0, 0.5), got {label_smoothing}")
    if label_smoothing and not loss.supports_label_smoothing:
        raise GanforgeError(f"--label-smoothing does not apply to loss '{name}'")
    return loss
