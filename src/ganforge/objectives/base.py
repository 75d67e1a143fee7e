"""The Objective: one family's game, apart from the loop that plays it.

An objective says how a batch becomes each player's loss, in which order the
players update within a step, what runs after an update (weight clipping),
and which state a resume must restore (random streams, image pools). The
training loop owns everything families share: optimizers, mixed precision,
DDP, EMA, logging, previews and checkpoints. It calls an objective through
four methods only, so a new family adds an objective and never an `if` in
the loop (the shape of stylegan2-ada-pytorch's loss phases).

Players are optimizer groups named by strings ("d", "g"); each owns some of
the model's networks, named by attribute (`networks`). A step's losses see
the model through `StepContext`, which gives the batches of the step, the
training noise and the per-step scratch space where a D update can leave its
fake batch for G's update.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from ganforge.errors import GanforgeError

Batch = dict[str, Any]
Stats = dict[str, torch.Tensor]


def discriminator_stats(loss: torch.Tensor, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> Stats:
    """What every game logs of a D update: its loss and D's mean belief (sigmoid
    of its logits) that real and fake images are real."""
    return {
        "loss_d": loss.detach().float(),
        "d_real": torch.sigmoid(real_logits.detach().float()).mean(),
        "d_fake": torch.sigmoid(fake_logits.detach().float()).mean(),
    }


@dataclass
class StepContext:
    """What one training step's losses read, besides the networks.

    `batch()` returns the step's next batch (a dict: the task decides its
    keys); `noise` draws training latent codes; `scratch` is emptied at the
    start of every step; `optimizers` are the loop's, read (never stepped)
    by objectives that simulate updates (the unrolled GAN)."""

    batch: Callable[[], Batch]
    noise: torch.Generator
    optimizers: dict[str, torch.optim.Optimizer]
    scratch: dict[str, Any] = field(default_factory=dict)


class Objective:
    """Base class of every family's game. Subclasses set `players`,
    `networks` and `stats`, and implement `loss`; constructor keyword
    arguments are the objective's options (`-X key=value`)."""

    #: Optimizer groups, in the order a step updates them.
    players: ClassVar[tuple[str, ...]] = ("d", "g")
    #: The model's networks (attribute names) each player's optimizer steps.
    networks: ClassVar[dict[str, tuple[str, ...]]] = {"d": ("discriminator",), "g": ("generator",)}
    #: The logged statistics, in order; every step must produce each of them.
    stats: ClassVar[tuple[str, ...]] = ()
    #: The objective's registered name (set by register_objective).
    name: ClassVar[str] = ""
    #: Which warning signs of ganforge.training.health fit this game: "d_fake"
    #: (D rejects every fake) and "diversity" (a collapsing G). pix2pix's D
    #: wins on patches while L1 carries G, so its game watches neither.
    health_signs: ClassVar[tuple[str, ...]] = ()
    #: The task (ganforge.tasks) whose batches and networks this game plays with.
    task: ClassVar[str] = "generate"

    def check_model(self, model: nn.Module) -> None:
        """Refuse, by name, a model this game cannot be played with."""
        task = getattr(model, "task", "generate")
        if task != self.task:
            name = getattr(model, "config", {}).get("name", type(model).__name__)
            raise GanforgeError(f"objective '{self.name}' plays on {self.task} data, and model '{name}' is a model of task '{task}'; leave --objective out for the model's own")

    def batches_per_step(self) -> int:
        """How many batches a step reads: the batch counter of step s starts at
        s * batches_per_step(), so a resumed run reads the same data."""
        return 1

    def schedule(self, step: int) -> list[str]:
        """The players that update in `step`, in order (repeats allowed: k D steps)."""
        return list(self.players)

    def frozen(self, player: str) -> tuple[str, ...]:
        """Players whose networks get no gradient while `player` updates (their
        weights are frozen, and under DDP they run outside the wrapper). By
        default every other player."""
        return tuple(p for p in self.players if p != player)

    def loss(self, player: str, nets: Any, ctx: StepContext) -> tuple[torch.Tensor, Stats]:
        """`player`'s loss for this update and the statistics it measured.
        `nets` is the model as this player's update runs it (DDP / compiled
        wrappers of the same networks)."""
        raise NotImplementedError

    def after_update(self, player: str, model: nn.Module) -> None:
        """Runs after `player`'s optimizer step (e.g. WGAN's weight clipping)."""

    def rng_states(self) -> dict[str, torch.Tensor]:
        """Random streams of the objective itself, saved with each checkpoint."""
        return {}

    def load_rng_states(self, states: dict[str, torch.Tensor]) -> None:
        """Restore what rng_states saved (a key may be missing in old checkpoints)."""

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Buffers a resume must restore (e.g. an image pool), saved with each checkpoint."""
        return {}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore what state_tensors saved."""

    def setup(self, model: nn.Module, *, seed: int, device: torch.device) -> None:
        """Called once by the loop before training: the unwrapped model, and
        the seed and device of the objective's own random streams."""
