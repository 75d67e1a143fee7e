"""Tests for the data sources, on tiny data made here (no downloads, no shared folder).

The `shared_data` tests at the end load the real sets from ../shared/data when
that folder exists and skip otherwise.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import (
    DATA_SOURCES,
    ImageData,
    default_data_root,
    list_data_sources,
    load_data,
)
from ganforge.data.cifar import safe_load_pickle
from ganforge.data.idx import read_idx
from ganforge.data.transforms import conform
from ganforge.errors import GanforgeError

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


# ---------------------------------------------------------------- helpers


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file (gzipped when the name ends in .gz)."""
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)
    return path


def write_idx_split(folder: Path, prefix: str, n: int, gz: bool = True, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    ext = ".gz" if gz else ""
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", rng.integers(0, 256, (n, 28, 28)))
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", np.arange(n) % 10)


class Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes str and bytes as Python 2 byte strings, as in the official CIFAR files."""

    dispatch = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def save_py2_string(self, obj: str | bytes) -> None:
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_string
    dispatch[str] = save_py2_string


def dumps(obj: object, protocol: int | str) -> bytes:
    """pickle.dumps, or with protocol "py2" a pickle like Python 2 + numpy 1 wrote."""
    if protocol != "py2":
        return pickle.dumps(obj, protocol=protocol)  # type: ignore[arg-type]
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")


def write_cifar_batch(path: Path, n: int, protocol: int | str = "py2", seed: int = 0) -> None:
    """A CIFAR-like batch with the official keys."""
    rng = np.random.default_rng(seed)
    batch = {
        "batch_label": "testing batch",
        "labels": [int(i % 10) for i in range(n)],
        "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        "filenames": ["x.png"] * n,
    }
    if protocol != "py2":  # the official files have byte-string keys
        batch = {k.encode(): v for k, v in batch.items()}
    path.write_bytes(dumps(batch, protocol))


def save_image(path: Path, size: tuple[int, int] = (8, 8), mode: str = "RGB", color=(200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)
    return path


# ---------------------------------------------------------------- registry / digits


def test_sources_registered() -> None:
    names = [name for name, _ in list_data_sources()]
    assert names == sorted(["digits", "mnist", "fashion-mnist", "cifar10", "folder", "stacked-mnist", "ring", "grid", "paired", "sr", "unpaired"])
    assert all(description for _, description in list_data_sources())
    assert "digits" in DATA_SOURCES


def test_digits_shape_range_labels() -> None:
    data = load_data("digits")
    assert isinstance(data, ImageData)
    assert data.images.shape == (1797, 1, 8, 8) and data.images.dtype == torch.uint8
    assert int(data.images.min()) == 0 and int(data.images.max()) == 255
    assert data.labels is not None and set(data.labels.tolist()) == set(range(10))
    assert data.class_names == [str(d) for d in range(10)] and data.num_classes == 10
    assert data.name == "digits" and "load_digits" in data.origin
    # 0..16 scaled by 255/16 and rounded: only 17 distinct levels.
    assert len(torch.unique(data.images)) <= 17


def test_digits_resize_and_channels() -> None:
    data = load_data("digits", image_size=16, channels=3)
    assert data.images.shape == (1797, 3, 16, 16)
    assert torch.equal(data.images[:, 0], data.images[:, 2])  # grey repeated


def test_batch_is_float_in_range() -> None:
    data = load_data("digits")
    images, labels = data.batch(torch.arange(32))
    assert images.dtype == torch.float32 and images.shape == (32, 1, 8, 8)
    assert float(images.min()) >= -1.0 and float(images.max()) <= 1.0
    assert float(images.min()) == -1.0 and float(images.max()) == 1.0
    assert labels is not None and labels.shape == (32,)


def test_option_that_does_not_apply() -> None:
    with pytest.raises(GanforgeError, match="root"):
        load_data("digits", root="x")


def test_unknown_source_lists_choices() -> None:
    with pytest.raises(GanforgeError) as info:
        load_data("nope")
    assert "nope" in str(info.value) and "mnist" in str(info.value) and "folder" in str(info.value)


@pytest.mark.parametrize(("option", "value"), [("image_size", 2), ("channels", 2), ("channels", 4)])
def test_bad_image_options(option: str, value: int) -> None:
    with pytest.raises(GanforgeError, match=f"--{option.replace('_', '-')}"):
        load_data("digits", **{option: value})


def test_default_data_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GANFORGE_DATA_ROOT", raising=False)
    assert default_data_root("mnist") == Path("data") / "mnist"
    monkeypatch.setenv("GANFORGE_DATA_ROOT", str(tmp_path))
    assert default_data_root("mnist") == tmp_path / "mnist"


# ---------------------------------------------------------------- conform


def test_conform_luma_matches_pil() -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    data = ImageData(images=torch.from_numpy(rgb).permute(0, 3, 1, 2).contiguous(), name="t")
    grey = conform(data, None, 1).images
    expected = np.stack([np.asarray(Image.fromarray(im).convert("L")) for im in rgb])
    assert np.array_equal(grey[:, 0].numpy(), expected)


def test_conform_resize_crop_and_noop() -> None:
    data = ImageData(images=torch.zeros((3, 1, 10, 20), dtype=torch.uint8), name="t")
    out = conform(data, 8, None)
    assert out.images.shape == (3, 1, 8, 8)
    assert conform(out, 8, 1) is out  # already matching: same object back


# ---------------------------------------------------------------- IDX (mnist / fashion-mnist)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_gz_and_plain(tmp_path: Path, gz: bool) -> None:
    write_idx_split(tmp_path, "train", 12, gz=gz)
    write_idx_split(tmp_path, "t10k", 5, gz=gz, seed=1)
    data = load_data("mnist", root=str(tmp_path))
    assert data.images.shape == (17, 1, 28, 28)
    assert data.labels is not None and data.labels.tolist()[:12] == [i % 10 for i in range(12)]
    assert data.name == "mnist" and "train" in data.origin and "t10k" in data.origin


def test_idx_only_t10k(tmp_path: Path) -> None:
    write_idx_split(tmp_path, "t10k", 7)
    data = load_data("mnist", root=str(tmp_path))
    assert len(data) == 7 and "t10k" in data.origin


def test_idx_split_selection(tmp_path: Path) -> None:
    write_idx_split(tmp_path, "train", 12)
    write_idx_split(tmp_path, "t10k", 5)
    assert len(load_data("mnist", root=str(tmp_path), split="t10k")) == 5
    assert len(load_data("mnist", root=str(tmp_path), split="train")) == 12
    with pytest.raises(GanforgeError, match="train, t10k"):
        load_data("mnist", root=str(tmp_path), split="val")


def test_idx_any_prefix_and_fashion_classes(tmp_path: Path) -> None:
    write_idx_split(tmp_path, "train5k", 6)
    data = load_data("fashion-mnist", root=str(tmp_path), image_size=32, channels=3)
    assert data.images.shape == (6, 3, 32, 32)
    assert data.class_names is not None and data.class_names[0] == "T-shirt/top"
    assert data.class_names[-1] == "Ankle boot" and data.name == "fashion-mnist"


def test_idx_torchvision_raw_folder_prefers_plain(tmp_path: Path) -> None:
    # torchvision keeps both the .gz and the extracted file; read each split once.
    raw = tmp_path / "MNIST" / "raw"
    write_idx_split(raw, "t10k", 4, gz=True)
    write_idx_split(raw, "t10k", 4, gz=False)
    data = load_data("mnist", root=str(tmp_path))
    assert len(data) == 4 and "t10k-images-idx3-ubyte," in data.origin


def test_idx_truncated_names_file(tmp_path: Path) -> None:
    write_idx_split(tmp_path, "t10k", 5, gz=False)
    images = tmp_path / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(GanforgeError, match="truncated") as info:
        load_data("mnist", root=str(tmp_path))
    assert str(images) in str(info.value)


def test_idx_truncated_gzip_names_file(tmp_path: Path) -> None:
    write_idx_split(tmp_path, "t10k", 50, gz=True)
    images = tmp_path / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:200])
    with pytest.raises(GanforgeError) as info:
        load_data("mnist", root=str(tmp_path))
    assert str(images) in str(info.value)


def test_idx_bad_magic(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "x-labels-idx1-ubyte", np.arange(4))
    with pytest.raises(GanforgeError, match="magic"):
        read_idx(path, 0x00000803)


def test_idx_mismatched_counts_names_both(tmp_path: Path) -> None:
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((5, 28, 28)))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(4))
    with pytest.raises(GanforgeError) as info:
        load_data("mnist", root=str(tmp_path))
    message = str(info.value)
    assert "t10k-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message


def test_idx_no_files_names_root(tmp_path: Path) -> None:
    with pytest.raises(GanforgeError, match="--data-root") as info:
        load_data("mnist", root=str(tmp_path))
    assert str(tmp_path) in str(info.value)


def test_idx_default_root_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANFORGE_DATA_ROOT", str(tmp_path))
    write_idx_split(tmp_path / "mnist", "t10k", 3)
    assert len(load_data("mnist")) == 3


def test_idx_download_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets

    def offline(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(GanforgeError, match="download.*failed.*--data-root"):
        load_data("mnist", root=str(tmp_path), download=True)


# ---------------------------------------------------------------- CIFAR-10


@pytest.mark.parametrize("protocol", ["py2", 2, pickle.HIGHEST_PROTOCOL])
def test_cifar_pickle_batches(tmp_path: Path, protocol: int | str) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        write_cifar_batch(folder / f"data_batch_{i}", 4, protocol=protocol, seed=i)
    write_cifar_batch(folder / "test_batch", 3, protocol=protocol, seed=9)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    (folder / "batches.meta").write_bytes(dumps({b"label_names": names}, protocol))

    data = load_data("cifar10", root=str(tmp_path))
    assert data.images.shape == (23, 3, 32, 32) and data.name == "cifar10"
    assert data.class_names is not None and data.class_names[0] == "airplane"
    assert data.labels is not None and data.labels.tolist()[:4] == [0, 1, 2, 3]
    # Row layout: the first 1024 bytes are the red plane.
    first = safe_load_pickle(folder / "data_batch_1")[b"data"][0]
    assert np.array_equal(data.images[0, 0].numpy().ravel(), first[:1024])
    assert len(load_data("cifar10", root=str(tmp_path), split="test")) == 3
    assert len(load_data("cifar10", root=str(folder), split="train")) == 20
    assert load_data("cifar10", root=str(tmp_path), split="test", channels=1).images.shape == (3, 1, 32, 32)


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_cifar_malicious_pickle_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    batch = tmp_path / "data_batch_1"
    batch.write_bytes(pickle.dumps({b"data": _Exploit(marker), b"labels": []}, protocol=2))
    with pytest.raises(GanforgeError, match="system"):
        load_data("cifar10", root=str(tmp_path))
    assert not marker.exists()
    evil = tmp_path / "evil"
    evil.write_bytes(pickle.dumps(eval, protocol=2))
    with pytest.raises(GanforgeError, match=r"builtin_*\.eval"):
        safe_load_pickle(evil)


def test_cifar_corrupt_pickle_names_file(tmp_path: Path) -> None:
    write_cifar_batch(tmp_path / "test_batch", 3)
    path = tmp_path / "test_batch"
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(GanforgeError) as info:
        load_data("cifar10", root=str(tmp_path))
    assert str(path) in str(info.value)


def test_cifar_folder_form(tmp_path: Path) -> None:
    for split, n in (("train", 2), ("test", 1)):
        for cls, color in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
            for i in range(n):
                save_image(tmp_path / split / cls / f"{i}.png", (32, 32), color=color)
    data = load_data("cifar10", root=str(tmp_path))
    assert data.images.shape == (6, 3, 32, 32) and data.class_names == ["cat", "dog"]
    assert data.labels is not None and data.labels.tolist() == [0, 0, 1, 1, 0, 1]
    test = load_data("cifar10", root=str(tmp_path / "test"))
    assert len(test) == 2 and test.name == "cifar10"
    assert len(load_data("cifar10", root=str(tmp_path), split="test")) == 2


def test_cifar_nothing_found(tmp_path: Path) -> None:
    with pytest.raises(GanforgeError, match="--download") as info:
        load_data("cifar10", root=str(tmp_path / "missing"))
    assert "missing" in str(info.value)


# ---------------------------------------------------------------- folder


def test_folder_recursive_and_labels(tmp_path: Path) -> None:
    save_image(tmp_path / "b_class" / "deep" / "x.png")
    save_image(tmp_path / "a_class" / "1.JPG")
    save_image(tmp_path / "a_class" / "2.bmp")
    (tmp_path / "a_class" / "notes.txt").write_text("not an image")
    data = load_data("folder", root=str(tmp_path))
    assert data.images.shape == (3, 3, 8, 8) and data.labels is None and data.name == "folder"
    labelled = load_data("folder", root=str(tmp_path), labels=True)
    assert labelled.class_names == ["a_class", "b_class"]
    assert labelled.labels is not None and labelled.labels.tolist() == [0, 0, 1]


def test_folder_labels_need_subfolders(tmp_path: Path) -> None:
    save_image(tmp_path / "cls" / "a.png")
    save_image(tmp_path / "loose.png")
    with pytest.raises(GanforgeError, match="loose.png"):
        load_data("folder", root=str(tmp_path), labels=True)


def test_folder_skips_corrupt_files(tmp_path: Path) -> None:
    save_image(tmp_path / "good.png")
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg at all")
    full = save_image(tmp_path / "cut.png", (64, 64))
    full.write_bytes(full.read_bytes()[:60])
    with pytest.warns(UserWarning, match="skipped 2 unreadable files"):
        data = load_data("folder", root=str(tmp_path))
    assert len(data) == 1
    assert data.notes == ["skipped 2 unreadable files: bad.jpg, cut.png"]


def test_folder_all_unreadable(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"garbage")
    with pytest.raises(GanforgeError, match="could be read"):
        load_data("folder", root=str(tmp_path))


def test_folder_empty_and_missing(tmp_path: Path) -> None:
    with pytest.raises(GanforgeError, match="no images found") as info:
        load_data("folder", root=str(tmp_path))
    assert str(tmp_path) in str(info.value)
    with pytest.raises(GanforgeError, match="does not exist") as info:
        load_data("folder", root=str(tmp_path / "nope"))
    assert "nope" in str(info.value)
    with pytest.raises(GanforgeError, match="needs --data-root"):
        load_data("folder")


def test_folder_mixed_sizes(tmp_path: Path) -> None:
    save_image(tmp_path / "a.png", (8, 8))
    save_image(tmp_path / "b.png", (10, 6))
    with pytest.raises(GanforgeError, match="--image-size") as info:
        load_data("folder", root=str(tmp_path))
    assert "a.png" in str(info.value) and "b.png is 10x6" in str(info.value)


def test_folder_image_size_resize_and_crop(tmp_path: Path) -> None:
    # 40 x 20, left half black, right half white: the short side becomes 8, the
    # result 16 x 8, the centre 8 x 8 crop straddles the edge.
    image = Image.new("L", (40, 20), 0)
    image.paste(255, (20, 0, 40, 20))
    image.save(tmp_path / "wide.png")
    save_image(tmp_path / "small.png", (4, 6), mode="L", color=100)
    data = load_data("folder", root=str(tmp_path), image_size=8)
    assert data.images.shape == (2, 1, 8, 8)
    row = data.images[1, 0, 4].tolist()
    assert row[0] < 20 and row[-1] > 235
    assert torch.all(data.images[0] == 100)  # upscaled flat grey stays flat


def test_folder_grey_vs_rgb(tmp_path: Path) -> None:
    save_image(tmp_path / "g1.png", mode="L", color=50)
    save_image(tmp_path / "g2.png", mode="1", color=1)
    assert load_data("folder", root=str(tmp_path)).image_shape == (1, 8, 8)
    save_image(tmp_path / "rgb.jpg", color=(10, 200, 10))
    mixed = load_data("folder", root=str(tmp_path))
    assert mixed.image_shape == (3, 8, 8)
    assert torch.all(mixed.images[0] == 50)  # grey image repeated to 3 channels
    forced = load_data("folder", root=str(tmp_path), channels=1)
    assert forced.image_shape == (1, 8, 8)


def test_folder_rgba_and_palette_on_white(tmp_path: Path) -> None:
    save_image(tmp_path / "clear.png", mode="RGBA", color=(0, 0, 0, 0))
    save_image(tmp_path / "solid.png", mode="RGBA", color=(255, 0, 0, 255))
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0] * 256)
    palette.save(tmp_path / "trans.gif", transparency=0)
    data = load_data("folder", root=str(tmp_path))
    assert data.image_shape == (3, 8, 8)
    assert torch.all(data.images[0] == 255)  # fully transparent -> white
    assert data.images[1, :, 0, 0].tolist() == [255, 0, 0]
    assert torch.all(data.images[2] == 255)  # transparent palette entry -> white


def test_folder_many_files_keep_order(tmp_path: Path) -> None:
    # Enough files (and large enough) to take the threaded path; order must hold.
    rng = np.random.default_rng(0)
    for i in range(40):
        noise = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        noise[0, 0] = (i, i, i)
        Image.fromarray(noise).save(tmp_path / f"{i:03d}.png")
    data = load_data("folder", root=str(tmp_path))
    assert data.images[:, 0, 0, 0].tolist() == list(range(40))


# ---------------------------------------------------------------- real data (optional)

needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} not present")


@pytest.mark.shared_data
@needs_shared
def test_shared_mnist() -> None:
    data = load_data("mnist", root=str(SHARED_DATA / "mnist"))
    assert data.images.shape == (10000, 1, 28, 28) and data.num_classes == 10
    assert data.labels is not None and len(torch.unique(data.labels)) == 10


@pytest.mark.shared_data
@needs_shared
def test_shared_fashion_mnist() -> None:
    data = load_data("fashion-mnist", root=str(SHARED_DATA / "fashion-mnist"))
    assert data.images.shape == (5000, 1, 28, 28) and data.num_classes == 10


@pytest.mark.shared_data
@needs_shared
def test_shared_cifar10_folder() -> None:
    data = load_data("cifar10", root=str(SHARED_DATA / "cifar10"))
    assert data.images.shape == (10000, 3, 32, 32) and data.num_classes == 10
    assert data.class_names is not None and data.class_names[0] == "airplane"
    assert data.labels is not None and torch.bincount(data.labels).tolist() == [1000] * 10
