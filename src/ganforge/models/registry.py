"""Model registry: `@register_model` factories and the `create_model` factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ganforge.errors import GanforgeError
from ganforge.models.base import GAN
from ganforge.registry import Registry, check_options
from ganforge.regularizers import add_spectral_norm, has_spectral_norm
from ganforge.remedies import Remedies, wrap_discriminator

ModelFn = Callable[..., GAN]
MODELS: Registry[ModelFn] = Registry("model")

# Arguments a factory receives from the data rather than from the user.
STRUCTURAL_ARGS = ("image_shape", "z_dim", "num_classes", "input_channels", "scale")


# The models of tasks other than "generate" (ganforge.tasks), by name.
MODEL_TASKS: dict[str, str] = {}


# Models whose default options changed (in ganforge 0.2: vanilla and cgan got
# recipes that work): the options their runs were made with before, by name.
# A saved model config without "defaults": 2 is rebuilt with these, so older
# runs keep loading into the networks they trained.
DEFAULTS_VERSION = 2
OLDER_DEFAULTS: dict[str, dict[str, Any]] = {}


# Training settings a model is built with (its latent size z_dim, D's --pack,
# the --image-size of its data: the HR crop of a super-resolution model), by
# name: defaults needed before the model exists (its other defaults are
# GAN.training_defaults).
BUILD_DEFAULTS: dict[str, dict[str, Any]] = {}


def register_model(
    name: str,
    description: str,
    *,
    task: str = "generate",
    older_defaults: dict[str, Any] | None = None,
    build_defaults: dict[str, Any] | None = None,
) -> Callable[[ModelFn], ModelFn]:
    """Register `fn(*, image_shape, [z_dim,] [num_classes,] **options) -> GAN`,
    or for another task (e.g. "paired") a factory of that task's networks.
    `older_defaults`: the options that were the defaults before DEFAULTS_VERSION;
    `build_defaults`: the model's z_dim and pack when the user sets none."""
    if task != "generate":
        MODEL_TASKS[name] = task
    if older_defaults is not None:
        OLDER_DEFAULTS[name] = older_defaults
    if build_defaults is not None:
        BUILD_DEFAULTS[name] = build_defaults
    return MODELS.register(name, description)


def build_default(name: str, setting: str, fallback: Any) -> Any:
    """The model's default of build setting `setting` (z_dim, pack or image_size)."""
    return BUILD_DEFAULTS.get(name, {}).get(setting, fallback)


# Models of point data (N x D vectors, e.g. the 2-D ring and grid) rather than images.
POINT_MODELS: set[str] = set()


def register_point_model(name: str, description: str, **kwargs: Any) -> Callable[[ModelFn], ModelFn]:
    """Register a factory whose `image_shape` is the shape (D,) of one point
    (`kwargs` as for register_model)."""
    POINT_MODELS.add(name)
    return register_model(name, description, **kwargs)


def takes_points(name: str) -> bool:
    """Whether model `name` generates points rather than images."""
    return name in POINT_MODELS


def image_models() -> list[str]:
    """Names of the models that generate images from noise."""
    return [name for name in MODELS.names() if name not in POINT_MODELS and model_task(name) == "generate"]


def models_of_task(task: str) -> list[str]:
    """The names of the models of one task (e.g. "generate", "paired")."""
    return [name for name in MODELS.names() if MODEL_TASKS.get(name, "generate") == task]


def model_task(name: str) -> str:
    """The task of model `name` ("generate" or "paired"), known without building it."""
    MODELS.get(name)  # an unknown name is an error naming the models
    return MODEL_TASKS.get(name, "generate")


def list_models() -> list[tuple[str, str]]:
    return [(e.name, e.description) for e in MODELS]


def model_options(name: str) -> list[str]:
    """The user-settable options of a model (its factory's keyword arguments)."""
    return [o for o in MODELS.get(name).accepted_options() if o not in STRUCTURAL_ARGS]


def is_conditional(name: str) -> bool:
    """Whether model `name` generates a requested class (its factory takes labels)."""
    return "num_classes" in MODELS.get(name).accepted_options()


def create_model(
    name: str,
    *,
    image_shape: tuple[int, int, int],
    z_dim: int = 100,
    num_classes: int = 0,
    spectral_norm: bool = False,
    ema: bool = False,
    pack: int = 1,
    minibatch_std: bool = False,
    minibatch_disc: int = 0,
    input_channels: int | None = None,
    scale: int | None = None,
    **options: Any,
) -> Any:
    """Build model `name` for images of `image_shape` (C, H, W).

    `spectral_norm` wraps every layer of D in spectral normalisation; `ema`
    adds a moving-average copy of G. `pack`, `minibatch_std` and
    `minibatch_disc` put the mode-collapse remedies of ganforge.remedies in
    front of D (spectral norm then covers the wrapped D). All are part of the
    saved config, since they change which weights a checkpoint holds.
    """
    entry = MODELS.get(name)
    check_options("model", name, options, model_options(name))
    accepted = entry.accepted_options()
    kwargs: dict[str, Any] = {"image_shape": tuple(image_shape), **entry.with_word_none(options)}
    if "z_dim" in accepted:
        kwargs["z_dim"] = z_dim
    if input_channels is not None and "input_channels" in accepted:
        kwargs["input_channels"] = input_channels
    if scale is not None and "scale" in accepted:  # super-resolution: the data's upscaling factor
        kwargs["scale"] = scale
    if is_conditional(name):
        if num_classes < 2:
            raise GanforgeError(
                f"model '{name}' is conditional and needs labelled data with at least 2 classes "
                f"(got {num_classes}); for a folder of class sub-folders add --labels"
            )
        kwargs["num_classes"] = num_classes
    elif num_classes:
        raise GanforgeError(f"model '{name}' is unconditional and cannot take class labels")
    if z_dim < 1:
        raise GanforgeError(f"--z-dim must be positive, got {z_dim}")
    remedies = Remedies(pack=pack, minibatch_std=minibatch_std, minibatch_disc=minibatch_disc)
    model = entry.fn(**kwargs)
    if remedies.on:
        check_remedies(name, model, remedies)
        # The model's own D, built a second time for the wider input the remedies make.
        inner = entry.fn(**{**kwargs, "image_shape": remedies.inner_shape(tuple(image_shape))}).discriminator
        model.discriminator = wrap_discriminator(inner, remedies, tuple(image_shape))
    if spectral_norm:
        if has_spectral_norm(model.discriminator):
            raise GanforgeError(f"--spectral-norm does not apply to model '{name}': its discriminator is spectrally normalised already")
        add_spectral_norm(model.discriminator)
    if ema:
        model.enable_ema()
    model.config = {
        "name": name,
        "image_shape": list(image_shape),
        "z_dim": z_dim,
        "num_classes": num_classes,
        "options": dict(options),
    }
    if model.task != "generate":  # only then: configs of older runs keep matching
        model.config["task"] = model.task
    if name in OLDER_DEFAULTS:
        model.config["defaults"] = DEFAULTS_VERSION
    for structural in ("input_channels", "scale"):
        if structural in kwargs:
            model.config[structural] = kwargs[structural]
    # Only recorded when on, so configs written before these existed still match.
    model.config.update({key: True for key, on in (("spectral_norm", spectral_norm), ("ema", ema)) if on})
    model.config.update(remedies.config())
    return model


def check_remedies(name: str, model: GAN, remedies: Remedies) -> None:
    """Refuse remedies that do not apply to the model, naming them."""
    flags = remedies.flags()
    if not model.image_discriminator:
        verb = "does" if len(flags) == 1 else "do"
        raise GanforgeError(
            f"{' and '.join(flags)} {verb} not apply to model '{name}': its discriminator reads image pyramids, not plain images"
        )
    if remedies.pack > 1 and model.conditional:
        raise GanforgeError(
            f"--pack does not apply to model '{name}': it is conditional, and a pack of samples has no single class label "
            "(use --minibatch-std or --minibatch-disc)"
        )


def from_config(config: dict[str, Any]) -> GAN:
    """Rebuild a model from the `config` dict of a model made by create_model."""
    return create_model(
        config["name"],
        image_shape=tuple(config["image_shape"]),
        z_dim=config["z_dim"],
        num_classes=config.get("num_classes", 0),
        spectral_norm=config.get("spectral_norm", False),
        ema=config.get("ema", False),
        pack=config.get("pack", 1),
        minibatch_std=config.get("minibatch_std", False),
        minibatch_disc=config.get("minibatch_disc", 0),
        input_channels=config.get("input_channels"),
        scale=config.get("scale"),
        **options_of(config),
    )


def options_of(config: dict[str, Any]) -> dict[str, Any]:
    """The options of a saved model config, with the defaults of the version it was made with."""
    options = dict(config.get("options", {}))
    if config.get("defaults", 1) < DEFAULTS_VERSION:
        options = {**OLDER_DEFAULTS.get(config["name"], {}), **options}
    return options
