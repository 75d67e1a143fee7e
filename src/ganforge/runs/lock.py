"""The run lock: one trainer per run folder at a time.

A trainer holds an exclusive `flock` on RUN/.lock for as long as it trains.
The operating system drops the lock when the process ends, however it ends
(kill -9 included), so a lock never outlives its trainer and there is no stale
lock to clean up. The file holds the holder's pid and host, for the message a
second trainer gets. Sampling and evaluation only read and take no lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from pathlib import Path
from types import TracebackType

from ganforge.errors import GanforgeError
from ganforge.io import writing
from ganforge.runs.folder import LOCK_FILE


class RunBusy(GanforgeError):
    """Another process is training this run."""


class RunLock:
    """`with RunLock(run_dir):` holds run `run_dir` for one trainer, or
    raises RunBusy naming the process that holds it."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self.fd: int | None = None
        self.created = False  # whether this lock made the run folder

    def __enter__(self) -> RunLock:
        self.created = not self.run_dir.exists()
        with writing(self.path):
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunBusy(f"run {self.run_dir} is being trained by {holder}; wait for it to finish, or stop it first") from None
        # The holder's name, for the message above (written after the lock is ours).
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None) -> None:
        if self.fd is None:
            return
        if self.created:
            # A run refused before it wrote anything (bad data, a bad option)
            # leaves no folder behind, so the same name starts afresh. (The
            # folder may be gone already: removed while training.)
            with contextlib.suppress(OSError):
                if os.listdir(self.run_dir) == [LOCK_FILE]:
                    self.path.unlink()
                    self.run_dir.rmdir()
        os.close(self.fd)  # closing the descriptor releases the lock
        self.fd = None

