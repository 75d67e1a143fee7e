"""Atomic file writes: a crash mid-write never leaves a half-written file."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from safetensors import SafetensorError

from ganforge.errors import GanforgeError


class WriteError(GanforgeError):
    """A file of a run could not be written (disk full, read-only storage, a
    folder removed underneath): names the path and the cause."""

    def __init__(self, path: str | os.PathLike[str], cause: BaseException | str, newest: str = "") -> None:
        self.path = Path(path)
        self.cause = cause if isinstance(cause, str) else describe_write_failure(cause)
        super().__init__(f"cannot write {self.path}: {self.cause}" + (f"; {newest}" if newest else ""))


def describe_write_failure(error: BaseException) -> str:
    """The cause of a failed write in a few words (an OSError's strerror, or
    safetensors' message, which carries the OS's in its text)."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return " ".join(str(error).split()) or type(error).__name__


@contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn a failed write under `path` into a WriteError that names it."""
    try:
        yield
    except WriteError:
        raise
    except (OSError, SafetensorError) as error:
        raise WriteError(getattr(error, "filename", None) or path, error) from None


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _as_umask_allows(path: Path, mode: int) -> None:
    """mkstemp and mkdtemp create files 0600 and folders 0700 whatever the
    umask; give the final file the mode a plain open() would have, so that
    colleagues can read a shared runs folder when the umask lets them."""
    os.chmod(path, mode & ~_current_umask())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some platforms cannot open directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success, move it into place.

    On any error the temporary file is removed and `path` is left untouched.
    Writers must name their format explicitly: the temporary name ends in .tmp.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _as_umask_allows(tmp, 0o666)
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory; on success rename it to `path` (which must not exist).
    Files in sub-folders are flushed to disk too, before the rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        _as_umask_allows(tmp, 0o777)
        yield tmp
        for child in sorted(tmp.rglob("*")):
            if child.is_file():
                _as_umask_allows(child, 0o666)  # writers such as safetensors create files 0600
                with open(child, "rb+") as f:
                    os.fsync(f.fileno())
            elif child.is_dir():
                _as_umask_allows(child, 0o777)
                _fsync_dir(child)
        os.rename(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    with writing(path), atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
