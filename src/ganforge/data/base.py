"""The in-memory image data set every data source returns.

Small data sets are decoded once into one uint8 tensor (N x C x H x W), so the
training loop indexes a tensor instead of running per-sample Python. Images
are converted to floats in [-1, 1] a whole batch at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ganforge.errors import GanforgeError


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return images.to(torch.float32).div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255], rounding to the nearest level."""
    return images.detach().add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)


class Unlabelled:
    """The label part of the data protocol ImageData defines (the loop reads
    these), for data sets without classes: pairs, domains, HR images."""

    labels = None
    class_names = None
    num_classes = 0


class InputsAndTargets(Unlabelled):
    """Data of an image-to-image task: inputs `a` and targets `b`, uint8 N x C x H x W each."""

    a: torch.Tensor
    b: torch.Tensor

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The shape of one target image (what the generator makes)."""
        c, h, w = self.b.shape[1:]
        return int(c), int(h), int(w)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The shape of one input image (what the generator reads)."""
        c, h, w = self.a.shape[1:]
        return int(c), int(h), int(w)


def labels_hint(data_name: str) -> str:
    """How to give a data source class labels, for messages about missing ones."""
    return " (add --labels to read classes from sub-folder names)" if data_name == "folder" else ""


@dataclass
class ImageData:
    """Images (uint8, N x C x H x W) with optional integer labels."""

    images: torch.Tensor
    labels: torch.Tensor | None = None
    class_names: list[str] | None = None
    name: str = ""
    origin: str = ""  # where it was read from, for messages and the run config
    notes: list[str] = field(default_factory=list)  # e.g. "skipped 3 unreadable files"

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError("ImageData.images must be a uint8 tensor of shape N x C x H x W")
        if self.images.shape[1] not in (1, 3):
            raise ValueError(f"images must have 1 or 3 channels, got {self.images.shape[1]}")
        if len(self.images) == 0:
            raise GanforgeError(f"data source '{self.name}' has no images ({self.origin})")
        if self.labels is not None:
            if self.labels.shape != (len(self.images),):
                raise ValueError("ImageData.labels must have one entry per image")
            self.labels = self.labels.to(torch.int64)
        self.images = self.images.contiguous()

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        """Number of classes, 0 for unlabelled data."""
        if self.labels is None:
            return 0
        if self.class_names is not None:
            return len(self.class_names)
        return int(self.labels.max()) + 1

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        """One image in [-1, 1] and its label (-1 if unlabelled): the torch Dataset protocol."""
        label = int(self.labels[index]) if self.labels is not None else -1
        return to_float(self.images[index]), label

    def batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A whole batch at once: images in [-1, 1] and labels (or None)."""
        images = to_float(self.images.index_select(0, indices))
        labels = self.labels.index_select(0, indices) if self.labels is not None else None
        return images, labels

    def to(self, device: torch.device | str) -> ImageData:
        """The same data on another device (kept as uint8 to save memory)."""
        return ImageData(
            images=self.images.to(device),
            labels=None if self.labels is None else self.labels.to(device),
            class_names=self.class_names,
            name=self.name,
            origin=self.origin,
            notes=list(self.notes),
        )

    def describe(self) -> str:
        c, h, w = self.image_shape
        classes = f", {self.num_classes} classes" if self.labels is not None else ""
        return f"{self.name}: {len(self)} images {c}x{h}x{w}{classes} from {self.origin}"
