"""DiffAugment, the penalties, clipping and EMA, each checked against its definition."""

from __future__ import annotations

import pytest
import torch

from ganforge.augment import DiffAugment, color, cutout, parse_policy, translation
from ganforge.errors import GanforgeError
from ganforge.models import create_model
from ganforge.regularizers import add_spectral_norm, clip_weights, gradient_penalty, has_spectral_norm, r1_penalty
from ganforge.tasks.generate import grid_labels, grid_layout
from ganforge.training.loop import ema_decay


def rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_translation_moves_content_by_whole_pixels_and_fills_with_zeros() -> None:
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 8, 8] = 1.0  # one bright pixel in the middle
    out = translation(x, rng())
    assert out.shape == x.shape
    assert torch.equal(out.sum(dim=(1, 2, 3)), torch.ones(64))  # the pixel survives (shift <= 2 < 8)
    rows, cols = (out[:, 0] == 1).nonzero()[:, 1], (out[:, 0] == 1).nonzero()[:, 2]
    assert (rows - 8).abs().max() <= 2 and (cols - 8).abs().max() <= 2  # at most 1/8 of 16 px
    assert (rows != 8).any() and (cols != 8).any()
    edge = torch.ones(64, 1, 16, 16)
    shifted = translation(edge, rng(1))
    assert (shifted == 0).any()  # what slides in from outside is zero


def test_cutout_zeros_a_square_of_half_the_side() -> None:
    x = torch.ones(32, 3, 16, 16)
    out = cutout(x, rng())
    zeroed = (out[:, 0] == 0).sum(dim=(1, 2))
    assert zeroed.max() == 64  # an 8x8 square when it lies inside the image
    assert (zeroed < 64).any()  # and clipped where it overhangs the edge
    assert torch.equal(out[:, 0], out[:, 2])  # the same square in every channel


def test_color_is_random_per_image_and_differentiable() -> None:
    x = (torch.rand(8, 3, 8, 8) * 2 - 1).requires_grad_(True)
    out = color(x, rng())
    assert not torch.allclose(out, x)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_diffaugment_is_fixed_by_its_generator_and_passes_gradients() -> None:
    x = torch.rand(4, 1, 16, 16, requires_grad=True)
    a = DiffAugment("translation,cutout,color", rng(3))(x)
    b = DiffAugment("translation,cutout,color", rng(3))(x)
    assert torch.equal(a, b)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # G gets gradients through it


def test_unknown_policy_is_named() -> None:
    with pytest.raises(GanforgeError, match="unknown DiffAugment policy zoom; choose from color, translation, cutout"):
        parse_policy("translation,zoom")
    assert parse_policy("") == [] and parse_policy("color, cutout") == ["color", "cutout"]


def test_gradient_penalty_of_a_linear_critic() -> None:
    """D(x) = w . x has gradient w everywhere: the penalty is (||w|| - 1)^2."""
    w = torch.full((1, 1, 2, 2), 1.5)
    critic = lambda x: (x * w).sum(dim=(1, 2, 3))  # noqa: E731
    real, fake = torch.rand(8, 1, 2, 2), torch.rand(8, 1, 2, 2)
    penalty = gradient_penalty(critic, real, fake, rng())
    assert penalty.item() == pytest.approx((3.0 - 1.0) ** 2)  # ||w|| = sqrt(4 * 1.5^2) = 3


def test_gradient_penalty_is_zero_for_a_1_lipschitz_critic_and_trains_it() -> None:
    weight = torch.tensor([0.6, 0.8], requires_grad=True)  # unit norm
    critic = lambda x: x.flatten(1) @ weight  # noqa: E731
    real, fake = torch.rand(8, 1, 1, 2), torch.rand(8, 1, 1, 2)
    assert gradient_penalty(critic, real, fake, rng()).item() == pytest.approx(0.0, abs=1e-10)
    weight.data.mul_(2)
    gradient_penalty(critic, real, fake, rng()).backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0  # the penalty reaches D's weights


def test_r1_penalty_of_a_quadratic_critic() -> None:
    """D(x) = sum x^2 has gradient 2x: R1 = 1/2 E ||2x||^2 = 2 E ||x||^2."""
    real = torch.randn(5, 1, 3, 3, requires_grad=True)
    penalty = r1_penalty((real**2).sum(dim=(1, 2, 3)), real)
    assert penalty.item() == pytest.approx(2 * real.detach().pow(2).sum(dim=(1, 2, 3)).mean().item(), rel=1e-5)


def test_clip_weights_clamps_every_parameter() -> None:
    layer = torch.nn.Linear(10, 10)
    torch.nn.init.normal_(layer.weight, std=1.0)
    clip_weights(layer, 0.01)
    assert all(p.abs().max() <= 0.01 for p in layer.parameters())


def test_spectral_norm_wraps_each_layer_once() -> None:
    model = create_model("dcgan", image_shape=(1, 28, 28), ngf=8, ndf=8)
    assert not has_spectral_norm(model.discriminator)
    wrapped = add_spectral_norm(model.discriminator)
    assert wrapped == 3 and has_spectral_norm(model.discriminator)  # conv, conv, linear
    assert add_spectral_norm(model.discriminator) == 3  # idempotent: no second wrapper
    weight = model.discriminator[-1].parametrizations.weight.original
    assert len(model.discriminator[-1].parametrizations.weight) == 1 and weight.shape == (1, 16 * 7 * 7)


def test_ema_update_is_the_moving_average() -> None:
    torch.manual_seed(0)
    model = create_model("vanilla", image_shape=(1, 4, 4), g_hidden=[8], d_hidden=[8])
    model.enable_ema()
    assert model.generator_ema is not None
    before = [p.detach().clone() for p in model.generator_ema.parameters()]
    for p in model.generator.parameters():
        p.data.add_(1.0)
    model.update_ema(0.9)
    for old, new, live in zip(before, model.generator_ema.parameters(), model.generator.parameters()):
        assert torch.allclose(new, 0.9 * old + 0.1 * live)
    assert all(not p.requires_grad for p in model.generator_ema.parameters())


def test_ema_decay_ramps_up_to_its_target() -> None:
    assert ema_decay(0.999, 0) == pytest.approx(0.1)
    assert ema_decay(0.999, 100) == pytest.approx(101 / 110)
    assert ema_decay(0.999, 10**6) == 0.999


def test_conditional_grid_layout_gives_one_row_per_class() -> None:
    assert grid_layout(0, 64) == (64, 8)
    assert grid_layout(10, 64) == (60, 6)
    assert grid_layout(10, 4) == (10, 1)  # never fewer than one image per class
    labels = grid_labels(10, 64)
    assert labels is not None and labels.tolist() == [k for k in range(10) for _ in range(6)]


def test_precise_batch_norm_averages_fresh_batches_and_keeps_the_weights() -> None:
    torch.manual_seed(0)
    model = create_model("toy-mlp", image_shape=(2,), z_dim=2, g_hidden=16, g_layers=2, d_hidden=8, d_layers=2)
    model.enable_ema()
    assert model.generator_ema is not None
    for p in model.generator.parameters():
        p.data.add_(0.5)  # G and its EMA copy now differ
    norms = [m for m in model.generator.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    ema_norm = next(m for m in model.generator_ema.modules() if isinstance(m, torch.nn.BatchNorm1d))
    for norm in [*norms, ema_norm]:
        norm.running_mean.fill_(7.0)  # stale statistics, far from any batch's
    seen: list[torch.Tensor] = []
    norms[0].register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    weights = [p.detach().clone() for p in model.parameters()]
    model.eval()

    assert model.recalibrate_batch_norm(batches=8, batch_size=64) == 2 * len(norms)

    assert len(seen) == 8 and not model.training  # 8 batches; the mode is restored
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))
    inputs = torch.stack(seen)
    assert torch.allclose(norms[0].running_mean, inputs.mean(dim=(0, 1)), atol=1e-5)
    assert torch.allclose(norms[0].running_var, inputs.var(dim=1).mean(dim=0), rtol=1e-4)
    assert norms[0].momentum == 0.1 and int(norms[0].num_batches_tracked) == 8
    assert not torch.allclose(ema_norm.running_mean, torch.full_like(ema_norm.running_mean, 7.0))
    assert not torch.allclose(ema_norm.running_mean, norms[0].running_mean)  # from the EMA weights, not G's
