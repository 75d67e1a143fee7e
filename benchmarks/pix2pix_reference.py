"""ganforge's pix2pix step against a loop written the way the authors' code works.

    python -m benchmarks.pix2pix_reference --threads 2
    python -m benchmarks.pix2pix_reference --threads 2 --image-size 256 --device cuda

The reference follows junyanz/pytorch-CycleGAN-and-pix2pix's pix2pix: a
DataLoader over a Dataset that opens each side-by-side JPEG with PIL, splits
it, resizes both halves to the load size (286/256 of the crop), crops the same
random window from both, flips both or neither, and runs ToTensor and
Normalize; batch 1; per step one G forward, D's update on the detached fake
(halved cross-entropy loss against full target tensors), D frozen with
requires_grad, then G's update on cross-entropy + 100 L1; torch.optim.Adam
with its default (per-tensor) implementation. Its networks are exactly
ganforge's `pix2pix` (the same U-Net and PatchGAN, from the same weights).

Both sides compute the same maths (data jitter aside: the same operations,
other random draws) and are timed in the same process, alternately
(`--repeats` rounds of `--steps` steps after `--warmup` untimed steps); the
medians are compared. A second pass times the parts of each step (data,
networks forward and backward, optimizer steps) to show where the time goes.
Result: benchmarks/results/pix2pix_reference_<size>px_<device>.json.
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from benchmarks.common import SHARED_DATA, build_trainer, sync, time_steps, write_result
from ganforge.config import TrainConfig
from ganforge.data.paired import JITTER_SCALE
from ganforge.models.pix2pix import ImageTranslator

FACADES = SHARED_DATA / "facades"


class AlignedJpegs(Dataset):
    """The authors' aligned dataset: one A|B JPEG per pair, decoded and jittered per sample."""

    def __init__(self, root: Path, size: int, direction: str) -> None:
        self.paths = sorted((root / "train").glob("*.jpg"))
        self.size, self.load = size, round(size * JITTER_SCALE)
        self.direction = direction
        self.to_tensor = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        ab = Image.open(self.paths[index]).convert("RGB")
        w, h = ab.size
        a, b = ab.crop((0, 0, w // 2, h)), ab.crop((w // 2, 0, w, h))
        x, y = random.randint(0, self.load - self.size), random.randint(0, self.load - self.size)
        flip = random.random() > 0.5

        def jitter(image: Image.Image) -> torch.Tensor:
            image = image.resize((self.load, self.load), Image.Resampling.BICUBIC).crop((x, y, x + self.size, y + self.size))
            return self.to_tensor(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if flip else image)

        a_t, b_t = jitter(a), jitter(b)
        return (b_t, a_t) if self.direction == "BtoA" else (a_t, b_t)


def endless(loader: DataLoader) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    while True:
        yield from loader


class AuthorsLoop:
    """One step as pix2pix_model.optimize_parameters does it."""

    def __init__(self, model: ImageTranslator, config: TrainConfig, device: torch.device, dataset: Dataset, workers: int) -> None:
        self.netG, self.netD, self.device = model.generator, model.discriminator, device
        betas = (config.beta1, config.beta2)
        self.optimizer_G = torch.optim.Adam(self.netG.parameters(), lr=config.lr_g, betas=betas)
        self.optimizer_D = torch.optim.Adam(self.netD.parameters(), lr=config.lr_d, betas=betas)
        self.criterion = nn.BCEWithLogitsLoss()
        self.batches = endless(DataLoader(dataset, batch_size=config.batch_size, shuffle=True, drop_last=True, num_workers=workers))
        self.parts = {"data": 0.0, "networks": 0.0, "optimizers": 0.0}

    def gan_loss(self, prediction: torch.Tensor, real: bool) -> torch.Tensor:
        target = torch.tensor(1.0 if real else 0.0, device=self.device).expand_as(prediction)
        return self.criterion(prediction, target)

    def step(self, timed: bool = False) -> None:
        clock = time.perf_counter()
        real_a, real_b = (t.to(self.device) for t in next(self.batches))
        clock = self._lap("data", clock, timed)
        fake_b = self.netG(real_a)
        self.netD.requires_grad_(True)
        self.optimizer_D.zero_grad()
        loss_d_fake = self.gan_loss(self.netD(torch.cat((real_a, fake_b), 1).detach()), False)
        loss_d_real = self.gan_loss(self.netD(torch.cat((real_a, real_b), 1)), True)
        ((loss_d_fake + loss_d_real) * 0.5).backward()
        clock = self._lap("networks", clock, timed)
        self.optimizer_D.step()
        clock = self._lap("optimizers", clock, timed)
        self.netD.requires_grad_(False)
        self.optimizer_G.zero_grad()
        loss_g = self.gan_loss(self.netD(torch.cat((real_a, fake_b), 1)), True) + F.l1_loss(fake_b, real_b) * 100.0
        loss_g.backward()
        clock = self._lap("networks", clock, timed)
        self.optimizer_G.step()
        self._lap("optimizers", clock, timed)

    def _lap(self, part: str, since: float, timed: bool) -> float:
        if timed:
            sync(self.device)
        now = time.perf_counter()
        self.parts[part] += now - since
        return now


def ganforge_parts(trainer: Any, steps: int) -> dict[str, float]:
    """Seconds of ganforge's steps spent in the task's batches, the optimizer
    steps and the rest (networks), measured by wrapping the two."""
    parts = {"data": 0.0, "optimizers": 0.0}
    batch = trainer.task.batch
    steppers = {player: opt.step for player, opt in trainer.optimizers.items()}

    def timed_batch(number: int) -> Any:
        sync(trainer.device)
        start = time.perf_counter()
        out = batch(number)
        sync(trainer.device)
        parts["data"] += time.perf_counter() - start
        return out

    def timed(step: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            sync(trainer.device)
            start = time.perf_counter()
            out = step(*args, **kwargs)
            sync(trainer.device)
            parts["optimizers"] += time.perf_counter() - start
            return out

        return run

    trainer.task.batch = timed_batch
    for player, opt in trainer.optimizers.items():
        opt.step = timed(steppers[player])
    total = time_steps(trainer, steps)
    trainer.task.batch = batch
    for player, opt in trainer.optimizers.items():
        opt.step = steppers[player]
    return {**parts, "networks": total - parts["data"] - parts["optimizers"], "total": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=40, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=0, help="the reference DataLoader's worker processes")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as runs:
        config = TrainConfig(
            data="paired", data_root=str(FACADES), direction="BtoA", image_size=args.image_size, model="pix2pix",
            runs_dir=runs, run="speed", device=args.device, tensorboard=False, progress=False,
        )
        trainer = build_trainer(config, Path(runs) / "speed")
        reference_model = copy.deepcopy(trainer.model)  # the same networks from the same weights
        loop = AuthorsLoop(reference_model, trainer.config, device, AlignedJpegs(FACADES, args.image_size, "BtoA"), args.workers)
        for _ in range(args.warmup):
            loop.step()
        time_steps(trainer, args.warmup)
        ours, theirs = [], []
        for _ in range(args.repeats):
            ours.append(time_steps(trainer, args.steps))
            sync(device)
            start = time.perf_counter()
            for _ in range(args.steps):
                loop.step()
            sync(device)
            theirs.append(time.perf_counter() - start)
        loop.parts = dict.fromkeys(loop.parts, 0.0)
        start = time.perf_counter()
        for _ in range(args.steps):
            loop.step(timed=True)
        reference_parts = {**loop.parts, "total": time.perf_counter() - start}
        our_parts = ganforge_parts(trainer, args.steps)
    ours_rate, theirs_rate = args.steps / statistics.median(ours), args.steps / statistics.median(theirs)
    per_step = lambda parts: {k: round(1000 * v / args.steps, 1) for k, v in parts.items()}  # noqa: E731
    result = {
        "benchmark": "pix2pix_reference",
        "image_size": args.image_size,
        "batch_size": 1,
        "ganforge_steps_per_second": ours_rate,
        "reference_steps_per_second": theirs_rate,
        "ratio": ours_rate / theirs_rate,
        "ganforge_seconds": ours,
        "reference_seconds": theirs,
        "ms_per_step_parts": {"ganforge": per_step(our_parts), "reference": per_step(reference_parts)},
        "command": f"python -m benchmarks.pix2pix_reference --image-size {args.image_size} --steps {args.steps} --threads {args.threads} --device {args.device}",
    }
    write_result(f"pix2pix_reference_{args.image_size}px_{device.type}", result)


if __name__ == "__main__":
    main()
