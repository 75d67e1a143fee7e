"""LAPGAN: the Laplacian pyramid, the noise layout, per-level sampling and training."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import ganforge.models.lapgan  # noqa: F401  (registers "lapgan")
from ganforge.errors import GanforgeError
from ganforge.losses import create_loss
from ganforge.objectives.laplacian import training_pyramid
from ganforge.models import MODELS, create_model, from_config, model_options
from ganforge.models.lapgan import (
    LAPGAN,
    Pyramid,
    downsample,
    laplacian_pyramid,
    low_passes,
    reconstruct,
    upsample,
)

SMALL: dict[str, Any] = {"coarse_g_hidden": 64, "coarse_d_hidden": 32, "ch": 8, "levels": 3}
SHAPES = [(1, 28, 28), (3, 32, 32)]


def small_model(shape: tuple[int, int, int] = (1, 28, 28), **options: Any) -> LAPGAN:
    torch.manual_seed(0)
    model = create_model("lapgan", image_shape=shape, z_dim=16, **{**SMALL, **options})
    assert isinstance(model, LAPGAN)
    return model


def real_batch(n: int, shape: tuple[int, int, int], seed: int = 0) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# -- the pyramid ----------------------------------------------------------------


@pytest.mark.parametrize("levels", [1, 2, 3, 4])
def test_pyramid_round_trip_is_exact(levels: int) -> None:
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    residuals, low = laplacian_pyramid(x, levels)
    assert [tuple(r.shape) for r in residuals] == [
        (2, 3, 32 >> k, 32 >> k) for k in range(levels - 1)
    ]
    assert low.shape == (2, 3, 32 >> (levels - 1), 32 >> (levels - 1))
    assert torch.allclose(reconstruct(residuals, low), x, atol=1e-6, rtol=0)


def test_filters_halve_and_double_and_up_then_down_is_the_identity() -> None:
    x = torch.randn(2, 3, 8, 6, generator=torch.Generator().manual_seed(2))
    assert downsample(x).shape == (2, 3, 4, 3)
    assert upsample(x).shape == (2, 3, 16, 12)
    assert torch.allclose(downsample(x)[0, 0, 0, 0], x[0, 0, :2, :2].mean())
    assert torch.equal(downsample(upsample(x)), x)


def test_band_pass_levels_have_no_low_pass_content() -> None:
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(3)) * 2 - 1
    residuals, _ = laplacian_pyramid(x, 3)
    for h in residuals:
        # real detail, none of which survives the low-pass filter
        assert h.abs().mean() > 0.1
        assert downsample(h).abs().max() < 1e-6


def test_pyramid_structure_matches_the_laplacian_pyramid_coarse_to_fine() -> None:
    x = real_batch(3, (3, 32, 32))
    residuals, low = laplacian_pyramid(x, 3)
    pyramid = Pyramid.of_images(x, 3)
    assert pyramid.levels == 3 and len(pyramid) == 3
    assert torch.equal(pyramid.low, low)
    for band, residual in zip(pyramid.bands, residuals[::-1]):
        assert torch.equal(band, residual)
    lows = low_passes(x, 3)[::-1]  # coarse to fine
    for condition, coarser in zip(pyramid.conditions, lows[:-1]):
        assert torch.equal(condition, upsample(coarser))
    assert torch.allclose(pyramid.images(), x, atol=1e-6, rtol=0)


# -- sampling -------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_generate_and_generate_levels_shapes_and_range(
    shape: tuple[int, int, int],
) -> None:
    model = small_model(shape).eval()
    channels, size, _ = shape
    assert model.noise_dim == 16 + (size // 2) ** 2 + size**2
    assert model.level_sizes == [
        (size // 4, size // 4),
        (size // 2, size // 2),
        (size, size),
    ]
    z = model.sample_noise(5)
    assert z.shape == (5, model.noise_dim)
    images = model.generate(z)
    assert images.shape == (5, *shape)
    assert images.min() >= -1 and images.max() <= 1
    levels = model.generate_levels(z)
    assert [tuple(image.shape) for image in levels] == [
        (5, channels, s, s) for s in (size // 4, size // 2, size)
    ]
    assert all(image.min() >= -1 and image.max() <= 1 for image in levels)
    assert torch.equal(levels[-1], images)


def test_same_code_gives_the_same_images_and_other_codes_do_not() -> None:
    model = small_model().eval()
    z = model.seeded_noise(4, seed=7)
    assert torch.equal(model.generate(z), model.generate(z.clone()))
    assert not torch.allclose(
        model.generate(z), model.generate(model.seeded_noise(4, seed=8))
    )


def test_noise_planes_feed_only_their_own_level_and_finer() -> None:
    model = small_model().eval()
    z = model.seeded_noise(3, seed=0)
    before = model.generate_levels(z)
    finest = z.clone()
    finest[:, -28 * 28 :] = torch.randn(3, 28 * 28)
    after = model.generate_levels(finest)
    assert torch.equal(after[0], before[0]) and torch.equal(after[1], before[1])
    assert not torch.allclose(after[2], before[2])
    middle = z.clone()
    middle[:, 16 : 16 + 14 * 14] = torch.randn(3, 14 * 14)
    after = model.generate_levels(middle)
    assert torch.equal(after[0], before[0])
    assert not torch.allclose(after[1], before[1])


@pytest.mark.parametrize("level", [1, 2])
def test_one_level_generator_leaves_the_coarser_levels_unchanged(level: int) -> None:
    model = small_model().eval()
    z = model.seeded_noise(3, seed=0)
    before = model.generate_levels(z)
    with torch.no_grad():
        for p in model.generator.levels[level].parameters():
            p.add_(torch.randn_like(p) * 0.5)
    after = model.generate_levels(z)
    for k in range(level):
        assert torch.equal(after[k], before[k])
    for k in range(level, 3):
        assert not torch.allclose(after[k], before[k])


def test_ema_generates_from_the_averaged_generator() -> None:
    model = small_model().eval()
    model.enable_ema()
    z = model.seeded_noise(3, seed=0)
    ema_before = model.generate(z, ema=True)
    assert torch.equal(ema_before, model.generate(z))
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    assert torch.equal(model.generate(z, ema=True), ema_before)
    assert not torch.allclose(model.generate(z), ema_before)
    model.update_ema(0.0)  # decay 0: the average becomes the current weights
    assert torch.allclose(model.generate(z, ema=True), model.generate(z))


# -- training -------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_discriminate_real_and_training_fake_gives_all_levels_logits(
    shape: tuple[int, int, int],
) -> None:
    model = small_model(shape).train()
    real = real_batch(6, shape)
    channels, size, _ = shape
    with torch.no_grad():
        fake = training_pyramid(model, real, torch.Generator().manual_seed(0))
        real_logits = model.discriminate(real)
        fake_logits = model.discriminate(fake)
    assert isinstance(fake, Pyramid)
    assert fake.low.shape == (6, channels, size // 4, size // 4)
    assert [tuple(b.shape) for b in fake.bands] == [
        (6, channels, s, s) for s in (size // 2, size)
    ]
    # every finer level is conditioned on the real image's coarser low-pass
    for condition, expected in zip(
        fake.conditions, Pyramid.of_images(real, 3).conditions
    ):
        assert torch.equal(condition, expected)
    for logits in (real_logits, fake_logits):
        assert logits.shape == (3 * 6,)
        assert torch.isfinite(logits).all()
    model.eval()  # no dropout: the flat logits are the per-level logits in order
    assert torch.equal(model.discriminate(real), torch.cat(model.level_logits(real)))
    assert [t.shape for t in model.level_logits(fake)] == [(6,)] * 3
    logits, classes = model.discriminate_with_classes(fake)
    assert logits.shape == (18,) and classes is None


def test_training_fake_draws_fresh_noise_from_the_given_generator() -> None:
    model = small_model().eval()
    real = real_batch(4, (1, 28, 28))
    a = training_pyramid(model, real, torch.Generator().manual_seed(0))
    b = training_pyramid(model, real, torch.Generator().manual_seed(0))
    c = training_pyramid(model, real, torch.Generator().manual_seed(1))
    assert torch.equal(a.low, b.low) and all(
        torch.equal(x, y) for x, y in zip(a.bands, b.bands)
    )
    assert not torch.allclose(a.low, c.low)
    assert all(not torch.allclose(x, y) for x, y in zip(a.bands, c.bands))


def test_g_and_d_losses_reach_every_level() -> None:
    model = small_model().train()
    loss = create_loss("non-saturating")
    real = real_batch(8, (1, 28, 28))
    noise = torch.Generator().manual_seed(0)

    # D step: the fakes are made without gradients, as in the training loop.
    with torch.no_grad():
        fake = training_pyramid(model, real, noise)
    loss.d_loss(model.discriminate(real), model.discriminate(fake)).backward()
    for level in model.discriminator.levels:
        grads = [p.grad for p in level.parameters()]
        assert all(g is not None for g in grads)
        assert sum(float(g.abs().sum()) for g in grads) > 0
    assert all(p.grad is None for p in model.generator.parameters())

    # G step: D frozen, gradients reach every level's generator.
    model.zero_grad(set_to_none=True)
    model.discriminator.requires_grad_(False)
    loss.g_loss(model.discriminate(training_pyramid(model, real, noise))).backward()
    for level in model.generator.levels:
        grads = [p.grad for p in level.parameters()]
        assert all(g is not None for g in grads)
        assert sum(float(g.abs().sum()) for g in grads) > 0
    assert all(p.grad is None for p in model.discriminator.parameters())


# -- construction -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "levels"),
    [((1, 28, 28), 4), ((1, 8, 8), 3), ((3, 30, 30), 3), ((1, 28, 28), 0)],
)
def test_unsupported_sizes_are_rejected_naming_the_fix(
    shape: tuple[int, int, int], levels: int
) -> None:
    with pytest.raises(GanforgeError, match="levels") as error:
        create_model("lapgan", image_shape=shape, **{**SMALL, "levels": levels})
    if levels > 0:
        assert "--image-size" in str(error.value)


@pytest.mark.parametrize(
    ("shape", "levels"), [((1, 16, 16), 3), ((1, 28, 28), 1), ((3, 64, 64), 5)]
)
def test_smallest_coarse_level_and_other_level_counts_work(
    shape: tuple[int, int, int], levels: int
) -> None:
    model = small_model(shape, levels=levels).eval()
    z = model.sample_noise(2)
    assert [tuple(i.shape[2:]) for i in model.generate_levels(z)] == model.level_sizes
    assert model.generate(z).shape == (2, *shape)
    assert model.discriminate(model.generate(z)).shape == (2 * levels,)


def test_registration_options_defaults_and_config() -> None:
    assert "lapgan" in MODELS.names()
    assert model_options("lapgan") == ["levels", "recipe", "coarse_g_hidden", "coarse_d_hidden", "ch", "coarse_g_norm", "coarse_net"]
    model = create_model("lapgan", image_shape=(3, 32, 32))
    assert model.image_discriminator is False
    assert model.z_dim == 100 and model.noise_dim == 100 + 16 * 16 + 32 * 32
    assert model.training_defaults["loss"] == "non-saturating"
    assert model.training_defaults["lr_g"] == model.training_defaults["lr_d"] == 2e-4
    assert model.training_defaults["beta1"] == 0.5 and model.training_defaults["ema"] == 0.999
    coarse_g = [
        m.out_features
        for m in model.generator.levels[0].modules()
        if isinstance(m, torch.nn.Linear)
    ]
    coarse_d = [
        m.out_features
        for m in model.discriminator.levels[0].modules()
        if isinstance(m, torch.nn.Linear)
    ]
    assert coarse_g == [1200, 1200, 3 * 8 * 8] and coarse_d == [600, 600, 1]
    rebuilt = from_config(model.config)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }
    with pytest.raises(GanforgeError, match="unconditional"):
        create_model("lapgan", image_shape=(1, 28, 28), num_classes=10)


def _has_batch_norm(module: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.BatchNorm1d) for m in module.modules())


def test_the_default_recipe_and_the_papers() -> None:
    """The default at 28x28 is the CPU layout measured in docs/benchmarks/defaults.md
    (two levels: vanilla's MLP pair at 14x14, a 16-channel band; EMA, Adam 1e-3, batch 32);
    `recipe=paper` is the network ganforge had before, and an old run's saved
    config (without "defaults") rebuilds it."""
    ours = create_model("lapgan", image_shape=(1, 28, 28))
    assert ours.num_levels == 2 and _has_batch_norm(ours.generator.levels[0])
    coarse_g = [m.out_features for m in ours.generator.levels[0].modules() if isinstance(m, torch.nn.Linear)]
    coarse_d = [m.out_features for m in ours.discriminator.levels[0].modules() if isinstance(m, torch.nn.Linear)]
    assert coarse_g == [128, 256, 512, 1024, 14 * 14] and coarse_d == [512, 256, 1]  # vanilla's MLP pair at 14x14
    assert ours.generator.levels[1].body[0].out_channels == 16
    assert ours.training_defaults["ema"] == 0.999 and ours.training_defaults["batch_size"] == 32
    assert ours.training_defaults["lr_g"] == 1e-3
    paper = create_model("lapgan", image_shape=(1, 28, 28), recipe="paper")
    assert paper.num_levels == 3 and not _has_batch_norm(paper.generator.levels[0])
    assert paper.generator.levels[1].body[0].out_channels == 64
    assert paper.training_defaults["ema"] == 0.0 and paper.training_defaults["lr_g"] == 2e-4
    old_config = {k: v for k, v in paper.config.items() if k != "defaults"}
    old_config["options"] = {}
    rebuilt = from_config(old_config)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in paper.state_dict().items()}
    with pytest.raises(GanforgeError, match="recipe must be one of ganforge, paper"):
        create_model("lapgan", image_shape=(1, 28, 28), recipe="denton")
    with pytest.raises(GanforgeError, match="coarse_g_norm must be 'none' or 'batch'"):
        create_model("lapgan", image_shape=(1, 28, 28), coarse_g_norm="layer")
    with pytest.raises(GanforgeError, match="coarse_net must be one of paper, mlp"):
        create_model("lapgan", image_shape=(1, 28, 28), coarse_net="resnet")
