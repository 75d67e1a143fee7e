"""`folder`: any folder of images, searched recursively; optional labels from sub-folders.

Images are decoded once, in parallel threads (PIL releases the GIL while it
decodes), resized with PIL at decode time (files may differ in size), and
stacked into one uint8 tensor. Unreadable files are skipped, counted in
`ImageData.notes` and warned about, so one bad file does not stop a run.

Also home of :func:`default_data_root`, shared by every source that reads
files from a data folder.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.data.base import ImageData
from ganforge.data.registry import register_data_source
from ganforge.data.transforms import center_crop_box, check_image_options, conform, resized_shape
from ganforge.errors import GanforgeError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
GREY_MODES = frozenset({"L", "1", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
DATA_ROOT_ENV = "GANFORGE_DATA_ROOT"
_MAX_NAMED_SKIPS = 5
# Below this many files a thread pool costs more than it saves.
_PARALLEL_MIN_FILES = 16
_PARALLEL_MIN_BYTES = 8 * 1024  # mean file size from which threads beat a plain loop


def default_data_root(name: str) -> Path:
    """Where source `name` looks when no --data-root is given.

    `$GANFORGE_DATA_ROOT/<name>` when that variable is set, else `./data/<name>`.
    """
    base = os.environ.get(DATA_ROOT_ENV)
    return Path(base if base else "data") / name


def resolve_root(name: str, root: str | os.PathLike[str] | None) -> Path:
    """The user's --data-root, or the default for source `name`."""
    return Path(root).expanduser() if root is not None else default_data_root(name)


def iter_image_files(root: Path) -> Iterator[Path]:
    """Image files under `root`, recursively, in file-system order.

    Hidden files and folders (".name") are skipped: they are editor, VCS or
    macOS metadata ("._x.jpg"), not images. Symlinked folders are followed,
    each real folder once so that a link loop cannot recurse forever.
    """
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for filename in filenames:
            if not filename.startswith(".") and os.path.splitext(filename)[1].lower() in IMAGE_EXTENSIONS:
                yield Path(dirpath, filename)


def list_image_files(root: Path) -> list[Path]:
    """Image files under `root`, recursively, sorted for a deterministic order."""
    # Sort on the path parts below root so the order does not depend on the file system.
    return sorted(iter_image_files(root), key=lambda p: p.relative_to(root).parts)


@dataclass
class _Decoded:
    """One decoded image (H x W x C uint8) or why it could not be read."""

    pixels: np.ndarray | None
    error: str = ""


def _flatten_alpha(image: Image.Image, mode: str) -> Image.Image:
    """Composite an image with transparency onto white, then convert to `mode`."""
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    # A grey image goes through RGB with r = g = b, which "L" maps back exactly.
    return Image.alpha_composite(white, rgba).convert(mode)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "La", "RGBa", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )


def _wide_grey_to_l(image: Image.Image) -> Image.Image:
    """16-bit / 32-bit / float greyscale -> 8-bit "L", scaling instead of clipping."""
    values = np.asarray(image, dtype=np.float64)
    peak = float(values.max()) if values.size else 0.0
    if peak > 255.0:
        # 16-bit data: map 0..65535 onto 0..255 (PIL's own conversion would clip).
        values = values * (255.0 / 65535.0) if peak <= 65535.0 else values * (255.0 / peak)
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")


def _to_mode(image: Image.Image, mode: str) -> Image.Image:
    """Convert to "L" or "RGB", flattening transparency onto white."""
    if image.mode == mode:
        return image
    if _has_alpha(image):
        return _flatten_alpha(image, mode)
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        grey = _wide_grey_to_l(image)
        return grey if mode == "L" else grey.convert("RGB")
    return image.convert(mode)


#: What PIL raises for a corrupt, truncated or unreadable image file.
UNREADABLE_IMAGE = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def open_image(path: Path, mode: str) -> Image.Image:
    """One image file, decoded and converted to "L" or "RGB" (transparency
    flattened onto white). A grey file read as RGB is converted with a
    warning; an unreadable one is an error naming the file."""
    try:
        with Image.open(path) as image:
            image.load()
            if mode == "RGB" and image.mode in GREY_MODES:
                warnings.warn(f"{path}: grey image converted to RGB", stacklevel=3)
            return _to_mode(image, mode)
    except UNREADABLE_IMAGE as exc:
        raise GanforgeError(f"{path}: cannot read the image ({type(exc).__name__}: {exc})") from None


def _resize_crop(image: Image.Image, size: int) -> Image.Image:
    """Short side -> `size` (antialiased bilinear), then a centred size x size crop."""
    width, height = image.size
    new_h, new_w = resized_shape(height, width, size)
    if (new_w, new_h) != (width, height):
        image = image.resize((new_w, new_h), Image.Resampling.BILINEAR)
    top, left = center_crop_box(new_h, new_w, size)
    if (new_w, new_h) != (size, size):
        image = image.crop((left, top, left + size, top + size))
    return image


def _decode(path: Path, image_size: int | None, channels: int | None) -> _Decoded:
    """Read one file as H x W x C uint8; channels None keeps greyscale as 1 channel."""
    try:
        with Image.open(path) as image:
            if image_size is not None and image.format == "JPEG":
                # Let libjpeg decode at a reduced scale when the file is much larger
                # than needed; keep at least 2x the target so the final resize is
                # still a proper antialiased one.
                image.draft(image.mode, (2 * image_size, 2 * image_size))
            image.load()
            mode = {1: "L", 3: "RGB"}.get(channels or 0)
            if mode is None:
                mode = "L" if image.mode in GREY_MODES else "RGB"
            image = _to_mode(image, mode)
            if image_size is not None:
                image = _resize_crop(image, image_size)
            pixels = np.asarray(image, dtype=np.uint8)
    except UNREADABLE_IMAGE as exc:
        # PIL signals corrupt or truncated files with a variety of exception types.
        return _Decoded(None, f"{type(exc).__name__}: {exc}")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return _Decoded(pixels)


def _worth_threads(paths: Sequence[Path]) -> bool:
    """Whether decoding is heavy enough for threads to pay off.

    Threads only help while PIL decodes (GIL released); for tiny files such as
    CIFAR's 1 KB JPEGs the per-file Python work dominates and threads fighting
    over the GIL are slower than one loop, so judge by the mean size of a sample.
    """
    if len(paths) < _PARALLEL_MIN_FILES or (os.cpu_count() or 1) < 2:
        return False
    sample = paths[:: max(1, len(paths) // 64)]
    try:
        mean_bytes = sum(p.stat().st_size for p in sample) / len(sample)
    except OSError:
        return True
    return mean_bytes >= _PARALLEL_MIN_BYTES


def _decode_all(
    paths: Sequence[Path], image_size: int | None, channels: int | None
) -> list[_Decoded]:
    def decode_chunk(chunk: Sequence[Path]) -> list[_Decoded]:
        return [_decode(p, image_size, channels) for p in chunk]

    if not _worth_threads(paths):
        return decode_chunk(paths)
    workers = min(16, os.cpu_count() or 1)
    # Contiguous chunks, a few per thread: little scheduling overhead, balanced
    # load, and map() returns them in input order so labels stay aligned.
    step = min(256, max(8, -(-len(paths) // (4 * workers))))
    chunks = [paths[i : i + step] for i in range(0, len(paths), step)]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ganforge-decode") as pool:
        return [d for part in pool.map(decode_chunk, chunks) for d in part]


def _class_of(path: Path, root: Path) -> str:
    parts = path.relative_to(root).parts
    if len(parts) < 2:
        raise GanforgeError(
            f"labels are taken from the sub-folders of {root}, but {path} lies directly in it; "
            "put the images in one sub-folder per class, or leave --labels off"
        )
    return parts[0]


def _skip_note(skipped: list[Path], root: Path) -> str:
    names = [str(p.relative_to(root)) for p in skipped[:_MAX_NAMED_SKIPS]]
    more = ", ..." if len(skipped) > _MAX_NAMED_SKIPS else ""
    noun = "file" if len(skipped) == 1 else "files"
    return f"skipped {len(skipped)} unreadable {noun}: {', '.join(names)}{more}"


def _check_same_size(arrays: list[np.ndarray], paths: list[Path]) -> None:
    first = arrays[0].shape[:2]
    for array, path in zip(arrays, paths):
        if array.shape[:2] != first:
            (h0, w0), (h1, w1) = first, array.shape[:2]
            raise GanforgeError(
                f"images differ in size ({paths[0]} is {w0}x{h0}, {path} is {w1}x{h1}); "
                "pass --image-size N to resize and centre-crop them all to N x N"
            )


def read_image_folder(
    root: str | os.PathLike[str],
    labels: bool = False,
    image_size: int | None = None,
    channels: int | None = None,
    *,
    name: str = "folder",
) -> ImageData:
    """Decode every image under `root` into one ImageData.

    `labels`: class = first-level sub-folder name (class_names sorted).
    `image_size`: resize the short side and centre-crop each image to N x N.
    `channels`: 1 or 3; None picks 1 only if every image is greyscale.
    """
    check_image_options(image_size, channels)
    root = Path(root).expanduser()
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise GanforgeError(f"data root {root} {what}")
    paths = list_image_files(root)
    if not paths:
        exts = " ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
        raise GanforgeError(f"no images found in {root} (looked for: {exts})")
    classes = [_class_of(p, root) for p in paths] if labels else []

    decoded = _decode_all(paths, image_size, channels)
    kept = [i for i, d in enumerate(decoded) if d.pixels is not None]
    skipped = [paths[i] for i, d in enumerate(decoded) if d.pixels is None]
    if not kept:
        first_error = next(d.error for d in decoded)
        raise GanforgeError(
            f"none of the {len(paths)} image files in {root} could be read "
            f"(e.g. {paths[0].name}: {first_error})"
        )
    arrays = [decoded[i].pixels for i in kept]  # type: ignore[misc]
    kept_paths = [paths[i] for i in kept]
    if image_size is None:
        _check_same_size(arrays, kept_paths)  # type: ignore[arg-type]
    if channels is None and any(a.shape[2] == 3 for a in arrays):  # type: ignore[union-attr]
        # Mixed greyscale and colour: greyscale images become grey RGB.
        arrays = [np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a for a in arrays]  # type: ignore[union-attr]
    stacked = np.stack(arrays)  # type: ignore[arg-type]
    images = torch.from_numpy(stacked).permute(0, 3, 1, 2).contiguous()
    del stacked, arrays, decoded

    label_tensor = None
    class_names = None
    if labels:
        # Class names from every sub-folder that holds image files, even if all of
        # its files were unreadable, so the class numbering is the folder listing's.
        class_names = sorted(set(classes))
        index = {c: i for i, c in enumerate(class_names)}
        label_tensor = torch.tensor([index[classes[i]] for i in kept], dtype=torch.int64)

    notes: list[str] = []
    if skipped:
        note = _skip_note(skipped, root)
        notes.append(note)
        warnings.warn(f"{name}: {note}", stacklevel=2)
    data = ImageData(
        images=images,
        labels=label_tensor,
        class_names=class_names,
        name=name,
        origin=f"{root} ({len(kept)} image files{', labels from sub-folders' if labels else ''})",
        notes=notes,
    )
    return conform(data, image_size, channels)


@register_data_source("folder", "any folder of images (searched recursively); labels from sub-folders")
def load_folder(
    *,
    root: str | None = None,
    labels: bool = False,
    image_size: int | None = None,
    channels: int | None = None,
) -> ImageData:
    if root is None:
        raise GanforgeError("data source 'folder' needs --data-root DIR")
    return read_image_folder(root, labels=labels, image_size=image_size, channels=channels)
