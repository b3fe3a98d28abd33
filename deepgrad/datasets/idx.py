"""The IDX format of MNIST and Fashion-MNIST, gzipped or not.

Header (big-endian): two zero bytes, a type code (0x08 = uint8 ...), the number of
dimensions ``d``, then ``d`` uint32 sizes; the values follow, row-major. The header is
checked against the file's length, so a truncated or corrupt file is reported by name
instead of being read as garbage.
"""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from .sources import DatasetFormatError

_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_bytes(path: str) -> bytes:
    """The file's bytes, gunzipped if it starts with the gzip magic number."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DatasetFormatError(f"{path}: corrupt or truncated gzip data ({e})") from e
    return raw


def read_idx(path: str) -> np.ndarray:
    """An IDX file as a native-byte-order array of the shape its header gives."""
    raw = read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise DatasetFormatError(f"{path}: not an IDX file (first bytes {raw[:4].hex() or 'none'}, "
                                 f"expected 0000 then a type code and a rank)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetFormatError(f"{path}: truncated IDX header ({len(raw)} bytes, rank {ndim})")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_TYPES[raw[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DatasetFormatError(f"{path}: truncated or corrupt IDX file: its header says shape {shape} "
                                 f"({expected} bytes of data), the file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load_idx_split(train_images: str, train_labels: str, test_images: str, test_labels: str,
                   image_shape=(28, 28)):
    """``(x_train, y_train), (x_test, y_test)`` from four IDX files, checking that they agree."""
    out = []
    for images_path, labels_path in ((train_images, train_labels), (test_images, test_labels)):
        x, y = read_idx(images_path), read_idx(labels_path)
        if x.ndim != 3 or x.shape[1:] != tuple(image_shape) or x.dtype != np.uint8:
            raise DatasetFormatError(f"{images_path}: expected uint8 images of shape (n, "
                                     f"{image_shape[0]}, {image_shape[1]}), got {x.dtype} {x.shape}")
        if y.ndim != 1 or y.dtype != np.uint8:
            raise DatasetFormatError(f"{labels_path}: expected uint8 labels of shape (n,), got {y.dtype} {y.shape}")
        if len(x) != len(y):
            raise DatasetFormatError(f"{os.path.basename(images_path)} has {len(x)} images but "
                                     f"{os.path.basename(labels_path)} has {len(y)} labels")
        out.append((x, y))
    return tuple(out)


def write_idx(path: str, array: np.ndarray) -> None:
    """Write ``array`` (uint8/int8/int16/int32/float32/float64) as IDX; gzipped if ``path`` ends in .gz."""
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _TYPES.items()}
    code = codes.get(array.dtype)
    if code is None:
        raise ValueError(f"write_idx: dtype {array.dtype} has no IDX type code")
    body = (bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
            + array.astype(np.dtype(_TYPES[code])).tobytes())
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(body)
