"""Evaluation: generated images against real ones, through one feature network.

`Evaluator` holds the extractor and the real set's features (cached on disk
per data set and extractor) and scores image sets; `evaluate_paths` is
`ganforge eval --real A --fake B`. Metrics compare image sets and never
sample a generator: that is ganforge.pipelines.evaluation's (`ganforge eval
RUN`, and the training loop's --eval-every).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.data.base import ImageData, to_uint8
from ganforge.errors import GanforgeError, unknown_choice
from ganforge.metrics.cache import (
    data_digest,
    features_path,
    load_cached_features,
    save_cached_features,
)
from ganforge.metrics.classifier import classifier_for
from ganforge.metrics.features import FeatureExtractor, Features, extract_features
from ganforge.metrics.inception import InceptionExtractor, inception_weights_available
from ganforge.metrics.registry import METRICS, parse_metric_names

EXTRACTORS = ("auto", "classifier", "inception")
SAMPLE_BATCH = 500
# Up to this size a data set is "small": Inception features, made for
# 299 x 299 photographs, say little about it, so the classifier is the default.
SMALL_IMAGE = 28


@dataclass
class EvalResult:
    metrics: dict[str, float]
    extractor: str
    n_real: int
    n_fake: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The JSON line appended to a run's metrics.jsonl."""
        return {"kind": "eval", **self.extra, "extractor": self.extractor, "n_real": self.n_real, "n_fake": self.n_fake, **self.metrics, "seconds": round(self.seconds, 2)}

    def table(self) -> str:
        width = max(len(k) for k in self.metrics)
        lines = [f"{name:<{width}}  {_format(value)}" for name, value in self.metrics.items()]
        lines.append(f"({self.extractor} features; {self.n_fake} fake vs {self.n_real} real images; {self.seconds:.1f} s)")
        return "\n".join(lines)


def _format(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def default_extractor(data: ImageData | None, inception_weights: str | None) -> str:
    """The classifier for small or labelled data without Inception weights at hand, else Inception."""
    have_inception = inception_weights_available(inception_weights)
    labelled = data is not None and data.labels is not None
    small = data is not None and max(data.image_shape[1:]) <= SMALL_IMAGE
    if labelled and (small or not have_inception):
        return "classifier"
    if have_inception:
        return "inception"
    raise GanforgeError(
        "no feature network available: the classifier extractor needs labelled real data "
        "(a labelled data source, or --classifier-data NAME) and the inception extractor needs "
        "--inception-weights FILE (pt_inception-2015-12-05-6726825d.pth)"
    )


def create_extractor(
    kind: str, data: ImageData | None, device: torch.device, inception_weights: str | None = None
) -> FeatureExtractor:
    """`kind` is auto, classifier (trained on `data`, cached) or inception."""
    if kind not in EXTRACTORS:
        raise unknown_choice("feature extractor", kind, EXTRACTORS)
    if kind == "auto":
        kind = default_extractor(data, inception_weights)
    if kind == "inception":
        return InceptionExtractor(inception_weights, device)
    if data is None:
        raise GanforgeError("the classifier extractor needs the labelled data it is trained on: give --classifier-data NAME")
    return classifier_for(data, device)


def check_same_shape(real: tuple[int, ...], fake: tuple[int, ...]) -> None:
    if tuple(real) != tuple(fake):
        r, f = "x".join(map(str, real)), "x".join(map(str, fake))
        raise GanforgeError(f"real images are {r} (CxHxW) but fake images are {f}; compare images of one size and channel count")


def features_of_data(extractor: FeatureExtractor, data: ImageData, device: torch.device) -> Features:
    """Features of a real data set, from the cache when this data and network met before."""
    path = features_path(data.name or "images", extractor.key, data_digest(data))
    cached = load_cached_features(path, extractor.name)
    if cached is not None and len(cached) == len(data):
        return cached
    features = extract_features(extractor, data.images, device, what=f"real images ({data.name})")
    save_cached_features(path, features)
    return features


def compute_metrics(names: list[str], real: Features, fake: Features) -> dict[str, float]:
    results: dict[str, float] = {}
    for name in names:
        results.update(METRICS.get(name).fn(real, fake))
    return results


class Evaluator:
    """Scores generated images against one real set with one feature network."""

    def __init__(self, metrics: list[str] | str, extractor: FeatureExtractor, real: ImageData, device: torch.device) -> None:
        self.metrics = parse_metric_names(metrics)
        self.extractor = extractor
        self.real_data = real
        self.device = device
        self.real = features_of_data(extractor, real, device)

    @classmethod
    def create(
        cls,
        metrics: list[str] | str,
        real: ImageData,
        device: torch.device,
        extractor: str = "auto",
        inception_weights: str | None = None,
        classifier_data: ImageData | None = None,
    ) -> Evaluator:
        network = create_extractor(extractor, classifier_data or real, device, inception_weights)
        return cls(metrics, network, real, device)

    def evaluate_images(self, fake: torch.Tensor) -> EvalResult:
        """Metrics of uint8 images `fake` (N x C x H x W)."""
        started = time.perf_counter()
        check_same_shape(self.real_data.image_shape, tuple(fake.shape[1:]))
        fake_features = extract_features(self.extractor, fake, self.device, what="fake images")
        values = compute_metrics(self.metrics, self.real, fake_features)
        return EvalResult(values, self.extractor.name, len(self.real), len(fake), time.perf_counter() - started)


# -- image sets from files -------------------------------------------------------


def read_npz_images(path: Path) -> ImageData:
    """An .npz as `ganforge sample` writes it: `images` uint8 N x H x W x C (or N x H x W)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "images" not in archive:
                raise GanforgeError(f"{path} has no 'images' array (it holds: {', '.join(archive.files) or 'nothing'})")
            array = archive["images"]
            labels = archive["labels"] if "labels" in archive else None
    except (OSError, ValueError) as error:
        raise GanforgeError(f"{path} is not a readable .npz file ({error})") from None
    if array.dtype != np.uint8 or array.ndim not in (3, 4):
        raise GanforgeError(f"{path}: 'images' must be uint8 N x H x W x C, got {array.dtype} with shape {array.shape}")
    if array.ndim == 3:
        array = array[..., None]
    if array.shape[-1] not in (1, 3):
        raise GanforgeError(f"{path}: images must have 1 or 3 channels (last axis), got {array.shape[-1]}")
    images = torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).contiguous()
    return ImageData(images, None if labels is None else torch.from_numpy(labels), name=path.stem, origin=str(path))


def read_image_set(spec: str, data_root: str | None = None) -> ImageData:
    """A folder of images, an .npz file, or the name of a data source."""
    from ganforge.data import DATA_SOURCES, load_data
    from ganforge.data.folder import read_image_folder

    path = Path(spec).expanduser()
    if path.is_file() and path.suffix.lower() == ".npz":
        return read_npz_images(path)
    if path.is_dir():
        return read_image_folder(path, name=path.name)
    if path.exists():
        raise GanforgeError(f"{path}: give a folder of images or an .npz file written by `ganforge sample`")
    if spec in DATA_SOURCES:
        return load_data(spec, root=data_root)
    raise GanforgeError(f"{spec}: no such file or folder, and not a data source ({', '.join(DATA_SOURCES.names())})")


# -- comparing two image sets -----------------------------------------------------------


def evaluate_paths(
    real: str,
    fake: str,
    metrics: list[str] | str,
    *,
    extractor: str = "auto",
    inception_weights: str | None = None,
    classifier_data: str | None = None,
    data_root: str | None = None,
    device: str = "auto",
) -> EvalResult:
    """`ganforge eval --real A --fake B`."""
    from ganforge.data import load_data
    from ganforge.device import resolve_device

    real_data, fake_data = read_image_set(real, data_root), read_image_set(fake, data_root)
    # Checked again by the evaluator, but here it fails before any classifier is trained.
    check_same_shape(real_data.image_shape, fake_data.image_shape)
    labelled = load_data(classifier_data, root=data_root) if classifier_data else None
    if extractor == "classifier" and labelled is None and real_data.labels is None:
        raise GanforgeError(
            f"the classifier extractor needs labelled data to train on and {real} has no labels: "
            "give --classifier-data NAME (a labelled data source), or use --extractor inception"
        )
    evaluator = Evaluator.create(metrics, real_data, resolve_device(device), extractor, inception_weights, labelled)
    return evaluator.evaluate_images(fake_data.images)

