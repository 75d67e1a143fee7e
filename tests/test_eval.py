"""Evaluation end to end: the classifier extractor, `ganforge eval` on runs and
on image files, cached real features, and --eval-every with a best checkpoint."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.data import load_data
from ganforge.data.base import ImageData
from ganforge.errors import GanforgeError
from ganforge.metrics import Evaluator, evaluate_paths
from ganforge.pipelines.evaluation import evaluate_generator, evaluate_run
from ganforge.metrics import evaluate as evaluate_module
from ganforge.metrics.cache import cache_dir
from ganforge.metrics.classifier import (
    RECORD_FILE,
    ClassifierSettings,
    classifier_dir,
    classifier_for,
)
from tests.conftest import assert_same_state, state_of

QUICK = ClassifierSettings(epochs=1, min_steps=5)
from ganforge.pipelines import load
from ganforge.training import train

MakeConfig = Callable[..., TrainConfig]


@pytest.fixture(scope="module")
def digits() -> ImageData:
    return load_data("digits")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    config = TrainConfig(
        data="digits", steps=60, batch_size=32, runs_dir=str(runs), run="ev", tensorboard=False, progress=False,
        device="cpu", model_options={"ngf": 8, "ndf": 8}, sample_every=60, checkpoint_every=30, log_every=30,
    )
    return train(config).run_dir  # type: ignore[return-value]


# -- the classifier extractor ------------------------------------------------------------


def test_the_classifier_learns_the_digits_and_is_cached(digits: ImageData) -> None:
    extractor = classifier_for(digits)
    assert extractor.record["val_accuracy"] > 0.9
    assert (classifier_dir(digits) / RECORD_FILE).is_file()
    again = classifier_for(digits)  # loaded, not retrained: the same weights
    assert_same_state(state_of(extractor.net), state_of(again.net))
    features, logits = extractor(digits.images[:8])
    assert features.shape == (8, 128) and logits.shape == (8, 10)
    assert (logits.argmax(1) == digits.labels[:8]).float().mean() >= 0.75


def test_the_classifier_refuses_other_image_shapes_and_unlabelled_data(digits: ImageData) -> None:
    extractor = classifier_for(digits)
    with pytest.raises(GanforgeError, match="takes 1x8x8 images .*got 3x8x8"):
        extractor.check_images((3, 8, 8))
    unlabelled = ImageData(digits.images[:50], name="nolabels", origin="test")
    with pytest.raises(GanforgeError, match="needs labelled data.*nolabels"):
        classifier_for(unlabelled)


def test_a_damaged_cached_classifier_is_named(digits: ImageData) -> None:
    subset = ImageData(digits.images[:300], digits.labels[:300], digits.class_names, name="digits-part", origin="test")
    classifier_for(subset, settings=QUICK)
    path = classifier_dir(subset)
    (path / "model.safetensors").write_bytes(b"broken")
    with pytest.raises(GanforgeError, match=f"cached classifier in {path} is unreadable.*--force"):
        classifier_for(subset)
    assert classifier_for(subset, settings=QUICK, force=True).record["data"] == "digits-part"


def test_training_a_classifier_leaves_the_global_rng_alone(digits: ImageData) -> None:
    subset = ImageData(digits.images[:200], digits.labels[:200], digits.class_names, name="digits-rng", origin="test")
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    classifier_for(subset, settings=QUICK)
    assert torch.equal(torch.rand(3), expected)


# -- ganforge eval ---------------------------------------------------------------------------


def test_eval_of_a_run_prints_a_table_and_appends_to_its_metrics(trained_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", str(trained_run), "--metrics", "fid,kid,is,pr,coverage,modes", "--n", "300", "--device", "cpu"])
    assert code == 0
    out = capsys.readouterr().out
    for key in ("fid", "kid", "is", "precision", "recall", "density", "coverage", "modes", "modes_kl", "confident"):
        assert any(line.split()[0] == key for line in out.splitlines() if line.strip()), key
    assert "classifier:digits features; 300 fake vs 1797 real" in out
    last = json.loads((trained_run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["kind"] == "eval" and last["step"] == 60 and last["n_fake"] == 300 and last["extractor"] == "classifier:digits"
    assert last["fid"] > 0 and 0 <= last["precision"] <= 1


def test_eval_is_reproducible_and_better_for_real_images_than_for_an_untrained_generator(trained_run: Path, digits: ImageData) -> None:
    first = evaluate_run(trained_run, "fid", n=300, device="cpu").metrics["fid"]
    assert evaluate_run(trained_run, "fid", n=300, device="cpu").metrics["fid"] == first
    evaluator = Evaluator.create("fid", digits, torch.device("cpu"))
    real_half = evaluator.evaluate_images(digits.images[::2]).metrics["fid"]
    assert real_half < first


def test_real_features_are_cached_per_data_and_extractor(digits: ImageData, monkeypatch: pytest.MonkeyPatch) -> None:
    Evaluator.create("fid", digits, torch.device("cpu"))
    files = list((cache_dir() / "features").glob("digits-classifier-*.safetensors"))
    assert len(files) == 1
    calls = []
    original = evaluate_module.extract_features
    monkeypatch.setattr(evaluate_module, "extract_features", lambda *a, **k: calls.append(1) or original(*a, **k))
    Evaluator.create("fid", digits, torch.device("cpu"))
    assert calls == []  # the real set came from the cache
    other = ImageData(digits.images[:500], digits.labels[:500], digits.class_names, name="digits", origin="subset")
    Evaluator.create("fid", other, torch.device("cpu"), classifier_data=digits)
    assert calls == [1]  # other images: other key
    assert len(list((cache_dir() / "features").glob("digits-classifier-*.safetensors"))) == 2


def test_eval_of_files_with_npz_and_folders(trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pipeline = load(trained_run, device="cpu")
    pipeline.save_samples(tmp_path / "fake.npz", 200, seed=1)
    pipeline.save_samples(tmp_path / "fake_png", 200, seed=1)
    from_npz = evaluate_paths("digits", str(tmp_path / "fake.npz"), ["fid", "modes"], device="cpu")
    from_folder = evaluate_paths("digits", str(tmp_path / "fake_png"), ["fid", "modes"], device="cpu")
    assert from_npz.metrics == from_folder.metrics  # the same uint8 pixels either way
    assert main(["eval", "--real", str(tmp_path / "fake_png"), "--fake", str(tmp_path / "fake.npz"), "--metrics", "fid", "--classifier-data", "digits", "--device", "cpu"]) == 0
    fid_line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("fid"))
    assert float(fid_line.split()[1]) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["eval"], "give a RUN to evaluate, or both --real PATH and --fake PATH"),
        (["eval", "somerun", "--real", "digits", "--fake", "x.npz"], "either a RUN or --real and --fake"),
        (["eval", "--real", "digits", "--fake", "missing.npz"], "missing.npz: no such file or folder"),
        (["eval", "--real", "digits", "--fake", "rgb.npz"], "real images are 1x8x8 (CxHxW) but fake images are 3x8x8"),
        (["eval", "--real", "digits", "--fake", "big.npz"], "real images are 1x8x8 (CxHxW) but fake images are 1x16x16"),
        (["eval", "--real", "digits", "--fake", "float.npz"], "'images' must be uint8"),
        (["eval", "--real", "digits", "--fake", "rgb.npz", "--metrics", "fid,fdi"], "unknown metric 'fdi'"),
        (["eval", "--real", "rgb.npz", "--fake", "rgb.npz", "--extractor", "classifier"], "give --classifier-data NAME"),
        (["eval", "--real", "rgb.npz", "--fake", "rgb.npz", "--extractor", "inception", "--inception-weights", "no.pth"], "no.pth: no such file"),
        (["eval", "--real", "rgb.npz", "--fake", "rgb.npz"], "no feature network available"),
    ],
)
def test_bad_eval_input_gives_one_line(args: list[str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "rgb.npz", images=np.zeros((20, 8, 8, 3), np.uint8))
    np.savez(tmp_path / "big.npz", images=np.zeros((20, 16, 16, 1), np.uint8))
    np.savez(tmp_path / "float.npz", images=np.zeros((20, 8, 8, 1), np.float32))
    try:
        code = main(args)
    except SystemExit as exit_info:
        code = exit_info.code
    assert code == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1, err


# -- --eval-every -----------------------------------------------------------------------------


def test_eval_every_logs_metrics_keeps_the_best_checkpoint_and_changes_nothing(make_config: MakeConfig, tmp_path: Path) -> None:
    plain = train(make_config(steps=8, run="plain"))
    evaluated = train(make_config(steps=8, run="evaluated", eval_every=4, eval_n=150, eval_metrics=["kid", "modes"]))
    assert_same_state(state_of(plain.model), state_of(evaluated.model))  # evaluation draws no training randomness
    run_dir = evaluated.run_dir
    assert run_dir is not None
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [4, 8]
    assert all({"fid", "kid", "modes"} <= set(r) for r in evals)
    best_step = min(evals, key=lambda r: r["fid"])["step"]
    best = list((run_dir / "best").iterdir())
    assert [p.name for p in best] == [f"step-{best_step:08d}"]
    assert load(run_dir, checkpoint="best", device="cpu").step == best_step
    assert main(["sample", str(run_dir), "--checkpoint", "best", "--n", "4", "--out", str(tmp_path / "best.npz")]) == 0
    assert np.load(tmp_path / "best.npz")["images"].shape == (4, 8, 8, 1)


def test_a_resumed_run_remembers_its_best_fid(make_config: MakeConfig) -> None:
    first = train(make_config(steps=4, eval_every=2, eval_n=150))
    assert first.run_dir is not None
    saved = json.loads(next((first.run_dir / "best").iterdir()).joinpath("state.json").read_text())["extra"]["fid"]
    from ganforge.training import Trainer

    seen: list[float] = []
    original = Trainer.evaluate

    def spy(self: Trainer, log: object) -> dict[str, float]:
        seen.append(self.best_score)
        return original(self, log)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Trainer, "evaluate", spy)
        train(make_config(steps=6, eval_every=2, eval_n=150))
    assert seen[0] == saved


def test_a_run_without_eval_has_no_best_checkpoint(trained_run: Path) -> None:
    with pytest.raises(GanforgeError, match="no best checkpoint; train it with --eval-every"):
        load(trained_run, checkpoint="best")


def test_train_classifier_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train-classifier", "--data", "digits", "--device", "cpu"]) == 0
    assert "already trained" in capsys.readouterr().out  # cached by the tests above, or trained now and cached


def test_the_default_extractor(digits: ImageData, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ganforge.metrics.evaluate import default_extractor

    colour = ImageData(torch.zeros(4, 3, 32, 32, dtype=torch.uint8), torch.zeros(4), name="c32", origin="test")
    unlabelled = ImageData(torch.zeros(4, 3, 32, 32, dtype=torch.uint8), name="u32", origin="test")
    assert default_extractor(digits, None) == "classifier"
    assert default_extractor(colour, None) == "classifier"  # no Inception weights at hand
    with pytest.raises(GanforgeError, match="no feature network available"):
        default_extractor(unlabelled, None)
    monkeypatch.setenv("GANFORGE_INCEPTION_WEIGHTS", str(tmp_path / "w.pth"))
    assert default_extractor(digits, None) == "classifier"  # small images: the classifier still
    assert default_extractor(colour, None) == "inception"
    assert default_extractor(unlabelled, None) == "inception"


def test_eval_every_writes_tensorboard_scalars(make_config: MakeConfig) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    pipe = train(make_config(steps=4, eval_every=2, eval_n=150, tensorboard=True))
    assert pipe.run_dir is not None
    events = EventAccumulator(str(pipe.run_dir / "tensorboard"))
    events.Reload()
    assert [s.step for s in events.Scalars("eval/fid")] == [2, 4]
