"""Writing files so that an interruption never leaves a torn one behind."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Union

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


__all__ = ["atomic_torch_save", "atomic_write"]
