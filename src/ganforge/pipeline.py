"""A trained generator, ready to use: `ganforge.load(run).sample(16, seed=0)`."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image

from ganforge.device import resolve_device
from ganforge.errors import GanforgeError
from ganforge.models import GAN, from_config
from ganforge.report.images import image_grid, save_gif, save_grid, write_samples
from ganforge.training.checkpoint import checkpoint_dir, checkpoint_step, latest_checkpoint, list_checkpoints, load_weights
from ganforge.training.rundir import best_root, checkpoints_root, find_run, read_run_config

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
    ) -> None:
        self.model = model.eval()
        self.run_dir = run_dir
        self.step = step
        self.class_names = class_names

    @classmethod
    def from_run(
        cls, run: str | Path, *, checkpoint: int | str | None = None, device: str = "auto", runs_dir: str | Path = "runs"
    ) -> GANPipeline:
        """Load run folder (or run name) `run` at its newest checkpoint, at step
        `checkpoint`, or (checkpoint="best") at its best FID under --eval-every."""
        run_dir = find_run(run, runs_dir)
        saved = read_run_config(run_dir)
        root = checkpoints_root(run_dir)
        if checkpoint == "best":
            found = latest_checkpoint(best_root(run_dir))
            if found is None:
                raise GanforgeError(f"run {run_dir} has no best checkpoint; train it with --eval-every N to keep one")
            path = found
        elif checkpoint is None:
            path = latest_checkpoint(root)
            if path is None:
                raise GanforgeError(f"run {run_dir} has no checkpoint yet; train it first")
        else:
            path = checkpoint_dir(root, int(checkpoint))
            if not path.is_dir():
                steps = ", ".join(str(s) for s, _ in list_checkpoints(root)) or "none"
                raise GanforgeError(f"run {run_dir} has no checkpoint at step {checkpoint} (steps saved: {steps})")
        model = from_config(saved["model"])
        load_weights(path, model)
        return cls(model.to(resolve_device(device)), run_dir=run_dir, step=checkpoint_step(path), class_names=saved["data"].get("class_names"))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def noise(self, n: int, seed: int) -> torch.Tensor:
        return self.model.seeded_noise(n, seed)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, batch_size: int = SAMPLE_BATCH) -> torch.Tensor:
        """Images in [-1, 1] (on the CPU) for latent codes `z`, in bounded batches."""
        chunks = [self.model.generate(part.to(self.device)).cpu() for part in z.split(batch_size)]
        return torch.cat(chunks)

    def sample(self, n: int, seed: int = 0, batch_size: int = SAMPLE_BATCH) -> torch.Tensor:
        """`n` images in [-1, 1], shape n x C x H x W; the same seed gives the same images."""
        if n < 1:
            raise GanforgeError(f"--n must be at least 1, got {n}")
        return self.generate(self.noise(n, seed), batch_size)

    def save_samples(self, out: str | Path, n: int, seed: int = 0) -> Path:
        """Write `n` samples to `out` (.npz, grid .png, or a folder of PNGs)."""
        return write_samples(out, self.sample(n, seed))

    def latent_walk(self, walks: int = 16, keyframes: int = 4, frames: int = 16, seed: int = 0) -> list[torch.Tensor]:
        """`walks` parallel loops through `keyframes` random codes, `frames`
        interpolated images per leg; returns one image batch per frame."""
        if keyframes < 2 or frames < 1 or walks < 1:
            raise GanforgeError("interpolate needs --keyframes >= 2, --frames >= 1 and --n >= 1")
        keys = self.noise(walks * keyframes, seed).view(keyframes, walks, -1)
        codes = [
            slerp(keys[k], keys[(k + 1) % keyframes], i / frames) for k in range(keyframes) for i in range(frames)
        ]
        images = self.generate(torch.cat(codes))
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


def load(run: str | Path, *, checkpoint: int | str | None = None, device: str = "auto", runs_dir: str | Path = "runs") -> GANPipeline:
    """Load a trained run: `ganforge.load("runs/demo").sample(16, seed=0)`."""
    return GANPipeline.from_run(run, checkpoint=checkpoint, device=device, runs_dir=runs_dir)
