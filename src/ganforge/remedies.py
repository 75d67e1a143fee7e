"""Mode-collapse remedies that work with any discriminator reading plain tensors.

Three change what D sees, so they wrap the model's own D (built a second time
for the wider input) in :class:`RemedyDiscriminator`:

- PacGAN packing (Lin et al. 2018, "PacGAN: The power of two samples in
  generative adversarial networks"): D judges M samples at once, concatenated
  along the channel axis. A generator that covers few modes makes packs whose
  members look alike, which a packed D can see and a per-sample D cannot.
- Minibatch standard deviation (Karras et al. 2018, "Progressive Growing of
  GANs", section 3): one extra input channel holding the average over
  features of the standard deviation over a group of samples. A collapsed
  batch has a small spread, so D can tell it from real data.
- Minibatch discrimination (Salimans et al. 2016, "Improved Techniques for
  Training GANs", section 3.2): B learned similarity features per sample,
  o_b(x_i) = sum_{j != i} exp(-||M_{i,b} - M_{j,b}||_1). Near-duplicates in a
  batch get large o, which D learns to punish. Applied on D's input (not on
  its hidden features as in the paper) so that it works with any D: for
  points as B extra coordinates, for images as one extra channel with the B
  values tiled over it (B constant channels would multiply the input of an
  MLP discriminator such as cgan's by up to B + 1).

The fourth changes G's objective instead:

- Unrolled GAN (Metz et al. 2017, "Unrolled Generative Adversarial Networks"):
  G's loss is computed against a copy of D advanced by K differentiable Adam
  updates, so G is penalised for moves that D's next updates would punish
  (the ones that hop from mode to mode). As in the paper, G's objective is
  the whole value function at the unrolled weights: beside its own loss on
  fakes, G maximises D's loss on real data there, which depends on G through
  the updates. :func:`unrolled_discriminator`; the loop's `unrolled_real_loss`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from ganforge.errors import GanforgeError

#: ProGAN's group size for the minibatch standard deviation.
MINIBATCH_STD_GROUP = 4
#: Keeps the standard deviation differentiable when a group is identical (ProGAN's 1e-8).
MINIBATCH_STD_EPS = 1e-8
#: Salimans et al.'s kernel dimension K (their code used 5) and the init scale of T.
MINIBATCH_DISC_KERNEL_DIM = 5
MINIBATCH_DISC_INIT_STD = 0.05

# D(images, labels) -> (flat logits, class logits or None), as GAN.discriminate_with_classes.
Discriminate = Callable[[Any, torch.Tensor | None], tuple[torch.Tensor, torch.Tensor | None]]


@dataclass(frozen=True)
class Remedies:
    """The discriminator-side remedies of a model (all off by default)."""

    pack: int = 1  # PacGAN: samples per pack (1: off)
    minibatch_std: bool = False  # ProGAN's minibatch standard deviation channel
    minibatch_disc: int = 0  # Salimans' minibatch discrimination: B kernels (0: off)

    def __post_init__(self) -> None:
        if self.pack < 1:
            raise GanforgeError(f"--pack must be at least 1 (1: off), got {self.pack}")
        if self.minibatch_disc < 0:
            raise GanforgeError(f"--minibatch-disc must be 0 (off) or a positive number of kernels, got {self.minibatch_disc}")

    @property
    def on(self) -> bool:
        return self.pack > 1 or self.minibatch_std or self.minibatch_disc > 0

    def flags(self) -> list[str]:
        """The command-line flags of the remedies that are on, for messages."""
        given = {"--pack": self.pack > 1, "--minibatch-std": self.minibatch_std, "--minibatch-disc": self.minibatch_disc > 0}
        return [flag for flag, on in given.items() if on]

    def config(self) -> dict[str, Any]:
        """What a model config records: only the remedies that are on, so
        configs written before remedies existed still match."""
        saved: dict[str, Any] = {}
        if self.pack > 1:
            saved["pack"] = self.pack
        if self.minibatch_std:
            saved["minibatch_std"] = True
        if self.minibatch_disc:
            saved["minibatch_disc"] = self.minibatch_disc
        return saved

    def inner_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The sample shape the wrapped D reads: C*M channels (packing), plus one
        channel each for the minibatch std and the minibatch-discrimination
        features (for points: one coordinate and B coordinates).
        `sample_shape` is (C, H, W), or (D,) for points."""
        disc = 0 if not self.minibatch_disc else (self.minibatch_disc if len(sample_shape) == 1 else 1)
        channels = sample_shape[0] * self.pack + int(self.minibatch_std) + disc
        return (channels, *sample_shape[1:])


# -- the operations, as small functions ---------------------------------------


def pack_samples(x: torch.Tensor, pack: int) -> torch.Tensor:
    """(N, C, ...) -> (N/M, C*M, ...): M consecutive samples side by side on the
    channel axis, sample k of a pack in channels k*C .. (k+1)*C (Lin et al. 2018)."""
    if pack == 1:
        return x
    if x.shape[0] % pack:
        raise GanforgeError(
            f"--pack {pack} judges packs of {pack} samples, but D got a batch of {x.shape[0]}: "
            f"use a --batch-size that is a multiple of {pack}"
        )
    return x.reshape(x.shape[0] // pack, x.shape[1] * pack, *x.shape[2:])


def minibatch_stddev(x: torch.Tensor, group_size: int = MINIBATCH_STD_GROUP) -> torch.Tensor:
    """One number per sample: the mean over features of the standard deviation
    over its group (Karras et al. 2018). Groups are strided as in ProGAN
    (sample i is in group i mod N/G); a batch that G does not divide is one
    group. The biased variance plus 1e-8 keeps the square root differentiable
    when a group is identical, the very case it exists to detect."""
    n = x.shape[0]
    group = group_size if 0 < group_size <= n and n % group_size == 0 else n
    groups = x.reshape(group, n // group, -1)  # groups[g, m] = x[g * (n / group) + m]
    std = (groups.var(dim=0, unbiased=False) + MINIBATCH_STD_EPS).sqrt()  # (n/group, features)
    return std.mean(dim=1).repeat(group)  # sample i gets its group's value


def constant_channels(features: torch.Tensor, spatial: torch.Size) -> torch.Tensor:
    """Per-sample features (N, F) as F channels, each constant over the spatial
    axes (for points, where `spatial` is empty: the F features themselves)."""
    return features.reshape(*features.shape, *(1,) * len(spatial)).expand(*features.shape, *spatial)


def tiled_channel(features: torch.Tensor, spatial: torch.Size) -> torch.Tensor:
    """Per-sample features (N, F) as one channel (N, 1, *spatial): the F values
    repeated in reading order until the channel is full, so every region of
    the image carries every feature (when it has at least F positions)."""
    positions = math.prod(spatial)
    repeats = math.ceil(positions / features.shape[1])
    return features.repeat(1, repeats)[:, :positions].reshape(features.shape[0], 1, *spatial)


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016: each sample flattened to f in R^A is mapped by a
    learned tensor T (A x B x K, here a bias-free linear layer so that spectral
    norm applies to it) to M in R^{B x K}; feature b of sample i is
    o_b(x_i) = sum_{j != i} exp(-||M_{i,b} - M_{j,b}||_1). Identical samples
    give o = N - 1, samples far apart give o near 0."""

    def __init__(self, in_features: int, kernels: int, kernel_dim: int = MINIBATCH_DISC_KERNEL_DIM) -> None:
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.projection = nn.Linear(in_features, kernels * kernel_dim, bias=False)
        nn.init.normal_(self.projection.weight, 0.0, MINIBATCH_DISC_INIT_STD)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.projection(x.flatten(1)).view(-1, self.kernels, self.kernel_dim).transpose(0, 1)  # (B, N, K)
        # L1 distances per kernel with cdist: (B, N, N) in memory instead of the
        # broadcast difference's (N, N, B, K), and about twice as fast.
        distances = torch.cdist(m, m, p=1.0)
        return (torch.exp(-distances).sum(dim=2) - 1.0).t()  # j = i adds exp(0) = 1


class RemedyDiscriminator(nn.Module):
    """The model's D (`inner`, built for `Remedies.inner_shape`) behind the
    remedies: pack M samples into one, then append the minibatch standard
    deviation (one constant channel) and the minibatch-discrimination features
    (one tiled channel; for points, B coordinates), both computed from the
    packed samples. Extra arguments (class labels) go to `inner` as they
    came; only packing changes the batch size, so it is refused for
    conditional models."""

    def __init__(self, inner: nn.Module, remedies: Remedies, sample_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.inner = inner
        self.pack = remedies.pack
        self.minibatch_std = remedies.minibatch_std
        packed_features = sample_shape[0] * remedies.pack * math.prod(sample_shape[1:])
        self.minibatch_disc = MinibatchDiscrimination(packed_features, remedies.minibatch_disc) if remedies.minibatch_disc else None

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        x = pack_samples(x, self.pack)
        extra = []
        if self.minibatch_std:
            extra.append(constant_channels(minibatch_stddev(x).unsqueeze(1), x.shape[2:]))
        if self.minibatch_disc is not None:
            similarity = self.minibatch_disc(x)
            extra.append(similarity if x.dim() == 2 else tiled_channel(similarity, x.shape[2:]))
        if extra:
            x = torch.cat([x, *(e.to(x.dtype) for e in extra)], dim=1)
        return self.inner(x, *args, **kwargs)


def wrap_discriminator(inner: nn.Module, remedies: Remedies, sample_shape: tuple[int, ...]) -> RemedyDiscriminator:
    """`inner` (a D built for remedies.inner_shape(sample_shape)) behind the remedies."""
    return RemedyDiscriminator(inner, remedies, tuple(sample_shape))


# -- Unrolled GAN ----------------------------------------------------------------


def _safe_sqrt(x: torch.Tensor) -> torch.Tensor:
    """sqrt(x) whose gradient at x = 0 is 0 instead of inf (0 * inf would make
    G's gradient NaN wherever a D weight has had no gradient yet)."""
    positive = x > 0
    return torch.where(positive, torch.where(positive, x, torch.ones_like(x)).sqrt(), torch.zeros_like(x))


def adam_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    exp_avg: torch.Tensor,
    exp_avg_sq: torch.Tensor,
    step: float,
    *,
    lr: float,
    betas: tuple[float, float],
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """One step of torch.optim.Adam (no weight decay, no AMSGrad) as a function,
    so that the new weights stay differentiable in the old ones and in `grad`.
    Returns (param, exp_avg, exp_avg_sq, step)."""
    beta1, beta2 = betas
    step += 1.0
    exp_avg = beta1 * exp_avg + (1.0 - beta1) * grad
    exp_avg_sq = beta2 * exp_avg_sq + (1.0 - beta2) * grad * grad
    bias_correction1 = 1.0 - beta1**step
    bias_correction2_sqrt = math.sqrt(1.0 - beta2**step)
    denom = _safe_sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
    return param - (lr / bias_correction1) * exp_avg / denom, exp_avg, exp_avg_sq, step


class _Discriminate(nn.Module):
    """`model.discriminate_with_classes` as a module's forward, for functional_call."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Any, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.model.discriminate_with_classes(images, labels)


def _adam_groups(optimizer: torch.optim.Optimizer, live: dict[str, torch.Tensor]) -> dict[str, dict[str, Any]]:
    """The optimizer's param group (lr, betas, eps) of each named D weight."""
    group_of = {id(p): group for group in optimizer.param_groups for p in group["params"]}
    missing = [name for name, p in live.items() if id(p) not in group_of]
    if missing:
        raise ValueError(f"D's optimizer does not hold weight(s) {', '.join(missing[:3])}")
    if any(group.get("weight_decay") or group.get("amsgrad") or group.get("maximize") for group in optimizer.param_groups):
        raise ValueError("the unrolled updates are plain Adam steps: no weight decay, AMSGrad or maximize")
    return {name: group_of[id(p)] for name, p in live.items()}


def unrolled_discriminator(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    d_loss: Callable[[Discriminate], torch.Tensor],
    steps: int,
    *,
    clip: float = 0.0,
) -> Discriminate:
    """D advanced by `steps` differentiable Adam updates (Metz et al. 2017).

    Starts from D's weights and from the Adam state of `optimizer` (zeros
    where it has none yet). Each update minimises `d_loss(discriminate)`,
    which draws its own real and fake batch; its gradient is taken with
    create_graph=True, so a G loss computed with the returned function
    differentiates through the whole unrolling. D's buffers (batch-norm
    statistics, spectral-norm vectors) are cloned, so neither D's weights nor
    its buffers nor the optimizer change. `clip` > 0 clamps the weights after
    each update, as WGAN's clipping does. With steps=0 the result computes
    exactly what D does.
    """
    if not isinstance(optimizer, torch.optim.Adam):
        raise GanforgeError("--unroll applies Adam updates to D and needs the adam optimizer (--optimizer adam)")
    discriminator: nn.Module = model.discriminator  # type: ignore[assignment]
    live = dict(discriminator.named_parameters())
    # theta_0: D's weights as new leaves (the same storage, never written).
    params = {name: p.detach().requires_grad_(True) for name, p in live.items()}
    buffers = {name: b.clone() for name, b in discriminator.named_buffers()}
    moments: dict[str, tuple[torch.Tensor, torch.Tensor, float]] = {}
    for name, p in live.items():
        state = optimizer.state.get(p, {})
        if "exp_avg" in state:
            moments[name] = (state["exp_avg"].detach(), state["exp_avg_sq"].detach(), float(state["step"]))
        else:
            moments[name] = (torch.zeros_like(p), torch.zeros_like(p), 0.0)
    groups = _adam_groups(optimizer, live)
    adapter = _Discriminate(model)

    def discriminate_with(weights: dict[str, torch.Tensor]) -> Discriminate:
        tensors = {f"model.discriminator.{name}": t for name, t in (*weights.items(), *buffers.items())}
        return lambda images, labels: functional_call(adapter, tensors, (images, labels))

    for _ in range(steps):
        loss = d_loss(discriminate_with(params))
        names = list(params)
        grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=True, allow_unused=True)
        for name, grad in zip(names, grads):
            if grad is None:  # torch's Adam skips weights without a gradient
                continue
            group = groups[name]
            exp_avg, exp_avg_sq, step = moments[name]
            params[name], exp_avg, exp_avg_sq, step = adam_update(
                params[name], grad, exp_avg, exp_avg_sq, step, lr=group["lr"], betas=group["betas"], eps=group["eps"]
            )
            moments[name] = (exp_avg, exp_avg_sq, step)
        if clip:
            params = {name: p.clamp(-clip, clip) for name, p in params.items()}
    return discriminate_with(params)
