"""The training loop: k discriminator updates, then one generator update with D frozen.

One "step" is one generator update. Everything a step draws at random comes
from the seed, and a checkpoint stores the step, the optimizers and the RNG
states, so stopping and resuming continues the very same run.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from ganforge.augment import DiffAugment
from ganforge.config import TrainConfig
from ganforge.data.base import ImageData, labels_hint
from ganforge.data.points import PointData, is_point_data
from ganforge.errors import GanforgeError
from ganforge.losses import create_loss
from ganforge.models.base import GAN
from ganforge.regularizers import clip_weights, gradient_penalty, r1_penalty
from ganforge.remedies import Discriminate, unrolled_discriminator
from ganforge.report.images import save_grid
from ganforge.report.scatter import save_scatter
from ganforge.training import distributed
from ganforge.training.batches import BatchOrder
from ganforge.training.checkpoint import STATE_FILE, Checkpoint, latest_checkpoint, load_checkpoint, read_state, save_checkpoint
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
from ganforge.training.rundir import best_root, checkpoints_root

if TYPE_CHECKING:
    from ganforge.metrics import Evaluator

# Offsets that give the training noise and the fixed sample-grid noise their
# own streams, both fixed by --seed.
NOISE_SEED_OFFSET = 1
GRID_SEED_OFFSET = 2
EVAL_SEED_OFFSET = 3  # the fixed noise of --eval-every samples
REGULARIZER_SEED_OFFSET = 4  # DiffAugment and gradient-penalty draws
SCATTER_POINTS = 2500  # samples in a point model's scatter plot (the papers' evaluation size)


def make_optimizer(config: TrainConfig, parameters: Iterator[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """Adam (with the config's betas) or RMSprop, as the config names.

    Adam runs fused (one kernel over all tensors: on one CPU thread 1.0 ms
    against 5.9 ms per DCGAN update of G and D) where this torch has a fused
    kernel for the device, else multi-tensor (foreach)."""
    params = list(parameters)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    assert config.beta1 is not None and config.beta2 is not None
    betas = (config.beta1, config.beta2)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except RuntimeError:  # no fused Adam for this device in this torch
        return torch.optim.Adam(params, lr=lr, betas=betas, foreach=True)


def grid_layout(num_classes: int, grid_size: int) -> tuple[int, int]:
    """(images, columns) of a sample grid: a square-ish grid, or for a
    conditional model one row per class."""
    if not num_classes:
        return grid_size, max(1, math.ceil(math.sqrt(grid_size)))
    columns = max(1, grid_size // num_classes)
    return columns * num_classes, columns


def grid_labels(num_classes: int, grid_size: int) -> torch.Tensor | None:
    """Row r of a conditional grid shows class r."""
    if not num_classes:
        return None
    images, columns = grid_layout(num_classes, grid_size)
    return torch.arange(images) // columns


# EMA decay ramps up from ~0.1 so the average forgets the random initial weights
# quickly (the num_updates rule of TensorFlow's ExponentialMovingAverage).
def ema_decay(target: float, step: int) -> float:
    return min(target, (1.0 + step) / (10.0 + step))


def detached(fake: Any) -> Any:
    """`fake` cut from G's graph: a tensor, or a dataclass of tensors and lists
    of them (LAPGAN's Pyramid)."""
    if isinstance(fake, torch.Tensor):
        return fake.detach()
    if isinstance(fake, list):
        return [detached(item) for item in fake]
    if dataclasses.is_dataclass(fake) and not isinstance(fake, type):
        return dataclasses.replace(fake, **{f.name: detached(getattr(fake, f.name)) for f in dataclasses.fields(fake)})
    return fake


class Trainer:
    def __init__(
        self,
        config: TrainConfig,
        run_dir: Path,
        data: ImageData | PointData,
        model: GAN,
        device: torch.device,
        evaluator: Evaluator | None = None,
        job: Distributed = SINGLE_PROCESS,
    ) -> None:
        check_process_layout(config, job)
        self.config = config
        self.job = job
        self.evaluator = evaluator
        self.best_fid = float("inf")
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
        # What the training forward passes call: `model` itself, or views of
        # it whose networks run through DDP and/or torch.compile (the same
        # modules and parameters). The G step calls D outside DDP: D is
        # frozen there, and DDP would wait for gradients that never come.
        ddp = distributed.ddp_wrapper(device, job)
        mode = config.compile_mode
        generator = compiled(ddp(self.model.generator), config.compile, mode)
        self.net = self.model.with_networks(generator, compiled(ddp(self.model.discriminator), config.compile, mode))
        self.g_net = self.model.with_networks(generator, compiled(self.model.discriminator, config.compile, mode))
        self.cuda_graphs = uses_cuda_graphs(config, device)
        self.scalers = make_grad_scalers(config, device)
        self.loss = create_loss(config.loss, config.label_smoothing)
        self.real_target = 1.0 - config.label_smoothing
        self.optimizers = {
            "g": make_optimizer(config, model.generator.parameters(), config.lr_g),
            "d": make_optimizer(config, model.discriminator.parameters(), config.lr_d),
        }
        balanced_by = getattr(data, "labels", None) if config.class_balanced else None
        if config.class_balanced and balanced_by is None:
            raise GanforgeError(f"--class-balanced needs class labels, and data '{data.name}' has none{labels_hint(data.name)}")
        self.batches = BatchOrder(len(data), config.batch_size, config.seed, device, class_labels=balanced_by)
        self.noise = torch.Generator(device).manual_seed(config.seed + NOISE_SEED_OFFSET)
        # DiffAugment's and the gradient penalty's random draws.
        self.regularizer_rng = torch.Generator(device).manual_seed(config.seed + REGULARIZER_SEED_OFFSET)
        self.augment = DiffAugment(config.diffaugment, self.regularizer_rng) if config.diffaugment else None
        grid = torch.Generator().manual_seed(config.seed + GRID_SEED_OFFSET)
        grid_images, self.grid_columns = grid_layout(model.num_classes, config.grid_size)
        self.grid_noise = model.sample_noise(grid_images, generator=grid, device=torch.device("cpu")).to(device)
        labels = grid_labels(model.num_classes, config.grid_size)
        self.grid_labels = None if labels is None else labels.to(device)
        self.step = 0
        self._d_step_in_step = 0  # which of the step's k D updates is running
        self.stop_requested = False

    # -- one step -----------------------------------------------------------

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The next real batch; the batch counter is derived from the step.
        A step reads d_steps batches, and --unroll K more for the unrolled D."""
        number = self.step * (self.config.d_steps + self.config.unroll) + self._d_step_in_step
        self._d_step_in_step += 1
        real, labels = self.data.batch(distributed.shard(self.batches.indices(number), self.job))
        if self.config.channels_last and real.dim() == 4:
            real = real.contiguous(memory_format=torch.channels_last)
        return real, labels

    def augmented(self, images: Any) -> Any:
        return self.augment(images) if self.augment is not None else images

    def class_loss(self, class_logits: torch.Tensor | None, labels: torch.Tensor | None) -> torch.Tensor | float:
        """AC-GAN's auxiliary term: cross-entropy of D's class prediction (0 otherwise)."""
        if class_logits is None or labels is None:
            return 0.0
        return F.cross_entropy(class_logits, labels)

    def adversarial_d_loss(
        self, discriminate: Discriminate, real: torch.Tensor, fake: Any, labels: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """D's loss on a real and a fake batch (with AC-GAN's class terms), and
        its real and fake logits. Real and fake go through D as separate
        batches, so batch norm never mixes their statistics (Radford et al.; "ganhacks")."""
        real_logits, real_classes = discriminate(self.augmented(real), labels)
        fake_logits, fake_classes = discriminate(self.augmented(fake), labels)
        loss = self.loss.d_loss(real_logits, fake_logits, self.real_target)
        loss = loss + self.class_loss(real_classes, labels) + self.class_loss(fake_classes, labels)
        return loss, real_logits, fake_logits

    def d_step(
        self, real: torch.Tensor, labels: torch.Tensor | None, keep_fake: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, Any]:
        """One D update. With `keep_fake` the fake batch keeps G's graph and is
        returned (else None), so that the G update can reuse it."""
        cfg, model = self.config, self.net
        with autocast(cfg, self.device):
            with torch.set_grad_enabled(keep_fake):
                kept = model.training_fake(real, labels, self.noise)
            fake = detached(kept)
            if cfg.r1:
                real.requires_grad_(True)
            loss, real_logits, fake_logits = self.adversarial_d_loss(model.discriminate_with_classes, real, fake, labels)
            if cfg.gp:
                critic = lambda images: model.discriminate(images, labels)
                loss = loss + cfg.gp * gradient_penalty(critic, real, fake, self.regularizer_rng)
            if cfg.r1:
                loss = loss + cfg.r1 * r1_penalty(real_logits, real)
        optimise(loss, self.optimizers["d"], self.scalers.get("d"))
        if cfg.clip:
            clip_weights(self.model.discriminator, cfg.clip)
        d_real, d_fake = torch.sigmoid(real_logits.detach().float()).mean(), torch.sigmoid(fake_logits.detach().float()).mean()
        return loss.detach().float(), d_real, d_fake, model.batch_diversity(real, fake), kept if keep_fake else None

    def g_step(self, real: torch.Tensor, labels: torch.Tensor | None, fake: Any = None) -> torch.Tensor:
        """One G update with D frozen, on `fake` (the last D update's batch,
        G's graph kept) or, when None, on a freshly generated batch."""
        model = self.g_net  # D outside DDP: frozen, it gets no gradients here
        self.model.discriminator.requires_grad_(False)
        with autocast(self.config, self.device):
            if fake is None:
                fake = model.training_fake(real.detach(), labels, self.noise)
            # --unroll K: G plays against D as it will be K updates from now (Metz et al. 2017).
            if self.config.unroll:
                same = self.config.unroll_batch == "same"
                discriminate = self.unrolled_discriminator(self.config.unroll, (real.detach(), labels, fake) if same else None)
            else:
                discriminate = model.discriminate_with_classes
            logits, classes = discriminate(self.augmented(fake), labels)
            logged = loss = self.loss.g_loss(logits) + self.class_loss(classes, labels)
            if self.config.unroll:
                loss = loss - self.unrolled_real_loss(discriminate, real, labels, logits)
        optimise(loss, self.optimizers["g"], self.scalers.get("g"))
        self.model.discriminator.requires_grad_(True)
        if self.config.ema:
            self.model.update_ema(ema_decay(self.config.ema, self.step))
        # The log shows G's own loss, comparable with and without --unroll.
        return logged.detach().float()

    def unrolled_real_loss(
        self, discriminate: Discriminate, real: torch.Tensor, labels: torch.Tensor | None, fake_logits: torch.Tensor
    ) -> torch.Tensor:
        """D's loss on real data at the unrolled weights theta_K, which G
        maximises beside its own loss. The unrolled G minimises the whole value
        function at theta_K (Metz et al. 2017, eq. 4-6): how D's coming updates
        would change its score on real data depends on G through theta_K, and
        is part of what G anticipates. The fake logits are detached, so only
        the real half reaches G's gradient; for the minimax loss G's objective
        is then exactly minus D's unrolled loss."""
        real_logits, _ = discriminate(self.augmented(real.detach()), labels)
        return self.loss.d_loss(real_logits, fake_logits.detach(), self.real_target)

    def set_learning_rates(self, factor: float) -> None:
        """Both learning rates at `factor` times the configured ones. Derived
        from the step each time, so a resumed run has the same schedule."""
        for name, base in (("g", self.config.lr_g), ("d", self.config.lr_d)):
            assert base is not None
            for group in self.optimizers[name].param_groups:
                group["lr"] = base * factor

    def unrolled_discriminator(self, steps: int, batch: tuple[torch.Tensor, torch.Tensor | None, Any] | None = None) -> Discriminate:
        """A copy of D advanced by `steps` differentiable Adam updates, which
        G's gradient flows through. Each update reads a fresh real batch (the
        step's next one) and fresh fakes, or, given `batch` (real, labels,
        fake; --unroll-batch same, as Metz et al.'s code), that batch every
        time. D, its buffers and its optimizer stay as they are. The updates
        use the adversarial loss only: the gradient penalty and R1 would need
        third derivatives; weight clipping is kept."""

        def d_loss(discriminate: Discriminate) -> torch.Tensor:
            if batch is not None:
                real, labels, fake = batch
            else:
                real, labels = self.next_batch()
                fake = self.model.training_fake(real, labels, self.noise)  # not detached: G learns through it
            return self.adversarial_d_loss(discriminate, real, fake, labels)[0]

        return unrolled_discriminator(self.model, self.optimizers["d"], d_loss, steps, clip=self.config.clip or 0.0)

    def train_step(self) -> torch.Tensor:
        """k D updates then one G update; returns the logger's TRAIN_KEYS values
        (loss_d, loss_g, D(x), D(G(z)), batch diversity) of the last D update."""
        self._d_step_in_step = 0
        if self.cuda_graphs:
            mark_step_begin()
        if self.config.lr_decay == "linear":
            self.set_learning_rates(1.0 - self.step / self.config.steps)
        # G's update reuses the last D update's fake batch, as pytorch/examples'
        # DCGAN does: one G forward per step fewer. Not with --unroll, whose
        # G step generates through the unrolled D updates.
        reuse = not self.config.unroll
        for i in range(self.config.d_steps):
            real, labels = self.next_batch()
            last = i == self.config.d_steps - 1
            loss_d, d_real, d_fake, diversity, fake = self.d_step(real, labels, keep_fake=reuse and last)
        loss_g = self.g_step(real, labels, fake)
        return torch.stack([loss_d, loss_g, d_real, d_fake, diversity])

    # -- the loop -----------------------------------------------------------

    def fit(self) -> None:
        cfg, main = self.config, self.job.is_main
        log = self.make_logger() if main else SilentLogger()
        self.model.train()
        stopping = False
        with _stop_on_interrupt(self):
            while self.step < cfg.steps and not stopping:
                # Under DDP the logged values are the means over the processes.
                log.record(self.step + 1, distributed.mean_across(self.train_step(), self.job))
                self.step += 1
                stopping = self.stopping()
                done = self.step == cfg.steps or stopping
                if self.step % cfg.log_every == 0 or done:
                    log.flush()
                if main and (self.step % cfg.sample_every == 0 or done):
                    path = self.save_sample_grid()
                    log.event({"kind": "samples", "step": self.step, "path": str(path.relative_to(self.run_dir))})
                if self.evaluator is not None and (self.step % cfg.eval_every == 0 or done):
                    assert isinstance(log, MetricsLogger)
                    self.evaluate(log)
                if main and (self.step % cfg.checkpoint_every == 0 or done):
                    log.flush()  # metrics up to a checkpoint are always on disk
                    self.save_checkpoint()
        log.close()
        if not distributed.replicas_agree(self.model, self.job):
            raise GanforgeError("the training processes ended with different weights (DDP replicas diverged); please report this")
        if stopping and main:
            print(f"interrupted: checkpoint saved at step {self.step}; run the same command to resume")

    def make_logger(self) -> MetricsLogger:
        health = HealthWatch(watch_d_fake=self.config.loss != "wasserstein")
        cfg = self.config
        return MetricsLogger(self.run_dir, self.step, cfg.steps, tensorboard=cfg.tensorboard, progress=cfg.progress, health=health)

    def stopping(self) -> bool:
        """Whether to stop after this step (Ctrl-C). Processes of a DDP job
        agree on it at logging steps, so that they all stop at the same step."""
        if not self.job.enabled:
            return self.stop_requested
        return self.step % self.config.log_every == 0 and distributed.any_across(self.stop_requested, self.job, self.device)

    # -- evaluation -----------------------------------------------------------

    def evaluate(self, log: MetricsLogger) -> dict[str, float]:
        """Score eval_n samples from fixed noise; keep the weights with the best FID."""
        assert self.evaluator is not None
        result = self.evaluator.evaluate_model(self.model, self.config.eval_n, seed=self.config.seed + EVAL_SEED_OFFSET)
        log.evaluation(self.step, result)
        fid = result.metrics.get("fid", float("inf"))  # point data is scored on modes, not FID
        if fid < self.best_fid:
            self.best_fid = fid
            save_checkpoint(best_root(self.run_dir), self.step, self.model, {}, {}, extra={"fid": fid, "extractor": result.extractor}, keep=1)
        return result.metrics

    # -- saving and restoring -----------------------------------------------

    @torch.no_grad()
    def save_sample_grid(self) -> Path:
        """The fixed-noise samples of this step: an image grid, or for point
        data a scatter plot of SCATTER_POINTS samples over the real data."""
        path = self.run_dir / "samples" / f"step-{self.step:08d}.png"
        if is_point_data(self.data):
            points = self.model.sample_images(self.model.seeded_noise(SCATTER_POINTS, self.config.seed + GRID_SEED_OFFSET))
            return save_scatter(path, points, self.data.mixture, real=self.data.points[:SCATTER_POINTS])
        self.model.eval()
        images = self.model.generate(self.grid_noise, self.grid_labels, ema=True)
        self.model.train()
        return save_grid(path, images, nrow=self.grid_columns)

    def rng_states(self) -> dict[str, torch.Tensor]:
        states = {
            "torch_cpu": torch.get_rng_state(),
            "noise": self.noise.get_state(),
            "regularizers": self.regularizer_rng.get_state(),
        }
        if self.device.type == "cuda":
            states["torch_cuda"] = torch.cuda.get_rng_state(self.device)
        return states

    def save_checkpoint(self) -> Path:
        return save_checkpoint(
            checkpoints_root(self.run_dir),
            self.step,
            self.model,
            self.optimizers,
            self.rng_states(),
            keep=self.config.keep_checkpoints,
            extra={"grad_scalers": {name: scaler.state_dict() for name, scaler in self.scalers.items()}} if self.scalers else None,
        )

    def resume(self) -> int:
        """Restore the newest checkpoint, if any; returns the step to continue from."""
        path = latest_checkpoint(checkpoints_root(self.run_dir))
        if path is None:
            return 0
        restored: Checkpoint = load_checkpoint(path, self.model, self.optimizers)
        self.step = restored.step
        for name, state in restored.extra.get("grad_scalers", {}).items():
            if name in self.scalers:  # fp16 then and now
                self.scalers[name].load_state_dict(state)
        self.best_fid = self._saved_best_fid()
        torch.set_rng_state(restored.rng_states["torch_cpu"])
        self.noise.set_state(restored.rng_states["noise"])
        if "regularizers" in restored.rng_states:  # absent from checkpoints of older versions
            self.regularizer_rng.set_state(restored.rng_states["regularizers"])
        if self.device.type == "cuda" and "torch_cuda" in restored.rng_states:
            torch.cuda.set_rng_state(restored.rng_states["torch_cuda"], self.device)
        return self.step

    def _saved_best_fid(self) -> float:
        best = latest_checkpoint(best_root(self.run_dir))
        if best is None:
            return float("inf")
        return float(read_state(best / STATE_FILE)["extra"].get("fid", float("inf")))


def check_process_layout(config: TrainConfig, job: Distributed) -> None:
    """Settings that several training processes cannot honour, named."""
    if not job.enabled:
        return
    if config.batch_size % job.world_size:
        raise GanforgeError(f"--batch-size {config.batch_size} is the global batch and must divide evenly over {job.world_size} processes")
    per_process = config.batch_size // job.world_size
    if per_process % config.pack:
        raise GanforgeError(
            f"--batch-size {config.batch_size} gives each of {job.world_size} processes {per_process} samples, not divisible by --pack {config.pack}"
        )
    if config.unroll:
        raise GanforgeError(f"--unroll does not run in several processes (here {job.world_size}): train it in one process")


class _stop_on_interrupt:
    """First Ctrl-C: finish the current step, checkpoint, stop. Second: abort."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.previous: Any = None

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.trainer.stop_requested = True
        signal.signal(signal.SIGINT, self.previous)

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

