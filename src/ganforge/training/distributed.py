"""Multi-process training with PyTorch's DistributedDataParallel (DDP).

Launched by `torchrun --nproc_per_node=N -m ganforge -- train ...` (or its
shortcut `ganforge train --nproc N`): torchrun sets RANK, WORLD_SIZE and
LOCAL_RANK, and every process runs the same training with one shard of each
batch. The maths is that of one process with the whole batch:

- --batch-size is the global batch; rank r reads the r-th slice of it and the
  r-th slice of the noise the single process would draw;
- DDP averages the gradients, and batch norm is synchronised across processes
  (torch's SyncBatchNorm on GPU; on CPU, where torch's needs a GPU, a small
  equivalent built on torch.distributed.nn's differentiable all_reduce);
- rank 0 alone writes checkpoints, samples, logs and evaluations.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.parallel import DistributedDataParallel

from ganforge.errors import GanforgeError
from ganforge.models.base import GAN


@dataclass(frozen=True)
class Distributed:
    """Where this process sits in the job: rank `rank` of `world_size`."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """The one process that writes files and prints."""
        return self.rank == 0


SINGLE_PROCESS = Distributed()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise GanforgeError(f"environment variable {name}={value!r} is not an integer (set by torchrun)") from None


def from_environment() -> Distributed:
    """The job layout torchrun put in the environment (one process if none)."""
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    if world_size < 1 or not 0 <= rank < world_size:
        raise GanforgeError(f"RANK={rank} is not a rank of WORLD_SIZE={world_size}")
    return Distributed(rank=rank, world_size=world_size, local_rank=_env_int("LOCAL_RANK", rank))


def process_device(device: torch.device, job: Distributed) -> torch.device:
    """A process's device: on CUDA each process of a node takes GPU LOCAL_RANK."""
    if not job.enabled or device.type != "cuda":
        return device
    if job.local_rank >= torch.cuda.device_count():
        raise GanforgeError(
            f"process LOCAL_RANK={job.local_rank} has no GPU: this node has {torch.cuda.device_count()}; "
            "start at most that many processes per node (--nproc_per_node)"
        )
    device = torch.device("cuda", job.local_rank)
    torch.cuda.set_device(device)
    return device


def start(job: Distributed, device: torch.device) -> bool:
    """Join the process group (NCCL on GPU, gloo on CPU); True when this call
    created it (and so should end it)."""
    if not job.enabled or dist.is_initialized():
        return False
    if "MASTER_ADDR" not in os.environ:
        raise GanforgeError(
            f"WORLD_SIZE={job.world_size} but MASTER_ADDR is not set: launch with torchrun "
            "(torchrun --nproc_per_node=N -m ganforge -- train ...) or ganforge train --nproc N"
        )
    backend = "nccl" if device.type == "cuda" else "gloo"
    kwargs = {"device_id": device} if device.type == "cuda" else {}
    dist.init_process_group(backend, rank=job.rank, world_size=job.world_size, **kwargs)
    return True


def stop(created: bool) -> None:
    if created and dist.is_initialized():
        dist.destroy_process_group()


def barrier(job: Distributed) -> None:
    if job.enabled:
        dist.barrier()


def mean_across(values: torch.Tensor, job: Distributed) -> torch.Tensor:
    """The mean of `values` over the processes (no host sync on GPU)."""
    if not job.enabled:
        return values
    values = values.clone()
    dist.all_reduce(values)
    return values / job.world_size


def any_across(flag: bool, job: Distributed, device: torch.device) -> bool:
    """True when `flag` is true on any process (so all stop together)."""
    if not job.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


class CPUSyncBatchNorm(_BatchNorm):
    """Batch norm whose training statistics cover the whole global batch,
    for CPU processes (torch's SyncBatchNorm runs on GPUs only).

    Two differentiable all_reduces per call: the per-channel sums (for the
    mean), then the sums of squared deviations (for the variance), so the
    result equals plain batch norm over the concatenated batch."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-D input (got {input.dim()}-D)")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(input)
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(input)
        from torch.distributed.nn.functional import all_reduce  # differentiable collectives

        dims = [0, *range(2, input.dim())]
        shape = [1, input.shape[1]] + [1] * (input.dim() - 2)
        local_count = input.new_tensor([input.numel() / input.shape[1]])
        sums = all_reduce(torch.cat([input.sum(dims), local_count]))
        count = sums[-1].detach()
        mean = sums[:-1] / count
        centered = input - mean.view(shape)
        var = all_reduce((centered * centered).sum(dims)) / count
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), count)
        output = centered * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            output = output * self.weight.view(shape) + self.bias.view(shape)
        return output

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, var: torch.Tensor, count: torch.Tensor) -> None:
        assert self.running_mean is not None and self.running_var is not None and self.num_batches_tracked is not None
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased = var * count / (count - 1).clamp_min(1)
        self.running_mean.lerp_(mean, factor)
        self.running_var.lerp_(unbiased, factor)


def _to_cpu_sync(module: nn.Module) -> nn.Module:
    """`module` with every batch-norm layer replaced by CPUSyncBatchNorm
    (same parameters and buffers, so checkpoints do not change)."""
    if isinstance(module, _BatchNorm) and not isinstance(module, CPUSyncBatchNorm):
        synced = CPUSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
        # The very same parameters and buffers (as torch's convert_sync_batchnorm does).
        for name, tensor in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
            setattr(synced, name, tensor)
        synced.train(module.training)
        return synced
    for name, child in module.named_children():
        replaced = _to_cpu_sync(child)
        if replaced is not child:
            setattr(module, name, replaced)
    return module


def synchronise_batch_norm(module: nn.Module, device: torch.device) -> nn.Module:
    """Batch norm over the global batch: torch's SyncBatchNorm on GPU, CPUSyncBatchNorm on CPU."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _to_cpu_sync(module)


def prepare_model(model: GAN, device: torch.device, job: Distributed) -> None:
    """Make `model` ready for DDP training in place: its training noise is this
    process's slice of the global batch's, and its batch norm synchronised."""
    if not job.enabled:
        return
    if not model.data_parallel_safe:
        raise GanforgeError(
            f"model '{model.config.get('name', 'gan')}' cannot train in several processes yet: "
            "its training calls its networks' parts directly, which DDP does not see; train it in one process"
        )
    model.noise_shard = (job.rank, job.world_size)
    model.generator = synchronise_batch_norm(model.generator, device)
    if model.discriminator is not None:  # a pixel-loss model (SRResNet) has none
        model.discriminator = synchronise_batch_norm(model.discriminator, device)


def ddp_wrapper(device: torch.device, job: Distributed) -> Callable[[nn.Module], nn.Module]:
    """What wraps a network whose gradients are averaged over the processes:
    DistributedDataParallel, or nothing in one process."""
    if not job.enabled:
        return lambda module: module
    device_ids = [device.index] if device.type == "cuda" else None
    # Buffers need no broadcast: synchronised batch norm keeps them equal.
    return lambda module: DistributedDataParallel(module, device_ids=device_ids, broadcast_buffers=False)


def replicas_agree(model: nn.Module, job: Distributed) -> bool:
    """Whether every process holds the same weights (compared as the sum of
    each tensor on rank 0 against the others')."""
    if not job.enabled:
        return True
    sums = torch.stack([p.detach().double().sum() for p in model.state_dict().values() if p.is_floating_point()])
    gathered = [torch.empty_like(sums) for _ in range(job.world_size)]
    dist.all_gather(gathered, sums)
    return all(torch.equal(gathered[0], other) for other in gathered[1:])


def shard(batch: torch.Tensor, job: Distributed) -> torch.Tensor:
    """This process's slice of a global batch (rows rank*n/W to (rank+1)*n/W)."""
    if not job.enabled:
        return batch
    size = batch.shape[0] // job.world_size
    return batch[job.rank * size : (job.rank + 1) * size]

