"""The FID Inception network, exactly as pytorch-fid defines it.

FID and IS are only comparable across papers when computed with the
TensorFlow Inception graph of 2015-12-05 that the original FID code used.
pytorch-fid ports that graph to PyTorch (its `FIDInception*` blocks patch
torchvision's Inception-v3) and publishes the weights; ganforge builds the
same network from pytorch-fid's blocks, loads the weights with
`torch.load(weights_only=True)` (never a full unpickle), and preprocesses
images the way pytorch-fid does: [0, 1] -> bilinear resize to 299 x 299
(align_corners=False) -> [-1, 1].
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.weights import PretrainedFile, load_tensors

INCEPTION_SIZE = 299
POOL_DIM = 2048
NUM_LOGITS = 1008  # the TF graph's 1,000 ImageNet classes plus 8 unused
WEIGHTS_ENV = "GANFORGE_INCEPTION_WEIGHTS"


def weights_url() -> str:
    from pytorch_fid.inception import FID_WEIGHTS_URL

    return FID_WEIGHTS_URL


def _pretrained_file() -> PretrainedFile:
    return PretrainedFile(
        what="the FID Inception weights", url=weights_url(), option="--inception-weights", usage="--inception-weights FILE", env=WEIGHTS_ENV,
        instead="or use --extractor classifier",
    )


def build_fid_inception() -> nn.Module:
    """Inception-v3 with pytorch-fid's FID blocks, randomly initialised."""
    import torchvision
    from pytorch_fid import inception as fid

    net = torchvision.models.inception_v3(num_classes=NUM_LOGITS, aux_logits=False, weights=None, init_weights=False)
    net.Mixed_5b = fid.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = fid.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = fid.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = fid.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = fid.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = fid.FIDInceptionE_1(1280)
    net.Mixed_7c = fid.FIDInceptionE_2(2048)
    return net


def resolve_weights(path: str | os.PathLike[str] | None) -> Path:
    """The weights file: `path`, else $GANFORGE_INCEPTION_WEIGHTS, else the
    cached download, else download it (needs internet)."""
    return _pretrained_file().resolve(path)


def file_digest(path: Path) -> str:
    """SHA-256 of a file, for cache keys of statistics computed with it."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    return load_tensors(path, "--inception-weights")


class FIDInception(nn.Module):
    """Images in [0, 1] (N x C x H x W, any size, 1 or 3 channels) ->
    (2048-d pool features, 1008 logits without the bias).

    The logits omit the classifier's bias on purpose: the original Inception
    Score code computed softmax(pool3 @ W), and torch-fidelity follows it.
    """

    def __init__(self, net: nn.Module | None = None) -> None:
        super().__init__()
        self.net = net if net is not None else build_fid_inception()
        self.net.eval()

    @classmethod
    def from_file(cls, file: Path) -> FIDInception:
        model = cls()
        try:
            model.net.load_state_dict(load_state_dict(file))
        except RuntimeError as error:
            first = str(error).strip().splitlines()[0]
            raise GanforgeError(f"--inception-weights {file} does not fit the FID Inception network ({first})") from None
        return model

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        x = F.interpolate(images, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
        return 2.0 * x - 1.0

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.net
        x = self.preprocess(images)
        for block in (n.Conv2d_1a_3x3, n.Conv2d_2a_3x3, n.Conv2d_2b_3x3, n.maxpool1, n.Conv2d_3b_1x1, n.Conv2d_4a_3x3, n.maxpool2):
            x = block(x)
        for block in (n.Mixed_5b, n.Mixed_5c, n.Mixed_5d, n.Mixed_6a, n.Mixed_6b, n.Mixed_6c, n.Mixed_6d, n.Mixed_6e):
            x = block(x)
        for block in (n.Mixed_7a, n.Mixed_7b, n.Mixed_7c):
            x = block(x)
        pool = F.adaptive_avg_pool2d(x, 1).flatten(1)
        logits = pool @ n.fc.weight.T
        return pool, logits


class InceptionExtractor:
    """FIDInception as a FeatureExtractor (see features.py): uint8 images in."""

    name = "inception"

    def __init__(self, weights: str | os.PathLike[str] | None, device: torch.device) -> None:
        file = resolve_weights(weights)
        self.model = FIDInception.from_file(file).to(device)
        self.key = f"inception-{file_digest(file)[:12]}"

    def check_images(self, shape: tuple[int, int, int]) -> None:
        if shape[0] not in (1, 3):
            raise GanforgeError(f"the inception extractor takes 1- or 3-channel images, got {shape[0]} channels")

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(images.float() / 255.0)


def inception_weights_available(path: str | os.PathLike[str] | None) -> bool:
    """Whether FID Inception weights can be had without a download."""
    return _pretrained_file().available(path)
