"""Run folders: `runs/NAME/` holds config.json, checkpoints/, samples/ and logs.

Running the same command again resumes the run. A run folder whose saved
settings disagree with the new ones is never reused silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganforge.config import RESUMABLE_FIELDS, TrainConfig
from ganforge.errors import GanforgeError
from ganforge.models.registry import options_of

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
LOCK_FILE = ".lock"  # held by the run's one trainer (ganforge.runs.lock)


def leftover(path: Path) -> bool:
    """Whether `path` in a run folder is the lock file or a temporary of a
    crashed write, which a run folder without config.json may hold."""
    return path.name == LOCK_FILE or (path.name.startswith(".") and path.name.endswith(".tmp"))


def best_root(run_dir: Path) -> Path:
    """Where the checkpoint with the best FID so far lives (see --eval-every)."""
    return run_dir / "best"


def checkpoints_root(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """The saved config.json of a run: {"train": ..., "model": ..., "data": ...}."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise GanforgeError(f"{run_dir} is not a ganforge run folder (no {CONFIG_FILE})")
    try:
        saved = json.loads(path.read_text())
    except ValueError as error:
        raise GanforgeError(f"run config {path} is corrupt ({error})") from None
    missing = {"train", "model", "data"} - set(saved if isinstance(saved, dict) else {})
    if missing:
        raise GanforgeError(f"run config {path} is corrupt (missing: {', '.join(sorted(missing))})")
    return saved


# What to use a run of each task for, in messages that point to the right command.
TASK_COMMANDS = {
    "generate": "ganforge sample",
    "paired": "ganforge translate",
    "unpaired": "ganforge translate --direction AtoB|BtoA",
    "upscale": "ganforge upscale",
    "inpaint": "ganforge inpaint",
}


def run_task(saved: dict[str, Any]) -> str:
    """The task of a run (runs made before tasks existed are all "generate")."""
    return str(saved["model"].get("task", "generate"))


def task_of_run(run: str | Path, runs_dir: str | Path = "runs") -> tuple[Path, str]:
    """(run folder, task) of a run given by name or path."""
    run_dir = find_run(run, runs_dir)
    return run_dir, run_task(read_run_config(run_dir))


def check_task(run_dir: Path, saved: dict[str, Any], wanted: str) -> None:
    """Refuse a run of another task, naming the command that fits it."""
    task = run_task(saved)
    if task != wanted:
        command = TASK_COMMANDS.get(task, "another command")
        article = "an" if task[0] in "aeiou" else "a"
        raise GanforgeError(f"run {run_dir} is {article} {task} run: use {command}")


def find_run(name_or_path: str | Path, runs_dir: str | Path = "runs") -> Path:
    """A run given by folder path or by name under `runs_dir`."""
    path = Path(name_or_path)
    if (path / CONFIG_FILE).is_file():
        return path
    named = Path(runs_dir) / str(name_or_path)
    if (named / CONFIG_FILE).is_file():
        return named
    available = ", ".join(sorted(p.parent.name for p in Path(runs_dir).glob(f"*/{CONFIG_FILE}"))) or "none"
    raise GanforgeError(f"no run '{name_or_path}' (not a run folder, nor a run in {runs_dir}/; runs there: {available})")


def config_differences(saved: dict[str, Any], new: TrainConfig, given: set[str] | None) -> list[str]:
    """Settings in `new` that contradict the saved run config.

    Only fields the user set count (`given`; None means every field that is
    not None), and fields that may change on resume (RESUMABLE_FIELDS) never do.
    """
    differences = []
    for name, value in new.to_dict().items():
        if name in RESUMABLE_FIELDS or name not in saved:
            continue
        if given is not None and name not in given:
            continue
        if value is None or value == saved[name]:
            continue
        differences.append(f"{name} {saved[name]!r} (now {value!r})")
    return differences


def append_record(run_dir: Path, record: dict[str, Any]) -> None:
    """One JSON line appended to the run's metrics.jsonl (an evaluation's result)."""
    with open(run_dir / METRICS_FILE, "a") as f:
        f.write(json.dumps(record) + "\n")


def prepare_run_dir(config: TrainConfig, given: set[str] | None = None) -> tuple[Path, TrainConfig, bool]:
    """Resolve the run folder; for an existing run, merge and check its config.

    Returns (run_dir, config, resuming). When resuming, the saved settings win
    except for fields that may change (steps, logging, paths).
    """
    run_dir = Path(config.runs_dir) / config.run_name()
    config_path = run_dir / CONFIG_FILE
    if not config_path.is_file():
        if run_dir.exists() and any(not leftover(p) for p in run_dir.iterdir()):
            raise GanforgeError(f"{run_dir} exists but is not a ganforge run (no {CONFIG_FILE}); choose another --run name")
        return run_dir, config, False
    record = read_run_config(run_dir)
    saved = record["train"]
    differences = config_differences(saved, config, given)
    if differences:
        raise GanforgeError(
            f"run folder {run_dir} was made with other settings: {'; '.join(differences)}. "
            "Resume with the same settings, or choose another --run name"
        )
    merged = dict(saved)
    for name in RESUMABLE_FIELDS:
        if given is None or name in given:
            merged[name] = getattr(config, name)
    merged["run"] = config.run_name()
    # A run made before its model's defaults changed resumes with the networks it trained.
    merged["model_options"] = {**merged.get("model_options", {}), **options_of(record["model"])}
    return run_dir, TrainConfig.from_dict(merged), True
