"""The safetensors format, read and written without pickle or any third-party package.

Layout: an 8-byte little-endian header length N, N bytes of JSON
``{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {str: str}}``
(padded with spaces to a multiple of 8), then the raw little-endian tensor bytes. Files
written here open with the ``safetensors`` package and vice versa.

Reading checks the whole header against the actual byte count before any array is made,
so a header that claims 10^12 elements is refused instead of allocated.
"""
from __future__ import annotations

import json
import math
import struct

import numpy as np

MAX_HEADER_BYTES = 100 * 1024 * 1024

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}
_CODES = {np.dtype(v): k for k, v in DTYPES.items()}


class UnsafeFileError(ValueError):
    """A file that is corrupt, truncated or built to attack the reader; nothing in it was run."""


def dumps(arrays: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    header, chunks, offset = {}, [], 0
    for name, array in arrays.items():
        array = np.asarray(array)  # (not ascontiguousarray: it turns 0-d arrays into 1-d)
        code = _CODES.get(array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype)
        if code is None:
            raise TypeError(f"Cannot store {name!r}: dtype {array.dtype} has no safetensors equivalent")
        data = array.astype(DTYPES[code], copy=False).tobytes(order="C")
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks)


def _refuse(source: str, problem: str):
    raise UnsafeFileError(f"{source} is not a valid safetensors file: {problem}")


def _parse_header(buffer: bytes, source: str):
    if len(buffer) < 8:
        _refuse(source, f"it is {len(buffer)} bytes long, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", buffer[:8])
    if n > MAX_HEADER_BYTES or 8 + n > len(buffer):
        _refuse(source, f"the header claims {n} bytes but the file has {len(buffer) - 8} after the length "
                        "(truncated or forged)")
    try:
        header = json.loads(buffer[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        _refuse(source, f"the header is not JSON ({e})")
    if not isinstance(header, dict):
        _refuse(source, "the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        _refuse(source, "__metadata__ must map strings to strings")
    return header, metadata, 8 + n


def loads(buffer: bytes, source: str = "data"):
    """``(arrays, metadata)`` from safetensors bytes, every entry checked before it is read."""
    header, metadata, start = _parse_header(buffer, source)
    data_size = len(buffer) - start
    arrays = {}
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            _refuse(source, f"entry {name!r} must have exactly dtype, shape and data_offsets")
        code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if code not in DTYPES:
            _refuse(source, f"entry {name!r} has unsupported dtype {code!r}")
        if (not isinstance(shape, list) or len(shape) > 32
                or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)):
            _refuse(source, f"entry {name!r} has an invalid shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            _refuse(source, f"entry {name!r} has invalid data_offsets {offsets!r}")
        begin, end = offsets
        dtype = np.dtype(DTYPES[code])
        nbytes = math.prod(shape) * dtype.itemsize  # exact Python integers: no overflow
        if not 0 <= begin <= end <= data_size:
            _refuse(source, f"entry {name!r} points at bytes [{begin}, {end}) outside the {data_size} data bytes")
        if end - begin != nbytes:
            _refuse(source, f"entry {name!r} claims shape {shape} ({nbytes} bytes of {code}) but spans "
                            f"{end - begin} bytes")
        array = np.frombuffer(buffer, dtype=dtype, count=math.prod(shape), offset=start + begin)
        arrays[name] = array.reshape(shape).astype(dtype.newbyteorder("="), copy=True)
    return arrays, metadata


def save_file(arrays: dict, filepath, metadata=None, overwrite: bool = True) -> None:
    from .atomic import write_bytes_atomic

    write_bytes_atomic(filepath, dumps(arrays, metadata), overwrite=overwrite)


def load_file(filepath):
    with open(filepath, "rb") as f:
        return loads(f.read(), source=str(filepath))
