"""ganforge's cache folder: trained classifiers and real-data features.

`$GANFORGE_CACHE`, else `$XDG_CACHE_HOME/ganforge`, else `~/.cache/ganforge`.
Entries are keyed by content hashes (of the images and of the network's
weights), so a changed data set or network never reuses stale numbers.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ganforge.data.base import ImageData
from ganforge.io import atomic_path
from ganforge.metrics.features import Features

CACHE_ENV = "GANFORGE_CACHE"


def cache_dir() -> Path:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ganforge"


def tensor_digest(*tensors: torch.Tensor | None) -> str:
    """SHA-256 over the shapes and bytes of `tensors` (None entries count too)."""
    digest = hashlib.sha256()
    for tensor in tensors:
        if tensor is None:
            digest.update(b"none")
            continue
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


def data_digest(data: ImageData) -> str:
    return tensor_digest(data.images, data.labels)


def features_path(label: str, extractor_key: str, digest: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    return cache_dir() / "features" / f"{safe}-{extractor_key}-{digest[:16]}.safetensors"


def load_cached_features(path: Path, extractor: str) -> Features | None:
    """Features cached at `path`, or None when absent or unreadable (then recomputed)."""
    if not path.is_file():
        return None
    try:
        tensors = load_file(str(path))
        return Features(tensors["features"], tensors["logits"], extractor)
    except (SafetensorError, OSError, KeyError):
        return None


def save_cached_features(path: Path, features: Features) -> None:
    with atomic_path(path) as tmp:
        save_file(
            {"features": features.features.contiguous(), "logits": features.logits.contiguous()},
            str(tmp),
            metadata={"extractor": features.extractor},
        )
