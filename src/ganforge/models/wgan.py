"""Wasserstein GANs on DCGAN's networks.

- `wgan` (Arjovsky et al. 2017): the critic's weights are clipped to
  [-0.01, 0.01]; RMSprop at 5e-5 (momentum-based optimisers were unstable in
  the paper); 5 critic updates per generator update.
- `wgan-gp` (Gulrajani et al. 2017): a gradient penalty (lambda 10) replaces
  clipping; Adam with lr 1e-4 and betas (0, 0.9); 5 critic updates; no batch
  norm in the critic, because the penalty is defined per sample.
"""

from __future__ import annotations

from ganforge.models.base import GAN
from ganforge.models.dcgan import dcgan_networks
from ganforge.models.registry import register_model


@register_model("wgan", "Wasserstein GAN (Arjovsky 2017): DCGAN networks, weight clipping 0.01, RMSprop 5e-5, 5 critic steps")
def wgan(
    *, image_shape: tuple[int, int, int], z_dim: int = 100, ngf: int = 64, ndf: int = 64, layout: str = "small"
) -> GAN:
    g, d = dcgan_networks(image_shape, z_dim, ngf, ndf, layout=layout)
    defaults = {"loss": "wasserstein", "optimizer": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5, "d_steps": 5, "clip": 0.01}
    return GAN(g, d, z_dim=z_dim, image_shape=image_shape, training_defaults=defaults)


@register_model("wgan-gp", "WGAN with gradient penalty (Gulrajani 2017): lambda 10, Adam 1e-4 (0, 0.9), 5 critic steps, no BN in the critic")
def wgan_gp(
    *, image_shape: tuple[int, int, int], z_dim: int = 100, ngf: int = 64, ndf: int = 64, d_norm: str = "none",
    layout: str = "small",
) -> GAN:
    g, d = dcgan_networks(image_shape, z_dim, ngf, ndf, d_norm=d_norm, layout=layout)
    defaults = {"loss": "wasserstein", "lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.0, "beta2": 0.9, "d_steps": 5, "gp": 10.0}
    return GAN(g, d, z_dim=z_dim, image_shape=image_shape, training_defaults=defaults)
