"""The training loop, generic over families: the objective plays the game, the
task brings the batches and the previews, the loop does the rest.

A step runs the objective's schedule (for the adversarial game: k D updates,
then one G update with D frozen). For each update the loop freezes the
players the objective names, runs the player's loss under autocast, and steps
that player's optimizer. Around the steps it owns what every family shares:
learning-rate schedules, EMA of the generator, logging of the objective's
named statistics, previews, evaluation, checkpoints and exact resume.

Everything a step draws at random comes from the seed, and a checkpoint
stores the step, the optimizers, the RNG states and the objective's state,
so stopping and resuming continues the very same run.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ganforge.config import TrainConfig
from ganforge.data.base import ImageData
from ganforge.data.points import PointData
from ganforge.errors import GanforgeError
from ganforge.io import WriteError, writing
from ganforge.models.base import Networks
from ganforge.objectives import Objective, StepContext
from ganforge.pipelines.evaluation import evaluate_generator
from ganforge.tasks import Task, create_task
from ganforge.training import distributed
from ganforge.runs.checkpoint import (
    STATE_FILE,
    Checkpoint,
    latest_checkpoint,
    load_checkpoint,
    load_newest,
    read_state,
    save_checkpoint,
)
from ganforge.training.distributed import SINGLE_PROCESS, Distributed
from ganforge.training.health import HealthWatch
from ganforge.training.logger import MetricsLogger, SilentLogger
from ganforge.training.performance import (
    autocast,
    check_precision,
    compiled,
    make_grad_scalers,
    mark_step_begin,
    optimise,
    to_channels_last,
    uses_cuda_graphs,
)
from ganforge.runs.folder import best_root, checkpoints_root
from ganforge.objectives.settings import build_objective

if TYPE_CHECKING:
    from ganforge.metrics import Evaluator

# Offsets that give each random stream of a run its own seed, all fixed by --seed.
NOISE_SEED_OFFSET = 1  # training noise
EVAL_SEED_OFFSET = 3  # the fixed noise of --eval-every samples
OBJECTIVE_SEED_OFFSET = 4  # the objective's own draws (DiffAugment, gradient penalty)


def make_optimizer(config: TrainConfig, parameters: Iterator[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """Adam (with the config's betas), RMSprop or SGD with momentum, as the config names.

    Adam runs fused (one kernel over all tensors: on one CPU thread 1.0 ms
    against 5.9 ms per DCGAN update of G and D) where this torch has a fused
    kernel for the device, else multi-tensor (foreach)."""
    params = list(parameters)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    if config.optimizer == "sgd":
        assert config.momentum is not None
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum, foreach=True)
    assert config.beta1 is not None and config.beta2 is not None
    betas = (config.beta1, config.beta2)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except RuntimeError:  # no fused Adam for this device in this torch
        return torch.optim.Adam(params, lr=lr, betas=betas, foreach=True)


# EMA decay ramps up from ~0.1 so the average forgets the random initial weights
# quickly (the num_updates rule of TensorFlow's ExponentialMovingAverage).
def ema_decay(target: float, step: int) -> float:
    return min(target, (1.0 + step) / (10.0 + step))


def learning_rate_factor(config: TrainConfig, step: int) -> float:
    """The schedule's factor on every learning rate at `step`: 1, or with
    --lr-decay linear constant until --lr-decay-start x --steps, then falling
    linearly to 0 at --steps (pix2pix's "100 epochs constant, 100 decaying").
    Derived from the step, so a resumed run has the same schedule."""
    if config.lr_decay != "linear":
        return 1.0
    start = round((config.lr_decay_start or 0.0) * config.steps)
    if step < start:
        return 1.0
    return 1.0 - (step - start) / max(config.steps - start, 1)


def player_parameters(model: nn.Module, networks: tuple[str, ...]) -> Iterator[torch.nn.Parameter]:
    for name in networks:
        yield from getattr(model, name).parameters()


@contextlib.contextmanager
def frozen(modules: list[nn.Module]) -> Iterator[None]:
    """`modules` without gradients for the duration (their flags restored after)."""
    flags = [[p.requires_grad for p in module.parameters()] for module in modules]
    for module in modules:
        module.requires_grad_(False)
    try:
        yield
    finally:
        for module, saved in zip(modules, flags):
            for p, flag in zip(module.parameters(), saved):
                p.requires_grad_(flag)


class Trainer:
    def __init__(
        self,
        config: TrainConfig,
        run_dir: Path,
        data: ImageData | PointData | Any,
        model: Networks,
        device: torch.device,
        evaluator: Evaluator | None = None,
        job: Distributed = SINGLE_PROCESS,
        objective: Objective | None = None,
    ) -> None:
        check_process_layout(config, job)
        self.config = config
        self.job = job
        self.evaluator = evaluator
        self.best_score = float("inf")  # of the evaluator's best_metric (FID; L1 for paired runs; -PSNR for SR runs), lower is better
        self.run_dir = run_dir
        self.device = device
        self.data = data.to(device)
        if config.ema and model.generator_ema is None:
            model.enable_ema()  # the EMA can be the model's default, known only once the config is filled
        self.model = model.to(device)
        check_precision(config, device)
        distributed.prepare_model(self.model, device, job)
        if config.channels_last:
            to_channels_last(self.model)
        self.objective = objective if objective is not None else build_objective(config, model)
        self.objective.check_model(model)
        self.objective.setup(self.model, seed=config.seed + OBJECTIVE_SEED_OFFSET, device=device)
        self.views = self.player_views()
        self.cuda_graphs = uses_cuda_graphs(config, device)
        self.scalers = make_grad_scalers(config, device, self.objective.players)
        self.base_lr = {"g": config.lr_g, "d": config.lr_d}
        self.optimizers = {
            player: make_optimizer(config, player_parameters(model, self.objective.networks[player]), self.learning_rate(player))
            for player in self.objective.players
        }
        self.task: Task = create_task(
            model.task, data=self.data, model=self.model, config=config, device=device, shard=lambda indices: distributed.shard(indices, job)
        )
        self.batches_per_step = self.objective.batches_per_step()
        self.noise = torch.Generator(device).manual_seed(config.seed + NOISE_SEED_OFFSET)
        self.step = 0
        self._batches_read = 0  # batches read in this step
        self.stop_requested: int = 0  # the number of the signal that asked to stop, 0: none
        # Whether every loss since the last check was finite: a flag on the
        # device, read only where the loop synchronises anyway (logging,
        # previews, evaluation, checkpoints).
        self.finite = torch.ones((), dtype=torch.bool, device=device)
        self.rollbacks = 0
        self.lr_scale = 1.0  # lowered by --nan-policy lower-lr at each rollback
        self.start_snapshot: Snapshot | None = None
        self.run_folder: tuple[int, int] | None = None  # the run folder's identity while training

    def learning_rate(self, player: str) -> float:
        lr = self.base_lr.get(player)
        if lr is None:
            raise GanforgeError(f"no learning rate for player '{player}' of objective '{self.objective.name}'")
        return lr

    def player_views(self) -> dict[str, Networks]:
        """What each player's update calls: the model with its networks run
        through DDP and/or torch.compile (the same modules and parameters).
        The networks of the players frozen during an update run outside DDP:
        they get no gradients there, and DDP would wait for them."""
        cfg, objective = self.config, self.objective
        ddp = distributed.ddp_wrapper(self.device, self.job)
        made: dict[tuple[str, bool], nn.Module] = {}  # each wrapper built once, when first needed

        def runner(name: str, through_ddp: bool) -> nn.Module:
            through_ddp = through_ddp and self.job.enabled  # one process: DDP is no wrapper at all
            if (name, through_ddp) not in made:
                module = getattr(self.model, name)
                made[name, through_ddp] = compiled(ddp(module) if through_ddp else module, cfg.compile, cfg.compile_mode)
            return made[name, through_ddp]

        views = {}
        for player in objective.players:
            frozen_names = {name for other in objective.frozen(player) for name in objective.networks[other]}
            names = [name for p in objective.players for name in objective.networks[p]]
            views[player] = self.model.with_networks(**{name: runner(name, name not in frozen_names) for name in names})
        return views

    # -- one step -----------------------------------------------------------

    def next_batch(self) -> dict[str, Any]:
        """The step's next batch; the batch counter is derived from the step."""
        number = self.step * self.batches_per_step + self._batches_read
        self._batches_read += 1
        return self.task.batch(number)

    def context(self) -> StepContext:
        """A new context for the current step: its batch counter starts at 0."""
        self._batches_read = 0
        return StepContext(batch=self.next_batch, noise=self.noise, optimizers=self.optimizers)

    def update(self, player: str, ctx: StepContext) -> dict[str, torch.Tensor]:
        """One update of `player`: its loss with the frozen players frozen, then its optimizer step."""
        frozen_players = self.objective.frozen(player)
        modules = [getattr(self.model, name) for other in frozen_players for name in self.objective.networks[other]]
        with frozen(modules):
            with autocast(self.config, self.device):
                loss, stats = self.objective.loss(player, self.views[player], ctx)
            optimise(loss, self.optimizers[player], self.scalers.get(player))
        self.objective.after_update(player, self.model)
        return stats

    def train_step(self) -> torch.Tensor:
        """One step of the objective's schedule; returns its stats, in the
        order of objective.stats (the last value of each in the step)."""
        if self.cuda_graphs:
            mark_step_begin()
        if self.config.lr_decay != "none" or self.lr_scale != 1.0:
            self.set_learning_rates(learning_rate_factor(self.config, self.step) * self.lr_scale)
        ctx = self.context()
        stats: dict[str, torch.Tensor] = {}
        for player in self.objective.schedule(self.step):
            stats.update(self.update(player, ctx))
        if self.config.ema:
            self.model.update_ema(ema_decay(self.config.ema, self.step))
        missing = [key for key in self.objective.stats if key not in stats]
        if missing:
            raise RuntimeError(f"objective '{self.objective.name}' did not report {', '.join(missing)} in step {self.step}")
        return torch.stack([stats[key].detach().float().to(self.device) for key in self.objective.stats])

    def set_learning_rates(self, factor: float) -> None:
        """Every player's learning rate at `factor` times the configured one."""
        for player, optimizer in self.optimizers.items():
            for group in optimizer.param_groups:
                group["lr"] = self.learning_rate(player) * factor

    # -- the loop -----------------------------------------------------------

    def fit(self) -> None:
        cfg, main = self.config, self.job.is_main
        with writing(self.run_dir):
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.run_folder = folder_identity(self.run_dir)
        log = self.make_logger() if main else SilentLogger()
        self.model.train()
        if latest_checkpoint(checkpoints_root(self.run_dir)) is None:
            self.start_snapshot = Snapshot.of(self)  # what a rollback before the first checkpoint returns to
        stopping = False
        try:
            with _stop_on_signals(self):
                while self.step < cfg.steps and not stopping:
                    # Under DDP the logged values are the means over the processes,
                    # so a NaN in any process makes every process roll back.
                    values = distributed.mean_across(self.train_step(), self.job)
                    self.finite &= torch.isfinite(values).all()
                    log.record(self.step + 1, values)
                    self.step += 1
                    stopping = self.stopping()
                    due = self.due(done=self.step == cfg.steps or stopping)
                    if due and not self.all_finite():
                        log.flush()  # the non-finite values go to the log (as null) before the rollback
                        self.roll_back(log)
                        continue
                    self.periodic(due, log)
        finally:
            log.close()  # also after an error: what was logged is on disk
        if not distributed.replicas_agree(self.model, self.job):
            raise GanforgeError("the training processes ended with different weights (DDP replicas diverged); please report this")
        if stopping:
            raise TrainingInterrupted(self.stop_requested, self.step, self.run_dir)

    def due(self, done: bool) -> set[str]:
        """What the loop does after this step: log, sample, eval, checkpoint.
        The same in every process, since a rollback must happen in all of them."""
        cfg = self.config
        every = {"log": cfg.log_every, "sample": cfg.sample_every, "eval": cfg.eval_every if self.evaluator else 0, "checkpoint": cfg.checkpoint_every}
        return {name for name, n in every.items() if n and (self.step % n == 0 or done)}

    def periodic(self, due: set[str], log: MetricsLogger | SilentLogger) -> None:
        """The due actions: metrics to disk, a preview, an evaluation, a checkpoint (rank 0 writes)."""
        main = self.job.is_main
        if main and folder_identity(self.run_dir) != self.run_folder:
            # Writing on would recreate parts of the folder without its config.
            raise WriteError(self.run_dir, "the run folder was removed or replaced while training")
        if "log" in due:
            log.flush()
        if main and "sample" in due:
            path = self.save_sample_grid()
            log.event({"kind": "samples", "step": self.step, "path": str(path.relative_to(self.run_dir))})
        if "eval" in due:
            assert isinstance(log, MetricsLogger)
            self.evaluate(log)
        if main and "checkpoint" in due:
            log.flush()  # metrics up to a checkpoint are always on disk
            self.save_checkpoint()

    # -- non-finite values --------------------------------------------------

    def all_finite(self) -> bool:
        """Whether every loss since the last check, and every weight, is finite
        (one host sync). Under DDP the logged values are already averaged over
        the processes, so every process reaches the same answer."""
        finite = bool(self.finite.item()) and not non_finite_parameters(self.model)
        self.finite.fill_(True)
        return finite

    def roll_back(self, log: MetricsLogger | SilentLogger) -> None:
        """Return to the newest checkpoint (or the run's start) after a
        non-finite loss or weight, as --nan-policy says; stop after
        --max-rollbacks rollbacks with an error."""
        cfg, bad_step = self.config, self.step
        self.rollbacks += 1
        if cfg.nan_policy == "stop" or self.rollbacks > cfg.max_rollbacks:
            tried = f" after {cfg.max_rollbacks} rollbacks" if cfg.nan_policy != "stop" else ""
            raise GanforgeError(
                f"training produced NaN or infinite values by step {bad_step}{tried}; nothing non-finite was saved. "
                "Lower the learning rates (--lr-g/--lr-d) or try --nan-policy lower-lr"
            )
        if cfg.nan_policy == "lower-lr":
            self.lr_scale /= 2
        self.restore_newest()
        lr = f"; learning rates now x{self.lr_scale:g}" if self.lr_scale != 1.0 else ""
        log.warn(bad_step, f"non-finite loss or weights by step {bad_step}: rolled back to step {self.step} (rollback {self.rollbacks} of at most {cfg.max_rollbacks}){lr}")
        log.restart(self.step)

    def make_logger(self) -> MetricsLogger:
        signs = self.objective.health_signs
        health = HealthWatch(watch_d_fake="d_fake" in signs and self.config.loss != "wasserstein", watch_diversity="diversity" in signs)
        cfg = self.config
        return MetricsLogger(
            self.run_dir, self.step, cfg.steps, keys=self.objective.stats, tensorboard=cfg.tensorboard, progress=cfg.progress, health=health
        )

    def stopping(self) -> bool:
        """Whether to stop after this step (Ctrl-C). Processes of a DDP job
        agree on it at logging steps, so that they all stop at the same step."""
        if not self.job.enabled:
            return bool(self.stop_requested)
        return self.step % self.config.log_every == 0 and distributed.any_across(bool(self.stop_requested), self.job, self.device)

    # -- evaluation -----------------------------------------------------------

    def evaluate(self, log: MetricsLogger) -> dict[str, float]:
        """Score eval_n samples from fixed noise (test pairs for a paired run);
        keep the weights with the best FID (L1 for a paired run)."""
        assert self.evaluator is not None
        result = evaluate_generator(self.evaluator, self.model, self.config.eval_n, seed=self.config.seed + EVAL_SEED_OFFSET)
        log.evaluation(self.step, result)
        metric = getattr(self.evaluator, "best_metric", "fid")
        score = self.lower_is_better(result.metrics.get(metric))  # point data is scored on modes, not FID
        if score < self.best_score:
            self.best_score = score
            extra = {metric: result.metrics[metric], "best_metric": metric, "extractor": result.extractor}
            save_checkpoint(best_root(self.run_dir), self.step, self.model, {}, {}, extra=extra, keep=1)
        return result.metrics

    # -- saving and restoring -----------------------------------------------

    @torch.no_grad()
    def save_sample_grid(self) -> Path:
        """The task's preview of this step (fixed inputs, so steps compare)."""
        path = self.run_dir / "samples" / f"step-{self.step:08d}.png"
        with writing(path):
            return self.task.save_preview(self.model, path)

    def rng_states(self) -> dict[str, torch.Tensor]:
        states = {"torch_cpu": torch.get_rng_state(), "noise": self.noise.get_state(), **self.objective.rng_states()}
        if self.device.type == "cuda":
            states["torch_cuda"] = torch.cuda.get_rng_state(self.device)
        return states

    def save_checkpoint(self) -> Path:
        extra: dict[str, Any] = {"lr_scale": self.lr_scale} if self.lr_scale != 1.0 else {}
        if self.scalers:
            extra["grad_scalers"] = {name: scaler.state_dict() for name, scaler in self.scalers.items()}
        return save_checkpoint(
            checkpoints_root(self.run_dir),
            self.step,
            self.model,
            self.optimizers,
            self.rng_states(),
            keep=self.config.keep_checkpoints,
            extra=extra or None,
            objective_state=self.objective.state_tensors(),
        )

    def resume(self) -> int:
        """Restore the newest checkpoint that loads (a newer, damaged one is
        skipped with a warning); returns the step to continue from."""
        if latest_checkpoint(checkpoints_root(self.run_dir)) is None:
            return 0
        restored = self.load_newest_checkpoint()
        self.restore(restored)
        self.lr_scale = float(restored.extra.get("lr_scale", 1.0))
        self.best_score = self._saved_best_score()
        return self.step

    def restore_newest(self) -> None:
        """Back to the newest checkpoint, or to the start of a run that has none yet."""
        if latest_checkpoint(checkpoints_root(self.run_dir)) is not None:
            restored = self.load_newest_checkpoint()
        else:
            assert self.start_snapshot is not None
            restored = self.start_snapshot.restore_into(self)
        self.restore(restored)

    def load_newest_checkpoint(self) -> Checkpoint:
        """Weights and optimizers from the newest checkpoint that loads; newer,
        damaged ones are set aside (the trainer holds the run's lock)."""
        restored, _ = load_newest(self.run_dir, lambda path: load_checkpoint(path, self.model, self.optimizers), set_aside=True)
        return restored

    def restore(self, restored: Checkpoint) -> None:
        """Step, RNG streams, grad scalers and the objective's state of `restored`
        (the weights and optimizers are loaded with it)."""
        self.step = restored.step
        for name, state in restored.extra.get("grad_scalers", {}).items():
            if name in self.scalers:  # fp16 then and now
                self.scalers[name].load_state_dict(state)
        torch.set_rng_state(restored.rng_states["torch_cpu"])
        self.noise.set_state(restored.rng_states["noise"])
        self.objective.load_rng_states(restored.rng_states)
        self.objective.load_state_tensors({k: v.to(self.device) for k, v in restored.objective_state.items()})
        if self.device.type == "cuda" and "torch_cuda" in restored.rng_states:
            torch.cuda.set_rng_state(restored.rng_states["torch_cuda"], self.device)
        self.finite.fill_(True)

    def _saved_best_score(self) -> float:
        best = latest_checkpoint(best_root(self.run_dir))
        if best is None:
            return float("inf")
        extra = read_state(best / STATE_FILE)["extra"]
        return self.lower_is_better(extra.get(extra.get("best_metric", "fid")))

    def lower_is_better(self, value: float | None) -> float:
        """The evaluator's best metric as a score where lower is better (PSNR
        negated); infinity when the metric is missing."""
        if value is None:
            return float("inf")
        return -float(value) if getattr(self.evaluator, "higher_is_better", False) else float(value)


def check_process_layout(config: TrainConfig, job: Distributed) -> None:
    """Settings that several training processes cannot honour, named."""
    if not job.enabled:
        return
    assert config.batch_size is not None
    if config.batch_size % job.world_size:
        raise GanforgeError(f"--batch-size {config.batch_size} is the global batch and must divide evenly over {job.world_size} processes")
    per_process = config.batch_size // job.world_size
    if per_process % (config.pack or 1):
        raise GanforgeError(
            f"--batch-size {config.batch_size} gives each of {job.world_size} processes {per_process} samples, not divisible by --pack {config.pack}"
        )
    if config.unroll:
        raise GanforgeError(f"--unroll does not run in several processes (here {job.world_size}): train it in one process")


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on Ctrl-C (SIGINT) or SIGTERM, after saving a
    checkpoint. A KeyboardInterrupt, so that code which stops on Ctrl-C stops;
    the CLI exits with 128 + the signal's number (130, 143)."""

    def __init__(self, signum: int, step: int, run_dir: Path) -> None:
        self.signum, self.step, self.run_dir = signum, step, run_dir
        name = signal.Signals(signum).name if signum else "a request"
        super().__init__(f"interrupted by {name}: checkpoint saved at step {step} in {run_dir}; run the same command to resume")

    @property
    def exit_status(self) -> int:
        return 128 + (self.signum or signal.SIGINT)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _stop_on_signals:
    """First Ctrl-C or SIGTERM (what schedulers and `docker stop` send):
    finish the current step, checkpoint, stop. A second one of the same
    signal acts as it would without ganforge (Ctrl-C aborts at once)."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self.previous = {signum: signal.signal(signum, self._handle) for signum in STOP_SIGNALS}

    def _handle(self, signum: int, frame: Any) -> None:
        self.trainer.stop_requested = signum
        signal.signal(signum, self.previous[signum])

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def folder_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of folder `path`, None when it is gone: a folder removed
    and made again under the same name is another folder."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def non_finite_parameters(model: nn.Module) -> bool:
    """Whether any weight or buffer of `model` holds NaN or infinity (one sync)."""
    tensors = [t for t in [*model.parameters(), *model.buffers()] if t.is_floating_point()]
    if not tensors:
        return False
    return not bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


@dataclasses.dataclass
class Snapshot:
    """A fresh run's state before its first step, in memory: where a rollback
    returns to when the run has no checkpoint yet."""

    weights: dict[str, torch.Tensor]
    optimizers: dict[str, dict[str, Any]]
    checkpoint: Checkpoint

    @classmethod
    def of(cls, trainer: Trainer) -> Snapshot:
        return cls(
            weights={k: v.detach().clone() for k, v in trainer.model.state_dict().items()},
            optimizers={name: copy.deepcopy(opt.state_dict()) for name, opt in trainer.optimizers.items()},
            checkpoint=Checkpoint(
                step=trainer.step,
                rng_states={k: v.clone() for k, v in trainer.rng_states().items()},
                extra={"grad_scalers": {name: s.state_dict() for name, s in trainer.scalers.items()}},
                objective_state={k: v.detach().clone() for k, v in trainer.objective.state_tensors().items()},
            ),
        )

    def restore_into(self, trainer: Trainer) -> Checkpoint:
        """Load the snapshot's weights and optimizers into `trainer`; the rest is returned for Trainer.restore."""
        trainer.model.load_state_dict(self.weights)
        for name, optimizer in trainer.optimizers.items():
            optimizer.load_state_dict(copy.deepcopy(self.optimizers[name]))
        return self.checkpoint
