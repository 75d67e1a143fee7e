"""Speed options of the training loop: mixed precision, torch.compile and
channels_last memory layout.

- `--precision bf16|fp16` runs the forward passes under torch.autocast;
  fp16 (CUDA only) adds a gradient scaler per player, since fp16 gradients
  underflow without one. bf16 has fp32's range and needs none.
- `--compile` puts G and D through torch.compile (inductor); `--compile-mode
  reduce-overhead` has inductor record CUDA graphs and replay them, which
  removes the per-kernel launch cost that dominates small GAN steps on a GPU
  (on CPU it compiles as the default mode does).
- `--channels-last` stores images and convolution weights as NHWC, the layout
  tensor-core and oneDNN convolutions prefer.
"""

from __future__ import annotations

import contextlib
from typing import Any, cast

import torch
from torch import nn

from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError

CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")
AUTOCAST_DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(config: TrainConfig, device: torch.device) -> None:
    """Refuse precisions the device or the regularisers cannot run, by name."""
    if config.precision != "fp16":
        return
    if device.type != "cuda":
        raise GanforgeError(f"--precision fp16 needs a CUDA device (here {device}); on CPU use --precision bf16")
    # The penalties differentiate D's output by its input, which under a
    # gradient scaler would need unscaling by hand; bf16 has no scaler.
    given = [flag for flag, value in (("--gp", config.gp), ("--r1", config.r1), ("--unroll", config.unroll)) if value]
    if given:
        raise GanforgeError(f"--precision fp16 does not combine with {' and '.join(given)}; use --precision bf16")


def autocast(config: TrainConfig, device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """The context of training forward passes: autocast to bf16/fp16, or nothing."""
    dtype = AUTOCAST_DTYPES[config.precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def make_grad_scalers(config: TrainConfig, device: torch.device, players: tuple[str, ...] = ("d", "g")) -> dict[str, torch.amp.GradScaler]:
    """One gradient scaler per player for fp16 (their losses scale apart); none otherwise."""
    if config.precision != "fp16":
        return {}
    return {player: torch.amp.GradScaler(device.type) for player in players}


def optimise(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None) -> None:
    """zero_grad, backward, step; through the gradient scaler when there is one."""
    optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        optimizer.step()
        return
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()


def to_channels_last(module: nn.Module) -> nn.Module:
    """`module` with its 4-D weights in NHWC order (in place; parameters keep their identity)."""
    return module.to(memory_format=torch.channels_last)


def compiled(module: nn.Module, enabled: bool, mode: str = "default") -> nn.Module:
    """torch.compile(module, mode=mode) when `enabled` (the module itself
    otherwise). A compiled module is an nn.Module sharing the original's
    parameters."""
    return cast(nn.Module, torch.compile(module, mode=mode)) if enabled else module


def uses_cuda_graphs(config: TrainConfig, device: torch.device) -> bool:
    """Whether the compiled networks replay CUDA graphs: reduce-overhead (and
    max-autotune, which also records them) on a GPU."""
    return config.compile and config.compile_mode in CUDA_GRAPH_MODES and device.type == "cuda"


def mark_step_begin() -> None:
    """Tell inductor's CUDA-graph trees that a new training step starts: the
    outputs of the previous step's graphs may be overwritten from here on
    (without it inductor guesses the step boundary and may copy or refuse)."""
    torch.compiler.cudagraph_mark_step_begin()
