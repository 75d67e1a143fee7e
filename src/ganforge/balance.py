"""Balancing a labelled data set with a conditional GAN's samples.

`ganforge balance RUN --out DIR` tops up every class of the run's training
data with generated images of that class until each holds as many images as
the largest one (or at least --per-class N). The result is a folder with one
sub-folder per class (`real-*.png` and `synthetic-*.png`, plus `balance.json`
saying how many of each), which `--data folder --labels` reads back, or one
`.npz` (`images`, `labels`, and `synthetic` marking the generated rows).

Images are written at the resolution the GAN was trained on, real ones
included, so the two kinds cannot be told apart by their size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganforge.data.base import ImageData
from ganforge.errors import GanforgeError
from ganforge.io import atomic_dir, atomic_path, write_json
from ganforge.report.images import hwc_array, save_png, to_hwc_uint8

if TYPE_CHECKING:
    from ganforge.pipelines import GANPipeline

MANIFEST_FILE = "balance.json"


@dataclass(frozen=True)
class BalancePlan:
    """How many real and generated images each class gets."""

    class_names: list[str]
    real: list[int]
    synthetic: list[int]

    @property
    def totals(self) -> list[int]:
        return [r + s for r, s in zip(self.real, self.synthetic, strict=True)]

    def synthetic_labels(self) -> torch.Tensor:
        """One class label per image to generate, class by class."""
        return torch.repeat_interleave(torch.arange(len(self.synthetic)), torch.tensor(self.synthetic, dtype=torch.int64))

    def record(self) -> dict[str, Any]:
        return {
            "classes": [
                {"index": k, "name": name, "real": real, "synthetic": synthetic}
                for k, (name, real, synthetic) in enumerate(zip(self.class_names, self.real, self.synthetic, strict=True))
            ],
            "real": sum(self.real),
            "synthetic": sum(self.synthetic),
        }

    def table(self) -> str:
        width = max(5, *(len(name) for name in self.class_names))
        lines = [f"{'class':<{width}}  {'real':>7}  {'synthetic':>9}  {'total':>7}"]
        for name, real, synthetic, total in zip(self.class_names, self.real, self.synthetic, self.totals, strict=True):
            lines.append(f"{name:<{width}}  {real:>7}  {synthetic:>9}  {total:>7}")
        return "\n".join(lines)


def numbered_class_names(num_classes: int) -> list[str]:
    """Class numbers zero-padded, so that sorting them (as the folder source
    does) keeps the numbering."""
    width = len(str(num_classes - 1))
    return [f"{k:0{width}d}" for k in range(num_classes)]


def check_folder_names(class_names: list[str]) -> None:
    """Each class name must be able to name its own sub-folder."""
    bad = [n for n in class_names if not n or n in (".", "..") or "/" in n or "\\" in n]
    if bad or len(set(class_names)) != len(class_names):
        problem = f"class name {bad[0]!r} cannot name a folder" if bad else "class names repeat"
        raise GanforgeError(f"cannot write one folder per class: {problem}; write an .npz instead")


def plan_balance(labels: torch.Tensor, num_classes: int, class_names: list[str], per_class: int | None = None) -> BalancePlan:
    """Top every class up to the largest class's count, or to `per_class`
    (a class that already has more keeps all its real images)."""
    real = torch.bincount(labels.cpu(), minlength=num_classes).tolist()
    if per_class is not None and per_class < 1:
        raise GanforgeError(f"--per-class must be at least 1, got {per_class}")
    target = max(real) if per_class is None else per_class
    return BalancePlan(class_names=class_names, real=real, synthetic=[max(0, target - count) for count in real])


def labelled_training_data(pipeline: GANPipeline) -> ImageData:
    """The run's training images with labels that match its conditional G."""
    model = pipeline.model
    name = model.config.get("name", "this model")
    if not model.conditional:
        raise GanforgeError(
            f"balance needs a conditional GAN, and model '{name}' is unconditional: "
            "train one on labelled data, e.g. --model cgan (or cgan-pd, acgan) with --labels for a folder"
        )
    data = pipeline.training_data()
    if not isinstance(data, ImageData) or data.labels is None:
        raise GanforgeError(f"the run's training data ({data.name}) has no class labels to balance")
    if data.num_classes != model.num_classes:
        raise GanforgeError(
            f"the run's training data now has {data.num_classes} classes but its generator was trained on "
            f"{model.num_classes}: the data changed since training ({data.origin})"
        )
    return data


def balance(
    pipeline: GANPipeline,
    out: str | Path,
    *,
    per_class: int | None = None,
    seed: int = 0,
    synthetic_only: bool = False,
    batch_size: int = 256,
) -> tuple[Path, BalancePlan]:
    """Write the run's training data topped up with generated images (or,
    `synthetic_only`, the generated images alone) to `out`: a folder (one
    sub-folder per class) or an `.npz`. Nothing is written if it fails."""
    out = Path(out)
    if out.exists():
        raise GanforgeError(f"--out {out} already exists; give a new folder or file name (nothing is overwritten)")
    suffix = out.suffix.lower()
    if suffix not in ("", ".npz"):
        raise GanforgeError(f"--out {out}: balance writes a folder (no extension) or an .npz file")
    data = labelled_training_data(pipeline)
    assert data.labels is not None
    names = data.class_names or numbered_class_names(data.num_classes)
    if not suffix:
        check_folder_names(names)
    plan = plan_balance(data.labels, data.num_classes, names, per_class)
    if synthetic_only and not sum(plan.synthetic):
        raise GanforgeError("every class already has the target count: there is nothing to generate (leave out --synthetic-only to copy the data)")
    labels = plan.synthetic_labels()
    batches = pipeline.sample_batches(pipeline.noise(len(labels), seed), labels, batch_size) if len(labels) else iter(())
    real = None if synthetic_only else data
    if suffix == ".npz":
        _write_npz(out, plan, real, batches)
    else:
        _write_folder(out, plan, real, batches)
    return out, plan


def _write_folder(out: Path, plan: BalancePlan, real: ImageData | None, batches: Any) -> None:
    with atomic_dir(out) as tmp:
        folders = [tmp / name for name in plan.class_names]
        for folder in folders:
            folder.mkdir()
        if real is not None:
            assert real.labels is not None
            _write_pngs(folders, "real", [(hwc_array(real.images), real.labels)])
        _write_pngs(folders, "synthetic", ((to_hwc_uint8(images), labels) for images, labels in batches))
        record = plan.record()
        record["includes_real"] = real is not None
        write_json(tmp / MANIFEST_FILE, record)


def _write_pngs(folders: list[Path], prefix: str, batches: Any) -> None:
    """PREFIX-NNNNNN.png in each image's class folder, numbered per class."""
    written = [0] * len(folders)
    for images, labels in batches:
        for image, label in zip(images, labels.tolist(), strict=True):
            save_png(folders[label] / f"{prefix}-{written[label]:06d}.png", image)
            written[label] += 1


def _write_npz(out: Path, plan: BalancePlan, real: ImageData | None, batches: Any) -> None:
    parts_images: list[np.ndarray] = []
    parts_labels: list[np.ndarray] = []
    if real is not None:
        assert real.labels is not None
        parts_images.append(hwc_array(real.images))
        parts_labels.append(real.labels.numpy())
    for images, labels in batches:  # uint8 only: one float batch at a time
        parts_images.append(to_hwc_uint8(images))
        parts_labels.append(labels.numpy())
    n_real = sum(plan.real) if real is not None else 0
    synthetic = np.arange(n_real + sum(plan.synthetic)) >= n_real
    arrays = {
        "images": np.concatenate(parts_images),
        "labels": np.concatenate(parts_labels).astype(np.int64),
        "synthetic": synthetic,
        "class_names": np.array(plan.class_names),
    }
    assert len(arrays["images"]) == len(synthetic)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
