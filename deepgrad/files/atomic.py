"""Atomic file writes: a crash mid-save never leaves a half-written file over a good one.

The bytes go to a temporary file in the destination's directory, are flushed and fsync'ed,
then ``os.replace`` swaps it in (atomic on POSIX and Windows within one file system).
"""
from __future__ import annotations

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(filepath, mode: str = "wb", overwrite: bool = True):
    """``with atomic_write(path) as f: f.write(...)``; on any error the temp file is removed
    and whatever was at ``path`` before is left untouched."""
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} already exists and overwrite=False")
    directory = os.path.dirname(os.path.abspath(filepath))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(filepath)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes_atomic(filepath, data: bytes, overwrite: bool = True) -> None:
    with atomic_write(filepath, "wb", overwrite=overwrite) as f:
        f.write(data)
