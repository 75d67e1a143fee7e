"""Shared fixtures: tiny, fast training configs in a temporary runs folder."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Iterator
from typing import Any, Callable

import pytest
import torch

from ganforge.config import TrainConfig

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def isolated_caches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One cache folder per test session: classifiers trained once, no user files touched,
    and no Inception weights from the user's torch hub cache."""
    root = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANFORGE_CACHE", str(root / "ganforge"))
        mp.setenv("TORCH_HOME", str(root / "torch"))
        mp.delenv("GANFORGE_INCEPTION_WEIGHTS", raising=False)
        yield root


# Small widths per model so registry-wide tests stay fast. A model missing here
# is still tested, at its default size.
TINY: dict[str, dict[str, Any]] = {
    "vanilla": {"g_hidden": [32, 32], "d_hidden": [32]},
    "dcgan": {"ngf": 8, "ndf": 8},
    "lsgan": {"ngf": 8, "ndf": 8},
    "wgan": {"ngf": 8, "ndf": 8},
    "wgan-gp": {"ngf": 8, "ndf": 8},
    "cgan": {"g_hidden": 64, "d_hidden": 32},
    "sngan": {"g_ch": 16, "d_ch": 16},
    "cgan-pd": {"g_ch": 16, "d_ch": 16},
    "acgan": {"g_ch": 16, "d_ch": 16},
    "lapgan": {"coarse_g_hidden": 64, "coarse_d_hidden": 32, "ch": 8},
    "toy-mlp": {"g_hidden": 16, "g_layers": 2, "d_hidden": 16, "d_layers": 2},
    "cyclegan": {"ngf": 8, "ndf": 8, "blocks": 1},
}


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., TrainConfig]:
    """A TrainConfig for a few quick steps of DCGAN on the 8x8 digits, in tmp_path."""

    def make(**overrides: Any) -> TrainConfig:
        settings: dict[str, Any] = dict(
            data="digits",
            model="dcgan",
            steps=6,
            batch_size=16,
            sample_every=3,
            checkpoint_every=3,
            log_every=2,
            grid_size=4,
            runs_dir=str(tmp_path / "runs"),
            run="test",
            tensorboard=False,
            progress=False,
            device="cpu",
            model_options={"ngf": 8, "ndf": 8},
        )
        settings.update(overrides)
        return TrainConfig(**settings)

    return make


def state_of(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"
