"""`unpaired`: two image domains A and B without pairs (CycleGAN).

Layouts of `--data-root DIR`, in the order they are looked for:
- `trainA/ trainB/ testA/ testB/` (the CycleGAN data sets): `--split` picks
  the prefix (default `train`);
- `A/ B/`: one folder per domain;
- a paired data set (side-by-side A|B images, or A/ and B/ of the same
  names, as `--data paired` reads): the pairing is thrown away, A coming
  from the first half of the files (sorted by name) and B from the second
  half, so no image's partner is ever seen. The held-out pairs of its test
  split then score the translation (`ganforge eval`).

Each domain is decoded once as uint8; batches jitter each domain on its own
(CycleGAN's resize to 286/256 of the size, random crop and flip).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ganforge.data.base import InputsAndTargets, to_float
from ganforge.data.folder import list_image_files, open_image
from ganforge.data.paired import as_tensor, resized_to, jitter, read_pairs
from ganforge.data.registry import register_data_source
from ganforge.errors import GanforgeError

DOMAINS = ("a", "b")
#: Keeps the two domains' jitter streams apart from each other and from the other streams of the seed.
_JITTER_SEED_STRIDE = 1_000_037


@dataclass
class UnpairedData(InputsAndTargets):
    """Images of domain A and of domain B, uint8 N x C x H x W each (N may
    differ): image_shape is B's (what G_ab makes), input_shape A's."""

    a: torch.Tensor
    b: torch.Tensor
    name: str = "unpaired"
    origin: str = ""
    notes: list[str] = field(default_factory=list)

    #: The task (ganforge.tasks) this data trains.
    task = "unpaired"

    def __post_init__(self) -> None:
        if self.a.shape[2:] != self.b.shape[2:]:
            raise ValueError("UnpairedData domains must have one image height and width")

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def domain(self, name: str) -> torch.Tensor:
        return self.a if name == "a" else self.b

    def to(self, device: torch.device | str) -> UnpairedData:
        return UnpairedData(self.a.to(device), self.b.to(device), self.name, self.origin, list(self.notes))

    def describe(self) -> str:
        c, h, w = self.image_shape
        return f"{self.name}: {len(self.a)} A images {self.input_shape[0]}x{h}x{w} and {len(self.b)} B images {c}x{h}x{w} from {self.origin}"

    def jittered(self, name: str, indices: torch.Tensor, seed: int, number: int) -> torch.Tensor:
        """Images `indices` of domain `name` for training batch `number`, in
        [-1, 1], jittered by draws that depend only on (seed, domain, number)."""
        images = to_float(self.domain(name).index_select(0, indices))
        stream = (seed * _JITTER_SEED_STRIDE + number) * len(DOMAINS) + DOMAINS.index(name)
        return jitter(images, torch.Generator().manual_seed(stream))


def read_domain(folder: Path, image_size: int | None) -> tuple[np.ndarray, list[str]]:
    """Every image of `folder` (recursively) as N x H x W x 3 uint8, and their names."""
    files = list_image_files(folder)
    if not files:
        raise GanforgeError(f"{folder} holds no images: each domain of unpaired data needs at least one")
    images = [resized_to(open_image(path, "RGB"), image_size) for path in files]
    shapes = {image.shape for image in images}
    if len(shapes) > 1:
        odd = next(files[i] for i, image in enumerate(images) if image.shape != images[0].shape)
        raise GanforgeError(f"{folder}: images of different sizes ({odd.name} differs from {files[0].name}); give --image-size N to resize them all")
    return np.stack(images), [str(p.relative_to(folder)) for p in files]


def domain_folders(root: Path, split: str | None) -> tuple[Path, Path] | None:
    """(A folder, B folder) of the trainA/trainB or A/B layouts, or None."""
    prefix = split or "train"
    if (root / f"{prefix}A").is_dir() or (root / f"{prefix}B").is_dir():
        return root / f"{prefix}A", root / f"{prefix}B"
    if split is None and (root / "A").is_dir() and (root / "B").is_dir() and not _same_names(root / "A", root / "B"):
        return root / "A", root / "B"
    return None


def _same_names(a: Path, b: Path) -> bool:
    """Whether A/ and B/ hold files of the same names (a paired set, to be unpaired by halves)."""
    names_a = {p.relative_to(a) for p in list_image_files(a)}
    return bool(names_a) and names_a == {p.relative_to(b) for p in list_image_files(b)}


def unpair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A from the first half of the pairs, B from the second: no pair survives."""
    if len(a) < 2:
        raise GanforgeError("unpairing a paired data set needs at least 2 pairs (A from the first half, B from the second)")
    half = len(a) // 2
    return a[:half], b[half:]


@register_data_source("unpaired", "two image domains without pairs (CycleGAN): trainA/ trainB/ (testA/ testB/), A/ B/, or a paired set unpaired by halves")
def load_unpaired(*, root: str | None = None, split: str | None = None, image_size: int | None = None, direction: str = "AtoB") -> UnpairedData:
    if root is None:
        raise GanforgeError("--data unpaired needs --data-root DIR: a folder with trainA/ and trainB/ (or A/ and B/), or a paired data set")
    if direction != "AtoB":
        raise GanforgeError("--direction does not apply to unpaired data: CycleGAN learns both directions; choose one when translating (ganforge translate RUN --direction BtoA)")
    if image_size is not None and image_size < 1:
        raise GanforgeError(f"--image-size must be positive, got {image_size}")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise GanforgeError(f"--data-root {path}: no such folder (unpaired data: trainA/ and trainB/, A/ and B/, or a paired data set)")
    folders = domain_folders(path, split)
    if folders is not None:
        for folder in folders:
            if not folder.is_dir():
                raise GanforgeError(f"{folder}: no such folder; unpaired data needs both domains ({folders[0].name}/ and {folders[1].name}/)")
        (a, _), (b, _) = read_domain(folders[0], image_size), read_domain(folders[1], image_size)
        origin = f"{folders[0]} and {folders[1]}"
    else:
        pairs_a, pairs_b, _, layout = read_pairs(path, split, image_size)
        a, b = unpair(pairs_a, pairs_b)
        origin = f"{path / split if split else path} ({layout}, unpaired: A from the first {len(a)}, B from the last {len(b)})"
    if a.shape[1:3] != b.shape[1:3]:
        raise GanforgeError(f"domain A images are {a.shape[2]}x{a.shape[1]} but domain B images are {b.shape[2]}x{b.shape[1]}; give --image-size N")
    return UnpairedData(as_tensor(a), as_tensor(b), name="unpaired", origin=origin)
