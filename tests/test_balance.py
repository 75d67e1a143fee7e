"""`ganforge balance`: topping up a labelled data set's small classes with a conditional GAN."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge.balance as balance_module
from ganforge.balance import MANIFEST_FILE, check_folder_names, numbered_class_names, plan_balance
from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.data import ImageData, load_data
from ganforge.data.base import to_uint8
from ganforge.errors import GanforgeError
from ganforge.pipelines import GANPipeline, load
from ganforge.training import build_model, load_training_data, train
from ganforge.data.order import BatchOrder
from ganforge.training.loop import Trainer
from tests.conftest import TINY

COUNTS = [12, 12, 12, 12, 12, 3, 3, 3, 3, 3]  # images per digit class: 5-9 are the small ones


@pytest.fixture(scope="module")
def imbalanced_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A conditional GAN trained a few steps on an imbalanced folder of 8x8 digits."""
    root = tmp_path_factory.mktemp("balance")
    digits = load_data("digits")
    assert digits.labels is not None
    folder = root / "imbalanced"
    for k, count in enumerate(COUNTS):
        (folder / str(k)).mkdir(parents=True)
        for n, index in enumerate((digits.labels == k).nonzero().flatten()[:count].tolist()):
            Image.fromarray(digits.images[index, 0].numpy()).save(folder / str(k) / f"{n}.png")
    config = TrainConfig(
        data="folder", data_root=str(folder), class_labels=True, model="cgan", model_options=TINY["cgan"],
        steps=4, batch_size=8, checkpoint_every=4, sample_every=4, grid_size=10, runs_dir=str(root / "runs"),
        run="cgan", tensorboard=False, progress=False, device="cpu",
    )
    train(config)
    return root / "runs" / "cgan", root


def read_folder(path: Path) -> dict[str, np.ndarray]:
    return {p.relative_to(path).as_posix(): np.asarray(Image.open(p)) for p in sorted(path.rglob("*.png"))}


def test_every_class_is_topped_up_to_the_largest_and_reads_back_as_a_folder(imbalanced_run: tuple[Path, Path]) -> None:
    run, root = imbalanced_run
    out, plan = load(run, device="cpu").balance(root / "balanced")
    assert plan.real == COUNTS and plan.synthetic == [max(COUNTS) - c for c in COUNTS]
    back = load_data("folder", root=str(out), labels=True)
    assert back.labels is not None and back.class_names == [str(k) for k in range(10)]
    assert torch.bincount(back.labels).tolist() == [max(COUNTS)] * 10
    files = read_folder(out)
    assert sum(name.split("/")[1].startswith("synthetic-") for name in files) == sum(plan.synthetic)
    # The real images are the training data, pixel for pixel.
    data = load(run, device="cpu").training_data()
    assert data.labels is not None
    for k in range(10):
        written = sorted(a.tobytes() for n, a in files.items() if n.startswith(f"{k}/real-"))
        expected = sorted(image[0].numpy().tobytes() for image in data.images[data.labels == k])
        assert written == expected
    record = json.loads((out / MANIFEST_FILE).read_text())
    assert record["synthetic"] == sum(plan.synthetic) and record["includes_real"] is True
    assert [c["real"] for c in record["classes"]] == COUNTS


def test_generated_images_are_the_requested_class_of_the_generator_and_fixed_by_the_seed(imbalanced_run: tuple[Path, Path]) -> None:
    run, root = imbalanced_run
    pipe = load(run, device="cpu")
    _, plan = pipe.balance(root / "npz-a.npz", seed=3, synthetic_only=True)
    pipe.balance(root / "npz-b.npz", seed=3, synthetic_only=True)
    pipe.balance(root / "npz-c.npz", seed=4, synthetic_only=True)
    a, b, c = (np.load(root / f"npz-{x}.npz") for x in "abc")
    assert np.array_equal(a["images"], b["images"]) and not np.array_equal(a["images"], c["images"])
    assert a["synthetic"].all() and np.bincount(a["labels"], minlength=10).tolist() == plan.synthetic
    labels = torch.from_numpy(a["labels"])
    expected = pipe.generate(pipe.noise(len(labels), 3), labels)
    assert np.array_equal(a["images"], to_uint8(expected).permute(0, 2, 3, 1).numpy())
    assert list(a["class_names"]) == [str(k) for k in range(10)]


def test_per_class_sets_a_floor_and_large_classes_keep_every_image(imbalanced_run: tuple[Path, Path]) -> None:
    run, root = imbalanced_run
    _, plan = load(run, device="cpu").balance(root / "floor.npz", per_class=8)
    arrays = np.load(root / "floor.npz")
    assert np.bincount(arrays["labels"]).tolist() == [12] * 5 + [8] * 5
    assert plan.synthetic == [0] * 5 + [5] * 5
    assert int((~arrays["synthetic"]).sum()) == sum(COUNTS)


def test_a_failure_mid_write_leaves_nothing_behind(imbalanced_run: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    run, root = imbalanced_run
    calls = []

    def failing_save(path: Path, image: np.ndarray) -> None:
        calls.append(path)
        if len(calls) > 20:
            raise OSError("disk full")
        Image.fromarray(image[..., 0]).save(path, format="PNG")

    monkeypatch.setattr(balance_module, "save_png", failing_save)
    parent = root / "failing"
    parent.mkdir()
    with pytest.raises(OSError, match="disk full"):
        load(run, device="cpu").balance(parent / "out")
    assert list(parent.iterdir()) == []


def test_bad_requests_are_refused_with_the_reason(imbalanced_run: tuple[Path, Path], make_config: Callable[..., TrainConfig]) -> None:
    run, root = imbalanced_run
    pipe = load(run, device="cpu")
    (root / "taken").mkdir()
    with pytest.raises(GanforgeError, match="already exists"):
        pipe.balance(root / "taken")
    with pytest.raises(GanforgeError, match="a folder .* or an .npz"):
        pipe.balance(root / "grid.png")
    with pytest.raises(GanforgeError, match="--per-class must be at least 1"):
        pipe.balance(root / "zero.npz", per_class=0)
    with pytest.raises(GanforgeError, match="nothing to generate"):
        pipe.balance(root / "none.npz", per_class=2, synthetic_only=True)
    unconditional = train(make_config(steps=3))
    with pytest.raises(GanforgeError, match="needs a conditional GAN, and model 'dcgan' is unconditional"):
        unconditional.balance(root / "uncond")
    without_run = GANPipeline(pipe.model)
    with pytest.raises(GanforgeError, match="training data is unknown"):
        without_run.balance(root / "norun")
    assert not any((root / name).exists() for name in ("grid.png", "zero.npz", "none.npz", "uncond", "norun"))


def test_class_folder_names() -> None:
    assert numbered_class_names(3) == ["0", "1", "2"]
    assert numbered_class_names(12)[:2] == ["00", "01"] and sorted(numbered_class_names(12)) == numbered_class_names(12)
    check_folder_names(["cat", "dog"])
    with pytest.raises(GanforgeError, match="'a/b' cannot name a folder"):
        check_folder_names(["a/b", "c"])
    with pytest.raises(GanforgeError, match="class names repeat"):
        check_folder_names(["x", "x"])


def test_plan_counts_every_class_even_an_empty_one() -> None:
    plan = plan_balance(torch.tensor([0, 0, 0, 2]), 3, ["a", "b", "c"])
    assert plan.real == [3, 0, 1] and plan.synthetic == [0, 3, 2] and plan.totals == [3, 3, 3]
    assert plan.synthetic_labels().tolist() == [1, 1, 1, 2, 2]


def test_cli_balance_prints_the_counts(imbalanced_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    run, root = imbalanced_run
    assert main(["balance", str(run), "--out", str(root / "cli"), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "synthetic" in out and f"wrote {10 * max(COUNTS)} images (real and generated)" in out
    assert main(["balance", str(run), "--out", str(root / "cli"), "--device", "cpu"]) == 2
    assert "already exists" in capsys.readouterr().err


# -- --class-balanced: real batches drawn evenly over the classes ------------


def test_a_class_balanced_epoch_holds_every_class_equally_often() -> None:
    labels = torch.tensor([0] * 10 + [1] * 3 + [2] * 1)
    order = BatchOrder(len(labels), 5, seed=0, device=torch.device("cpu"), class_labels=labels)
    assert order.batches_per_epoch == 30 // 5
    epoch = torch.cat([order.indices(b) for b in range(order.batches_per_epoch)])
    assert torch.bincount(labels[epoch]).tolist() == [10, 10, 10]
    assert sorted(epoch[labels[epoch] == 0].tolist()) == list(range(10))  # the largest class: each image once
    small = torch.bincount(epoch[labels[epoch] == 1], minlength=13)[10:13].tolist()
    assert sorted(small) == [3, 3, 4]  # whole passes first, then part of one more
    assert not torch.equal(epoch, torch.cat([order.indices(b) for b in range(6, 12)]))  # each epoch reshuffles


def test_the_class_balanced_order_is_a_function_of_seed_and_batch_number() -> None:
    labels = torch.tensor([0] * 7 + [1] * 2)
    cpu = torch.device("cpu")
    walked = BatchOrder(len(labels), 4, seed=3, device=cpu, class_labels=labels)
    sequence = [walked.indices(b).tolist() for b in range(9)]
    fresh = BatchOrder(len(labels), 4, seed=3, device=cpu, class_labels=labels)
    assert fresh.indices(7).tolist() == sequence[7]  # a resumed run draws the same batches
    other = BatchOrder(len(labels), 4, seed=4, device=cpu, class_labels=labels)
    assert [other.indices(b).tolist() for b in range(9)] != sequence


def test_a_class_without_images_cannot_be_balanced() -> None:
    with pytest.raises(GanforgeError, match="class 1 has no images"):
        BatchOrder(6, 2, seed=0, device=torch.device("cpu"), class_labels=torch.tensor([0, 0, 2, 2, 2, 0]))


def test_class_balanced_training_draws_small_classes_as_often_as_large_ones(imbalanced_run: tuple[Path, Path]) -> None:
    _, root = imbalanced_run
    drawn = {}
    for balanced in (False, True):
        config = TrainConfig(
            data="folder", data_root=str(root / "imbalanced"), class_labels=True, class_balanced=balanced, model="cgan",
            model_options=TINY["cgan"], batch_size=10, runs_dir=str(root / "runs"), run=f"drawn-{balanced}", device="cpu",
        )
        data = load_training_data(config)
        model = build_model(config, data)
        config = config.with_model_defaults(model.training_defaults)
        trainer = Trainer(config, root / "runs" / config.run_name(), data, model, torch.device("cpu"))
        labels = []
        for _ in range(60):
            labels.append(trainer.context().batch()["label"])
            trainer.step += 1
        drawn[balanced] = torch.bincount(torch.cat(labels), minlength=10)
    assert drawn[True][5:].sum() == drawn[True][:5].sum()  # 60 whole epochs of 10 images, half from each half
    assert drawn[False][5:].sum() * 3 < drawn[False][:5].sum()  # the data's own 12:3 imbalance


def test_class_balanced_needs_labels(imbalanced_run: tuple[Path, Path], tmp_path: Path) -> None:
    _, root = imbalanced_run
    with pytest.raises(GanforgeError, match=r"--class-balanced needs class labels, and data 'folder' has none \(add --labels"):
        train(TrainConfig(data="folder", data_root=str(root / "imbalanced"), class_balanced=True, model_options={"ngf": 8, "ndf": 8},
                          steps=1, batch_size=8, runs_dir=str(tmp_path), run="nolabels", device="cpu", tensorboard=False, progress=False))


def test_the_classifier_reads_a_balanced_folder_with_labels(
    imbalanced_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ganforge.metrics.classifier as classifier

    run, root = imbalanced_run
    out, _ = load(run, device="cpu").balance(root / "for-classifier")
    assert main(["train-classifier", "--data", "folder", "--data-root", str(out), "--device", "cpu"]) == 2
    assert "has no labels" in capsys.readouterr().err
    seen = []

    def record_only(data: ImageData, *args: object, **kwargs: object) -> None:
        seen.append(data)
        raise GanforgeError("stop here")  # training itself is tested in test_eval

    monkeypatch.setattr(classifier, "classifier_for", record_only)
    assert main(["train-classifier", "--data", "folder", "--data-root", str(out), "--labels", "--device", "cpu"]) == 2
    assert seen[0].labels is not None and torch.bincount(seen[0].labels).tolist() == [max(COUNTS)] * 10
