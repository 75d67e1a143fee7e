"""`train(config)`: from a config to a trained (or resumed) run folder."""

from __future__ import annotations

import contextlib
import gc
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

import ganforge
from ganforge.config import FALLBACK_DEFAULTS, TrainConfig
from ganforge.data import ImageData, PairedData, PointData
from ganforge.data.sr import SRData
from ganforge.data.from_config import load_training_data
from ganforge.data.base import labels_hint
from ganforge.device import resolve_device
from ganforge.io import WriteError, write_json
from ganforge.errors import GanforgeError
from ganforge.models import GAN, create_model, is_conditional, takes_points
from ganforge.models.registry import MODELS, POINT_MODELS, build_default, model_options, model_task
from ganforge.objectives import objective_options
from ganforge.objectives.settings import build_objective
from ganforge.pipelines import PIPELINES
from ganforge.runs.checkpoint import checkpoint_step, clean_stale_temporaries, latest_checkpoint
from ganforge.runs.folder import CONFIG_FILE, checkpoints_root, prepare_run_dir, read_run_config, run_task
from ganforge.runs.lock import RunLock
from ganforge.runs.transfer import init_generator_from
from ganforge.training import distributed
from ganforge.training.distributed import Distributed
from ganforge.training.loop import Trainer, TrainingInterrupted

if TYPE_CHECKING:
    from ganforge.metrics import Evaluator
    from ganforge.metrics.known_modes import KnownModesEvaluator

__all__ = ["train", "Trainer", "TrainingInterrupted", "build_evaluator", "build_model", "check_regularizers", "load_training_data", "run_record", "uses_batch_norm"]


def build_evaluator(config: TrainConfig, data: ImageData | PointData, device: torch.device) -> Evaluator | KnownModesEvaluator | None:
    """The evaluator of --eval-every (None when off); FID always comes first.
    Data with known modes (ring, grid, Stacked MNIST) is scored on them instead."""
    if not config.eval_every:
        return None
    if isinstance(data, PairedData):
        from ganforge.pipelines.evaluation import paired_evaluator

        return paired_evaluator(config, device)
    if isinstance(data, SRData):
        from ganforge.pipelines.sr_evaluation import UpscaleEvaluator

        if not config.eval_data_root:
            raise GanforgeError("--eval-every on super-resolution data scores whole HR test images: give --eval-data-root DIR (e.g. ../shared/data/sr/Set5)")
        return UpscaleEvaluator(config.eval_data_root, data.scale, data.image_shape[0], device)
    from ganforge.metrics import Evaluator
    from ganforge.metrics.known_modes import known_modes_evaluator

    known = known_modes_evaluator(data, device, data_root=config.data_root, split=config.data_split)
    if known is not None:
        return known

    metrics = ["fid", *config.eval_metrics]
    return Evaluator.create(metrics, data, device, config.extractor, config.inception_weights)


def build_model(config: TrainConfig, data: ImageData | PointData) -> GAN:
    """The config's model for `data`; a conditional model takes the data's classes."""
    check_data_kind(config.model, data)
    num_classes = 0
    if is_conditional(config.model):
        if data.labels is None:
            raise GanforgeError(f"model '{config.model}' is conditional and needs class labels, but data '{data.name}' has none{labels_hint(data.name)}")
        num_classes = data.num_classes
    # z_dim and pack shape the networks, so their defaults are known before the model.
    z_dim = config.z_dim if config.z_dim is not None else build_default(config.model, "z_dim", FALLBACK_DEFAULTS["z_dim"])
    pack = config.pack if config.pack is not None else build_default(config.model, "pack", FALLBACK_DEFAULTS["pack"])
    model = create_model(
        config.model,
        image_shape=data.image_shape,
        z_dim=z_dim,
        num_classes=num_classes,
        spectral_norm=config.spectral_norm,
        ema=bool(config.ema),  # None (the model's default, filled later) turns it on in Trainer
        pack=pack,
        minibatch_std=config.minibatch_std,
        minibatch_disc=config.minibatch_disc,
        input_channels=getattr(data, "input_shape", (None,))[0],
        scale=getattr(data, "scale", None),
        **config.model_options,
    )
    # What the model was built with, for with_model_defaults to record.
    model.training_defaults.update({"z_dim": z_dim, "pack": pack})
    return model


# What each task's models learn from, for messages: the data, how to get it,
# and what the models do with it.
TASK_DATA = {
    "paired": ("image pairs (--data paired --data-root DIR)", "holds image pairs", "translates images"),
    "unpaired": ("two image domains (--data unpaired --data-root DIR)", "holds two unpaired image domains", "translates images"),
    "upscale": ("high-resolution images (--data sr --data-root DIR)", "holds high-resolution images for super-resolution", "upscales images"),
}
#: Model tasks that learn from the data of other tasks: inpainting from any
#: image set, or from a paired set's targets (facades photos with --direction BtoA).
TRAINS_ON = {"inpaint": ("generate", "paired")}


def data_task(data: Any) -> str:
    """The task a data set is for (its `task`: "paired", "unpaired", "upscale"), else "generate"."""
    return getattr(data, "task", "generate")


def check_data_kind(model: str, data: ImageData | PointData | PairedData | SRData) -> None:
    """Point models train on point data, image models on images, translation
    models on image pairs and super-resolution models on HR images."""
    wanted, given = model_task(model), data_task(data)
    if wanted in TRAINS_ON:
        if given not in TRAINS_ON[wanted] or isinstance(data, PointData):
            raise GanforgeError(f"model '{model}' fills holes in images: train it on an image data set (--data cifar10, folder, ...) or on pairs' targets (--data paired), not on {data.name}")
        return
    if wanted != "generate" and given != wanted:
        source, _, verb = TASK_DATA[wanted]
        raise GanforgeError(f"model '{model}' {verb}: train it on {source}, not on {data.name}")
    if given != "generate" and wanted != given:
        fitting = ", ".join(name for name in MODELS.names() if model_task(name) == given)
        raise GanforgeError(f"data '{data.name}' {TASK_DATA[given][1]}, which model '{model}' does not learn from; use --model {fitting}")
    if takes_points(model) and not isinstance(data, PointData):
        raise GanforgeError(f"model '{model}' generates 2-D points: train it on point data (--data ring or --data grid), not on {data.name} images")
    if isinstance(data, PointData) and not takes_points(model):
        points = ", ".join(sorted(POINT_MODELS))
        raise GanforgeError(f"data '{data.name}' holds {data.image_shape[0]}-D points, which image model '{model}' cannot generate; use --model {points}")


def check_regularizers(config: TrainConfig, model: GAN) -> None:
    """Refuse regularisers (and --unroll) that do not apply to the model or
    optimizer, naming them; warn about --gp on a batch-norm D, which runs but
    is not WGAN-GP. (create_model refuses D-side remedies itself.)"""
    if len(model.image_shape) == 1 and config.diffaugment:
        raise GanforgeError(f"--diffaugment does not apply to model '{config.model}': it augments images, and this model generates points")
    if not model.image_discriminator:
        image_space = {"--gp": config.gp, "--r1": config.r1, "--diffaugment": config.diffaugment, "--unroll": config.unroll}
        given = [flag for flag, value in image_space.items() if value]
        if given:
            verb = "does" if len(given) == 1 else "do"
            raise GanforgeError(
                f"{' and '.join(given)} {verb} not apply to model '{config.model}': its discriminator reads image pyramids, not plain images"
            )
    takes_gp = "gp" in objective_options(config.objective or "adversarial")  # else the objective refuses --gp itself
    if config.gp and takes_gp and uses_batch_norm(model.discriminator):
        warn_batch_norm_critic(config.model)
    if config.unroll and config.optimizer != "adam":
        raise GanforgeError(
            f"--unroll does not apply to the {config.optimizer} optimizer (model '{config.model}'): "
            "the unrolled D updates are Adam steps; add --optimizer adam"
        )


def uses_batch_norm(module: torch.nn.Module) -> bool:
    """Whether any layer of `module` normalises over the batch."""
    return any(isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) for layer in module.modules())


def warn_batch_norm_critic(model: str) -> None:
    """--gp on a batch-norm D trains, but not the WGAN-GP of the paper: the
    penalty is on each sample's input gradient, and batch norm makes every
    sample's output depend on the whole batch (Gulrajani et al. use layer
    norm). A warning, not a refusal: the combination runs, and users compare it."""
    if "d_norm" in model_options(model):
        fix = "add -O d_norm=layer or -O d_norm=none (model 'wgan-gp' has none)"
    else:
        fix = "use a model without batch norm in D, such as 'wgan-gp'"
    warnings.warn(
        f"--gp penalises each sample's gradient, but model '{model}' has batch norm in its discriminator, "
        f"which mixes the samples of a batch; for WGAN-GP's critic {fix}",
        stacklevel=2,
    )


def run_record(config: TrainConfig, model_config: dict[str, Any], data: ImageData | PointData) -> dict[str, Any]:
    """What config.json holds: enough to rebuild the model and to resume."""
    return {
        "ganforge_version": ganforge.__version__,
        "train": config.to_dict(),
        "model": model_config,
        "data": {
            "name": data.name,
            "origin": data.origin,
            "num_images": len(data),
            "image_shape": list(data.image_shape),
            "class_names": data.class_names,
            "notes": data.notes,
        },
    }


def train(config: TrainConfig | dict[str, Any], *, given: set[str] | None = None) -> Any:
    """Train (or resume) the run that `config` names; returns its task's pipeline.

    `given` lists the fields the user set explicitly (the CLI passes it) so that
    only those are checked against a resumed run's saved settings.
    """
    if isinstance(config, dict):
        config = TrainConfig.from_dict(config)
    job = distributed.from_environment()
    device = distributed.process_device(resolve_device(config.device), job)
    created_group = distributed.start(job, device)
    try:
        try:
            pipeline = _train(config, given, job, device)
        except TrainingInterrupted:  # every process stopped at the same step, after a checkpoint
            _collect_before_teardown(job)
            raise
        _collect_before_teardown(job)
        return pipeline
    finally:
        distributed.stop(created_group)


def _collect_before_teardown(job: Distributed) -> None:
    """The finished trainer and its DDP wrappers can sit in a reference cycle
    until some later collection; collected here, they go while the process
    group still exists. Left to a collection after destroy_process_group, a
    DDP reducer now and then aborted the process at exit ("terminate called
    without an active exception"). Then every process arrives before the
    group is torn down: a process that destroyed it while rank 0 was still
    writing aborted now and then."""
    if job.enabled:
        gc.collect()
    distributed.barrier(job)


def _train(config: TrainConfig, given: set[str] | None, job: Distributed, device: torch.device) -> Any:
    run_dir, config, resuming = prepare_run_dir(config, given)
    if resuming:
        finished = finished_run(run_dir, config, device)
        if finished is not None:  # nothing to do, and nothing written (the runs folder may be read-only)
            if job.is_main:
                print(f"{run_dir}: already trained for {finished.step} steps (--steps {config.steps}); nothing to do")
            return finished
    # One trainer per run: a second is refused while this one holds the lock.
    with RunLock(run_dir) if job.is_main else contextlib.nullcontext():
        if job.is_main:
            clean_stale_temporaries(run_dir)
        distributed.barrier(job)  # every process has read the run folder before rank 0 writes to it
        try:
            return _train_locked(run_dir, config, resuming, job, device)
        except WriteError as error:
            raise WriteError(error.path, error.cause, newest=newest_checkpoint_note(run_dir)) from None


def finished_run(run_dir: Path, config: TrainConfig, device: torch.device) -> Any:
    """The pipeline of a run already trained to --steps (its newest checkpoint
    that loads), else None."""
    newest = latest_checkpoint(checkpoints_root(run_dir))
    if newest is None or checkpoint_step(newest) < config.steps:
        return None
    pipeline = PIPELINES[run_task(read_run_config(run_dir))].from_run(run_dir, device=str(device))
    return pipeline if pipeline.step >= config.steps else None  # a damaged final checkpoint: train again from the one before


def newest_checkpoint_note(run_dir: Path) -> str:
    """Where the run can resume from, for a message about a failed write."""
    newest = latest_checkpoint(checkpoints_root(run_dir))
    if newest is None:
        return "the run has no checkpoint yet"
    return f"newest intact checkpoint: {newest} (step {checkpoint_step(newest)}); fix the cause, then run the same command to resume"


def _train_locked(run_dir: Path, config: TrainConfig, resuming: bool, job: Distributed, device: torch.device) -> Any:
    data = load_training_data(config)
    # Built before seeding: a classifier trained here must not shift the run's RNG.
    evaluator = build_evaluator(config, data, device) if job.is_main else None
    torch.manual_seed(config.seed)  # fixes the weight initialisation
    model = build_model(config, data)
    config = config.with_model_defaults(model.training_defaults)
    if config.init_from and not resuming:
        source = init_generator_from(model, config.init_from, config.runs_dir)
        if job.is_main:
            print(f"generator initialised from {source}")
    data.notes.extend(note for note in model.data_notes(data) if note not in data.notes)  # e.g. label colours off the palette
    check_regularizers(config, model)
    objective = build_objective(config, model)
    trainer = Trainer(config, run_dir, data, model, device, evaluator=evaluator, job=job, objective=objective)
    start = trainer.resume() if resuming else 0
    if job.is_main:
        write_json(run_dir / CONFIG_FILE, run_record(config, model.config, data))
        for note in data.notes:
            print(f"note: {note}")
        action = f"resuming at step {start}" if start else "starting"
        processes = f" x {job.world_size} processes (DDP)" if job.enabled else ""
        print(f"{run_dir}: {action}; {config.model} on {data.describe()}; device {device}{processes}")
    if start < config.steps:
        trainer.fit()
    pipeline_class = PIPELINES[model.task]  # sample for a generate run, translate for a paired one
    return pipeline_class(model, run_dir=Path(run_dir), step=trainer.step, class_names=data.class_names, train_config=config.to_dict())
