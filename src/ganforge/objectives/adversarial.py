"""The adversarial game of G(z[, y]) against D(x[, y]): every noise-to-image family.

k D updates, then one G update with D frozen. The game's parts are options of
one objective: the loss pair (non-saturating, minimax, least-squares, hinge,
wasserstein), one-sided label smoothing, AC-GAN's auxiliary class term (when
the model's D has a classifier head), the gradient penalty (WGAN-GP), R1,
WGAN's weight clipping, DiffAugment, and the unrolled D (Metz et al. 2017).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.augment import DiffAugment
from ganforge.errors import GanforgeError
from ganforge.losses import GANLoss, create_loss
from ganforge.models.base import GAN, batch_spread
from ganforge.objectives.base import Batch, Objective, Stats, StepContext, discriminator_stats
from ganforge.objectives.registry import register_objective
from ganforge.regularizers import clip_weights, gradient_penalty, r1_penalty
from ganforge.remedies import Discriminate, unrolled_discriminator

UNROLL_BATCHES = ("fresh", "same")


def detached(fake: Any) -> Any:
    """`fake` cut from G's graph: a tensor, or a dataclass of tensors and lists
    of them (LAPGAN's Pyramid)."""
    if isinstance(fake, torch.Tensor):
        return fake.detach()
    if isinstance(fake, list):
        return [detached(item) for item in fake]
    if dataclasses.is_dataclass(fake) and not isinstance(fake, type):
        return dataclasses.replace(fake, **{f.name: detached(getattr(fake, f.name)) for f in dataclasses.fields(fake)})
    return fake


def class_loss(class_logits: torch.Tensor | None, labels: torch.Tensor | None) -> torch.Tensor | float:
    """AC-GAN's auxiliary term: cross-entropy of D's class prediction (0 otherwise)."""
    if class_logits is None or labels is None:
        return 0.0
    return F.cross_entropy(class_logits, labels)


@register_objective("adversarial", "G(z[, y]) against D(x[, y]): k D steps then a G step; GP, R1, clipping, DiffAugment, unrolled D")
class AdversarialObjective(Objective):
    """The game of the noise-to-image families.

    G's update reuses the last D update's fake batch (its graph kept), as
    pytorch/examples' DCGAN does: one G forward per step fewer. Not with
    `unroll`, whose G update generates through the unrolled D updates."""

    stats = ("loss_d", "loss_g", "d_real", "d_fake", "diversity")
    health_signs = ("d_fake", "diversity")

    def __init__(
        self,
        *,
        loss: str = "non-saturating",
        label_smoothing: float = 0.0,
        d_steps: int = 1,
        gp: float = 0.0,
        r1: float = 0.0,
        clip: float = 0.0,
        diffaugment: str = "",
        unroll: int = 0,
        unroll_batch: str = "fresh",
    ) -> None:
        if d_steps < 1:
            raise GanforgeError(f"--d-steps must be at least 1, got {d_steps}")
        if unroll < 0:
            raise GanforgeError(f"--unroll must be 0 (off) or positive, got {unroll}")
        if unroll_batch not in UNROLL_BATCHES:
            raise GanforgeError(f"--unroll-batch must be one of {', '.join(UNROLL_BATCHES)}, got '{unroll_batch}'")
        self.loss_fn: GANLoss = create_loss(loss, label_smoothing)
        self.real_target = 1.0 - label_smoothing
        self.d_steps = d_steps
        self.gp, self.r1, self.clip = gp, r1, clip
        self.policy = diffaugment
        self.unroll, self.unroll_batch = unroll, unroll_batch
        self.regularizer_rng: torch.Generator | None = None
        self.augment: DiffAugment | None = None
        self.model: GAN | None = None

    # -- set-up ----------------------------------------------------------------

    def setup(self, model: nn.Module, *, seed: int, device: torch.device) -> None:
        """Bind the unwrapped model (the unrolled D reads its weights) and seed
        the stream of DiffAugment's and the gradient penalty's draws."""
        assert isinstance(model, GAN)
        self.model = model
        self.regularizer_rng = torch.Generator(device).manual_seed(seed)
        self.augment = DiffAugment(self.policy, self.regularizer_rng) if self.policy else None

    def rng_states(self) -> dict[str, torch.Tensor]:
        assert self.regularizer_rng is not None
        return {"regularizers": self.regularizer_rng.get_state()}

    def load_rng_states(self, states: dict[str, torch.Tensor]) -> None:
        if "regularizers" in states and self.regularizer_rng is not None:  # absent from checkpoints of older versions
            self.regularizer_rng.set_state(states["regularizers"])

    # -- the schedule ----------------------------------------------------------

    def batches_per_step(self) -> int:
        """k for the D updates, and --unroll K more for the unrolled D's fresh batches."""
        return self.d_steps + self.unroll

    def schedule(self, step: int) -> list[str]:
        return ["d"] * self.d_steps + ["g"]

    def frozen(self, player: str) -> tuple[str, ...]:
        # D's update leaves G unfrozen: its last fake batch keeps G's graph for
        # G's update (D's own loss reads it detached).
        return ("d",) if player == "g" else ()

    # -- the game's parts ------------------------------------------------------

    def fake(self, nets: GAN, batch: Batch, noise: torch.Generator) -> Any:
        """What D sees as fake for a real batch: G(z[, y]) for fresh z."""
        real = batch["image"]
        return nets.generate(nets.training_noise(real.shape[0], noise), batch.get("label"))

    def diversity(self, real: torch.Tensor, fake: Any) -> torch.Tensor:
        """A generated batch's spread over a real batch's (near 0: collapse)."""
        return batch_spread(fake) / batch_spread(real).clamp_min(1e-12)

    def augmented(self, images: Any) -> Any:
        return self.augment(images) if self.augment is not None else images

    def d_loss(self, discriminate: Discriminate, real: torch.Tensor, fake: Any, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """D's loss on a real and a fake batch (with AC-GAN's class terms), and
        its real and fake logits. Real and fake go through D as separate
        batches, so batch norm never mixes their statistics (Radford et al.; "ganhacks")."""
        real_logits, real_classes = discriminate(self.augmented(real), labels)
        fake_logits, fake_classes = discriminate(self.augmented(fake), labels)
        loss = self.loss_fn.d_loss(real_logits, fake_logits, self.real_target)
        loss = loss + class_loss(real_classes, labels) + class_loss(fake_classes, labels)
        return loss, real_logits, fake_logits

    def loss(self, player: str, nets: Any, ctx: StepContext) -> tuple[torch.Tensor, Stats]:
        if player == "d":
            return self.discriminator_loss(nets, ctx)
        if player == "g":
            return self.generator_loss(nets, ctx)
        raise ValueError(f"objective '{self.name}' has no player '{player}'")

    def discriminator_loss(self, nets: GAN, ctx: StepContext) -> tuple[torch.Tensor, Stats]:
        """One D update's loss. The last of the step's D updates generates with
        G's graph kept and leaves the fake batch in ctx.scratch for G's update."""
        batch = ctx.batch()
        real, labels = batch["image"], batch.get("label")
        ctx.scratch["d_updates"] = ctx.scratch.get("d_updates", 0) + 1
        keep = not self.unroll and ctx.scratch["d_updates"] == self.d_steps
        with torch.set_grad_enabled(keep):
            kept = self.fake(nets, batch, ctx.noise)
        fake = detached(kept)
        if self.r1:
            real.requires_grad_(True)
        loss, real_logits, fake_logits = self.d_loss(nets.discriminate_with_classes, real, fake, labels)
        if self.gp:
            critic = lambda images: nets.discriminate(images, labels)  # noqa: E731
            assert self.regularizer_rng is not None
            loss = loss + self.gp * gradient_penalty(critic, real, fake, self.regularizer_rng)
        if self.r1:
            loss = loss + self.r1 * r1_penalty(real_logits, real)
        ctx.scratch["batch"], ctx.scratch["fake"] = batch, kept if keep else None
        return loss, {**discriminator_stats(loss, real_logits, fake_logits), "diversity": self.diversity(real, fake)}

    def generator_loss(self, nets: GAN, ctx: StepContext) -> tuple[torch.Tensor, Stats]:
        """G's loss against the frozen D, on the last D update's fake batch (or
        a fresh one), or against D unrolled K updates ahead (--unroll K)."""
        batch = ctx.scratch.get("batch") or ctx.batch()
        real, labels = batch["image"].detach(), batch.get("label")
        fake = ctx.scratch.get("fake")
        if fake is None:
            fake = self.fake(nets, {**batch, "image": real}, ctx.noise)
        if self.unroll:
            same = self.unroll_batch == "same"
            discriminate = self.unrolled_discriminator(ctx, (real, labels, fake) if same else None)
        else:
            discriminate = nets.discriminate_with_classes
        logits, classes = discriminate(self.augmented(fake), labels)
        logged = loss = self.loss_fn.g_loss(logits) + class_loss(classes, labels)
        if self.unroll:
            loss = loss - self.unrolled_real_loss(discriminate, real, labels, logits)
        # The log shows G's own loss, comparable with and without --unroll.
        return loss, {"loss_g": logged.detach().float()}

    def after_update(self, player: str, model: nn.Module) -> None:
        if player == "d" and self.clip:
            clip_weights(model.discriminator, self.clip)  # type: ignore[arg-type]

    # -- the unrolled GAN --------------------------------------------------------

    def unrolled_real_loss(self, discriminate: Discriminate, real: torch.Tensor, labels: torch.Tensor | None, fake_logits: torch.Tensor) -> torch.Tensor:
        """D's loss on real data at the unrolled weights theta_K, which G
        maximises beside its own loss. The unrolled G minimises the whole value
        function at theta_K (Metz et al. 2017, eq. 4-6): how D's coming updates
        would change its score on real data depends on G through theta_K, and
        is part of what G anticipates. The fake logits are detached, so only
        the real half reaches G's gradient; for the minimax loss G's objective
        is then exactly minus D's unrolled loss."""
        real_logits, _ = discriminate(self.augmented(real.detach()), labels)
        return self.loss_fn.d_loss(real_logits, fake_logits.detach(), self.real_target)

    def unrolled_discriminator(self, ctx: StepContext, batch: tuple[torch.Tensor, torch.Tensor | None, Any] | None = None) -> Discriminate:
        """A copy of D advanced by `unroll` differentiable Adam updates, which
        G's gradient flows through. Each update reads a fresh real batch (the
        step's next one) and fresh fakes, or, given `batch` (real, labels,
        fake; --unroll-batch same, as Metz et al.'s code), that batch every
        time. D, its buffers and its optimizer stay as they are. The updates
        use the adversarial loss only: the gradient penalty and R1 would need
        third derivatives; weight clipping is kept."""
        model = self.model
        assert model is not None

        def d_loss(discriminate: Discriminate) -> torch.Tensor:
            if batch is not None:
                real, labels, fake = batch
            else:
                fresh = ctx.batch()
                real, labels = fresh["image"], fresh.get("label")
                fake = self.fake(model, fresh, ctx.noise)  # not detached: G learns through it
            return self.d_loss(discriminate, real, fake, labels)[0]

        return unrolled_discriminator(model, ctx.optimizers["d"], d_loss, self.unroll, clip=self.clip or 0.0)
