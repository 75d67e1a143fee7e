"""The GAN container: a generator, a discriminator and the config that built them.

Like diffusers' models, the factory arguments *are* the saved config, so a run
folder can rebuild the exact networks with :func:`ganforge.models.from_config`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ganforge.errors import GanforgeError


def batch_spread(batch: torch.Tensor) -> torch.Tensor:
    """Mean over features of the standard deviation across the batch."""
    return batch.detach().flatten(1).float().std(dim=0).mean()


class Networks(nn.Module):
    """The networks of one family, with what every family shares: the saved
    config, the paper's training defaults, a moving average of the generator
    (EMA) and views of the networks through other wrappers (DDP, compile).

    `task` names the kind of data the family learns from (ganforge.tasks):
    "generate" for G(z[, y]), "paired" for image-to-image translation."""

    task = "generate"
    #: Whether D reads plain image tensors, so image-space regularisers
    #: (gradient penalty, R1, DiffAugment) apply. LAPGAN's D reads pyramids.
    image_discriminator = True
    #: Whether training runs every network through its forward() only, as
    #: DistributedDataParallel needs (LAPGAN calls its levels directly).
    data_parallel_safe = True

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        *,
        image_shape: tuple[int, ...],
        training_defaults: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.generator_ema: nn.Module | None = None  # see enable_ema
        self.image_shape = tuple(image_shape)
        # Paper defaults (learning rates, betas, loss, D steps, objective) that
        # a training config falls back on when the user leaves them unset.
        self.training_defaults: dict[str, Any] = dict(training_defaults or {})
        self.config: dict[str, Any] = {}  # filled in by create_model
        # (rank, processes) of multi-process training: training noise is drawn
        # for the global batch and sliced, as one process would draw it.
        self.noise_shard: tuple[int, int] = (0, 1)

    @property
    def conditional(self) -> bool:
        return False

    def with_networks(self, **networks: nn.Module) -> Networks:
        """This model with the forward passes of the named networks run through
        other wrappers of the same modules (DistributedDataParallel,
        torch.compile): a shallow copy sharing every parameter, buffer and
        setting. Itself when nothing is wrapped."""
        if all(module is getattr(self, name) for name, module in networks.items()):
            return self
        view = copy.copy(self)
        view._modules = {**self._modules, **networks}  # copy.copy shares the dict
        return view

    def data_notes(self, data: Any) -> list[str]:
        """What the user should know about how this model reads `data` (SPADE:
        label colours off its palette), printed and saved with the run."""
        return []

    # -- exponential moving average of G ---------------------------------------

    def enable_ema(self) -> None:
        """Keep a moving average of G's weights (used for sampling and evaluation)."""
        if self.generator_ema is None:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.config["ema"] = True  # a model rebuilt from its saved config gets the copy back

    @torch.no_grad()
    def update_ema(self, decay: float) -> None:
        """ema <- decay * ema + (1 - decay) * G; buffers (batch-norm statistics) are copied."""
        assert self.generator_ema is not None
        for avg, current in zip(self.generator_ema.parameters(), self.generator.parameters()):
            avg.lerp_(current, 1.0 - decay)
        for avg_buffer, buffer in zip(self.generator_ema.buffers(), self.generator.buffers()):
            avg_buffer.copy_(buffer)


class GAN(Networks):
    """A generator G(z[, y]) -> image in [-1, 1] and a discriminator D(x[, y]) -> logit.

    The discriminator returns raw logits (one per image); losses apply the
    sigmoid themselves, which is numerically safer than a sigmoid layer.

    A discriminator built with ``auxiliary_classifier=True`` (AC-GAN) returns a
    pair ``(logits, class_logits)``; :meth:`discriminate` keeps only the first
    and :meth:`discriminate_with_classes` returns both.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        *,
        z_dim: int,
        image_shape: tuple[int, ...],
        num_classes: int = 0,
        auxiliary_classifier: bool = False,
        training_defaults: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(generator, discriminator, image_shape=image_shape, training_defaults=training_defaults)
        self.z_dim = z_dim
        self.num_classes = num_classes
        self.auxiliary_classifier = auxiliary_classifier

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    @property
    def noise_dim(self) -> int:
        """Length of one latent code; models with extra noise (LAPGAN) override it."""
        return self.z_dim

    # -- latent codes and labels ---------------------------------------------

    def sample_noise(
        self, n: int, *, generator: torch.Generator | None = None, device: torch.device | None = None
    ) -> torch.Tensor:
        """Standard Gaussian latent codes, shape n x noise_dim."""
        device = device if device is not None else next(self.parameters()).device
        return torch.randn(n, self.noise_dim, generator=generator, device=device)

    def training_noise(self, n: int, generator: torch.Generator, device: torch.device | None = None) -> torch.Tensor:
        """This process's `n` codes of a training batch: the slice of the codes
        the whole (global) batch would get in one process."""
        rank, processes = self.noise_shard
        codes = self.sample_noise(n * processes, generator=generator, device=device)
        return codes[rank * n : (rank + 1) * n] if processes > 1 else codes

    def seeded_noise(self, n: int, seed: int) -> torch.Tensor:
        """Latent codes fixed by `seed`, drawn on the CPU so a seed gives the
        same codes on every device (sampling, evaluation)."""
        return self.sample_noise(n, generator=torch.Generator().manual_seed(seed), device=torch.device("cpu"))

    def seeded_labels(self, n: int, seed: int) -> torch.Tensor | None:
        """Class labels for `n` samples, evenly spread over the classes and
        shuffled by `seed` (None for an unconditional model)."""
        if not self.conditional:
            return None
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        return order % self.num_classes

    def check_labels(self, labels: torch.Tensor | None) -> None:
        """Labels are given exactly when the model is conditional, and in range.
        (Called where users pass labels, not per training step: the range check
        reads values back from the device.)"""
        name = self.config.get("name", "gan")
        if not self.conditional:
            if labels is not None:
                raise GanforgeError(f"model '{name}' is unconditional: it takes no class labels")
            return
        if labels is None:
            raise GanforgeError(f"model '{name}' is conditional: give class labels")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise GanforgeError(f"class labels must be in 0..{self.num_classes - 1}, got {labels.min()}..{labels.max()}")

    # -- the two players -------------------------------------------------------

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, *, ema: bool = False) -> torch.Tensor:
        """G(z[, y]); `ema=True` uses the moving-average weights when kept."""
        generator = self.generator_ema if ema and self.generator_ema is not None else self.generator
        if not self.conditional:
            return generator(z)
        if labels is None:
            raise GanforgeError(f"model '{self.config.get('name', 'gan')}' is conditional: give class labels")
        return generator(z, labels)

    @torch.no_grad()
    def sample_images(
        self,
        z: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        batch_size: int = 256,
        convert: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Images for codes `z` (and labels), in eval mode with the EMA weights
        when kept, in bounded batches, returned on the CPU (after `convert`,
        e.g. to uint8, to save memory). The train/eval mode is restored."""
        self.check_labels(labels)
        device = next(self.parameters()).device
        label_parts = labels.split(batch_size) if labels is not None else [None] * len(z.split(batch_size))
        was_training = self.training
        self.eval()
        try:
            chunks = []
            for part, part_labels in zip(z.split(batch_size), label_parts, strict=True):
                images = self.generate(part.to(device), None if part_labels is None else part_labels.to(device), ema=True)
                chunks.append((convert(images) if convert else images).cpu())
        finally:
            self.train(was_training)
        return torch.cat(chunks)

    def discriminate_with_classes(
        self, images: Any, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's adversarial logits (flat) and, for an auxiliary classifier, its class logits."""
        out = self.discriminator(images, labels) if self.conditional else self.discriminator(images)
        if self.auxiliary_classifier:
            logits, class_logits = out
            return logits.reshape(-1), class_logits
        return out.reshape(-1), None

    def discriminate(self, images: Any, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.discriminate_with_classes(images, labels)[0]

    @torch.no_grad()
    def recalibrate_batch_norm(self, batches: int = 64, batch_size: int = 256, seed: int = 0) -> int:
        """Re-estimate the batch-norm statistics of G (and of its EMA copy) as
        plain averages over `batches` fresh batches of noise run in train mode
        ("precise BN", Wu and Johnson 2021). Returns the number of layers reset.

        Why: the running averages training leaves (momentum 0.1) follow the
        last ten or so batches, so in eval mode G normalises with noisy
        statistics; an EMA copy even uses statistics of other weights. Only
        buffers change, never weights. Conditional models get uniform labels."""
        nets = [g for g in (self.generator, self.generator_ema) if g is not None]
        layers = [m for net in nets for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
        if not layers:
            return 0
        momenta = [m.momentum for m in layers]
        was_training = self.training
        noise = torch.Generator().manual_seed(seed)
        device = next(self.parameters()).device
        try:
            for layer in layers:
                layer.reset_running_stats()
                layer.momentum = None  # None: a cumulative average over the batches
            for net in nets:
                net.train()
            for _ in range(batches):
                z = self.sample_noise(batch_size, generator=noise, device=torch.device("cpu")).to(device)
                labels = torch.randint(self.num_classes, (batch_size,), generator=noise).to(device) if self.conditional else None
                self.generate(z, labels)
                if self.generator_ema is not None:
                    self.generate(z, labels, ema=True)
        finally:
            for layer, momentum in zip(layers, momenta, strict=True):
                layer.momentum = momentum
            self.train(was_training)
        return len(layers)


def init_dcgan_weights(module: nn.Module) -> None:
    """Radford et al. initialisation: N(0, 0.02) for convolutions and linear
    layers, N(1, 0.02) for batch-norm scales, zero biases."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
