"""Training-health warnings: D(G(z)) stuck near 0, generated batches collapsing."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ganforge.training.health import HealthWatch
from ganforge.training.logger import TRAIN_KEYS, MetricsLogger

HEALTHY = {"d_fake": 0.4, "diversity": 0.9}


def test_a_sign_must_last_three_windows_and_warns_once_per_episode() -> None:
    watch = HealthWatch()
    collapsed = {"d_fake": 0.4, "diversity": 0.02}
    assert watch.update(1, collapsed) == [] and watch.update(2, collapsed) == []
    (message,) = watch.update(3, collapsed)
    assert "collapsed" in message and "--pack 2" in message and "step 3" in message
    assert watch.update(4, collapsed) == []  # not repeated while it lasts
    assert watch.update(5, HEALTHY) == []  # cleared: re-armed
    for step in (6, 7):
        assert watch.update(step, collapsed) == []
    assert len(watch.update(8, collapsed)) == 1


def test_rejected_fakes_warn_except_for_the_wasserstein_critic() -> None:
    rejected = {"d_fake": 0.01, "diversity": 0.9}
    watch = HealthWatch()
    said = [m for step in range(1, 4) for m in watch.update(step, rejected)]
    assert len(said) == 1 and "D(G(z)) has stayed below" in said[0]
    critic = HealthWatch(watch_d_fake=False)
    assert [m for step in range(1, 6) for m in critic.update(step, rejected)] == []
    # A short dip is not a sign.
    brief = HealthWatch()
    assert [m for m in brief.update(1, rejected) + brief.update(2, rejected) + brief.update(3, HEALTHY)] == []


def test_the_logger_prints_and_records_warnings(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    logger = MetricsLogger(tmp_path, 0, 100, tensorboard=False, progress=False, health=HealthWatch(windows=2))
    row = {"loss_d": 1.0, "loss_g": 1.0, "d_real": 0.5, "d_fake": 0.5, "diversity": 0.01}
    for step in range(1, 7):
        logger.record(step, torch.tensor([row[k] for k in TRAIN_KEYS]))
        if step % 2 == 0:
            logger.flush()
    logger.close()
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    warnings = [line for line in lines if line["kind"] == "warning"]
    assert [w["step"] for w in warnings] == [4]
    assert "ganforge: warning: step 4: generated batches have collapsed" in capsys.readouterr().out
    assert all("diversity" in line for line in lines if line["kind"] == "train")
