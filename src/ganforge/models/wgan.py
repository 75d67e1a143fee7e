"""Wasserstein GANs on DCGAN's networks.

- `wgan` (Arjovsky et al. 2017): the critic's weights are clipped to
  [-0.01, 0.01]; RMSprop at 5e-5 (momentum-based optimisers were unstable in
  the paper); 5 critic updates per generator update.
- `wgan-gp` (Gulrajani et al. 2017): a gradient penalty (lambda 10) replaces
  clipping; Adam with lr 1e-4 and betas (0, 0.9); 5 critic updates; no batch
  norm in the critic, because the penalty is defined per sample.

At 28x28 on the small MNIST layout both take a learning rate of 1e-3 (the
papers' rates are for 64 px and ran for 100,000s of steps): on MNIST with 2
CPU cores, FID on classifier features after 150 s fell from 51 to 16
(wgan-gp) and from 50 to 21 (wgan); 4e-4 and 5e-4 gave 24 and 25
(docs/benchmarks/defaults.md). `--lr 1e-4` (wgan-gp) or `--lr 5e-5` (wgan)
gives the papers' rates back.
"""

from __future__ import annotations

from ganforge.models.base import GAN
from ganforge.models.dcgan import dcgan_networks
from ganforge.models.registry import register_model


# The learning rate of both Wasserstein models on the small 28x28 layout (see above).
LR_28 = 1e-3


def wasserstein_lr(image_shape: tuple[int, int, int], layout: str, paper_lr: float) -> float:
    return LR_28 if image_shape[1] == 28 and layout == "small" else paper_lr


@register_model("wgan", "Wasserstein GAN (Arjovsky 2017): DCGAN networks, weight clipping 0.01, RMSprop 5e-5 (1e-3 at 28x28), 5 critic steps")
def wgan(
    *, image_shape: tuple[int, int, int], z_dim: int = 100, ngf: int = 64, ndf: int = 64, layout: str = "small"
) -> GAN:
    g, d = dcgan_networks(image_shape, z_dim, ngf, ndf, layout=layout)
    lr = wasserstein_lr(image_shape, layout, 5e-5)
    defaults = {"loss": "wasserstein", "optimizer": "rmsprop", "lr_g": lr, "lr_d": lr, "d_steps": 5, "clip": 0.01}
    return GAN(g, d, z_dim=z_dim, image_shape=image_shape, training_defaults=defaults)


@register_model("wgan-gp", "WGAN with gradient penalty (Gulrajani 2017): lambda 10, Adam 1e-4 (1e-3 at 28x28) (0, 0.9), 5 critic steps, no BN in the critic")
def wgan_gp(
    *, image_shape: tuple[int, int, int], z_dim: int = 100, ngf: int = 64, ndf: int = 64, d_norm: str = "none",
    layout: str = "small",
) -> GAN:
    g, d = dcgan_networks(image_shape, z_dim, ngf, ndf, d_norm=d_norm, layout=layout)
    lr = wasserstein_lr(image_shape, layout, 1e-4)
    defaults = {"loss": "wasserstein", "lr_g": lr, "lr_d": lr, "beta1": 0.0, "beta2": 0.9, "d_steps": 5, "gp": 10.0}
    return GAN(g, d, z_dim=z_dim, image_shape=image_shape, training_defaults=defaults)
