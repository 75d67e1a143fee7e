"""`paired`: aligned image pairs (a, b) for image-to-image translation (pix2pix).

Two layouts, each with optional split folders (`train/`, `test/`, ...):
- side by side: one image per pair, A in the left half and B in the right,
  as the pix2pix data sets ship (facades: photo left, label map right);
- `A/` and `B/` folders holding files of the same names.

`--direction AtoB` (default) learns B from A, `BtoA` A from B: `a` is always
the input and `b` the target. Each pair is decoded once and kept as uint8;
`batch` turns a batch into floats and applies the pix2pix jitter on tensors:
both images are resized up by about 12% (256 -> 286 px), randomly cropped
back and randomly flipped, the same crop and flip for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganforge.data.base import InputsAndTargets, to_float
from ganforge.data.folder import IMAGE_EXTENSIONS, list_image_files, open_image
from ganforge.data.registry import register_data_source
from ganforge.errors import GanforgeError

DIRECTIONS = ("AtoB", "BtoA")
#: pix2pix's load size over crop size (286 / 256).
JITTER_SCALE = 286 / 256
#: Keeps the jitter's random stream apart from the other streams of the seed.
_JITTER_SEED_STRIDE = 1_000_033


@dataclass
class PairedData(InputsAndTargets):
    """Aligned pairs: inputs `a` and targets `b`, uint8 N x C x H x W each."""

    a: torch.Tensor
    b: torch.Tensor
    names: list[str]
    name: str = "paired"
    origin: str = ""
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.a) != len(self.b) or len(self.a) != len(self.names):
            raise ValueError("PairedData needs as many inputs as targets and names")
        if self.a.shape[2:] != self.b.shape[2:]:
            raise ValueError("PairedData inputs and targets must have the same height and width")

    #: The task (ganforge.tasks) this data trains.
    task = "paired"

    def __len__(self) -> int:
        return len(self.a)

    def to(self, device: torch.device | str) -> PairedData:
        return PairedData(self.a.to(device), self.b.to(device), list(self.names), self.name, self.origin, list(self.notes))

    def describe(self) -> str:
        c, h, w = self.image_shape
        return f"{self.name}: {len(self)} pairs {self.input_shape[0]}x{h}x{w} -> {c}x{h}x{w} from {self.origin}"

    def pairs(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of `indices` in [-1, 1], without jitter."""
        return to_float(self.a.index_select(0, indices)), to_float(self.b.index_select(0, indices))

    def jittered(self, indices: torch.Tensor, seed: int, number: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Training batch `number`: inputs and targets in [-1, 1], jittered by
        draws that depend only on (seed, number), so a resumed run repeats them."""
        a, b = self.pairs(indices)
        generator = torch.Generator().manual_seed(seed * _JITTER_SEED_STRIDE + number)
        both = jitter(torch.cat([a, b], dim=1), generator)
        return both[:, : a.shape[1]], both[:, a.shape[1] :]


def jitter(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """pix2pix's random jitter of N x C x H x W images: resize up by
    JITTER_SCALE (bilinear), crop a random H x W window, flip half of them
    left-right. Draws come from `generator` (on the CPU)."""
    n, _, height, width = images.shape
    big_h, big_w = round(height * JITTER_SCALE), round(width * JITTER_SCALE)
    large = F.interpolate(images, size=(big_h, big_w), mode="bilinear", align_corners=False)
    tops = torch.randint(big_h - height + 1, (n,), generator=generator).tolist()
    lefts = torch.randint(big_w - width + 1, (n,), generator=generator).tolist()
    flips = (torch.rand(n, generator=generator) < 0.5).tolist()
    crops = []
    for i in range(n):
        crop = large[i, :, tops[i] : tops[i] + height, lefts[i] : lefts[i] + width]
        crops.append(crop.flip(-1) if flips[i] else crop)
    return torch.stack(crops)


# -- reading the two layouts ---------------------------------------------------


def resized_to(image: Image.Image, size: int | None) -> np.ndarray:
    if size is not None and image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.uint8)


def read_side_by_side(path: Path, image_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(left half, right half) of a side-by-side pair, each H x W x 3 uint8."""
    image = open_image(path, "RGB")
    width, height = image.size
    if width != 2 * height:
        raise GanforgeError(
            f"{path}: a side-by-side pair must be twice as wide as it is high (A left, B right), but it is {width}x{height}"
        )
    left, right = image.crop((0, 0, height, height)), image.crop((height, 0, width, height))
    return resized_to(left, image_size), resized_to(right, image_size)


def read_folder_pair(a_path: Path, b_path: Path, image_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    a, b = open_image(a_path, "RGB"), open_image(b_path, "RGB")
    if image_size is None and a.size != b.size:
        raise GanforgeError(f"{a_path} is {a.size[0]}x{a.size[1]} but {b_path} is {b.size[0]}x{b.size[1]}: a pair's images must have one size (or give --image-size N)")
    return resized_to(a, image_size), resized_to(b, image_size)


def _split_folder(root: Path, split: str | None) -> Path:
    """The folder of `split` (default: train when present, else the root)."""
    if split is None:
        return root / "train" if (root / "train").is_dir() else root
    folder = root / split
    if not folder.is_dir():
        present = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise GanforgeError(f"--split {split}: no folder {folder} (folders there: {', '.join(present) or 'none'})")
    return folder


def _image_names(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS}


def read_pairs(root: Path, split: str | None = None, image_size: int | None = None) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """(A images, B images, file names, layout) of a paired data folder."""
    if not root.is_dir():
        raise GanforgeError(f"--data-root {root}: no such folder (a paired data set: train/ and test/ of side-by-side images, or A/ and B/ folders)")
    folder = _split_folder(root, split)
    if (folder / "A").is_dir() and (folder / "B").is_dir():
        a_files, b_files = _image_names(folder / "A"), _image_names(folder / "B")
        only_a, only_b = sorted(set(a_files) - set(b_files)), sorted(set(b_files) - set(a_files))
        if only_a or only_b:
            unmatched = [f"A/{n}" for n in only_a[:3]] + [f"B/{n}" for n in only_b[:3]]
            raise GanforgeError(f"{folder}: {len(only_a) + len(only_b)} file(s) without a partner of the same name, e.g. {', '.join(unmatched)}")
        names = sorted(a_files)
        decoded = [read_folder_pair(a_files[n], b_files[n], image_size) for n in names]
        layout = "A/ and B/ folders"
    else:
        files = list_image_files(folder)
        names = [str(p.relative_to(folder)) for p in files]
        decoded = [read_side_by_side(p, image_size) for p in files]
        layout = "side-by-side pairs"
    if not decoded:
        raise GanforgeError(f"{folder} holds no image pairs (expected side-by-side images, or A/ and B/ folders with files of the same names)")
    shapes = {a.shape for a, _ in decoded}
    if len(shapes) > 1:
        first = decoded[0][0].shape
        odd = next(names[i] for i, (a, _) in enumerate(decoded) if a.shape != first)
        raise GanforgeError(f"{folder}: pairs of different sizes ({odd} differs from {names[0]}); give --image-size N to resize them all")
    return np.stack([a for a, _ in decoded]), np.stack([b for _, b in decoded]), names, layout


def as_tensor(images: np.ndarray) -> torch.Tensor:
    """N x H x W x C uint8 arrays as an N x C x H x W tensor."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()


@register_data_source("paired", "aligned image pairs for translation (pix2pix): side-by-side A|B images or A/ and B/ folders; --direction AtoB|BtoA")
def load_paired(*, root: str | None = None, split: str | None = None, image_size: int | None = None, direction: str = "AtoB") -> PairedData:
    if root is None:
        raise GanforgeError("--data paired needs --data-root DIR: a folder of side-by-side pairs (train/, test/) or of A/ and B/ folders")
    if direction not in DIRECTIONS:
        raise GanforgeError(f"--direction must be AtoB or BtoA, got '{direction}'")
    if image_size is not None and image_size < 1:
        raise GanforgeError(f"--image-size must be positive, got {image_size}")
    path = Path(root).expanduser()
    a, b, names, layout = read_pairs(path, split, image_size)
    inputs, targets = (a, b) if direction == "AtoB" else (b, a)
    where = path / split if split else path
    return PairedData(as_tensor(inputs), as_tensor(targets), names, name="paired", origin=f"{where} ({layout}, {direction})")
