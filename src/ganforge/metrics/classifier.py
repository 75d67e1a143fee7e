"""The `classifier` feature extractor: a small CNN trained by ganforge itself.

Inception features need weights that cannot always be downloaded, and are
a poor judge of 28 x 28 digits anyway. So ganforge trains a compact CNN on
the labelled real data (`ganforge train-classifier --data mnist`); its
penultimate layer (128-d) serves FID, KID and the manifold metrics, its
softmax serves IS and mode counts. A held-out tenth of the data measures its
accuracy, which is saved with it. Trained networks are cached per data set,
keyed by a hash of the images and labels.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ganforge.data.base import ImageData, to_float
from ganforge.errors import GanforgeError
from ganforge.io import atomic_dir
from ganforge.metrics.cache import cache_dir, data_digest, tensor_digest

WEIGHTS_FILE = "model.safetensors"
RECORD_FILE = "classifier.json"
MAX_SHIFT = 2  # pixels of random translation while training


class ClassifierNet(nn.Module):
    """Three conv blocks, global average pooling, a 128-d feature layer, class logits."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 32, feature_dim: int = 128) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(
            *block(in_channels, width),
            nn.MaxPool2d(2),
            *block(width, 2 * width),
            nn.MaxPool2d(2),
            *block(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4 * width, feature_dim),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return features, self.head(features)


@dataclass
class ClassifierSettings:
    epochs: int = 6
    min_steps: int = 600  # small sets (8x8 digits) get more epochs
    batch_size: int = 128
    lr: float = 2e-3
    width: int = 32
    feature_dim: int = 128
    seed: int = 0
    val_fraction: float = 0.1


class ClassifierExtractor:
    """A trained ClassifierNet as a FeatureExtractor (see features.py)."""

    def __init__(self, net: ClassifierNet, record: dict[str, Any], device: torch.device) -> None:
        self.net = net.to(device).eval()
        self.record = record
        self.name = f"classifier:{record['data']}"
        self.key = f"classifier-{record['weights_digest'][:12]}"
        self.image_shape = tuple(record["image_shape"])

    def check_images(self, shape: tuple[int, int, int]) -> None:
        if tuple(shape) != self.image_shape:
            c, h, w = self.image_shape
            raise GanforgeError(
                f"the {self.name} extractor takes {c}x{h}x{w} images (it was trained on {self.record['data']}), "
                f"got {shape[0]}x{shape[1]}x{shape[2]}"
            )

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(to_float(images))


def classifier_dir(data: ImageData) -> Path:
    return cache_dir() / "classifiers" / f"{data.name}-{data_digest(data)[:12]}"


def _random_shift(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Translate the batch by up to MAX_SHIFT pixels (edges replicated)."""
    dy, dx = (int(v) for v in torch.randint(-MAX_SHIFT, MAX_SHIFT + 1, (2,), generator=generator))
    padded = F.pad(x, (MAX_SHIFT,) * 4, mode="replicate")
    h, w = x.shape[-2:]
    return padded[..., MAX_SHIFT + dy : MAX_SHIFT + dy + h, MAX_SHIFT + dx : MAX_SHIFT + dx + w]


@torch.no_grad()
def accuracy(net: ClassifierNet, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> float:
    net.eval()
    correct = sum(
        int((net(to_float(x))[1].argmax(dim=1) == y).sum()) for x, y in zip(images.split(batch_size), labels.split(batch_size))
    )
    return correct / max(1, len(labels))


def train_classifier(
    data: ImageData, settings: ClassifierSettings | None = None, device: torch.device | str = "cpu", log: bool = True
) -> tuple[ClassifierNet, dict[str, Any]]:
    """Train a ClassifierNet on `data`'s labels; returns it and its record."""
    s = settings or ClassifierSettings()
    if data.labels is None:
        raise GanforgeError(
            f"the classifier extractor needs labelled data, and {data.name} ({data.origin}) has no labels; "
            "use a labelled source (for folders: --labels) or --extractor inception"
        )
    device = torch.device(device)
    started = time.perf_counter()
    # The global RNG is left alone, so training a classifier (e.g. on the
    # first --eval-every of a GAN run) cannot change the run it evaluates.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed)
        generator = torch.Generator().manual_seed(s.seed)
        order = torch.randperm(len(data), generator=generator)
        n_val = max(1, int(len(data) * s.val_fraction))
        val, train = order[:n_val], order[n_val:]
        images, labels = data.images.to(device), data.labels.to(device)
        net = ClassifierNet(data.image_shape[0], data.num_classes, s.width, s.feature_dim).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=s.lr)
        batches_per_epoch = max(1, len(train) // s.batch_size)
        epochs = max(s.epochs, -(-s.min_steps // batches_per_epoch))
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=s.lr, total_steps=epochs * batches_per_epoch)
        for epoch in range(epochs):
            net.train()
            shuffled = train[torch.randperm(len(train), generator=generator)]
            total = torch.zeros((), device=device)
            for b in range(batches_per_epoch):
                idx = shuffled[b * s.batch_size : (b + 1) * s.batch_size].to(device)
                x = _random_shift(to_float(images[idx]), generator)
                loss = F.cross_entropy(net(x)[1], labels[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                total += loss.detach()
            val_acc = accuracy(net, images[val.to(device)], labels[val.to(device)])
            if log and (epoch + 1 == epochs or epochs <= 10 or (epoch + 1) % 10 == 0):
                print(f"classifier {data.name}: epoch {epoch + 1}/{epochs}, loss {float(total) / batches_per_epoch:.4f}, held-out accuracy {100 * val_acc:.2f}%", flush=True)
    net = net.cpu().eval()
    record = {
        "data": data.name,
        "origin": data.origin,
        "data_digest": data_digest(data),
        "image_shape": list(data.image_shape),
        "num_classes": data.num_classes,
        "class_names": data.class_names,
        "train_images": len(train),
        "val_images": n_val,
        "val_accuracy": val_acc,
        "train_seconds": round(time.perf_counter() - started, 1),
        "epochs": epochs,
        "settings": vars(s),
        "weights_digest": tensor_digest(*net.state_dict().values()),
    }
    return net, record


def save_classifier(path: Path, net: ClassifierNet, record: dict[str, Any]) -> Path:
    """Write the network and its record atomically; replaces an older one at `path`."""
    old = path.with_name(path.name + ".old")
    if path.exists():
        shutil.rmtree(old, ignore_errors=True)
        path.rename(old)
    with atomic_dir(path) as tmp:
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp / WEIGHTS_FILE))
        (tmp / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n")
    shutil.rmtree(old, ignore_errors=True)
    return path


def load_classifier_from(path: Path) -> tuple[ClassifierNet, dict[str, Any]]:
    try:
        record = json.loads((path / RECORD_FILE).read_text())
        settings = record["settings"]
        net = ClassifierNet(record["image_shape"][0], record["num_classes"], settings["width"], settings["feature_dim"])
        net.load_state_dict(load_file(str(path / WEIGHTS_FILE)))
    except Exception as error:  # any damage: name the folder and the way out
        raise GanforgeError(f"the cached classifier in {path} is unreadable ({error}); retrain it with `ganforge train-classifier --force`") from None
    return net.eval(), record


def classifier_for(
    data: ImageData, device: torch.device | str = "cpu", *, settings: ClassifierSettings | None = None, force: bool = False
) -> ClassifierExtractor:
    """The cached classifier of `data`, trained first if there is none (or `force`)."""
    path = classifier_dir(data)
    if force or not (path / RECORD_FILE).is_file():
        if not force:
            print(f"no classifier for {data.name} yet: training one (once; cached in {path})", flush=True)
        net, record = train_classifier(data, settings, device)
        save_classifier(path, net, record)
    else:
        net, record = load_classifier_from(path)
    return ClassifierExtractor(net, record, torch.device(device))
