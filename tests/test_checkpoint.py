"""Checkpoints: round trip, atomic writes, and clear errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganforge.io import WriteError
import torch
from safetensors import safe_open

import ganforge.runs.checkpoint as ckpt
from ganforge.errors import GanforgeError
from ganforge.models import create_model
from ganforge.runs.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint, load_weights, save_checkpoint
from tests.conftest import assert_same_state, state_of


def trained_pair(seed: int = 0) -> tuple[torch.nn.Module, dict[str, torch.optim.Optimizer]]:
    torch.manual_seed(seed)
    model = create_model("dcgan", image_shape=(1, 8, 8), ngf=4, ndf=4)
    optimizers = {
        "g": torch.optim.Adam(model.generator.parameters(), lr=1e-3, betas=(0.5, 0.9)),
        "d": torch.optim.Adam(model.discriminator.parameters(), lr=1e-3),
    }
    for name, part in (("g", model.generator), ("d", model.discriminator)):
        out = part(torch.randn(4, 100)) if name == "g" else part(torch.randn(4, 1, 8, 8))
        out.square().mean().backward()
        optimizers[name].step()
    return model, optimizers


def test_round_trip_restores_weights_optimizers_and_rng(tmp_path: Path) -> None:
    model, optimizers = trained_pair(0)
    rng = {"noise": torch.Generator().manual_seed(5).get_state()}
    save_checkpoint(tmp_path, 7, model, optimizers, rng, extra={"note": "x"})

    other, other_opts = trained_pair(1)
    restored = load_checkpoint(tmp_path / "step-00000007", other, other_opts)
    assert restored.step == 7 and restored.extra == {"note": "x"}
    assert torch.equal(restored.rng_states["noise"], rng["noise"])
    assert_same_state(state_of(model), state_of(other))
    for name in optimizers:
        saved, loaded = optimizers[name].state_dict(), other_opts[name].state_dict()
        assert saved["param_groups"][0]["betas"] == tuple(loaded["param_groups"][0]["betas"])
        for index, values in saved["state"].items():
            for key, value in values.items():
                assert torch.equal(value, loaded["state"][index][key])


def test_only_the_newest_checkpoints_are_kept(tmp_path: Path) -> None:
    model, optimizers = trained_pair()
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, model, optimizers, {}, keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [2, 3]
    assert latest_checkpoint(tmp_path) == tmp_path / "step-00000003"


def test_a_crash_mid_write_leaves_the_previous_checkpoint_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, optimizers = trained_pair()
    save_checkpoint(tmp_path, 1, model, optimizers, {})
    before = {p.name: p.read_bytes() for p in (tmp_path / "step-00000001").iterdir()}

    real_save = ckpt.save_file
    calls = []

    def failing_save(tensors: dict, path: str, metadata: dict | None = None) -> None:
        calls.append(path)
        if len(calls) == 2:  # the weights are written, then the disk "fails"
            Path(path).write_bytes(b"half")
            raise OSError("disk full")
        real_save(tensors, path, metadata=metadata)

    monkeypatch.setattr(ckpt, "save_file", failing_save)
    with pytest.raises(WriteError, match="cannot write .*step-00000002: disk full"):
        save_checkpoint(tmp_path, 2, model, optimizers, {})

    assert [s for s, _ in list_checkpoints(tmp_path)] == [1]
    assert {p.name: p.read_bytes() for p in (tmp_path / "step-00000001").iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["step-00000001"]  # no temporary left behind


@pytest.mark.parametrize("victim", ["model.safetensors", "training.safetensors", "state.json"])
def test_a_corrupt_file_is_named(tmp_path: Path, victim: str) -> None:
    model, optimizers = trained_pair()
    path = save_checkpoint(tmp_path, 1, model, optimizers, {})
    data = (path / victim).read_bytes()
    (path / victim).write_bytes(data[: len(data) // 3])  # truncated
    with pytest.raises(GanforgeError, match=f"{victim}.*corrupt or truncated"):
        load_checkpoint(path, *trained_pair())


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    model, optimizers = trained_pair()
    path = save_checkpoint(tmp_path, 1, model, optimizers, {})
    (path / "training.safetensors").unlink()
    with pytest.raises(GanforgeError, match="training.safetensors is missing"):
        load_checkpoint(path, *trained_pair())


def test_weights_of_another_model_are_refused(tmp_path: Path) -> None:
    model, optimizers = trained_pair()
    path = save_checkpoint(tmp_path, 1, model, optimizers, {})
    vanilla = create_model("vanilla", image_shape=(1, 8, 8))
    with pytest.raises(GanforgeError, match="model.safetensors does not match.*another model"):
        load_weights(path, vanilla)
    wider = create_model("dcgan", image_shape=(1, 8, 8), ngf=8, ndf=4)
    with pytest.raises(GanforgeError, match="does not match the run's model"):
        load_weights(path, wider)


def test_checkpoints_are_safetensors_and_json_only(tmp_path: Path) -> None:
    model, optimizers = trained_pair()
    path = save_checkpoint(tmp_path, 1, model, optimizers, {}, extra={"a": 1})
    assert sorted(p.name for p in path.iterdir()) == ["model.safetensors", "state.json", "training.safetensors"]
    for file in path.glob("*.safetensors"):
        with safe_open(str(file), framework="pt") as handle:  # raises on anything but safetensors
            assert list(handle.keys())
    assert json.loads((path / "state.json").read_text())["extra"] == {"a": 1}
