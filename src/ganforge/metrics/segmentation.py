"""A segmentation score for generated photos, in the spirit of pix2pix's FCN score.

Isola et al. judge label-map-to-photo outputs by how well an off-the-shelf
semantic segmenter (an FCN trained on real photos) recovers the input label
map from them: if the generated photo is realistic in the right places, the
segmenter reads the right classes there. ganforge has no pretrained FCN
offline, so it trains a small segmenter itself on the data set's real
training photos and their label maps (a U-Net, cached per data set), and
reports its score on real test photos beside the score on generated ones:
the first is the ceiling the second can reach.

Scores (over all test pixels): per-pixel accuracy, mean per-class accuracy
(classes present in the truth), mean IoU (classes present in the truth or
the prediction).

The segmenter is also a feature network for FID and KID between generated
and real photos when no Inception weights are at hand: its features are its
class probabilities average-pooled to a 2 x 2 layout (what is where), not
Inception's, and a report says which ones it used.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ganforge.data.base import to_float
from ganforge.errors import GanforgeError
from ganforge.io import atomic_dir
from ganforge.metrics.cache import cache_dir, tensor_digest
from ganforge.models.pix2pix import UNetGenerator

WEIGHTS_FILE = "segmenter.safetensors"
RECORD_FILE = "segmenter.json"
# The feature grid: class probabilities pooled to LAYOUT x LAYOUT. 2 x 2 keeps
# the features (12 classes x 4 = 48) fewer than a test split's images
# (facades: 106), so FID's covariances are not singular.
LAYOUT = 2


@dataclass(frozen=True)
class SegmenterSettings:
    width: int = 16
    epochs: int = 40
    batch_size: int = 8
    lr: float = 2e-3
    held_out: float = 0.1  # share of the training maps kept apart to report accuracy
    seed: int = 0


def segmenter_net(num_classes: int, size: int, width: int) -> nn.Module:
    """A U-Net from photos to class logits (instance norm: every image on its own)."""
    return UNetGenerator(3, num_classes, size, width, norm="instance", dropout=0.0, squash=False)


def segmentation_scores(predicted: torch.Tensor, truth: torch.Tensor, num_classes: int) -> dict[str, float]:
    """Per-pixel accuracy, mean class accuracy and mean IoU of class maps (N x H x W)."""
    p, t = predicted.flatten().long(), truth.flatten().long()
    confusion = torch.bincount(t * num_classes + p, minlength=num_classes**2).view(num_classes, num_classes).double()
    hits = confusion.diag()
    in_truth, in_prediction = confusion.sum(dim=1), confusion.sum(dim=0)
    present = in_truth > 0
    union = in_truth + in_prediction - hits
    seen = union > 0
    return {
        "pixel_accuracy": float(hits.sum() / confusion.sum()),
        "class_accuracy": float((hits[present] / in_truth[present]).mean()),
        "mean_iou": float((hits[seen] / union[seen]).mean()),
    }


class Segmenter:
    """A trained segmenter: class maps of photos, and layout features for FID/KID."""

    def __init__(self, net: nn.Module, record: dict[str, Any], device: torch.device) -> None:
        self.net = net.to(device).eval().requires_grad_(False)
        self.record = record
        self.device = device
        self.num_classes = int(record["num_classes"])
        self.size = int(record["size"])
        self.name = f"segmenter:{record['data']}"
        self.key = f"segmenter-{record['digest']}"

    @torch.no_grad()
    def logits(self, photos: torch.Tensor) -> torch.Tensor:
        """Class logits of uint8 photos, N x classes x H x W, in batches."""
        return torch.cat([self.net(to_float(part.to(self.device))) for part in photos.split(16)])

    def classes(self, photos: torch.Tensor) -> torch.Tensor:
        return self.logits(photos).argmax(dim=1).cpu()

    def check_images(self, shape: tuple[int, int, int]) -> None:
        if tuple(shape) != (3, self.size, self.size):
            raise GanforgeError(f"the segmenter reads 3x{self.size}x{self.size} photos, got {'x'.join(map(str, shape))}")

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(layout features, mean class probabilities) of uint8 photos: the FeatureExtractor protocol."""
        probabilities = self.net(to_float(images)).softmax(dim=1)
        layout = F.adaptive_avg_pool2d(probabilities, LAYOUT).flatten(1)
        return layout, probabilities.mean(dim=(2, 3))


def train_segmenter(
    photos: torch.Tensor, classes: torch.Tensor, num_classes: int, settings: SegmenterSettings, device: torch.device, name: str, digest: str = ""
) -> tuple[nn.Module, dict[str, Any]]:
    """Fit a segmenter to uint8 photos (N x 3 x H x W) and their class maps (N x H x W)."""
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(settings.seed)
    torch.manual_seed(settings.seed)
    order = torch.randperm(len(photos), generator=generator)
    held = max(1, int(settings.held_out * len(photos)))
    val, train = order[:held], order[held:]
    net = segmenter_net(num_classes, photos.shape[-1], settings.width).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr, betas=(0.5, 0.999))
    steps_per_epoch = max(1, len(train) // settings.batch_size)
    total = settings.epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / total)
    net.train()
    for _epoch in range(settings.epochs):
        shuffled = train[torch.randperm(len(train), generator=generator)]
        for i in range(steps_per_epoch):
            batch = shuffled[i * settings.batch_size : (i + 1) * settings.batch_size]
            x, y = to_float(photos[batch]).to(device), classes[batch].to(device)
            flip = torch.rand(len(batch), generator=generator) < 0.5  # mirrored facades are facades
            x[flip], y[flip] = x[flip].flip(-1), y[flip].flip(-1)
            loss = F.cross_entropy(net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    record: dict[str, Any] = {
        "data": name,
        "digest": digest,
        "num_classes": num_classes,
        "size": int(photos.shape[-1]),
        "settings": asdict(settings),
        "train_maps": len(train),
        "held_out_maps": held,
        "seconds": round(time.perf_counter() - started, 1),
    }
    segmenter = Segmenter(net, record, device)
    record.update({f"held_out_{k}": v for k, v in segmentation_scores(segmenter.classes(photos[val]), classes[val], num_classes).items()})
    return net, record


def segmenter_for(
    photos: torch.Tensor, classes: torch.Tensor, num_classes: int, name: str, device: torch.device, settings: SegmenterSettings | None = None
) -> Segmenter:
    """The cached segmenter of these photos and maps, trained first if there is none."""
    settings = settings or SegmenterSettings()
    digest = tensor_digest(photos, classes, torch.tensor([num_classes, settings.width, settings.epochs, settings.seed]))
    path = cache_dir() / "segmenters" / f"{name}-{digest}"
    if (path / RECORD_FILE).is_file():
        record = json.loads((path / RECORD_FILE).read_text())
        net = segmenter_net(num_classes, int(record["size"]), int(record["settings"]["width"]))
        net.load_state_dict(load_file(str(path / WEIGHTS_FILE)))
        return Segmenter(net, record, device)
    print(f"no segmenter for {name} yet: training one on {len(photos)} real photos (once; cached in {path})", flush=True)
    net, record = train_segmenter(photos, classes, num_classes, settings, device, name, digest)
    with atomic_dir(path) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, str(tmp / WEIGHTS_FILE))
        (tmp / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return Segmenter(net, record, device)


def describe(record: dict[str, Any]) -> str:
    return (
        f"{record['data']} segmenter: {100 * record['held_out_pixel_accuracy']:.1f}% pixel accuracy on "
        f"{record['held_out_maps']} held-out training maps"
    )
