"""--init-from RUN: a new run that starts from another run's generator.

SRGAN and ESRGAN start from a PSNR-trained generator (SRResNet, RRDBNet), and
any family can be fine-tuned from a run on other data (transfer learning).
Only the generator's weights are taken: the new run's discriminator,
optimizers and random streams start fresh. The source's moving average of G
is taken where it has one (its outputs came from it), from its best
checkpoint where it kept one, else from its newest that loads.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ganforge.errors import GanforgeError
from ganforge.models.base import Networks
from ganforge.runs.checkpoint import MODEL_FILE, checkpoint_path, latest_checkpoint, load_newest, read_tensors
from ganforge.runs.folder import best_root, find_run


def source_checkpoint(run_dir: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    """(checkpoint folder, model tensors) of the run's best checkpoint, else of its newest that loads."""
    if latest_checkpoint(best_root(run_dir)) is not None:
        path = checkpoint_path(run_dir, "best")
        return path, read_tensors(path / MODEL_FILE)
    tensors, path = load_newest(run_dir, lambda p: read_tensors(p / MODEL_FILE))
    return path, tensors


def generator_weights(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The generator's tensors of a saved model: its moving average where it has one."""
    prefix = "generator_ema." if any(k.startswith("generator_ema.") for k in tensors) else "generator."
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def init_generator_from(model: Networks, run: str | Path, runs_dir: str | Path = "runs") -> Path:
    """Load run `run`'s generator into `model`'s generator (and its moving
    average); returns the checkpoint folder used. A generator of another
    shape is an error naming both."""
    run_dir = find_run(run, runs_dir)
    path, tensors = source_checkpoint(run_dir)
    weights = generator_weights(tensors)
    name = model.config.get("name", "the model")
    try:
        for generator in (model.generator, model.generator_ema):
            if generator is not None:
                generator.load_state_dict(weights)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[-1].strip()
        raise GanforgeError(
            f"--init-from {run_dir}: its generator does not fit {name}'s ({first}); start from a run whose generator has "
            "the same layout (e.g. srresnet for srgan, with the same --scale and -O options)"
        ) from None
    return path
