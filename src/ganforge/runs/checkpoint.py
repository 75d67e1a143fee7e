"""Checkpoints: weights as safetensors, optimizer/RNG state alongside.

Layout of one checkpoint, a directory named after its step:

    checkpoints/step-00000500/
        model.safetensors     all model weights (generator.*, discriminator.*)
        training.safetensors  optimizer state tensors and RNG states
        state.json            step, optimizer hyper-parameters, versions

The directory is written under a temporary name and renamed into place, so a
crash mid-write leaves the previous checkpoint intact and a directory with a
final name is always complete. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from torch.optim import Optimizer

from ganforge.errors import GanforgeError
from ganforge.io import atomic_dir, writing

CHECKPOINT_FORMAT = 1
T = TypeVar("T")
MODEL_FILE = "model.safetensors"
TRAINING_FILE = "training.safetensors"
STATE_FILE = "state.json"
_STEP_DIR = re.compile(r"step-(\d{8})")


@dataclass
class Checkpoint:
    """What a checkpoint restores besides the weights and optimizers."""

    step: int
    rng_states: dict[str, torch.Tensor]
    extra: dict[str, Any]
    objective_state: dict[str, torch.Tensor] = field(default_factory=dict)  # image pools and the like


def checkpoint_dir(root: Path, step: int) -> Path:
    return root / f"step-{step:08d}"


def checkpoint_step(path: Path) -> int:
    """The step of checkpoint directory `path` (named step-NNNNNNNN)."""
    match = _STEP_DIR.fullmatch(path.name)
    if match is None:
        raise GanforgeError(f"{path} is not a checkpoint directory (expected a name like step-00000500)")
    return int(match.group(1))


def list_checkpoints(root: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under `root`, oldest first."""
    if not root.is_dir():
        return []
    found = [(checkpoint_step(p), p) for p in root.iterdir() if _STEP_DIR.fullmatch(p.name) and p.is_dir()]
    return sorted(found)


def latest_checkpoint(root: Path) -> Path | None:
    found = list_checkpoints(root)
    return found[-1][1] if found else None


def clean_stale_temporaries(run_dir: Path) -> None:
    """Remove what a crash mid-write left in run folder `run_dir` (checkpoint
    folders and files under a temporary name). Only a trainer that holds the
    run's lock may call this: another trainer's temporaries are its live writes."""
    for pattern in (".*.tmp", "*/.*.tmp"):
        for stale in run_dir.glob(pattern):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)


class NonFiniteWeights(GanforgeError):
    """Weights or optimizer state hold NaN or infinity: never saved."""


def non_finite_tensors(tensors: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors in `tensors` that hold a NaN or an infinity."""
    return [name for name, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]


def load_newest(run_dir: Path, load: Callable[[Path], T], *, set_aside: bool = False) -> tuple[T, Path]:
    """`load` the newest checkpoint of `run_dir` that loads; a newer one that
    does not (truncated, corrupt) is skipped with a warning naming it.
    `set_aside` (a trainer, under the run's lock): rename the skipped ones to
    NAME.damaged, kept for a look and out of the way of the steps to be saved again."""
    found = list_checkpoints(run_dir / "checkpoints")
    if not found:
        raise GanforgeError(f"run {run_dir} has no checkpoint yet; train it first")
    failures: list[tuple[Path, str]] = []
    for _, path in reversed(found):
        try:
            loaded = load(path)
        except GanforgeError as error:
            failures.append((path, str(error)))
            continue
        for failed, reason in failures:
            kept = ""
            if set_aside:
                target = failed.with_name(f"{failed.name}.damaged")
                shutil.rmtree(target, ignore_errors=True)
                failed.rename(target)
                kept = f" (kept as {target.name})"
            warnings.warn(f"skipped checkpoint: {reason}; using {path.name} instead{kept}", stacklevel=2)
        return loaded, path
    raise GanforgeError(f"run {run_dir} has no checkpoint that loads: {'; '.join(reason for _, reason in failures)}")


def checkpoint_path(run_dir: Path, checkpoint: int | str) -> Path:
    """The checkpoint folder of run `run_dir` of step `checkpoint`, or "best"
    (the best under --eval-every). The newest is found by load_newest."""
    root = run_dir / "checkpoints"
    if checkpoint == "best":
        found = latest_checkpoint(run_dir / "best")
        if found is None:
            raise GanforgeError(f"run {run_dir} has no best checkpoint; train it with --eval-every N to keep one")
        return found
    path = checkpoint_dir(root, int(checkpoint))
    if not path.is_dir():
        steps = ", ".join(str(s) for s, _ in list_checkpoints(root)) or "none"
        raise GanforgeError(f"run {run_dir} has no checkpoint at step {checkpoint} (steps saved: {steps})")
    return path


def _optimizer_to_tensors(prefix: str, optimizer: Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer's state dict into tensors (for safetensors) and JSON."""
    state_dict = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state_dict["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{index}.{key}"] = value.detach().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _optimizer_from_tensors(prefix: str, optimizer: Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            index, key = name[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(index), {})[key] = value
    for index, values in meta["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(
    root: Path,
    step: int,
    model: nn.Module,
    optimizers: dict[str, Optimizer],
    rng_states: dict[str, torch.Tensor],
    extra: dict[str, Any] | None = None,
    keep: int = 2,
    objective_state: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write checkpoint `step` atomically, then prune all but the newest `keep`.
    `objective_state`: the objective's buffers (e.g. image pools), saved beside
    the optimizer state."""
    final = checkpoint_dir(root, step)
    if final.exists():
        # Training is deterministic, so a checkpoint of the same step (e.g. a run
        # resumed and stopped again at once) holds the same state: keep it.
        return final
    weights = {name: t.detach().contiguous() for name, t in model.state_dict().items()}
    training: dict[str, torch.Tensor] = {f"rng.{k}": v.contiguous() for k, v in rng_states.items()}
    training.update({f"objective.{k}": v.detach().contiguous() for k, v in (objective_state or {}).items()})
    optimizer_meta: dict[str, Any] = {}
    for name, optimizer in optimizers.items():
        tensors, meta = _optimizer_to_tensors(f"optim.{name}", optimizer)
        training.update(tensors)
        optimizer_meta[name] = meta
    bad = non_finite_tensors(weights) + non_finite_tensors({k: v for k, v in training.items() if not k.startswith("rng.")})
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise NonFiniteWeights(f"not saving checkpoint {final.name}: {shown} hold NaN or infinity")
    state = {
        "format": CHECKPOINT_FORMAT,
        "step": step,
        "optimizers": optimizer_meta,
        "rng": sorted(rng_states),
        "torch_version": torch.__version__,
        "extra": extra or {},
    }
    with writing(final), atomic_dir(final) as tmp:
        save_file({k: v.cpu() for k, v in weights.items()}, str(tmp / MODEL_FILE), metadata={"format": "pt"})
        save_file({k: v.cpu() for k, v in training.items()}, str(tmp / TRAINING_FILE))
        (tmp / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
    for _, old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise GanforgeError(f"checkpoint file {path} is missing")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise GanforgeError(f"checkpoint file {path} is corrupt or truncated ({error})") from None


def read_state(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise GanforgeError(f"checkpoint file {path} is missing")
    try:
        state = json.loads(path.read_text())
        int(state["step"])
    except (ValueError, KeyError, TypeError) as error:
        raise GanforgeError(f"checkpoint file {path} is corrupt or truncated ({error})") from None
    if state.get("format") != CHECKPOINT_FORMAT:
        raise GanforgeError(f"checkpoint file {path} has format {state.get('format')}, expected {CHECKPOINT_FORMAT}")
    return state


def load_weights(path: Path, model: nn.Module) -> None:
    """Load `model.safetensors` of checkpoint directory `path` into `model`."""
    file = path / MODEL_FILE
    tensors = read_tensors(file)
    missing, unexpected = set(model.state_dict()) - set(tensors), set(tensors) - set(model.state_dict())
    if missing or unexpected:
        detail = ", ".join(f"{label} {sorted(keys)[:3]}" for label, keys in (("missing", missing), ("unexpected", unexpected)) if keys)
        raise GanforgeError(f"checkpoint file {file} does not match the run's model ({detail}); was it made with another model?")
    try:
        model.load_state_dict(tensors)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[-1].strip()
        raise GanforgeError(f"checkpoint file {file} does not match the run's model: {first}") from None


def load_run_weights(run_dir: Path, model: nn.Module, checkpoint: int | str | None = None) -> Path:
    """Load the weights of run `run_dir` into `model`: of step `checkpoint`,
    "best", or (None) the newest checkpoint that loads. Returns its folder."""
    if checkpoint is not None:
        path = checkpoint_path(run_dir, checkpoint)
        load_weights(path, model)
        return path
    return load_newest(run_dir, lambda path: load_weights(path, model))[1]


def load_checkpoint(path: Path, model: nn.Module, optimizers: dict[str, Optimizer]) -> Checkpoint:
    """Restore weights and optimizers from checkpoint directory `path`."""
    state = read_state(path / STATE_FILE)
    if _STEP_DIR.fullmatch(path.name) and int(state["step"]) != checkpoint_step(path):
        raise GanforgeError(f"checkpoint file {path / STATE_FILE} says step {state['step']}, but its folder is {path.name}")
    training = read_tensors(path / TRAINING_FILE)
    load_weights(path, model)
    for name, optimizer in optimizers.items():
        meta = state["optimizers"].get(name)
        if meta is None:
            raise GanforgeError(f"checkpoint file {path / STATE_FILE} has no state for optimizer '{name}'")
        try:
            _optimizer_from_tensors(f"optim.{name}", optimizer, training, meta)
        except (ValueError, KeyError) as error:
            raise GanforgeError(f"checkpoint {path} does not match the run's optimizer '{name}' ({error})") from None
    rng_states = {key: training[f"rng.{key}"] for key in state["rng"] if f"rng.{key}" in training}
    objective_state = {name[len("objective.") :]: t for name, t in training.items() if name.startswith("objective.")}
    return Checkpoint(step=int(state["step"]), rng_states=rng_states, extra=state.get("extra", {}), objective_state=objective_state)
