"""Arrays on disk in the safetensors format, through the ``safetensors`` package's NumPy API.

Layout: an 8-byte little-endian header length, a JSON header naming each array's dtype,
shape and byte range (plus ``__metadata__``, a map of strings), then the raw bytes. No code
is ever run on reading. The package checks every header entry against the bytes present
before it makes an array, so a header claiming 10^12 elements is refused, not allocated;
its errors become ``UnsafeFileError`` naming the file.
"""
from __future__ import annotations

import json
import struct

import numpy as np

from .atomic import write_bytes_atomic


class UnsafeFileError(ValueError):
    """A file that is corrupt, truncated or built to attack the reader; nothing in it was run."""


def _package():
    try:
        import safetensors
        import safetensors.numpy
    except ImportError as e:
        raise ImportError("reading and writing deepgrad model and weight files needs the safetensors "
                          "package: pip install safetensors (or deepgrad[io])") from e
    return safetensors


def dumps(arrays: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    safetensors = _package()
    contiguous = {}
    for name, array in arrays.items():
        array = np.require(array, requirements="C")  # keeps 0-d arrays 0-d
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        if array.dtype.kind not in "fiub":
            raise TypeError(f"Cannot store {name!r}: dtype {array.dtype} has no safetensors equivalent")
        contiguous[name] = array
    meta = {str(k): str(v) for k, v in metadata.items()} if metadata else None
    return safetensors.numpy.save(contiguous, metadata=meta)


def loads(buffer: bytes, source: str = "data"):
    """``(arrays, metadata)`` from safetensors bytes, every entry checked before it is read."""
    safetensors = _package()
    buffer = bytes(buffer)
    try:
        arrays = safetensors.numpy.load(buffer)
    except safetensors.SafetensorError as e:
        raise UnsafeFileError(f"{source} is not a valid safetensors file (corrupt, truncated or forged): "
                              f"{e}") from None
    # The header was validated above; read only its string metadata.
    (length,) = struct.unpack("<Q", buffer[:8])
    metadata = json.loads(buffer[8:8 + length]).get("__metadata__") or {}
    return {name: np.array(a, copy=True) for name, a in arrays.items()}, metadata


def save_file(arrays: dict, filepath, metadata=None, overwrite: bool = True) -> None:
    write_bytes_atomic(filepath, dumps(arrays, metadata), overwrite=overwrite)


def load_file(filepath):
    with open(filepath, "rb") as f:
        return loads(f.read(), source=str(filepath))
