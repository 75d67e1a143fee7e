"""`mnist` and `fashion-mnist`: the IDX files of LeCun's MNIST and Zalando's Fashion-MNIST.

Every `<prefix>-images-idx3-ubyte[.gz]` in the data root (or in the
`MNIST/raw` / `FashionMNIST/raw` folder torchvision's downloader writes) is
paired with `<prefix>-labels-idx1-ubyte[.gz]`; all such splits are read, or
one with `split=<prefix>`. Any prefix works, so a subset rewritten as valid
IDX files (e.g. `train5k-*`) loads like the originals. The parser is ours
(numpy, a dozen lines) so reading never depends on torchvision internals.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganforge.data.base import ImageData
from ganforge.data.folder import resolve_root
from ganforge.data.registry import register_data_source
from ganforge.data.transforms import check_image_options, conform
from ganforge.errors import GanforgeError, one_line

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
IMAGES_SUFFIX = "-images-idx3-ubyte"
LABELS_SUFFIX = "-labels-idx1-ubyte"

FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


@dataclass(frozen=True)
class IdxSet:
    """How one IDX-based source is named and where torchvision puts it."""

    name: str  # source name
    title: str  # for messages
    raw_dir: str  # torchvision's download folder, relative to root
    class_names: list[str]
    torchvision_class: str  # torchvision.datasets attribute used by --download


MNIST = IdxSet("mnist", "MNIST", "MNIST/raw", [str(d) for d in range(10)], "MNIST")
FASHION = IdxSet("fashion-mnist", "Fashion-MNIST", "FashionMNIST/raw", FASHION_CLASSES, "FashionMNIST")


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        # gzip reports a cut-off download as EOFError and a damaged one as BadGzipFile.
        raise GanforgeError(f"cannot read IDX file {path}: {exc}") from None


def read_idx(path: str | os.PathLike[str], magic: int) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (optionally gzipped) into a numpy array.

    The header is a big-endian magic number (0x0000 0x08 = ubyte, then the
    number of dimensions) followed by one big-endian uint32 per dimension.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or int.from_bytes(raw[:4], "big") != magic:
        found = raw[:4].hex() if len(raw) >= 4 else "a file of {} bytes".format(len(raw))
        raise GanforgeError(
            f"{path} is not an IDX file of the expected kind "
            f"(magic number {found}, expected {magic:08x})"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise GanforgeError(f"IDX file {path} is truncated (header cut off)")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = math.prod(dims)  # Python integers: four 2**32 dimensions do not overflow
    actual = len(raw) - header
    if actual != expected:
        state = "truncated" if actual < expected else "corrupt (longer than its header says)"
        raise GanforgeError(
            f"IDX file {path} is {state}: header {'x'.join(map(str, dims))} needs "
            f"{expected} bytes of data, found {actual}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


@dataclass(frozen=True)
class Split:
    prefix: str
    images: Path
    labels: Path


def _idx_file(folder: Path, stem: str) -> Path | None:
    """`stem` or `stem.gz` in folder; the plain file wins (torchvision keeps both)."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _split_order(prefix: str) -> tuple[int, str]:
    # The conventional order: training data, then the test split, then anything else.
    rank = 0 if prefix.startswith("train") else 1 if prefix.startswith(("t10k", "test")) else 2
    return rank, prefix


def find_splits(root: Path, spec: IdxSet) -> list[Split]:
    """Every image/label file pair in root or root/<raw_dir>, one per prefix."""
    splits: dict[str, Split] = {}
    for folder in (root, root / spec.raw_dir):
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            stem = entry.name.removesuffix(".gz")
            if not stem.endswith(IMAGES_SUFFIX) or not entry.is_file():
                continue
            prefix = stem[: -len(IMAGES_SUFFIX)]
            if prefix in splits:  # found in root already, or as the other compression
                continue
            images = _idx_file(folder, stem)
            labels = _idx_file(folder, prefix + LABELS_SUFFIX)
            if images is None:
                continue
            if labels is None:
                raise GanforgeError(
                    f"{images} has no labels file next to it "
                    f"(expected {folder / (prefix + LABELS_SUFFIX)}[.gz])"
                )
            splits[prefix] = Split(prefix, images, labels)
    return sorted(splits.values(), key=lambda s: _split_order(s.prefix))


def _read_split(split: Split) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(split.images, IMAGES_MAGIC)
    labels = read_idx(split.labels, LABELS_MAGIC)
    if len(images) != len(labels):
        raise GanforgeError(
            f"{split.images} holds {len(images)} images but {split.labels} "
            f"holds {len(labels)} labels; the two files must come from the same split"
        )
    return images, labels



def _download(spec: IdxSet, root: Path) -> None:
    """Fetch both splits with torchvision (files land in root/<raw_dir>)."""
    import torchvision.datasets

    dataset_class = getattr(torchvision.datasets, spec.torchvision_class)
    try:
        for train in (True, False):
            dataset_class(str(root), train=train, download=True)
    except Exception as exc:  # network errors come in many types (URLError, RuntimeError, ...)
        raise GanforgeError(
            f"downloading {spec.title} failed ({one_line(exc)}); place the IDX files "
            f"(*{IMAGES_SUFFIX}[.gz], *{LABELS_SUFFIX}[.gz]) in {root} or pass --data-root DIR"
        ) from None


def _select(splits: list[Split], split: str, spec: IdxSet, root: Path) -> list[Split]:
    if split == "all":
        return splits
    chosen = [s for s in splits if s.prefix == split]
    if not chosen:
        have = ", ".join(s.prefix for s in splits)
        raise GanforgeError(
            f"--split '{split}' is not among the {spec.title} files in {root}; "
            f"valid choices: all, {have}"
        )
    return chosen


def load_idx(
    spec: IdxSet,
    root: str | None,
    download: bool,
    split: str,
    image_size: int | None,
    channels: int | None,
) -> ImageData:
    check_image_options(image_size, channels)
    folder = resolve_root(spec.name, root)
    splits = find_splits(folder, spec)
    if download and not {"train", "t10k"} <= {s.prefix for s in splits}:
        # Only fetch what is missing: with both official splits present, a
        # --download left on the command line works offline too.
        _download(spec, folder)
        splits = find_splits(folder, spec)
    if not splits:
        missing = "" if folder.is_dir() else " (the folder does not exist)"
        raise GanforgeError(
            f"no {spec.title} IDX files (*{IMAGES_SUFFIX}[.gz]) found in {folder}{missing}; "
            "pass --data-root DIR, or --download"
        )
    chosen = _select(splits, split, spec, folder)
    parts = [_read_split(s) for s in chosen]
    images = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    labels = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    if labels.size and int(labels.max()) >= len(spec.class_names):
        raise GanforgeError(
            f"{spec.title} labels must be 0..{len(spec.class_names) - 1}, "
            f"found {int(labels.max())} in {folder}"
        )
    read = ", ".join(
        f"{s.prefix} ({s.images.name}, {s.labels.name}: {len(p[0])} images)"
        for s, p in zip(chosen, parts)
    )
    data = ImageData(
        # np.frombuffer views are read-only; torch wants writable memory.
        images=torch.from_numpy(images if images.flags.writeable else images.copy()).unsqueeze(1),
        labels=torch.from_numpy(labels.astype(np.int64)),
        class_names=list(spec.class_names),
        name=spec.name,
        origin=f"{folder}: {read}",
    )
    return conform(data, image_size, channels)


@register_data_source("mnist", "MNIST handwritten digits from IDX files (28x28 grey, 10 classes)")
def load_mnist(
    *,
    root: str | None = None,
    download: bool = False,
    split: str = "all",
    image_size: int | None = None,
    channels: int | None = None,
) -> ImageData:
    return load_idx(MNIST, root, download, split, image_size, channels)


@register_data_source("fashion-mnist", "Fashion-MNIST clothing images from IDX files (28x28 grey, 10 classes)")
def load_fashion_mnist(
    *,
    root: str | None = None,
    download: bool = False,
    split: str = "all",
    image_size: int | None = None,
    channels: int | None = None,
) -> ImageData:
    return load_idx(FASHION, root, download, split, image_size, channels)
