"""Writing files so that an interruption never leaves a torn one behind, and locking a folder
that one process at a time may write."""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Optional, Union

from .errors import BusyError, DataError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks of this kind
    fcntl = None

PathLike = Union[str, "os.PathLike[str]"]


@contextmanager
def atomic_write(path: PathLike, mode: str = "w", *, durable: bool = True,
                 **open_args) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on success rename it over ``path``.

    A crash, a kill or an exception inside the block leaves ``path`` as it was (old content
    or absent) and removes the temporary file. The rename is atomic on POSIX and Windows
    because both files live in the same folder. Parent folders are created.
    ``durable=False`` skips the fsync before the rename: for the many files of an archive
    extraction, whose caller syncs once before it writes its completion marker.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give the name of a file to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, mode, **open_args) as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_torch_save(obj, path: PathLike) -> None:
    """``torch.save`` that a kill never leaves half-written (see `atomic_write`)."""
    import torch  # here, so the rest of this module stays importable without torch

    with atomic_write(path, "wb") as fh:
        torch.save(obj, fh)


class FolderLock:
    """An exclusive lock on a folder (``FOLDER/.lock``) for as long as this process holds it.

    ``fcntl.flock`` on the lock file: the operating system drops the lock when the process
    ends, however it ends, so the lock of a killed process is taken over at once and never
    needs cleaning up. The file records who holds it (pid, host, start time, command), which
    the error for a second process quotes. Where ``fcntl`` does not exist (Windows) nothing
    is locked. Usable as a context manager.
    """

    NAME = ".lock"

    def __init__(self, folder: PathLike, what: str = "folder", hint: str = ""):
        self.folder, self.what, self.hint = Path(folder), what, hint
        self._fd: Optional[int] = None

    @property
    def path(self) -> Path:
        return self.folder / self.NAME

    def acquire(self) -> "FolderLock":
        if fcntl is None or self._fd is not None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise BusyError(f"{self.folder}: this {self.what} is in use by {holder}; "
                            f"{self.hint or 'wait for it to finish'}") from None
        except OSError:  # a file system without locks (some network mounts): go on unlocked
            os.close(fd)
            return self
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                                 "command": " ".join(sys.argv)[:300]}).encode() + b"\n")
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _holder(fd: int) -> str:
    """Who holds a lock file, from what it records."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError, UnicodeDecodeError):
        info = {}
    if not info.get("pid"):
        return "another process"
    return (f"process {info['pid']} on {info.get('host', '?')} since {info.get('since', '?')} "
            f"({info.get('command', '?')})")


__all__ = ["FolderLock", "atomic_torch_save", "atomic_write"]
