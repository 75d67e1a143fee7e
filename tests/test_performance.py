"""Speed options: bf16/fp16 autocast, channels_last, torch.compile, CUDA graphs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import torch

import ganforge
from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.training import performance
from ganforge.training.performance import check_precision, uses_cuda_graphs

MakeConfig = Callable[..., TrainConfig]
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _weights(make_config: MakeConfig, **overrides: Any) -> dict[str, torch.Tensor]:
    pipeline = ganforge.train(make_config(**overrides))
    return {k: v.detach().float() for k, v in pipeline.model.state_dict().items()}


def _largest_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a if a[k].is_floating_point())


def _mean_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    keys = [k for k in a if a[k].is_floating_point()]
    return sum(float((a[k] - b[k].to(a[k].device)).abs().sum()) for k in keys) / sum(a[k].numel() for k in keys)


def test_channels_last_trains_the_same_weights(make_config: MakeConfig) -> None:
    plain = _weights(make_config, run="plain")
    nhwc = _weights(make_config, run="nhwc", channels_last=True)
    assert _largest_difference(plain, nhwc) < 1e-5


def test_channels_last_stores_images_and_convolutions_as_nhwc(make_config: MakeConfig, tmp_path: Path) -> None:
    from benchmarks.common import build_trainer

    trainer = build_trainer(make_config(channels_last=True), tmp_path)
    conv = next(m for m in trainer.model.discriminator.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    real = trainer.context().batch()["image"]
    assert real.is_contiguous(memory_format=torch.channels_last)


def test_bf16_autocast_trains_close_to_fp32_but_not_equal(make_config: MakeConfig) -> None:
    fp32 = _weights(make_config, run="fp32")
    bf16 = _weights(make_config, run="bf16", precision="bf16")
    difference = _largest_difference(fp32, bf16)
    assert 0 < difference < 0.05  # bf16 has 8 bits of mantissa: it ran, and it stayed near


@pytest.mark.slow
def test_compiled_training_matches_eager(make_config: MakeConfig) -> None:
    eager = _weights(make_config, run="eager", steps=3)
    compiled = _weights(make_config, run="compiled", steps=3, compile=True)
    assert _largest_difference(eager, compiled) < 1e-4


@pytest.mark.parametrize(
    ("device", "settings", "message"),
    [
        ("cpu", {}, "fp16 needs a CUDA device"),
        ("cuda", {"gp": 10.0}, "does not combine with --gp"),
        ("cuda", {"r1": 1.0, "unroll": 2}, "--r1 and --unroll"),
    ],
)
def test_fp16_is_refused_where_it_cannot_run(device: str, settings: dict[str, Any], message: str) -> None:
    with pytest.raises(GanforgeError, match=message):
        check_precision(TrainConfig(precision="fp16", **settings), torch.device(device))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"compile": True, "compile_mode": "fastest"}, "--compile-mode must be one of default, reduce-overhead, max-autotune"),
        ({"compile_mode": "reduce-overhead"}, "--compile-mode reduce-overhead needs --compile"),
    ],
)
def test_a_compile_mode_is_checked(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(GanforgeError, match=message):
        TrainConfig(**settings)


def test_the_compile_mode_reaches_torch_compile_and_the_trainer(make_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks.common import build_trainer

    modes: list[str] = []

    def fake_compile(module: torch.nn.Module, mode: str) -> torch.nn.Module:
        modes.append(mode)
        return module  # the networks run eagerly: this test checks the wiring, not inductor

    monkeypatch.setattr(performance.torch, "compile", fake_compile)
    trainer = build_trainer(make_config(compile=True, compile_mode="reduce-overhead"), tmp_path)
    assert modes == ["reduce-overhead"] * 2  # G and D, once each: in one process no DDP wrapper comes between
    assert not trainer.cuda_graphs  # CPU: compiled, but no CUDA graphs to mark steps for
    assert uses_cuda_graphs(trainer.config, torch.device("cuda"))
    assert not uses_cuda_graphs(make_config(compile=True), torch.device("cuda"))


def test_an_unknown_precision_is_refused() -> None:
    with pytest.raises(GanforgeError, match="--precision must be one of fp32, bf16, fp16"):
        TrainConfig(precision="fp8")


@needs_cuda
def test_fp16_resume_keeps_the_gradient_scale(make_config: MakeConfig) -> None:
    straight = _weights(make_config, run="straight", device="cuda", precision="fp16")
    _weights(make_config, run="resumed", device="cuda", precision="fp16", steps=3)
    resumed = _weights(make_config, run="resumed", device="cuda", precision="fp16")
    assert _largest_difference(straight, resumed) < 1e-6


@needs_cuda
@pytest.mark.slow
def test_cuda_graph_training_follows_eager(make_config: MakeConfig, tmp_path: Path) -> None:
    """Replayed graphs must read each step's fresh batch and noise: a stale
    input would make the runs drift apart by as much as training moved them.
    (Means, not maxima: on a GPU a near-zero gradient may flip an Adam step.)"""
    from benchmarks.common import build_trainer

    start = {k: v.detach().float() for k, v in build_trainer(make_config(device="cuda"), tmp_path / "start").model.state_dict().items()}
    eager = _weights(make_config, run="eager", device="cuda", steps=3)
    graphed = _weights(make_config, run="graphed", device="cuda", steps=3, compile=True, compile_mode="reduce-overhead")
    assert _mean_difference(eager, graphed) < 0.1 * _mean_difference(eager, start)
