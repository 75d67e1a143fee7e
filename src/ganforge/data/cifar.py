"""`cifar10`: CIFAR-10 from the official python batches or from a folder of class folders.

The official download is a set of pickled dicts. Unpickling can run arbitrary
code, so this module never calls `pickle.load`: :class:`SafeUnpickler` only
resolves the few numpy names that array reconstruction needs and refuses
everything else with a GanforgeError before it can run.

The folder form (`<root>/<class>/*.jpg`, or `<root>/{train,test}/<class>/...`)
is decoded by the generic folder loader with labels from the sub-folders.
"""

from __future__ import annotations

import importlib
import io
import math
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.data.base import ImageData
from ganforge.data.folder import iter_image_files, read_image_folder, resolve_root
from ganforge.data.registry import register_data_source
from ganforge.data.transforms import check_image_options, conform
from ganforge.errors import GanforgeError, one_line

CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
META_FILE = "batches.meta"
BATCH_FOLDER = "cifar-10-batches-py"  # what the official archive extracts to
SPLITS = ("all", "train", "test")


def _latin1_encode(text: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """Stand-in for `_codecs.encode`, which protocol-2 pickles written by Python 3
    use for bytes; only the latin-1 form that pickle itself emits is allowed."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise GanforgeError(f"refusing _codecs.encode with encoding {encoding!r} in a pickle")
    return text.encode("latin1", errors)


def _numpy_attr(module: str, name: str) -> Any:
    # numpy 2 moved numpy.core to numpy._core; pickles name either, we resolve
    # whichever this numpy has so the batches load on numpy 1 and 2 alike.
    new, old = module.replace("numpy.core", "numpy._core"), module.replace("numpy._core", "numpy.core")
    for candidate in (new, old):
        try:
            return getattr(importlib.import_module(candidate), name)
        except (ImportError, AttributeError):
            continue
    raise GanforgeError(f"this numpy has no {module}.{name}")


# The largest array a CIFAR pickle may ask for: a batch's data is 10,000 x 3,072
# bytes (30 MB); the limit leaves room for the test batch and odd re-packings.
MAX_ARRAY_BYTES = 256 * 2**20


def _check_array_size(shape: Any, dtype: Any) -> None:
    """Refuse, before any allocation, an array larger than a CIFAR batch can be:
    an allow-listed constructor must not let a file ask for terabytes."""
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    try:
        itemsize = np.dtype(dtype).itemsize
        size = math.prod(int(d) for d in dims) * itemsize  # Python integers: no overflow
    except (TypeError, ValueError) as error:
        raise GanforgeError(f"a pickle asks for an array of shape {shape!r} and type {dtype!r}, which numpy cannot make ({error})") from None
    if any(int(d) < 0 for d in dims) or size > MAX_ARRAY_BYTES:
        raise GanforgeError(f"a pickle asks for an array of shape {shape!r} ({size:,} bytes); a CIFAR batch holds about 30 MB")


class _CheckedArray(np.ndarray):
    """numpy.ndarray as a pickle may call it: checked for size, then a plain ndarray."""

    def __new__(cls, shape: Any, dtype: Any = float, *args: Any, **kwargs: Any) -> np.ndarray:  # type: ignore[misc]
        _check_array_size(shape, dtype)
        return np.ndarray.__new__(np.ndarray, shape, dtype, *args, **kwargs)


def _checked_reconstruct(module: str) -> Callable[..., np.ndarray]:
    """numpy's _reconstruct(subtype, shape, dtype), checked for size and always a plain ndarray."""
    reconstruct = _numpy_attr(module, "_reconstruct")

    def checked(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
        _check_array_size(shape, dtype)
        return reconstruct(np.ndarray, shape, dtype)

    return checked


# (module, name) -> how to resolve it. Only array/dtype reconstruction: no callables
# that touch the file system, processes, imports or eval.
_ALLOWED: dict[tuple[str, str], Callable[[], Any]] = {
    ("numpy", "ndarray"): lambda: _CheckedArray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: _latin1_encode,
}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_module, "_reconstruct")] = lambda m=_module: _checked_reconstruct(m)
    _ALLOWED[(_module, "scalar")] = lambda m=_module: _numpy_attr(m, "scalar")
for _module in ("numpy.core.numeric", "numpy._core.numeric"):
    # Protocol-5 pickles of arrays rebuild them with _frombuffer.
    _ALLOWED[(_module, "_frombuffer")] = lambda m=_module: _numpy_attr(m, "_frombuffer")


class SafeUnpickler(pickle.Unpickler):
    """An Unpickler that can rebuild numpy arrays and plain containers, nothing else."""

    def __init__(self, file: io.BufferedIOBase, source: str) -> None:
        # encoding="bytes": the official batches are Python 2 pickles whose
        # str keys and array buffers must stay bytes.
        super().__init__(file, encoding="bytes")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        resolve = _ALLOWED.get((module, name))
        if resolve is None:
            raise GanforgeError(
                f"refusing to load {self.source}: the pickle references {module}.{name}, "
                "which a CIFAR batch never needs (the file may be malicious)"
            )
        return resolve()


def safe_load_pickle(path: Path) -> Any:
    """Unpickle `path` with :class:`SafeUnpickler`; any failure names the file."""
    try:
        with path.open("rb") as f:
            return SafeUnpickler(f, str(path)).load()  # type: ignore[arg-type]
    except GanforgeError:
        raise
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, KeyError,
            IndexError, AttributeError) as exc:  # fmt: skip
        # A damaged pickle fails in many ways; all mean "this file is unusable".
        raise GanforgeError(f"cannot read CIFAR batch {path}: {type(exc).__name__}: {exc}") from None


def _field(batch: Any, key: str, path: Path) -> Any:
    if isinstance(batch, dict):
        for candidate in (key.encode(), key):
            if candidate in batch:
                return batch[candidate]
    raise GanforgeError(f"{path} is not a CIFAR batch (no '{key}' entry)")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> (N x 3 x 32 x 32 uint8, N int64)."""
    batch = safe_load_pickle(path)
    data = _field(batch, "data", path)
    labels = np.asarray(_field(batch, "labels", path), dtype=np.int64)
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.shape[1:] == (3072,)):
        shape = getattr(data, "shape", type(data).__name__)
        raise GanforgeError(f"{path}: expected uint8 data of shape N x 3072, found {shape}")
    if labels.shape != (len(data),):
        raise GanforgeError(f"{path}: {len(data)} images but {labels.size} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
        raise GanforgeError(f"{path}: labels must be 0..9")
    # Each row is the red plane, then green, then blue, 32 x 32 each.
    return data.reshape(-1, 3, 32, 32), labels


def _class_names(folder: Path) -> list[str]:
    meta = folder / META_FILE
    if not meta.is_file():
        return list(CIFAR10_CLASSES)
    names = _field(safe_load_pickle(meta), "label_names", meta)
    return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]


def find_batch_folder(root: Path) -> Path | None:
    """root or root/cifar-10-batches-py, whichever holds the python batches."""
    for folder in (root, root / BATCH_FOLDER):
        if any((folder / f).is_file() for f in (*TRAIN_BATCHES, TEST_BATCH)):
            return folder
    return None


def _load_batches(folder: Path, split: str) -> ImageData:
    wanted = {"train": TRAIN_BATCHES, "test": [TEST_BATCH]}.get(split, [*TRAIN_BATCHES, TEST_BATCH])
    files = [folder / f for f in wanted if (folder / f).is_file()]
    if not files:
        raise GanforgeError(f"no CIFAR-10 {split} batches ({', '.join(wanted)}) in {folder}")
    parts = [_read_batch(f) for f in files]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return ImageData(
        images=torch.from_numpy(images),
        labels=torch.from_numpy(labels),
        class_names=_class_names(folder),
        name="cifar10",
        origin=f"{folder}: python batches {', '.join(f.name for f in files)}",
    )


def _split_folders(root: Path, split: str) -> list[Path]:
    """Class-folder roots to read: root/train and/or root/test if present, else root."""
    present = [s for s in ("train", "test") if (root / s).is_dir()]
    if present:
        chosen = present if split == "all" else [s for s in present if s == split]
        if not chosen:
            raise GanforgeError(
                f"--split {split}: {root / split} does not exist (found: {', '.join(present)})"
            )
        return [root / s for s in chosen]
    if split != "all":
        raise GanforgeError(
            f"--split {split} needs {root / split}/<class>/ or the python batches in {root}; "
            f"{root} holds neither"
        )
    return [root]


def _load_folders(root: Path, split: str, image_size: int | None, channels: int | None) -> ImageData:
    parts = [
        read_image_folder(f, labels=True, image_size=image_size, channels=channels or 3, name="cifar10")
        for f in _split_folders(root, split)
    ]
    first = parts[0]
    for part in parts[1:]:
        if part.class_names != first.class_names or part.image_shape != first.image_shape:
            raise GanforgeError(
                f"the class folders or image sizes of {first.origin} and {part.origin} differ"
            )
    if len(parts) == 1:
        return first
    return ImageData(
        images=torch.cat([p.images for p in parts]),
        labels=torch.cat([p.labels for p in parts if p.labels is not None]),
        class_names=first.class_names,
        name="cifar10",
        origin="; ".join(p.origin for p in parts),
        notes=[n for p in parts for n in p.notes],
    )



def _download(root: Path) -> None:
    """Fetch and extract the official archive into root/cifar-10-batches-py.

    Uses torchvision's download helper and CIFAR10's URL and checksum, but not
    the CIFAR10 dataset class itself, since that unpickles the batches with a
    plain pickle.load.
    """
    if find_batch_folder(root) is not None:
        return
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import download_and_extract_archive

    try:
        download_and_extract_archive(
            CIFAR10.url, str(root), filename=CIFAR10.filename, md5=CIFAR10.tgz_md5
        )
    except Exception as exc:  # network errors come in many types (URLError, RuntimeError, ...)
        raise GanforgeError(
            f"downloading CIFAR-10 failed ({one_line(exc)}); place the python batches "
            f"(data_batch_1..5, test_batch) or class folders in {root} or pass --data-root DIR"
        ) from None


@register_data_source("cifar10", "CIFAR-10 (32x32 colour, 10 classes): python batches or class folders")
def load_cifar10(
    *,
    root: str | None = None,
    download: bool = False,
    split: str = "all",
    image_size: int | None = None,
    channels: int | None = None,
) -> ImageData:
    check_image_options(image_size, channels)
    if split not in SPLITS:
        raise GanforgeError(f"--split must be one of {', '.join(SPLITS)} for cifar10, got '{split}'")
    folder = resolve_root("cifar10", root)
    if download:
        _download(folder)
    batches = find_batch_folder(folder)
    if batches is not None:
        return conform(_load_batches(batches, split), image_size, channels)
    if not folder.is_dir() or next(iter_image_files(folder), None) is None:
        state = "the folder does not exist" if not folder.is_dir() else "no python batches or images"
        raise GanforgeError(
            f"no CIFAR-10 data in {folder} ({state}); pass --data-root DIR, or --download"
        )
    return conform(_load_folders(folder, split, image_size, channels), image_size, channels)
