"""Model registry: `@register_model` factories and the `create_model` factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ganforge.errors import GanforgeError
from ganforge.models.base import GAN
from ganforge.registry import Registry, check_options

ModelFn = Callable[..., GAN]
MODELS: Registry[ModelFn] = Registry("model")

# Arguments every factory receives from the data rather than from the user.
STRUCTURAL_ARGS = ("image_shape", "z_dim", "num_classes")


def register_model(name: str, description: str) -> Callable[[ModelFn], ModelFn]:
    """Register `fn(*, image_shape, z_dim, [num_classes,] **options) -> GAN`."""
    return MODELS.register(name, description)


def list_models() -> list[tuple[str, str]]:
    return [(e.name, e.description) for e in MODELS]


def model_options(name: str) -> list[str]:
    """The user-settable options of a model (its factory's keyword arguments)."""
    return [o for o in MODELS.get(name).accepted_options() if o not in STRUCTURAL_ARGS]


def create_model(
    name: str,
    *,
    image_shape: tuple[int, int, int],
    z_dim: int = 100,
    num_classes: int = 0,
    **options: Any,
) -> GAN:
    """Build model `name` for images of `image_shape` (C, H, W)."""
    entry = MODELS.get(name)
    check_options("model", name, options, model_options(name))
    kwargs: dict[str, Any] = {"image_shape": tuple(image_shape), "z_dim": z_dim, **options}
    if "num_classes" in entry.accepted_options():
        kwargs["num_classes"] = num_classes
    elif num_classes:
        raise GanforgeError(f"model '{name}' is unconditional and cannot take class labels")
    if z_dim < 1:
        raise GanforgeError(f"--z-dim must be positive, got {z_dim}")
    model = entry.fn(**kwargs)
    model.config = {
        "name": name,
        "image_shape": list(image_shape),
        "z_dim": z_dim,
        "num_classes": num_classes,
        "options": dict(options),
    }
    return model


def from_config(config: dict[str, Any]) -> GAN:
    """Rebuild a model from the `config` dict of a model made by create_model."""
    return create_model(
        config["name"],
        image_shape=tuple(config["image_shape"]),
        z_dim=config["z_dim"],
        num_classes=config.get("num_classes", 0),
        **config.get("options", {}),
    )
