"""The CIFAR-10/100 file formats: python batches (pickled dicts) and binary batches.

Python batches are pickles, and unpickling can run arbitrary code. They are read through
``RestrictedUnpickler``, which admits only what a CIFAR batch is made of (dicts, lists,
strings, bytes, numbers, and NumPy arrays rebuilt by NumPy's own reconstructors) and
refuses every other global, so a hostile file fails before anything runs.

Archives are read member by member in memory, never extracted, and a member with an
absolute path or ``..`` makes the whole archive refused.
"""
from __future__ import annotations

import gzip
import io
import os
import pickle
import posixpath
import tarfile
import zlib

import numpy as np

from .sources import DatasetFormatError

IMAGE_BYTES = 32 * 32 * 3


def _latin1_encode(text, encoding="latin1", errors="strict"):
    """What pickle protocols 0-2 use to store ``bytes``: ``_codecs.encode(str, "latin1")``."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1", errors)


def _numpy_reconstructors() -> dict:
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # NumPy < 2
        from numpy.core import multiarray, numeric
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
               ("_codecs", "encode"): _latin1_encode}
    for package in ("numpy.core", "numpy._core"):
        allowed[(package + ".multiarray", "_reconstruct")] = multiarray._reconstruct
        if hasattr(numeric, "_frombuffer"):  # pickle protocol 5 stores arrays through it
            allowed[(package + ".numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles plain data and NumPy arrays only; any other global is refused."""

    ALLOWED = _numpy_reconstructors()

    def __init__(self, file, source: str = "<bytes>"):
        super().__init__(file, encoding="bytes")  # CIFAR's pickles come from Python 2
        self.source = source

    def find_class(self, module: str, name: str):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"{self.source}: refusing to load {module}.{name}: a CIFAR batch holds only "
                f"arrays, lists, strings and numbers, so this file is corrupt or hostile") from None


def load_pickled_batch(data: bytes, source: str) -> dict:
    """One python batch as a dict with ``str`` keys."""
    try:
        obj = RestrictedUnpickler(io.BytesIO(data), source).load()
    except pickle.UnpicklingError as e:
        if str(e).startswith(source + ": refusing"):  # raised by find_class: already says what and where
            raise DatasetFormatError(str(e)) from e
        raise DatasetFormatError(f"{source}: corrupt or truncated batch ({e})") from e
    except Exception as e:  # truncated or garbled pickles raise many kinds of error
        raise DatasetFormatError(f"{source}: corrupt or truncated batch ({type(e).__name__}: {e})") from e
    if not isinstance(obj, dict):
        raise DatasetFormatError(f"{source}: expected a dict, found {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def batch_arrays(batch: dict, label_key: str, source: str):
    """``(x, y)``: images ``(n, 32, 32, 3)`` uint8 (stored as n rows of R, G, B planes) and labels ``(n,)``."""
    if "data" not in batch or label_key not in batch:
        raise DatasetFormatError(f"{source}: batch lacks 'data' or {label_key!r} (keys: {sorted(batch)})")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != IMAGE_BYTES:
        raise DatasetFormatError(f"{source}: 'data' must be a uint8 array of shape (n, {IMAGE_BYTES}), got "
                                 f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}")
    labels = np.asarray(batch[label_key])
    if (labels.shape != (len(data),) or labels.dtype.kind not in "iu"
            or (labels.size and (labels.min() < 0 or labels.max() > 255))):
        raise DatasetFormatError(f"{source}: {label_key!r} must be {len(data)} integer labels in 0..255, "
                                 f"got {labels.dtype} {labels.shape}")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.uint8)


def binary_batch_arrays(data: bytes, source: str, label_bytes: int = 1, label_index: int = 0):
    """A binary batch: records of ``label_bytes`` label bytes then 3072 pixel bytes (R, G, B planes)."""
    record = label_bytes + IMAGE_BYTES
    if len(data) == 0 or len(data) % record:
        raise DatasetFormatError(f"{source}: truncated or corrupt binary batch: {len(data)} bytes is not a "
                                 f"whole number of {record}-byte records")
    rows = np.frombuffer(data, np.uint8).reshape(-1, record)
    x = rows[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(x), rows[:, label_index].copy()


def _safe_member_name(archive: str, name: str) -> str:
    norm = posixpath.normpath(name.replace("\\", "/"))
    if norm.startswith("/") or norm == ".." or norm.startswith("../") or os.path.isabs(name):
        raise DatasetFormatError(f"{archive}: refusing archive member {name!r}: absolute paths and '..' "
                                 f"are not allowed in a dataset archive")
    return norm


def read_members(path: str, names) -> dict:
    """``{name: bytes}`` for the regular files called ``names`` (any folder) in a tar archive or a folder."""
    wanted, found = set(names), {}
    if os.path.isdir(path):
        for name in wanted:
            member = os.path.join(path, name)
            if os.path.isfile(member):
                with open(member, "rb") as f:
                    found[name] = f.read()
    else:
        try:
            with tarfile.open(path, "r:*") as tar:
                for member in tar:
                    base = posixpath.basename(_safe_member_name(path, member.name))
                    if member.isfile() and base in wanted and base not in found:
                        found[base] = tar.extractfile(member).read()
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
            raise DatasetFormatError(f"{path}: corrupt or truncated archive ({type(e).__name__}: {e})") from e
    missing = sorted(wanted - found.keys())
    if missing:
        raise DatasetFormatError(f"{path}: incomplete dataset, missing {', '.join(missing)}")
    return found


def _source(path: str, name: str) -> str:
    """How error messages name a batch: a file in a folder, or ``archive:member``."""
    return os.path.join(path, name) if os.path.isdir(path) else f"{path}:{name}"


def load_python_batches(path: str, names, label_key: str = "labels"):
    """Concatenated ``(x, y)`` of python batches ``names`` from a folder or tar archive at ``path``."""
    members = read_members(path, names)
    parts = [batch_arrays(load_pickled_batch(members[n], _source(path, n)), label_key, _source(path, n))
             for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def load_binary_batches(path: str, names, label_bytes: int = 1, label_index: int = 0):
    """Concatenated ``(x, y)`` of binary batches ``names`` from a folder or tar archive at ``path``."""
    members = read_members(path, names)
    parts = [binary_batch_arrays(members[n], _source(path, n), label_bytes, label_index) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
