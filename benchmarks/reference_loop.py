"""ganforge's training step against the loop tutorials teach, on the same networks.

    python -m benchmarks.reference_loop --data mnist --model dcgan --threads 2
    python -m benchmarks.reference_loop --data cifar10 --model dcgan
    python -m benchmarks.reference_loop --data cifar10 --model sngan --steps 20
    python -m benchmarks.reference_loop --data cifar10 --image-size 64 --batch-size 256 --device cuda \
        --ganforge-option precision=bf16 --ganforge-option compile=true

The reference is written the way pytorch/examples' DCGAN and most tutorials
write it: a torch DataLoader over a Dataset that turns each sample into a PIL
image and runs torchvision transforms on it (ToTensor, Normalize), D ending in
a sigmoid and trained with nn.BCELoss on full label tensors, the fake batch
generated once per step and reused for G's update. Its G and D are exactly
ganforge's (built by `create_model`; D gets an nn.Sigmoid appended for BCE), with
the model's optimiser settings and D steps, starting from the same weights; for a hinge-loss model (`sngan`)
the reference writes the hinge loss out the tutorial way.

Both are timed in the same process, alternately (`--repeats` rounds of
`--steps` steps each, after `--warmup` untimed steps), and the medians are
compared: steps (and images) per second of each and ganforge / reference.
`--ganforge-option` gives ganforge's side a speed option (bf16, compile,
channels_last) that the tutorial loop does not have; without it both sides
compute the same maths in fp32. Result:
benchmarks/results/reference_loop_<model>_<data>[_<size>px]_<device>[options].json.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets, transforms

from benchmarks.common import SHARED_DATA, build_trainer, peak_rss_mib, sync, time_steps, write_result
from ganforge.config import TrainConfig, parse_options
from ganforge.models import GAN
from ganforge.training.loop import Trainer

# pytorch/examples' DCGAN: Adam 2e-4, betas (0.5, 0.999), no moving average of G.
TUTORIAL_SETTINGS: dict[str, Any] = {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "ema": 0.0}

DATA = {
    "mnist": {"data_root": SHARED_DATA / "mnist", "data_split": None},
    "cifar10": {"data_root": SHARED_DATA / "cifar10", "data_split": "test"},
}


class ArrayImages(Dataset):
    """What torchvision.datasets.MNIST does per sample: uint8 array -> PIL -> transform."""

    def __init__(self, images: np.ndarray, transform: Any) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.images[index], mode="L")), 0


def reference_dataset(trainer: Trainer, data: str, image_size: int | None = None) -> Dataset:
    """MNIST from memory as torchvision's MNIST class serves it; CIFAR-10 as
    an ImageFolder of JPEG files, decoded per sample (the tutorial way);
    `image_size`: resized and centre-cropped per sample, as pytorch/examples' DCGAN does."""
    channels = trainer.data.image_shape[0]
    resize = [transforms.Resize(image_size), transforms.CenterCrop(image_size)] if image_size else []
    normalize = transforms.Compose([*resize, transforms.ToTensor(), transforms.Normalize((0.5,) * channels, (0.5,) * channels)])
    if data == "cifar10":
        return datasets.ImageFolder(str(DATA[data]["data_root"] / "test"), transform=normalize)
    return ArrayImages(trainer.data.images[:, 0].numpy(), normalize)


def endless(loader: DataLoader) -> Iterator[torch.Tensor]:
    while True:
        for images, _ in loader:
            yield images


class ReferenceLoop:
    """One step = k D updates then one G update, written as tutorials write it."""

    def __init__(self, config: TrainConfig, model: GAN, device: torch.device, dataset: Dataset, workers: int) -> None:
        cfg = config
        self.device, self.z_dim, self.d_steps = device, model.z_dim, cfg.d_steps or 1
        self.hinge = cfg.loss == "hinge"
        self.netG = model.generator
        # The sigmoid a tutorial's D ends in; hinge-loss critics keep raw scores.
        self.netD = model.discriminator if self.hinge else nn.Sequential(model.discriminator, nn.Sigmoid())
        betas = (cfg.beta1, cfg.beta2)
        self.optG = torch.optim.Adam(self.netG.parameters(), lr=cfg.lr_g, betas=betas)
        self.optD = torch.optim.Adam(self.netD.parameters(), lr=cfg.lr_d, betas=betas)
        self.criterion = nn.BCELoss()
        loader = DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True, drop_last=True, num_workers=workers)
        self.batches = endless(loader)

    def d_update(self) -> torch.Tensor:
        real = next(self.batches).to(self.device)
        b = real.size(0)
        noise = torch.randn(b, self.z_dim, device=self.device)
        fake = self.netG(noise)
        self.netD.zero_grad()
        if self.hinge:
            loss = torch.relu(1 - self.netD(real)).mean() + torch.relu(1 + self.netD(fake.detach())).mean()
            loss.backward()
        else:
            label = torch.full((b,), 1.0, device=self.device)
            self.criterion(self.netD(real).view(-1), label).backward()
            label.fill_(0.0)
            self.criterion(self.netD(fake.detach()).view(-1), label).backward()
        self.optD.step()
        return fake

    def step(self) -> None:
        for _ in range(self.d_steps):
            fake = self.d_update()
        self.netG.zero_grad()
        output = self.netD(fake).view(-1)
        loss = -output.mean() if self.hinge else self.criterion(output, torch.full_like(output, 1.0))
        loss.backward()
        self.optG.step()


def time_reference(loop: ReferenceLoop, steps: int) -> float:
    sync(loop.device)
    start = time.perf_counter()
    for _ in range(steps):
        loop.step()
    sync(loop.device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="mnist", choices=sorted(DATA))
    parser.add_argument("--model", default="dcgan", choices=["dcgan", "sngan"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps of each first")
    parser.add_argument("--repeats", type=int, default=3, help="rounds, alternating the two; medians compared")
    parser.add_argument("--workers", type=int, default=0, help="the reference DataLoader's worker processes")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("-O", "--model-option", dest="model_options", action="append", metavar="KEY=VALUE", help="model option of both, e.g. g_ch=64 (repeatable)")
    parser.add_argument("--image-size", type=int, default=None, help="resize the images to N x N (both sides), e.g. 64 for DCGAN's 64x64 layout")
    parser.add_argument(
        "--ganforge-option", dest="ganforge_options", action="append", metavar="KEY=VALUE",
        help="a speed option of ganforge's side only, e.g. precision=bf16, compile=true, channels_last=true (repeatable)",
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    config = TrainConfig(
        data=args.data, data_root=str(DATA[args.data]["data_root"]), data_split=DATA[args.data]["data_split"],
        model=args.model, batch_size=args.batch_size, device=args.device, tensorboard=False, progress=False,
        model_options=parse_options(args.model_options), image_size=args.image_size,
        ema=0.0,  # identical maths on both sides: the reference keeps no moving average of G
        **parse_options(args.ganforge_options),
    )
    with tempfile.TemporaryDirectory() as tmp:
        ours = build_trainer(config, Path(tmp) / "ganforge")
        # The reference trains its own copy of the same networks, from the same initial weights.
        # (channels_last on ganforge's side converted its weights; the tutorial's stay contiguous)
        networks = copy.deepcopy(ours.model).to(memory_format=torch.contiguous_format)
        reference = ReferenceLoop(ours.config, networks, ours.device, reference_dataset(ours, args.data, args.image_size), args.workers)
        time_steps(ours, args.warmup)
        time_reference(reference, args.warmup)
        ours_s, reference_s = [], []
        for _ in range(args.repeats):
            ours_s.append(time_steps(ours, args.steps))
            reference_s.append(time_reference(reference, args.steps))
    ours_rate, reference_rate = args.steps / statistics.median(ours_s), args.steps / statistics.median(reference_s)
    options = "".join(f"-{o.replace('=', '')}" for o in (args.model_options or []) + (args.ganforge_options or []))
    size = f"_{args.image_size}px" if args.image_size else ""
    name = f"reference_loop_{args.model}_{args.data}{size}_{args.device.split(':')[0]}{options}"
    command = f"python -m benchmarks.reference_loop --data {args.data} --model {args.model} --batch-size {args.batch_size} --steps {args.steps} --threads {args.threads} --device {args.device}"
    command += f" --image-size {args.image_size}" if args.image_size else ""
    command += "".join(f" -O {o}" for o in args.model_options or [])
    command += "".join(f" --ganforge-option {o}" for o in args.ganforge_options or [])
    write_result(
        name,
        {
            "benchmark": "reference_loop",
            "model": args.model,
            "data": args.data,
            "image_shape": list(ours.data.image_shape),
            "batch_size": args.batch_size,
            "d_steps": ours.config.d_steps,
            "device": args.device,
            "ganforge_options": parse_options(args.ganforge_options),
            "ganforge_steps_per_second": ours_rate,
            "reference_steps_per_second": reference_rate,
            "ganforge_images_per_second": ours_rate * args.batch_size,
            "reference_images_per_second": reference_rate * args.batch_size,
            "ratio": ours_rate / reference_rate,
            "ganforge_seconds": ours_s,
            "reference_seconds": reference_s,
            "peak_rss_mib": peak_rss_mib(),
            "command": command,
        },
    )


if __name__ == "__main__":
    main()
