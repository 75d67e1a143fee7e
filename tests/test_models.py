"""Every registered model, tested the moment it is registered."""

from __future__ import annotations

import pytest
import torch

from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.models import MODELS, create_model, from_config, image_models, is_conditional, list_models, models_of_task, takes_points
from ganforge.models.registry import POINT_MODELS
from tests.conftest import TINY

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 64, 64)]
REQUIRED_SIZES = (28, 32)  # MNIST and CIFAR-10: every model must take both


def classes_for(name: str) -> int:
    return 10 if is_conditional(name) else 0


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", image_models())
def test_generator_and_discriminator_shapes(name: str, shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    try:
        model = create_model(name, image_shape=shape, z_dim=16, num_classes=classes_for(name), **TINY.get(name, {}))
    except GanforgeError as error:
        # A size a model does not support is refused with a hint, never built wrong.
        assert shape[1] not in REQUIRED_SIZES, f"{name} must support {shape}: {error}"
        assert "--image-size" in str(error)
        return
    z = model.sample_noise(3)
    labels = model.seeded_labels(3, seed=0)
    images = model.generate(z, labels)
    assert images.shape == (3, *shape)
    assert images.min() >= -1 and images.max() <= 1  # tanh output, the data range
    logits = model.discriminate(images, labels)
    # One logit per image (LAPGAN: one per image and pyramid level).
    assert logits.dim() == 1 and len(logits) % 3 == 0 and len(logits) >= 3
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", sorted(POINT_MODELS))
def test_point_models_make_points_and_refuse_images(name: str) -> None:
    model = create_model(name, image_shape=(2,), z_dim=3, **TINY.get(name, {}))
    points = model.generate(model.sample_noise(5))
    assert points.shape == (5, 2)
    logits = model.discriminate(points)
    assert logits.shape == (5,) and torch.isfinite(logits).all()
    with pytest.raises(GanforgeError, match="points"):
        create_model(name, image_shape=(1, 28, 28))


@pytest.mark.parametrize("name", models_of_task("generate"))
def test_from_config_rebuilds_the_same_architecture(name: str) -> None:
    shape = (2,) if takes_points(name) else (1, 28, 28)
    model = create_model(name, image_shape=shape, z_dim=20, num_classes=classes_for(name), **TINY.get(name, {}))
    rebuilt = from_config(model.config)
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in rebuilt.state_dict().items()}
    assert rebuilt.config == model.config


def test_every_model_is_listed_with_a_description() -> None:
    listed = dict(list_models())
    assert set(listed) == set(MODELS.names()) >= {"vanilla", "dcgan"}
    assert all(description for description in listed.values())


def test_vanilla_layer_sizes_follow_the_spec() -> None:
    model = create_model("vanilla", image_shape=(1, 28, 28))
    g = [m.out_features for m in model.generator.modules() if isinstance(m, torch.nn.Linear)]
    d = [m.out_features for m in model.discriminator.modules() if isinstance(m, torch.nn.Linear)]
    assert g == [128, 256, 512, 1024, 784]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in model.generator.modules()) == 3
    assert d == [512, 256, 1]
    assert model.training_defaults["ema"] == 0.999 and model.training_defaults["optimizer"] == "adam"


def test_vanillas_paper_recipe_is_sgd_with_momentum_without_batch_norm() -> None:
    model = create_model("vanilla", image_shape=(1, 28, 28), recipe="paper")
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in model.generator.modules())
    assert model.training_defaults == {"optimizer": "sgd", "lr_g": 0.1, "lr_d": 0.1, "momentum": 0.5, "ema": 0.0}
    config = TrainConfig(model="vanilla").with_model_defaults(model.training_defaults)
    assert (config.optimizer, config.momentum, config.beta1, config.beta2) == ("sgd", 0.5, None, None)
    with pytest.raises(GanforgeError, match="--beta1 does not apply to the sgd optimizer"):
        TrainConfig(model="vanilla", beta1=0.5).with_model_defaults(model.training_defaults)
    with pytest.raises(GanforgeError, match="--momentum does not apply to the adam optimizer"):
        TrainConfig(momentum=0.9).with_model_defaults({})


@pytest.mark.parametrize("name, options, old_layer", [("vanilla", {}, None), ("cgan", {"num_classes": 10}, "Maxout")])
def test_runs_made_before_the_new_defaults_rebuild_their_old_networks(name: str, options: dict, old_layer: str | None) -> None:
    new = create_model(name, image_shape=(1, 28, 28), **options)
    assert new.config["defaults"] == 2
    saved_before = {k: v for k, v in new.config.items() if k != "defaults"}  # what an older ganforge wrote
    old = from_config(saved_before)
    assert set(old.state_dict()) != set(new.state_dict())
    if old_layer:
        assert any(type(m).__name__ == old_layer for m in old.discriminator.modules())
    assert set(from_config(new.config).state_dict()) == set(new.state_dict())


def test_dcgan_28_starts_with_a_6272_unit_dense_layer() -> None:
    model = create_model("dcgan", image_shape=(1, 28, 28))
    first = next(m for m in model.generator.modules() if isinstance(m, torch.nn.Linear))
    assert first.out_features == 6272 == 128 * 7 * 7


@pytest.mark.parametrize("name", ["dcgan", "wgan", "wgan-gp", "lsgan"])
def test_deep_28_layout_goes_through_2_4_7_14_28_pixels(name: str) -> None:
    model = create_model(name, image_shape=(3, 28, 28), ngf=8, ndf=8, layout="deep")
    sizes: list[int] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: sizes.append(out.shape[-1])) for m in model.generator.modules()
             if isinstance(m, torch.nn.ConvTranspose2d)]
    images = model.generator(torch.randn(4, 100))
    for hook in hooks:
        hook.remove()
    assert images.shape == (4, 3, 28, 28) and sizes == [4, 7, 14, 28]
    d_convs = [m for m in model.discriminator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in d_convs] == [(3, 8), (8, 16), (16, 32), (32, 64)]
    assert model.discriminator(images).shape == (4, 1)
    assert from_config(model.config).config == model.config


def test_deep_28_layout_keeps_the_papers_settings_and_small_its_own() -> None:
    small = create_model("dcgan", image_shape=(1, 28, 28)).training_defaults
    deep = create_model("dcgan", image_shape=(1, 28, 28), layout="deep").training_defaults
    assert deep["lr_g"] == deep["lr_d"] == 2e-4 and "ema" not in deep
    assert small["lr_g"] > deep["lr_g"] and small["ema"] > 0


def test_dcgan_layout_is_checked() -> None:
    with pytest.raises(GanforgeError, match="layout=deep is a 28x28 layout; 32x32"):
        create_model("dcgan", image_shape=(3, 32, 32), layout="deep")
    with pytest.raises(GanforgeError, match="layout must be one of small, deep, got 'wide'"):
        create_model("dcgan", image_shape=(1, 28, 28), layout="wide")


def test_dcgan_64_is_the_radford_layout() -> None:
    model = create_model("dcgan", image_shape=(3, 64, 64))
    convs = [m for m in model.generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(100, 512), (512, 256), (256, 128), (128, 64), (64, 3)]
    d_convs = [m for m in model.discriminator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in d_convs] == [(3, 64), (64, 128), (128, 256), (256, 512), (512, 1)]


def test_dcgan_init_is_n_0_002() -> None:
    torch.manual_seed(0)
    model = create_model("dcgan", image_shape=(3, 64, 64))
    weight = model.generator[1].weight
    assert abs(weight.std().item() - 0.02) < 0.002


def test_dcgan_rejects_unsupported_sizes() -> None:
    with pytest.raises(GanforgeError, match="--image-size"):
        create_model("dcgan", image_shape=(3, 30, 30))


def test_unknown_model_lists_the_choices() -> None:
    with pytest.raises(GanforgeError, match="unknown model 'stylegan9'.*dcgan.*vanilla"):
        create_model("stylegan9", image_shape=(1, 28, 28))


def test_unknown_option_is_named_with_the_valid_ones() -> None:
    with pytest.raises(GanforgeError, match="ngff.*valid options: ngf, ndf"):
        create_model("dcgan", image_shape=(1, 28, 28), ngff=3)


def test_unconditional_model_refuses_labels() -> None:
    with pytest.raises(GanforgeError, match="unconditional"):
        create_model("dcgan", image_shape=(1, 28, 28), num_classes=10)


def test_model_options_change_the_network() -> None:
    small = create_model("dcgan", image_shape=(1, 28, 28), ngf=8, ndf=8)
    big = create_model("dcgan", image_shape=(1, 28, 28))
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert count(small) < count(big)
    assert small.config["options"] == {"ngf": 8, "ndf": 8}


def test_option_given_as_none_means_the_choice_none() -> None:
    # `-O d_norm=none` parses to None; for a choice option that is the word 'none'.
    dcgan = create_model("dcgan", image_shape=(1, 28, 28), z_dim=8, d_norm=None)
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.LayerNorm, torch.nn.GroupNorm)) for m in dcgan.discriminator.modules())
    toy = create_model("toy-mlp", image_shape=(2,), z_dim=2, g_norm=None)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in toy.generator.modules())
