"""The ResNet GANs: SNGAN, the projection-discriminator cGAN and AC-GAN."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from ganforge.errors import GanforgeError

# Importing the module registers sngan, cgan-pd and acgan.
from ganforge.models import GAN, create_model, from_config, resnet

NAMES = ["sngan", "cgan-pd", "acgan"]
SHAPES = [(1, 28, 28), (3, 32, 32)]
CLASSES = 10
SMALL = {"g_ch": 16, "d_ch": 16}


def build(name: str, shape: tuple[int, int, int] = (3, 32, 32), **options: int) -> GAN:
    num_classes = 0 if name == "sngan" else CLASSES
    options = {**SMALL, **options}
    return create_model(
        name, image_shape=shape, z_dim=16, num_classes=num_classes, **options
    )


def some_labels(model: GAN, n: int) -> torch.Tensor | None:
    return torch.arange(n) % model.num_classes if model.conditional else None


def weighted_layers(module: nn.Module) -> list[nn.Module]:
    return [
        m
        for m in module.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))
    ]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", NAMES)
def test_shapes_range_and_finite_logits(name: str, shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    model = build(name, shape)
    labels = some_labels(model, 4)
    images = model.generate(model.sample_noise(4), labels)
    assert images.shape == (4, *shape)
    assert images.min() >= -1 and images.max() <= 1
    logits, class_logits = model.discriminate_with_classes(images, labels)
    assert logits.shape == (4,)
    assert torch.isfinite(logits).all()
    if name == "acgan":
        assert class_logits is not None and class_logits.shape == (4, CLASSES)
        assert torch.isfinite(class_logits).all()
    else:
        assert class_logits is None


def test_64px_layout_runs() -> None:
    model = build("cgan-pd", (3, 64, 64), g_ch=8, d_ch=8)
    labels = some_labels(model, 2)
    images = model.generate(model.sample_noise(2), labels)
    assert images.shape == (2, 3, 64, 64)
    assert model.discriminate(images, labels).shape == (2,)


@pytest.mark.parametrize(
    ("size", "g_blocks", "d_out"), [(28, 2, 7), (32, 3, 8), (64, 4, 4)]
)
def test_layouts_follow_the_paper(size: int, g_blocks: int, d_out: int) -> None:
    model = build("sngan", (3, size, size), g_ch=8, d_ch=8)
    g, d = model.generator, model.discriminator
    assert g.linear.out_features == 8 * g.bottom**2
    assert g.bottom * 2**g_blocks == size
    assert sum(isinstance(b, resnet.GeneratorBlock) for b in g.blocks) == g_blocks
    assert isinstance(d.blocks[0], resnet.OptimizedDiscriminatorBlock)
    assert d.blocks(torch.zeros(1, 3, size, size)).shape[-1] == d_out


@pytest.mark.parametrize("name", NAMES)
def test_every_discriminator_layer_is_spectrally_normalised(name: str) -> None:
    torch.manual_seed(0)
    model = build(name)
    d = model.discriminator
    layers = weighted_layers(d)
    assert len(layers) >= 11  # 3 + 3 + 2 + 2 block convs and the head(s)
    assert all(parametrize.is_parametrized(m, "weight") for m in layers)
    # The generator is not normalised (SNGAN normalises D only).
    assert not any(
        parametrize.is_parametrized(m) for m in weighted_layers(model.generator)
    )

    # A few training-mode passes run the power iteration; the largest singular
    # value of each normalised weight then sits at (just about) 1.
    x = torch.randn(4, 3, 32, 32)
    labels = some_labels(model, 4)
    for _ in range(5):
        model.discriminate(x, labels)
    for m in layers:
        weight = m.weight.detach()
        sigma = torch.linalg.matrix_norm(weight.reshape(weight.shape[0], -1), ord=2)
        assert 0.9 < sigma.item() < 1.1, (m, sigma)


@pytest.mark.parametrize("name", ["cgan-pd", "acgan"])
def test_conditional_batch_norm_makes_the_image_depend_on_the_label(name: str) -> None:
    torch.manual_seed(0)
    model = build(name).eval()
    z = model.sample_noise(4)
    zeros, ones = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    # Untrained: every class has gain 1 and bias 0, so the label has no effect.
    assert torch.equal(model.generate(z, zeros), model.generate(z, ones))
    norms = [
        m
        for m in model.generator.modules()
        if isinstance(m, resnet.ConditionalBatchNorm2d)
    ]
    assert len(norms) == 2 * len(model.generator.blocks)
    with torch.no_grad():
        for norm in norms:
            norm.gain.weight.normal_(1.0, 0.3)
            norm.bias.weight.normal_(0.0, 0.3)
    a, b = model.generate(z, zeros), model.generate(z, ones)
    assert (a - b).abs().mean() > 1e-3
    assert torch.equal(a, model.generate(z, zeros))  # eval mode: deterministic


def test_projection_discriminator_adds_the_embedding_inner_product() -> None:
    torch.manual_seed(0)
    model = build("cgan-pd").eval()  # eval: spectral norm's estimate stays put
    d = model.discriminator
    x = torch.randn(3, 3, 32, 32)
    zeros, fives = torch.zeros(3, dtype=torch.long), torch.full((3,), 5)
    with torch.no_grad():
        a, b = d(x, zeros), d(x, fives)
        assert (a - b).abs().min() > 1e-6
        h = d.features(x)
        expected = ((d.embed.weight[0] - d.embed.weight[5]) * h).sum(dim=1)
    torch.testing.assert_close(a - b, expected, rtol=1e-4, atol=1e-5)


def test_acgan_discriminator_ignores_the_label() -> None:
    torch.manual_seed(0)
    model = build("acgan").eval()
    x = torch.randn(3, 3, 32, 32)
    logits_a, classes_a = model.discriminate_with_classes(
        x, torch.zeros(3, dtype=torch.long)
    )
    logits_b, classes_b = model.discriminate_with_classes(x, torch.full((3,), 7))
    assert torch.equal(logits_a, logits_b) and torch.equal(classes_a, classes_b)
    assert model.auxiliary_classifier


@pytest.mark.parametrize("name", NAMES)
def test_backward_gives_finite_gradients(name: str) -> None:
    torch.manual_seed(0)
    model = build(name, (1, 28, 28))
    labels = some_labels(model, 4)
    fake = model.generate(model.sample_noise(4), labels)
    logits, class_logits = model.discriminate_with_classes(fake, labels)
    loss = -logits.mean()
    if class_logits is not None:
        assert labels is not None
        loss = loss + nn.functional.cross_entropy(class_logits, labels)
    loss.backward()
    for part in (model.generator, model.discriminator):
        grads = [p.grad for p in part.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert any(g.abs().sum() > 0 for g in grads if g is not None)


@pytest.mark.parametrize("shape", [(3, 30, 30), (1, 8, 8), (3, 32, 28), (3, 128, 128)])
@pytest.mark.parametrize("name", NAMES)
def test_unsupported_sizes_name_the_image_size_flag(
    name: str, shape: tuple[int, int, int]
) -> None:
    with pytest.raises(GanforgeError, match=r"28x28, 32x32, 64x64.*--image-size"):
        build(name, shape)


@pytest.mark.parametrize("name", ["cgan-pd", "acgan"])
@pytest.mark.parametrize("num_classes", [0, 1])
def test_conditional_models_need_labelled_data(name: str, num_classes: int) -> None:
    with pytest.raises(GanforgeError, match="labelled data"):
        create_model(name, image_shape=(1, 28, 28), num_classes=num_classes, **SMALL)


def test_sngan_refuses_labels_and_conditional_generators_need_them() -> None:
    with pytest.raises(GanforgeError, match="unconditional"):
        create_model("sngan", image_shape=(1, 28, 28), num_classes=10, **SMALL)
    model = build("cgan-pd")
    with pytest.raises(GanforgeError, match="class labels"):
        model.generate(model.sample_noise(2))
    with pytest.raises(GanforgeError, match="class labels"):
        model.generator(model.sample_noise(2))


@pytest.mark.parametrize("name", NAMES)
def test_paper_training_defaults_and_options(name: str) -> None:
    model = build(name)
    sngan_recipe = {"loss": "hinge", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.0, "beta2": 0.9, "d_steps": 5}
    # AC-GAN takes one D step per G step, with SAGAN's two time-scale rates.
    expected = {**sngan_recipe, "d_steps": 1, "lr_d": 4e-4, "lr_g": 1e-4} if name == "acgan" else sngan_recipe
    assert model.training_defaults == expected
    assert model.config["options"] == SMALL
    rebuilt = from_config(model.config)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert shapes == {k: v.shape for k, v in rebuilt.state_dict().items()}
    wide = build(name, g_ch=32, d_ch=32)
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert count(wide.generator) > count(model.generator)
    assert count(wide.discriminator) > count(model.discriminator)


def test_paper_widths_are_the_defaults() -> None:
    model = create_model("sngan", image_shape=(3, 32, 32), z_dim=128)
    first = model.generator.blocks[0].conv1
    assert (first.in_channels, first.out_channels) == (256, 256)
    assert model.discriminator.blocks[0].conv1.out_channels == 128


def test_residual_convolutions_use_glorot_with_gain_sqrt2() -> None:
    torch.manual_seed(0)
    model = build("sngan", g_ch=64)
    conv = model.generator.blocks[0].conv1
    fan = 64 * 9
    expected_std = math.sqrt(2.0) * math.sqrt(2.0 / (fan + fan))
    assert abs(conv.weight.std().item() / expected_std - 1) < 0.05
    shortcut = model.generator.blocks[0].shortcut
    assert abs(shortcut.weight.std().item() / math.sqrt(2.0 / 128) - 1) < 0.1
    assert not conv.bias.detach().any()


def test_the_spectral_norm_flag_is_refused_as_already_applied() -> None:
    with pytest.raises(GanforgeError, match="spectrally normalised already"):
        create_model("sngan", image_shape=(3, 32, 32), spectral_norm=True, **SMALL)
