"""ganforge's SRResNet step against a loop written the way BasicSR-style code works.

    python -m benchmarks.sr_reference --threads 2

The reference: a torch DataLoader over a Dataset that keeps T91 as PIL
images and, per sample, crops a random HR window, makes its LR with PIL's
bicubic resize (the same kernel as ganforge's antialiased torch bicubic),
flips and turns both with numpy, and converts them with ToTensor and
Normalize; the default collate stacks a batch. Per step: G forward, L1,
backward, torch.optim.Adam with its default implementation. The network is
exactly ganforge's `srresnet` (the same weights), so both sides compute the
same maths (other random crops aside).

Both are timed in the same process, alternately (`--repeats` rounds of
`--steps` steps after `--warmup` untimed ones); the medians are compared. A
second pass times the parts of a step (data, forward and backward,
optimizer) to show where the time goes.
Result: benchmarks/results/sr_reference_<crop>px.json.
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from benchmarks.common import SHARED_DATA, build_trainer, time_steps, write_result
from ganforge.config import TrainConfig
from ganforge.data.folder import list_image_files

T91 = SHARED_DATA / "sr" / "T91" / "Train"


class RandomCrops(Dataset):
    """BasicSR-style paired data: a PIL image per file, one random crop per sample."""

    def __init__(self, root: Path, crop: int, scale: int, length: int) -> None:
        self.images = [Image.open(p).convert("RGB") for p in list_image_files(root)]
        self.images = [im for im in self.images if min(im.size) >= crop]
        self.crop, self.scale, self.length = crop, scale, length
        self.to_tensor = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = random.choice(self.images)
        left, top = random.randint(0, image.width - self.crop), random.randint(0, image.height - self.crop)
        hr = image.crop((left, top, left + self.crop, top + self.crop))
        lr = hr.resize((self.crop // self.scale,) * 2, Image.Resampling.BICUBIC)
        k = random.randrange(8)
        arrays = [np.rot90(np.asarray(x), k % 4) for x in (lr, hr)]
        if k >= 4:
            arrays = [a[:, ::-1] for a in arrays]
        return self.to_tensor(np.ascontiguousarray(arrays[0])), self.to_tensor(np.ascontiguousarray(arrays[1]))


class ReferenceLoop:
    def __init__(self, generator: torch.nn.Module, crop: int, scale: int, batch: int, lr: float, betas: tuple[float, float]) -> None:
        self.generator = generator
        self.optimizer = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
        self.loader = iter(DataLoader(RandomCrops(T91, crop, scale, 10**9), batch_size=batch, shuffle=False, num_workers=0))
        self.times = {"data": 0.0, "networks": 0.0, "optimizer": 0.0}

    def step(self, profile: bool = False) -> None:
        t0 = time.perf_counter()
        lr, hr = next(self.loader)
        t1 = time.perf_counter()
        loss = F.l1_loss(self.generator(lr), hr)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        self.optimizer.step()
        t3 = time.perf_counter()
        if profile:
            for key, seconds in zip(self.times, (t1 - t0, t2 - t1, t3 - t2)):
                self.times[key] += seconds


def ganforge_parts(trainer: Any, steps: int) -> dict[str, float]:
    """Seconds per step of ganforge's data, networks and optimizer (the same split)."""
    times = {"data": 0.0, "networks": 0.0, "optimizer": 0.0}
    optimizer = trainer.optimizers["g"]
    for _ in range(steps):
        t0 = time.perf_counter()
        batch = trainer.task.batch(trainer.step)
        t1 = time.perf_counter()
        loss = F.l1_loss(trainer.model.upscale(batch["lr"]), batch["hr"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        t3 = time.perf_counter()
        trainer.step += 1
        for key, seconds in zip(times, (t1 - t0, t2 - t1, t3 - t2)):
            times[key] += seconds
    return {k: v / steps for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--crop", type=int, default=None, help="HR crop (default: the srresnet default)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    random.seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(data="sr", data_root=str(T91), model="srresnet", image_size=args.crop, device="cpu", progress=False, tensorboard=False)
        trainer = build_trainer(config, Path(tmp) / "run")
        cfg = trainer.config
        crop = trainer.data.crop
        assert cfg.lr_g is not None and cfg.beta1 is not None and cfg.beta2 is not None and cfg.batch_size is not None
        reference = ReferenceLoop(copy.deepcopy(trainer.model.generator), crop, trainer.data.scale, cfg.batch_size, cfg.lr_g, (cfg.beta1, cfg.beta2))
        for _ in range(args.warmup):
            trainer.train_step()
            trainer.step += 1
            reference.step()
        ours, theirs = [], []
        for _ in range(args.repeats):
            ours.append(time_steps(trainer, args.steps) / args.steps)
            start = time.perf_counter()
            for _ in range(args.steps):
                reference.step()
            theirs.append((time.perf_counter() - start) / args.steps)
        parts_ours = ganforge_parts(trainer, args.steps)
        for _ in range(args.steps):
            reference.step(profile=True)
        parts_theirs = {k: v / args.steps for k, v in reference.times.items()}
    ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
    result = {
        "benchmark": "sr_reference", "crop": crop, "batch_size": cfg.batch_size, "threads": args.threads,
        "ganforge_s_per_step": round(ours_s, 4), "reference_s_per_step": round(theirs_s, 4), "speedup": round(theirs_s / ours_s, 3),
        "parts_ganforge_s": {k: round(v, 4) for k, v in parts_ours.items()}, "parts_reference_s": {k: round(v, 4) for k, v in parts_theirs.items()},
        "command": f"python -m benchmarks.sr_reference --threads {args.threads}" + (f" --crop {args.crop}" if args.crop else ""),
    }
    write_result(f"sr_reference_{crop}px", result)


if __name__ == "__main__":
    main()
