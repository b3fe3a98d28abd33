"""Atomic file writes: a crash mid-save never leaves a half-written file over a good one.

The bytes go to a temporary file in the destination's directory, are flushed and fsync'ed,
then ``os.replace`` swaps it in (atomic on POSIX and Windows within one file system).
The temporary file is named ``.NAME.PID.tmp``: a writer killed mid-save leaves one behind,
which the next save of NAME removes once process PID is gone, so leftovers never pile up.
The new file gets the mode a plain ``open(path, "w")`` would give (0666 less the umask).
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
    name = os.path.basename(filepath)
    fd, tmp = _create_temporary(directory, name)
    try:
        _set_default_mode(fd, tmp)
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
    _remove_leftovers(directory, name)


def _create_temporary(directory: str, name: str) -> tuple[int, str]:
    """``.NAME.PID.tmp``, created exclusively; when this process already writes it (another
    thread), a unique ``.NAME.PID.xxxxxxxx.tmp`` instead."""
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    try:
        return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600), tmp
    except FileExistsError:
        return tempfile.mkstemp(dir=directory, prefix=f".{name}.{os.getpid()}.", suffix=".tmp")


def _current_umask() -> int:
    with contextlib.suppress(OSError, ValueError):  # Linux says it without changing it
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def _set_default_mode(fd: int, tmp: str) -> None:
    """The temporary file is created 0600; give it 0666 & ~umask, as open() gives a new file."""
    mode = 0o666 & ~_current_umask()
    if hasattr(os, "fchmod"):
        os.fchmod(fd, mode)
    else:  # Windows: only the read-only bit exists
        os.chmod(tmp, mode)


def _remove_leftovers(directory: str, name: str) -> None:
    """Remove ``.NAME.PID*.tmp`` files of writers that were killed: their process is gone."""
    if os.name != "posix":  # os.kill(pid, 0) probes a process only on POSIX
        return
    prefix = f".{name}."
    with contextlib.suppress(OSError):
        for entry in os.listdir(directory):
            if not (entry.startswith(prefix) and entry.endswith(".tmp")):
                continue
            pid = entry[len(prefix):-len(".tmp")].split(".")[0]
            if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
                continue
            with contextlib.suppress(OSError):
                os.remove(os.path.join(directory, entry))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by someone else
        return True
    return True


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
