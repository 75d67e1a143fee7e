"""A trained generator, ready to use: `ganforge.load(run).sample(16, seed=0)`."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from ganforge.data.base import ImageData
from ganforge.data.points import PointData
from ganforge.device import resolve_device
from ganforge.errors import GanforgeError
from ganforge.io import atomic_path
from ganforge.models import GAN, from_config
from ganforge.report.classes import classify_images, save_class_rows
from ganforge.report.images import image_grid, save_gif, save_grid, write_sample_batches
from ganforge.report.scatter import save_scatter
from ganforge.runs.checkpoint import checkpoint_step, load_run_weights
from ganforge.runs.folder import check_task, find_run, read_run_config

if TYPE_CHECKING:
    from ganforge.balance import BalancePlan

SAMPLE_BATCH = 256  # bounds memory when sampling large counts


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between latent codes (rows), which keeps
    intermediate codes at the norm typical of Gaussian samples."""
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1).clamp(-1.0, 1.0).unsqueeze(-1)
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    linear = (1.0 - t) * a + t * b
    spherical = (torch.sin((1.0 - t) * omega) * a + torch.sin(t * omega) * b) / sin.clamp_min(1e-8)
    return torch.where(sin.abs() < 1e-6, linear, spherical)


class GANPipeline:
    """A generator with its run's metadata; samples in eval mode, in batches."""

    def __init__(
        self,
        model: GAN,
        *,
        run_dir: Path | None = None,
        step: int | None = None,
        class_names: list[str] | None = None,
        train_config: dict[str, Any] | None = None,
    ) -> None:
        self.model = model.eval()
        self.run_dir = run_dir
        self.step = step
        self.class_names = class_names
        self.train_config = train_config  # the run's training settings: where its data came from

    @property
    def generates_points(self) -> bool:
        """Whether samples are points (N x D), as for the 2-D ring and grid."""
        return len(self.model.image_shape) == 1

    def training_data(self) -> ImageData | PointData:
        """The data the run was trained on, loaded again from its saved settings."""
        from ganforge.config import TrainConfig
        from ganforge.data.from_config import load_training_data

        if self.train_config is None:
            raise GanforgeError("this generator was not loaded from a run folder, so its training data is unknown")
        return load_training_data(TrainConfig.from_dict(self.train_config))

    @classmethod
    def from_run(
        cls,
        run: str | Path,
        *,
        checkpoint: int | str | None = None,
        device: str = "auto",
        runs_dir: str | Path = "runs",
        precise_bn: bool = False,
    ) -> GANPipeline:
        """Load run folder (or run name) `run` at its newest checkpoint, at step
        `checkpoint`, or (checkpoint="best") at its best FID under --eval-every.
        `precise_bn`: re-estimate G's batch-norm statistics first
        (GAN.recalibrate_batch_norm); the files on disk do not change."""
        run_dir = find_run(run, runs_dir)
        saved = read_run_config(run_dir)
        check_task(run_dir, saved, "generate")
        model = from_config(saved["model"])
        path = load_run_weights(run_dir, model, checkpoint)
        model.to(resolve_device(device))
        if precise_bn and model.recalibrate_batch_norm() == 0:
            raise GanforgeError(f"--precise-bn: the generator of run {run_dir} has no batch-norm layers to recalibrate; leave the option out")
        return cls(
            model,
            run_dir=run_dir,
            step=checkpoint_step(path),
            class_names=saved["data"].get("class_names"),
            train_config=saved["train"],
        )

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def noise(self, n: int, seed: int) -> torch.Tensor:
        return self.model.seeded_noise(n, seed)

    def class_labels(self, n: int, seed: int = 0, class_index: int | None = None) -> torch.Tensor | None:
        """Labels for `n` samples: all `class_index`, or evenly spread over the
        classes (None for an unconditional model)."""
        if class_index is None:
            return self.model.seeded_labels(n, seed)
        name = self.model.config.get("name", "this model")
        if not self.model.conditional:
            raise GanforgeError(f"--class does not apply to model '{name}': it is unconditional")
        if not 0 <= class_index < self.model.num_classes:
            names = f" ({', '.join(self.class_names)})" if self.class_names else ""
            raise GanforgeError(f"--class {class_index} is out of range: model '{name}' has classes 0..{self.model.num_classes - 1}{names}")
        return torch.full((n,), class_index, dtype=torch.int64)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, batch_size: int = SAMPLE_BATCH) -> torch.Tensor:
        """Images in [-1, 1] (on the CPU) for latent codes `z` (and class labels)."""
        return self.model.sample_images(z, labels, batch_size=batch_size)

    def sample(self, n: int, seed: int = 0, batch_size: int = SAMPLE_BATCH, class_index: int | None = None) -> torch.Tensor:
        """`n` images in [-1, 1], shape n x C x H x W; the same seed gives the same images.
        A conditional model draws class `class_index`, or all classes evenly."""
        if n < 1:
            raise GanforgeError(f"--n must be at least 1, got {n}")
        return self.generate(self.noise(n, seed), self.class_labels(n, seed, class_index), batch_size)

    def class_grid(self, per_class: int, seed: int = 0) -> torch.Tensor:
        """`per_class` images of every class, class k in row k (conditional models)."""
        if not self.model.conditional:
            raise GanforgeError(f"model '{self.model.config.get('name', 'this model')}' is unconditional: it has no classes to lay out")
        labels = torch.arange(self.model.num_classes).repeat_interleave(per_class)
        return self.generate(self.noise(len(labels), seed), labels)

    def save_samples(self, out: str | Path, n: int, seed: int = 0, class_index: int | None = None, batch_size: int = SAMPLE_BATCH) -> Path:
        """Write `n` samples to `out` (.npz, grid .png, or a folder of PNGs).
        A .png of a conditional model without `class_index` has one row per class."""
        out = Path(out)
        if n < 1:
            raise GanforgeError(f"--n must be at least 1, got {n}")
        if self.generates_points:
            if class_index is not None:
                raise GanforgeError(f"--class does not apply to model '{self.model.config.get('name')}': it is unconditional")
            return self.save_points(out, n, seed)
        if out.suffix.lower() == ".png" and self.model.conditional and class_index is None:
            per_class = max(1, n // self.model.num_classes)
            return save_grid(out, self.class_grid(per_class, seed), nrow=per_class)
        labels = self.class_labels(n, seed, class_index)
        return write_sample_batches(out, n, self.sample_batches(self.noise(n, seed), labels, batch_size))

    def balance(
        self, out: str | Path, *, per_class: int | None = None, seed: int = 0, synthetic_only: bool = False
    ) -> tuple[Path, BalancePlan]:
        """Write the run's labelled training data with every class topped up by
        generated images to the largest class's count (or `per_class`): a folder
        of class sub-folders, or an .npz. See ganforge.balance."""
        from ganforge.balance import balance

        return balance(self, out, per_class=per_class, seed=seed, synthetic_only=synthetic_only)

    def sample_batches(
        self, z: torch.Tensor, labels: torch.Tensor | None, batch_size: int = SAMPLE_BATCH
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """(images, labels) batch by batch, each made when asked for, so a
        large count never holds more than one batch of float images."""
        label_parts = labels.split(batch_size) if labels is not None else [None] * len(z.split(batch_size))
        for part, part_labels in zip(z.split(batch_size), label_parts, strict=True):
            yield self.generate(part, part_labels, batch_size), part_labels

    def save_points(self, out: Path, n: int, seed: int = 0) -> Path:
        """Point samples: `.npz` (key `points`, float32 N x D) or a `.png` scatter plot."""
        points = self.sample(n, seed)
        suffix = out.suffix.lower()
        if suffix == ".npz":
            with atomic_path(out) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, points=points.numpy().astype(np.float32))
            return out
        if suffix == ".png":
            data = self.training_data()
            assert isinstance(data, PointData)
            return save_scatter(out, points, data.mixture)
        raise GanforgeError(f"--out {out}: a point model writes a .npz file (key 'points') or a .png scatter plot")

    def save_plot(self, out: str | Path, n: int, seed: int = 0) -> Path:
        """`ganforge plot`: for point data, generated points over the real ones
        and the modes; for images, a grid ordered by class, one row per class
        (the requested class for a conditional model, else the class the data
        set's classifier sees), so a missing or crowded class shows at a glance."""
        out = Path(out)
        if out.suffix.lower() != ".png":
            raise GanforgeError(f"--out {out}: plot writes a .png")
        if n < 1:
            raise GanforgeError(f"--n must be at least 1, got {n}")
        data = self.training_data()
        if isinstance(data, PointData):
            real = data.points[torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]]
            return save_scatter(out, self.sample(n, seed), data.mixture, real=real)
        if self.model.conditional:
            per_class = max(1, n // self.model.num_classes)
            return save_grid(out, self.class_grid(per_class, seed), nrow=per_class)
        images = self.sample(n, seed)
        return save_class_rows(out, images, classify_images(images, data, self.device), data.num_classes)

    def save_levels(self, out: str | Path, n: int, seed: int = 0) -> list[Path]:
        """LAPGAN: one grid per pyramid level, coarse to fine (OUT-level0.png, ...)."""
        if not hasattr(self.model, "generate_levels"):
            raise GanforgeError(f"--levels does not apply to model '{self.model.config.get('name', 'this model')}': it has no pyramid levels")
        out = Path(out)
        if out.suffix.lower() != ".png":
            raise GanforgeError(f"--out {out}: --levels writes .png grids")
        with torch.no_grad():
            levels = self.model.generate_levels(self.noise(n, seed).to(self.device), ema=True)
        return [save_grid(out.with_name(f"{out.stem}-level{k}.png"), images) for k, images in enumerate(levels)]

    def latent_walk(self, walks: int = 16, keyframes: int = 4, frames: int = 16, seed: int = 0) -> list[torch.Tensor]:
        """`walks` parallel loops through `keyframes` random codes, `frames`
        interpolated images per leg; returns one image batch per frame. For a
        conditional model walk i keeps class i mod the number of classes."""
        if keyframes < 2 or frames < 1 or walks < 1:
            raise GanforgeError("interpolate needs --keyframes >= 2, --frames >= 1 and --n >= 1")
        keys = self.noise(walks * keyframes, seed).view(keyframes, walks, -1)
        codes = [
            slerp(keys[k], keys[(k + 1) % keyframes], i / frames) for k in range(keyframes) for i in range(frames)
        ]
        labels = None
        if self.model.conditional:
            labels = (torch.arange(walks) % self.model.num_classes).repeat(len(codes))
        images = self.generate(torch.cat(codes), labels)
        return list(images.split(walks))

    def save_interpolation(
        self, out: str | Path, walks: int = 16, keyframes: int = 4, frames: int = 16, seed: int = 0
    ) -> Path:
        """A looping GIF of the walk, or for `.png` one row per walk across its first leg."""
        out = Path(out)
        steps = self.latent_walk(walks, keyframes, frames, seed)
        if out.suffix.lower() == ".png":
            first_leg = torch.stack(steps[: frames + 1] if len(steps) > frames else steps, dim=1)
            return save_grid(out, first_leg.flatten(0, 1), nrow=first_leg.shape[1])
        if out.suffix.lower() != ".gif":
            raise GanforgeError(f"--out {out}: interpolate writes a .gif animation or a .png strip")
        nrow = max(1, math.ceil(math.sqrt(walks)))
        pictures: list[Image.Image] = [image_grid(batch, nrow) for batch in steps]
        return save_gif(out, pictures)

