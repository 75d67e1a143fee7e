"""Multi-process training (DDP over gloo on CPU) against one process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

import ganforge
from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.training import distributed
from ganforge.runs.checkpoint import latest_checkpoint
from ganforge.training.distributed import CPUSyncBatchNorm, Distributed
from ganforge.training.loop import check_process_layout

PROCESSES = 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank_worker(rank: int, settings: dict[str, Any], port: int, out: str) -> None:
    """One process of a torchrun-like job: the environment torchrun would set."""
    os.environ.update(
        {"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(PROCESSES), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    )
    torch.set_num_threads(1)
    pipeline = ganforge.train(TrainConfig(**settings))
    tensors = {k: v.detach().contiguous() for k, v in pipeline.model.state_dict().items()}
    save_file(tensors, os.path.join(out, f"rank{rank}.safetensors"))


def _ddp_weights(settings: dict[str, Any], out: Path) -> list[dict[str, torch.Tensor]]:
    try:
        mp.spawn(_rank_worker, args=(settings, _free_port(), str(out)), nprocs=PROCESSES, join=True)
    except Exception as error:  # the free port can be taken between choosing and binding it
        if "address already in use" not in str(error).lower():
            raise
        mp.spawn(_rank_worker, args=(settings, _free_port(), str(out)), nprocs=PROCESSES, join=True)
    return [load_file(out / f"rank{rank}.safetensors") for rank in range(PROCESSES)]


def _single_weights(settings: dict[str, Any]) -> dict[str, torch.Tensor]:
    pipeline = ganforge.train(TrainConfig(**settings))
    return {k: v.detach() for k, v in pipeline.model.state_dict().items()}


MakeConfig = Callable[..., TrainConfig]


def _settings(make_config: MakeConfig, tmp_path: Path, name: str, **overrides: Any) -> dict[str, Any]:
    """8 quick steps of the test config (DCGAN on 8x8 digits), as a picklable dict."""
    settings: dict[str, Any] = {"runs_dir": str(tmp_path / name), "steps": 8, "sample_every": 4, "checkpoint_every": 4, **overrides}
    return make_config(**settings).to_dict()


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # batch norm in G and D, synchronised across the processes
        {"model": "toy-mlp", "data": "ring", "model_options": {"g_hidden": 16, "g_layers": 2, "d_hidden": 16, "d_layers": 2}, "z_dim": 2, "ema": 0.9},
    ],
    ids=["dcgan", "toy-mlp-ema"],
)
def test_two_processes_match_one_process_with_the_same_global_batch(
    make_config: MakeConfig, tmp_path: Path, overrides: dict[str, Any]
) -> None:
    replicas = _ddp_weights(_settings(make_config, tmp_path, "ddp", **overrides), tmp_path)
    single = _single_weights(_settings(make_config, tmp_path, "single", **overrides))
    assert replicas[0].keys() == single.keys()
    for key in single:
        assert torch.equal(replicas[0][key], replicas[1][key]), f"replicas differ in {key}"
        torch.testing.assert_close(replicas[0][key], single[key], rtol=1e-4, atol=1e-5, msg=f"{key} differs from one process")
    # Rank 0 alone wrote the run folder, as one process would.
    run = tmp_path / "ddp" / "test"
    assert latest_checkpoint(run / "checkpoints") is not None
    steps = [line for line in (run / "metrics.jsonl").read_text().splitlines() if '"kind": "train"' in line]
    assert len(steps) == 8  # one record per step, not one per process


def test_two_processes_resume_where_they_stopped(make_config: MakeConfig, tmp_path: Path) -> None:
    """4 steps then 4 more (DDP) give the weights of 8 steps in one go (DDP)."""
    straight = _ddp_weights(_settings(make_config, tmp_path, "straight"), tmp_path)
    _ddp_weights(_settings(make_config, tmp_path, "resumed", steps=4), tmp_path)
    resumed = _ddp_weights(_settings(make_config, tmp_path, "resumed"), tmp_path)
    for key in straight[0]:
        torch.testing.assert_close(resumed[0][key], straight[0][key], rtol=0, atol=0, msg=f"{key} differs after resuming")


def test_cpu_sync_batch_norm_is_plain_batch_norm_in_one_process() -> None:
    torch.manual_seed(0)
    plain = torch.nn.BatchNorm2d(3)
    synced = CPUSyncBatchNorm(3)
    x = torch.randn(8, 3, 4, 4)
    torch.testing.assert_close(synced(x), plain(x))
    torch.testing.assert_close(synced.running_var, plain.running_var)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"batch_size": 15}, "divide evenly over 2 processes"),
        ({"batch_size": 16, "pack": 16}, "not divisible by --pack 16"),
        ({"unroll": 3}, "--unroll does not run in several processes"),
    ],
)
def test_settings_that_several_processes_cannot_honour_are_refused(settings: dict[str, Any], message: str) -> None:
    config = TrainConfig(**{"batch_size": 16, **settings})
    with pytest.raises(GanforgeError, match=message):
        check_process_layout(config, Distributed(rank=0, world_size=2))


def test_the_environment_names_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert distributed.from_environment() == Distributed(rank=2, world_size=4, local_rank=0)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(GanforgeError, match="RANK=4 is not a rank of WORLD_SIZE=4"):
        distributed.from_environment()


def test_lapgan_is_refused_in_several_processes(tmp_path: Path) -> None:
    from ganforge.models import create_model

    model = create_model("lapgan", image_shape=(1, 28, 28), coarse_g_hidden=16, coarse_d_hidden=16, ch=4)
    with pytest.raises(GanforgeError, match="cannot train in several processes"):
        distributed.prepare_model(model, torch.device("cpu"), Distributed(rank=0, world_size=2))


def test_nproc_shortcut_launches_torchrun(tmp_path: Path) -> None:
    """`ganforge train --nproc 2` trains through torchrun; the run resumes."""
    command = [sys.executable, "-m", "ganforge", "train", "--nproc", "2", "--steps", "4", "--batch-size", "16", "--device", "cpu",
               "--runs-dir", str(tmp_path), "--run", "cli", "-O", "ngf=8", "-O", "ndf=8", "--no-progress", "--no-tensorboard",
               "--checkpoint-every", "2", "--sample-every", "4"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "2 processes (DDP)" in first.stdout
    longer = [("6" if previous == "--steps" else arg) for previous, arg in zip(["", *command], command)]
    again = subprocess.run(longer, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming at step 4" in again.stdout
    assert latest_checkpoint(tmp_path / "cli" / "checkpoints").name == "step-00000006"


def test_the_nproc_option_is_dropped_from_what_torchrun_runs() -> None:
    from ganforge.cli import _without_nproc

    assert _without_nproc(["train", "--nproc", "2", "--run", "x"]) == ["train", "--run", "x"]
    assert _without_nproc(["train", "--nproc=4", "--steps", "5"]) == ["train", "--steps", "5"]


def test_super_resolution_in_two_processes_matches_one_process(make_config: MakeConfig, tmp_path: Path) -> None:
    """A one-player game (SRResNet, pixel loss, no discriminator): each process
    takes its half of the global batch of crops, as one process takes all of it."""
    from tests.test_sr import TINY_SRRESNET, write_images

    write_images(tmp_path / "hr", [(40, 36), (48, 48)])
    overrides = {
        "model": "srresnet", "data": "sr", "data_root": str(tmp_path / "hr"), "image_size": 16, "scale": 4,
        "model_options": dict(TINY_SRRESNET), "batch_size": 4, "lr_decay": "none",
    }
    replicas = _ddp_weights(_settings(make_config, tmp_path, "ddp", **overrides), tmp_path)
    single = _single_weights(_settings(make_config, tmp_path, "single", **overrides))
    for key in single:
        assert torch.equal(replicas[0][key], replicas[1][key]), f"replicas differ in {key}"
        torch.testing.assert_close(replicas[0][key], single[key], rtol=1e-4, atol=1e-5, msg=f"{key} differs from one process")
