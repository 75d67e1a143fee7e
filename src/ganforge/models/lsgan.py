"""LSGAN (Mao et al. 2017): least-squares losses on DCGAN's networks.

The paper trains with Adam, lr 2e-4 and beta1 0.5, the DCGAN settings; only
the objective changes (targets a=0, b=1, c=1 on D's raw output).
"""

from __future__ import annotations

from ganforge.models.base import GAN
from ganforge.models.dcgan import dcgan_networks
from ganforge.models.registry import register_model


@register_model("lsgan", "Least-squares GAN (Mao 2017): DCGAN networks with the least-squares loss, Adam 2e-4 (0.5, 0.999)")
def lsgan(
    *, image_shape: tuple[int, int, int], z_dim: int = 100, ngf: int = 64, ndf: int = 64, layout: str = "small"
) -> GAN:
    g, d = dcgan_networks(image_shape, z_dim, ngf, ndf, layout=layout)
    defaults = {"loss": "least-squares", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999}
    return GAN(g, d, z_dim=z_dim, image_shape=image_shape, training_defaults=defaults)
