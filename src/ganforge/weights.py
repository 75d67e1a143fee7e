"""Pretrained weight files ganforge cannot make itself (FID Inception, VGG19).

Where a file comes from, in order: the path the user gave, an environment
variable, torch's hub cache (shared with torchvision and pytorch-fid), then a
download whose SHA-256 prefix (in the file name, torchvision's convention)
torch's downloader checks. Offline, the error says which file to put where.
Files are read with `torch.load(weights_only=True)` (never a full unpickle)
or as safetensors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ganforge.errors import GanforgeError, one_line


@dataclass(frozen=True)
class PretrainedFile:
    """One published weights file: what it is, where it lives on the web,
    the option and environment variable that name a local copy, and what to
    do instead (for the offline message)."""

    what: str  # e.g. "the FID Inception weights"
    url: str
    option: str  # e.g. "--inception-weights"
    usage: str  # how to give a file, e.g. "--inception-weights FILE"
    env: str
    instead: str  # e.g. "or use --extractor classifier"

    @property
    def cache_path(self) -> Path:
        """Where a downloaded copy lives: torch's hub cache."""
        return Path(torch.hub.get_dir()) / "checkpoints" / self.url.rsplit("/", 1)[-1]

    def available(self, path: str | os.PathLike[str] | None) -> bool:
        """Whether the file can be had without a download."""
        return bool(path or os.environ.get(self.env) or self.cache_path.is_file())

    def resolve(self, path: str | os.PathLike[str] | None) -> Path:
        """The weights file: `path`, else $env, else the cached download, else
        download it (needs internet)."""
        if path is None:
            path = os.environ.get(self.env) or None
        if path is not None:
            file = Path(path).expanduser()
            if not file.is_file():
                raise GanforgeError(f"{self.option} {file}: no such file")
            return file
        cached = self.cache_path
        return cached if cached.is_file() else self._download(cached)

    def _download(self, target: Path) -> Path:
        # The file name carries the first digits of the file's SHA-256, which
        # torch's downloader checks before moving the file into place.
        hash_prefix = target.stem.rsplit("-", 1)[-1]
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(self.url, str(target), hash_prefix=hash_prefix, progress=True)
        except Exception as error:  # no network, proxy, checksum mismatch: all end here
            raise GanforgeError(
                f"cannot get {self.what} from {self.url} ({one_line(error)}); download that file elsewhere and "
                f"put it at {target}, or pass it with {self.usage} (or set {self.env}), {self.instead}"
            ) from None
        return target


def load_tensors(path: Path, option: str) -> dict[str, torch.Tensor]:
    """A state dict of tensors from a PyTorch weights file (weights only) or a
    .safetensors file; anything else is an error naming `option` and the file."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise GanforgeError(f"{option} {path} is not a readable PyTorch weights file ({one_line(error)})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GanforgeError(f"{option} {path} does not hold a state dict of tensors")
    return state
