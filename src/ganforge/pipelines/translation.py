"""A trained image-to-image generator: `ganforge.load(run).translate(images)`."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ganforge.data.base import to_float, to_uint8
from ganforge.data.folder import IMAGE_EXTENSIONS, list_image_files, open_image
from ganforge.device import resolve_device
from ganforge.errors import GanforgeError
from ganforge.io import atomic_path
from ganforge.models import from_config
from ganforge.runs.checkpoint import checkpoint_step, load_run_weights
from ganforge.runs.folder import check_task, find_run, read_run_config
from ganforge.tasks.paired import seeded_translation

# PIL's format name for each extension a translated image can be written as.
WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}


class ImageToImagePipeline:
    """A run's generator of images from images, with its run's metadata:
    `from_run` loads the weights of a run of the class's `task`."""

    task = ""

    def __init__(
        self, model: Any, *, run_dir: Path | None = None, step: int | None = None, train_config: dict[str, Any] | None = None,
        class_names: list[str] | None = None,
    ) -> None:
        self.model = model.eval()
        self.run_dir = run_dir
        self.step = step
        self.train_config = train_config

    @classmethod
    def from_run(cls, run: str | Path, *, checkpoint: int | str | None = None, device: str = "auto", runs_dir: str | Path = "runs") -> Any:
        run_dir = find_run(run, runs_dir)
        saved = read_run_config(run_dir)
        check_task(run_dir, saved, cls.task)
        model = from_config(saved["model"])
        path = load_run_weights(run_dir, model, checkpoint)
        model.to(resolve_device(device))
        return cls(model, run_dir=run_dir, step=checkpoint_step(path), train_config=saved["train"])

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


class TranslationPipeline(ImageToImagePipeline):
    """A paired run's generator G(a) -> b, with its run's metadata. A
    paired run learnt one direction, the one it was trained with."""

    task = "paired"

    @property
    def directions(self) -> tuple[str, ...]:
        """The directions this run translates, the default first."""
        return ((self.train_config or {}).get("direction") or "AtoB",)

    def resolve_direction(self, direction: str | None) -> str:
        if direction is None:
            return self.directions[0]
        if direction not in self.directions:
            where = f"run {self.run_dir}" if self.run_dir is not None else "this model"
            raise GanforgeError(f"{where} translates {' and '.join(self.directions)} only, not {direction} (pix2pix learns the one direction it was trained with)")
        return direction

    def input_shape_of(self, direction: str) -> tuple[int, int, int]:
        return tuple(self.model.input_shape)  # type: ignore[return-value]

    def translation_options(self, direction: str) -> dict[str, Any]:
        """What the model's translate takes besides the images."""
        return {}

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.input_shape_of(self.directions[0])

    def translate(self, images: torch.Tensor, seed: int = 0, direction: str | None = None) -> torch.Tensor:
        """G(images) in [-1, 1] on the CPU. `images`: N x C x H x W, uint8 or
        floats in [-1, 1], of the run's input shape. Dropout stays on at
        inference (pix2pix's noise); `seed` fixes its draws. `direction`
        (AtoB, BtoA): the run's own by default."""
        direction = self.resolve_direction(direction)
        shape = self.input_shape_of(direction)
        if images.dim() != 4 or tuple(images.shape[1:]) != shape:
            raise GanforgeError(f"translate expects N x {'x'.join(map(str, shape))} images (CxHxW), got {tuple(images.shape)}")
        a = to_float(images) if images.dtype == torch.uint8 else images.float()
        return seeded_translation(self.model, a.to(self.device), seed, **self.translation_options(direction)).cpu()

    def read_input(self, path: Path, shape: tuple[int, int, int]) -> tuple[torch.Tensor, tuple[int, int]]:
        """One input image as 1 x C x H x W uint8 at `shape`'s size, and its own size (W, H)."""
        channels, height, width = shape
        image = open_image(path, "RGB" if channels == 3 else "L")
        size = image.size
        if size != (width, height):
            image = image.resize((width, height), Image.Resampling.BICUBIC)
        pixels = np.array(image, dtype=np.uint8)  # a copy torch may own
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        return torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0).contiguous(), size

    def save_translations(self, source: str | Path, out: str | Path, seed: int = 0, direction: str | None = None) -> list[Path]:
        """Translate one image file, or every image in a folder (recursively),
        into folder `out`: one output per input, with the input's file name
        (and relative folder), at the run's image size. Each file is written
        whole or not at all."""
        direction = self.resolve_direction(direction)
        shape = self.input_shape_of(direction)
        files, base, out = input_files(source, out, "translated")
        written = []
        resized = 0
        for path in files:
            image, size = self.read_input(path, shape)
            resized += size != (shape[2], shape[1])
            result = to_uint8(self.translate(image, seed=seed, direction=direction))[0].permute(1, 2, 0).numpy()
            target = out / path.relative_to(base)
            written.append(write_image(target, result))
        if resized:
            h, w = shape[1:]
            warnings.warn(f"{resized} of {len(files)} input(s) resized to the run's {w}x{h} px; outputs are {w}x{h}", stacklevel=2)
        return written


class CycleTranslationPipeline(TranslationPipeline):
    """An unpaired run's two translators (CycleGAN): `translate(images,
    direction="AtoB")` with G_ab, `direction="BtoA"` with G_ba."""

    task = "unpaired"
    directions = ("AtoB", "BtoA")  # type: ignore[assignment]

    def input_shape_of(self, direction: str) -> tuple[int, int, int]:
        return self.model.shape_of("a" if direction == "AtoB" else "b")  # type: ignore[no-any-return]

    def translation_options(self, direction: str) -> dict[str, Any]:
        return {"direction": direction}


def input_files(source: str | Path, out: str | Path, done: str) -> tuple[list[Path], Path, Path]:
    """(image files, the folder their names are relative to, the output
    folder) of --input FILE_OR_DIR and --out DIR; `done` says what the
    outputs are ("translated", "upscaled"), for the message about a bad --out."""
    source, out = Path(source), Path(out)
    if source.is_file():
        if source.suffix.lower() not in IMAGE_EXTENSIONS:
            raise GanforgeError(f"--input {source} is not an image file ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        files, base = [source], source.parent
    elif source.is_dir():
        files, base = list_image_files(source), source
        if not files:
            raise GanforgeError(f"--input {source} holds no image files")
    else:
        raise GanforgeError(f"--input {source}: no such file or folder")
    if out.exists() and not out.is_dir():
        raise GanforgeError(f"--out {out} is a file; give a folder for the {done} images")
    return files, base, out


def write_image(path: Path, pixels: np.ndarray) -> Path:
    """An H x W x C uint8 array as an image file, in the format its extension names."""
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:  # .gif and the like: written as PNG beside the name
        path, fmt = path.with_suffix(path.suffix + ".png"), "PNG"
    image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        image.save(tmp, format=fmt)
    return path
