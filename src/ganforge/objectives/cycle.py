"""CycleGAN's game (Zhu et al. 2017): two least-squares GANs tied by cycle consistency.

With a from domain A and b from domain B:

    loss_G = (D_b(G_ab(a)) - 1)^2 + (D_a(G_ba(b)) - 1)^2
             + cycle_weight * (|G_ba(G_ab(a)) - a|_1 + |G_ab(G_ba(b)) - b|_1)
             + identity * cycle_weight * (|G_ab(b) - b|_1 + |G_ba(a) - a|_1)
    loss_D = (D_b(b) - 1)^2 / 2 + D_b(pool_b(G_ab(a)))^2 / 2   (and the same for D_a)

G updates first, then both discriminators on fakes drawn through an image
pool (Shrivastava et al. 2017): D sees a mix of this step's translations and
older ones, which damps the oscillation of the two players. The identity
term keeps colours (photo <-> painting) and is the paper's 0.5 x the cycle
weight. The pools and their random stream are saved with every checkpoint,
so a resumed run continues bit-exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.objectives.base import Objective, Stats, StepContext
from ganforge.objectives.registry import register_objective


class ImagePool:
    """The last `capacity` generated images. Asked for a batch, each image is
    stored while the pool fills; once full, half the time (by a coin of the
    pool's own stream) it is swapped for a random stored one, which D then sees
    instead."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.images: torch.Tensor | None = None  # capacity x C x H x W once the first image arrives
        self.count = 0

    def query(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.capacity == 0:
            return images
        images = images.detach()
        if self.images is None:
            self.images = torch.zeros(self.capacity, *images.shape[1:], dtype=images.dtype, device=images.device)
        out = []
        for image in images:
            if self.count < self.capacity:
                self.images[self.count] = image
                self.count += 1
                out.append(image)
                continue
            swap, slot = torch.rand((), generator=generator).item() < 0.5, int(torch.randint(self.capacity, (), generator=generator))
            if swap:
                out.append(self.images[slot].clone())
                self.images[slot] = image
            else:
                out.append(image)
        return torch.stack(out)

    def state(self) -> torch.Tensor | None:
        """The stored images (count x C x H x W), None while empty."""
        return None if self.images is None or self.count == 0 else self.images[: self.count]

    def load(self, stored: torch.Tensor) -> None:
        if len(stored) > self.capacity:
            raise GanforgeError(f"the checkpoint's image pool holds {len(stored)} images, more than pool_size {self.capacity}")
        self.images = torch.zeros(self.capacity, *stored.shape[1:], dtype=stored.dtype, device=stored.device)
        self.images[: len(stored)] = stored
        self.count = len(stored)


def least_squares(outputs: torch.Tensor, target: float) -> torch.Tensor:
    return (outputs.float() - target).pow(2).mean()


@register_objective("cycle", "CycleGAN: least-squares GANs both ways, cycle_weight x L1 cycle consistency, identity x cycle_weight x L1 identity, image pools (Zhu 2017)")
class CycleObjective(Objective):
    """G_ab and G_ba step together ("g"), then D_a and D_b ("d")."""

    players: ClassVar[tuple[str, ...]] = ("g", "d")
    networks: ClassVar[dict[str, tuple[str, ...]]] = {"g": ("generator", "generator_ba"), "d": ("discriminator", "discriminator_a")}
    stats = ("loss_d", "loss_g", "cycle", "identity", "d_real", "d_fake")
    task = "unpaired"

    def __init__(self, *, cycle_weight: float = 10.0, identity: float = 0.5, pool_size: int = 50) -> None:
        if cycle_weight < 0 or identity < 0:
            raise GanforgeError(f"cycle weights must be 0 or positive, got cycle_weight={cycle_weight}, identity={identity}")
        if pool_size < 0:
            raise GanforgeError(f"cycle option pool_size must be 0 (no pool) or more, got {pool_size}")
        self.cycle_weight, self.identity = cycle_weight, identity
        self.pools = {"a": ImagePool(pool_size), "b": ImagePool(pool_size)}
        self.pool_stream = torch.Generator()

    def setup(self, model: Any, *, seed: int, device: torch.device) -> None:
        self.pool_stream.manual_seed(seed)  # on the CPU: the same draws on every device

    def loss(self, player: str, nets: Any, ctx: StepContext) -> tuple[torch.Tensor, Stats]:
        if player == "g":
            return self.generator_loss(nets, ctx)
        if player == "d":
            return self.discriminator_loss(nets, ctx)
        raise ValueError(f"objective '{self.name}' has no player '{player}'")

    def generator_loss(self, nets: Any, ctx: StepContext) -> tuple[torch.Tensor, Stats]:
        batch = ctx.batch()
        a, b = batch["a"], batch["b"]
        fake_b, fake_a = nets.translate(a, direction="AtoB"), nets.translate(b, direction="BtoA")
        ctx.scratch.update(a=a, b=b, fake_a=fake_a.detach(), fake_b=fake_b.detach())
        adversarial = least_squares(nets.discriminate("b", fake_b), 1.0) + least_squares(nets.discriminate("a", fake_a), 1.0)
        cycle = F.l1_loss(nets.translate(fake_b, direction="BtoA"), a) + F.l1_loss(nets.translate(fake_a, direction="AtoB"), b)
        loss = adversarial + self.cycle_weight * cycle
        identity = torch.zeros((), device=a.device)
        if self.identity > 0:  # two more translations per step: skipped when off
            identity = F.l1_loss(nets.translate(b, direction="AtoB"), b) + F.l1_loss(nets.translate(a, direction="BtoA"), a)
            loss = loss + self.identity * self.cycle_weight * identity
        return loss, {"loss_g": adversarial.detach().float(), "cycle": cycle.detach().float(), "identity": identity.detach().float()}

    def discriminator_loss(self, nets: Any, ctx: StepContext) -> tuple[torch.Tensor, Stats]:
        losses, real_scores, fake_scores = [], [], []
        for domain in ("a", "b"):
            real = ctx.scratch[domain]
            fake = self.pools[domain].query(ctx.scratch[f"fake_{domain}"], self.pool_stream)
            real_out, fake_out = nets.discriminate(domain, real), nets.discriminate(domain, fake)
            losses.append(0.5 * (least_squares(real_out, 1.0) + least_squares(fake_out, 0.0)))
            real_scores.append(real_out.detach().float().mean())
            fake_scores.append(fake_out.detach().float().mean())
        loss = losses[0] + losses[1]
        # Least-squares D outputs are scores aiming at 1 (real) and 0 (fake), not logits.
        return loss, {"loss_d": loss.detach().float(), "d_real": torch.stack(real_scores).mean(), "d_fake": torch.stack(fake_scores).mean()}

    def rng_states(self) -> dict[str, torch.Tensor]:
        return {"pool": self.pool_stream.get_state()}

    def load_rng_states(self, states: dict[str, torch.Tensor]) -> None:
        if "pool" in states:
            self.pool_stream.set_state(states["pool"])

    def state_tensors(self) -> dict[str, torch.Tensor]:
        stored = {f"pool_{domain}": pool.state() for domain, pool in self.pools.items()}
        return {key: images for key, images in stored.items() if images is not None}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        for domain, pool in self.pools.items():
            if f"pool_{domain}" in tensors:
                pool.load(tensors[f"pool_{domain}"])
