"""The FID Inception extractor against pytorch-fid, with seeded random
weights loaded into both (no download), and its weight loading."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.errors import GanforgeError
from ganforge.metrics.evaluate import read_image_set
from ganforge.metrics.features import extract_features
from ganforge.metrics.inception import (
    FIDInception,
    InceptionExtractor,
    resolve_weights,
    weights_url,
)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeded random weights with activations of order 1 (He init) and
    non-trivial batch-norm statistics, saved as pytorch-fid's file would be."""
    torch.manual_seed(0)
    net = FIDInception().net
    for module in net.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("inception") / "pt_inception-test.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(6):
        base = rng.integers(0, 256, size=(1, 1, 3))
        pixels = np.clip(base + rng.normal(0, 40, size=(32, 32, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png")
    return folder


def pytorch_fid_model(weights: Path, monkeypatch: pytest.MonkeyPatch) -> torch.nn.Module:
    from pytorch_fid import inception

    state = torch.load(weights, weights_only=True)
    monkeypatch.setattr(inception, "load_state_dict_from_url", lambda *args, **kwargs: state)
    return inception.InceptionV3([inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()


def test_features_match_pytorch_fid_from_the_same_image_files(weights_file: Path, image_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytorch_fid.fid_score import get_activations

    files = sorted(image_folder.glob("*.png"))
    reference = get_activations(files, pytorch_fid_model(weights_file, monkeypatch), batch_size=3, dims=2048, device="cpu", num_workers=0)
    data = read_image_set(str(image_folder))
    order = [p.name for p in sorted(image_folder.glob("*.png"), key=lambda p: p.name)]
    assert order == [f.name for f in files]
    ours = extract_features(InceptionExtractor(weights_file, torch.device("cpu")), data.images, torch.device("cpu"), batch_size=4)
    assert ours.features.shape == (6, 2048) and ours.logits.shape == (6, 1008)
    assert np.abs(ours.features.numpy() - reference).max() <= 1e-4
    # ... and the images do give different features, so the check can fail.
    assert np.abs(reference[0] - reference[1]).max() > 100 * 1e-4


def test_greyscale_images_are_replicated_to_three_channels(weights_file: Path) -> None:
    extractor = InceptionExtractor(weights_file, torch.device("cpu"))
    grey = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    f1, _ = extractor(grey)
    f3, _ = extractor(grey.expand(-1, 3, -1, -1))
    assert torch.equal(f1, f3)


def test_logits_are_the_unbiased_classifier_scores(weights_file: Path) -> None:
    model = FIDInception.from_file(weights_file)
    images = torch.rand(2, 3, 16, 16)
    pool, logits = model(images)
    torch.testing.assert_close(logits, pool @ model.net.fc.weight.T)


def test_missing_and_unreadable_weight_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(GanforgeError, match="--inception-weights .*nope.pth: no such file"):
        resolve_weights(tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(GanforgeError, match="bad.pth is not a readable PyTorch weights file"):
        InceptionExtractor(bad, torch.device("cpu"))
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(GanforgeError, match="does not fit the FID Inception network"):
        InceptionExtractor(wrong, torch.device("cpu"))


def test_offline_without_weights_the_error_names_the_url_and_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(GanforgeError) as error:
        resolve_weights(None)
    message = str(error.value)
    assert weights_url() in message and "--inception-weights FILE" in message and "unreachable" in message


def test_a_cached_download_is_used_without_the_network(weights_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = tmp_path / "hub" / "checkpoints" / weights_url().rsplit("/", 1)[-1]
    cached.parent.mkdir(parents=True)
    cached.write_bytes(weights_file.read_bytes())
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("no download expected"))
    assert resolve_weights(None) == cached


def test_the_download_checks_the_sha256_prefix_in_the_file_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    calls: list[dict[str, object]] = []

    def fake_download(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
        calls.append({"url": url, "hash_prefix": hash_prefix})
        Path(dst).write_bytes(b"x")

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    path = resolve_weights(None)
    assert calls == [{"url": weights_url(), "hash_prefix": "6726825d"}]
    assert path.is_file()


def test_an_image_with_four_channels_is_refused(weights_file: Path) -> None:
    with pytest.raises(GanforgeError, match="1- or 3-channel"):
        InceptionExtractor(weights_file, torch.device("cpu")).check_images((4, 8, 8))


def test_eval_command_with_inception_features(weights_file: Path, image_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ganforge.cli import main

    args = ["eval", "--real", str(image_folder), "--fake", str(image_folder), "--metrics", "fid,modes", "--extractor", "inception", "--inception-weights", str(weights_file), "--device", "cpu"]
    with pytest.warns(UserWarning, match="covariance is singular"):
        assert main(args) == 0
    out = capsys.readouterr().out
    assert "(inception features; 6 fake vs 6 real images" in out
    fid_line = next(line for line in out.splitlines() if line.startswith("fid"))
    assert abs(float(fid_line.split()[1])) < 1e-4  # a set against itself (rank 5 of 2048: float noise)
