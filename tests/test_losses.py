"""The adversarial losses against their textbook formulas on probabilities."""

from __future__ import annotations

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.losses import LOSSES, create_loss


@pytest.fixture
def logits() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(32, generator=generator) * 3, torch.randn(32, generator=generator) * 3


@pytest.mark.parametrize("name", ["minimax", "non-saturating"])
def test_discriminator_loss_is_the_minimax_value(name: str, logits: tuple[torch.Tensor, torch.Tensor]) -> None:
    real, fake = logits
    d_real, d_fake = torch.sigmoid(real.double()), torch.sigmoid(fake.double())
    expected = -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
    assert create_loss(name).d_loss(real.double(), fake.double()).item() == pytest.approx(expected.item(), rel=1e-9)


def test_generator_losses(logits: tuple[torch.Tensor, torch.Tensor]) -> None:
    _, fake = logits
    d_fake = torch.sigmoid(fake.double())
    assert create_loss("minimax").g_loss(fake.double()).item() == pytest.approx(torch.log(1 - d_fake).mean().item(), rel=1e-9)
    assert create_loss("non-saturating").g_loss(fake.double()).item() == pytest.approx(-torch.log(d_fake).mean().item(), rel=1e-9)


def test_non_saturating_keeps_gradients_where_minimax_saturates() -> None:
    # Early in training D rejects fakes confidently (D(G(z)) ~ 0): the minimax
    # generator loss is flat there, the non-saturating one is not.
    fake = torch.full((4,), -8.0, requires_grad=True)
    grads = {}
    for name in ("minimax", "non-saturating"):
        (grad,) = torch.autograd.grad(create_loss(name).g_loss(fake), fake)
        grads[name] = grad.abs().mean().item()
    assert grads["non-saturating"] > 100 * grads["minimax"]


def test_one_sided_label_smoothing_targets_only_reals(logits: tuple[torch.Tensor, torch.Tensor]) -> None:
    real, fake = (x.double() for x in logits)
    loss = create_loss("non-saturating", label_smoothing=0.1)
    smoothed = loss.d_loss(real, fake, real_target=0.9)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(real, torch.full_like(real, 0.9)) + torch.nn.functional.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    assert smoothed.item() == pytest.approx(expected.item(), rel=1e-9)
    assert smoothed.item() != pytest.approx(loss.d_loss(real, fake).item())


def test_losses_are_finite_for_extreme_logits() -> None:
    extreme = torch.tensor([-200.0, 200.0])
    for name in LOSSES.names():
        loss = create_loss(name)
        assert torch.isfinite(loss.d_loss(extreme, extreme)) and torch.isfinite(loss.g_loss(extreme))


def test_bad_label_smoothing_is_refused() -> None:
    with pytest.raises(GanforgeError, match="label-smoothing"):
        create_loss("minimax", label_smoothing=0.7)


def test_unknown_loss_lists_the_choices() -> None:
    with pytest.raises(GanforgeError, match="unknown loss 'hing'.*non-saturating"):
        create_loss("hing")


def test_least_squares_losses_are_the_lsgan_objectives(logits: tuple[torch.Tensor, torch.Tensor]) -> None:
    real, fake = (x.double() for x in logits)
    loss = create_loss("least-squares")
    assert loss.d_loss(real, fake).item() == pytest.approx((0.5 * (real - 1) ** 2).mean().item() + (0.5 * fake**2).mean().item(), rel=1e-9)
    assert loss.g_loss(fake).item() == pytest.approx((0.5 * (fake - 1) ** 2).mean().item(), rel=1e-9)
    smoothed = create_loss("least-squares", label_smoothing=0.1).d_loss(real, fake, real_target=0.9)
    assert smoothed.item() == pytest.approx((0.5 * (real - 0.9) ** 2).mean().item() + (0.5 * fake**2).mean().item(), rel=1e-9)


def test_hinge_losses_have_unit_margins() -> None:
    loss = create_loss("hinge")
    # Reals beyond +1 and fakes beyond -1 cost D nothing; inside the margins they cost linearly.
    assert loss.d_loss(torch.tensor([2.0, 1.5]), torch.tensor([-3.0, -1.0])).item() == 0.0
    assert loss.d_loss(torch.tensor([0.0]), torch.tensor([0.5])).item() == pytest.approx(1.0 + 1.5)
    assert loss.g_loss(torch.tensor([0.5, 1.5])).item() == pytest.approx(-1.0)


def test_wasserstein_critic_loss_is_the_negative_mean_gap(logits: tuple[torch.Tensor, torch.Tensor]) -> None:
    real, fake = (x.double() for x in logits)
    loss = create_loss("wasserstein")
    assert loss.d_loss(real, fake).item() == pytest.approx((fake.mean() - real.mean()).item(), rel=1e-9)
    assert loss.g_loss(fake).item() == pytest.approx(-fake.mean().item(), rel=1e-9)


@pytest.mark.parametrize("name", ["hinge", "wasserstein"])
def test_label_smoothing_is_refused_where_it_means_nothing(name: str) -> None:
    with pytest.raises(GanforgeError, match=f"does not apply to loss '{name}'"):
        create_loss(name, label_smoothing=0.1)
