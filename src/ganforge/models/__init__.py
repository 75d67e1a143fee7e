"""Model families. Importing this package registers every model."""

from ganforge.models import cgan, cyclegan, dcgan, esrgan, inpaint, lapgan, lsgan, pix2pix, resnet, spade, srresnet, toy, vanilla, wgan  # noqa: F401  (registration side effects)
from ganforge.models.base import GAN
from ganforge.models.registry import (
    MODELS,
    create_model,
    from_config,
    image_models,
    is_conditional,
    list_models,
    model_options,
    model_task,
    models_of_task,
    register_model,
    register_point_model,
    takes_points,
)

__all__ = [
    "GAN",
    "MODELS",
    "create_model",
    "from_config",
    "image_models",
    "is_conditional",
    "list_models",
    "model_options",
    "model_task",
    "models_of_task",
    "register_model",
    "register_point_model",
    "takes_points",
]
