"""TFRecord files (``tf.io.TFRecordWriter``, and the reading ``tf.data.TFRecordDataset`` does) and the parsing of their
``tf.train.Example`` records (``tf.io.parse_single_example``, ``tf.io.parse_example`` with
``FixedLenFeature`` and ``VarLenFeature``), in TensorFlow's own formats, so files go both ways.

A TFRecord file is a run of records, each::

    uint64 length | uint32 masked_crc32c(length) | data[length] | uint32 masked_crc32c(data)

little-endian, with CRC-32C (Castagnoli) masked as ``((crc >> 15 | crc << 17) + 0xa282ead8) mod 2^32``.
The whole file may be GZIP or ZLIB compressed (``compression_type``).
"""
from __future__ import annotations

import glob as _glob
import gzip
import os
import shutil
import struct
import tempfile
import zlib
from types import SimpleNamespace

import numpy as np

from ..autograd import Tensor
from .tf_example import Example
from .tf_sparse import SparseTensor


# ----------------------------------------------------------------- CRC-32C
def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1   # the reflected Castagnoli polynomial
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


# ----------------------------------------------------------------- writing
_COMPRESSIONS = ("", "GZIP", "ZLIB")


class TFRecordOptions:
    """How a TFRecord file is compressed: ``compression_type`` None/"" (none), "GZIP" or "ZLIB";
    ``compression_level`` 0-9 (zlib's default when None). TF's buffer and flush settings are kept
    as given; they change nothing in the file."""

    def __init__(self, compression_type=None, flush_mode=None, input_buffer_size=None, output_buffer_size=None,
                 window_bits=None, compression_level=None, compression_method=None, mem_level=None,
                 compression_strategy=None):
        self.compression_type = compression_kind(compression_type, "TFRecordOptions")
        self.compression_level = compression_level
        self.flush_mode, self.input_buffer_size, self.output_buffer_size = flush_mode, input_buffer_size, output_buffer_size
        self.window_bits, self.compression_method, self.mem_level = window_bits, compression_method, mem_level
        self.compression_strategy = compression_strategy

    @classmethod
    def get_compression_type_string(cls, options) -> str:
        if options is None:
            return ""
        return options.compression_type if isinstance(options, TFRecordOptions) else compression_kind(options, "TFRecordOptions")


def compression_kind(kind, what: str) -> str:
    if isinstance(kind, TFRecordOptions):
        return kind.compression_type
    kind = (kind or "").upper() if isinstance(kind, str) or kind is None else kind
    if kind not in _COMPRESSIONS:
        raise ValueError(f"{what}: compression_type must be None, '', 'GZIP' or 'ZLIB', got {kind!r}")
    return kind


def _frame(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


def _record_bytes(record) -> bytes:
    if isinstance(record, Tensor):
        record = record.data
    if isinstance(record, np.ndarray):
        if record.ndim != 0:
            raise ValueError(f"TFRecordWriter.write: one record (a scalar string) at a time, got shape {record.shape}")
        record = record.item()
    if isinstance(record, str):
        return record.encode("utf-8")
    if isinstance(record, (bytes, bytearray, memoryview, np.bytes_)):
        return bytes(record)
    raise TypeError(f"TFRecordWriter.write: a record is bytes (e.g. example.SerializeToString()), "
                    f"got {type(record).__name__}")


class TFRecordWriter:
    """Writes records to a TFRecord file at ``path``; the file appears whole when the writer is
    closed (it is written beside it and moved into place), as a context manager or by ``close()``."""

    def __init__(self, path, options=None):
        self.path = os.fspath(path.decode("utf-8") if isinstance(path, bytes) else path)
        if isinstance(options, TFRecordOptions):
            self._kind, level = options.compression_type, options.compression_level
        else:
            self._kind, level = compression_kind(options, "TFRecordWriter"), None
        level = -1 if level is None else int(level)
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"TFRecordWriter: no folder {folder!r} for {self.path!r}")
        handle, self._temp = tempfile.mkstemp(dir=folder, prefix=".tfrecord-", suffix=".tmp")
        self._raw = os.fdopen(handle, "wb")
        if self._kind == "GZIP":
            self._file = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=9 if level < 0 else level)
        else:
            self._file = self._raw
        self._zlib = zlib.compressobj(level) if self._kind == "ZLIB" else None
        self._closed = False

    def write(self, record) -> None:
        if self._closed:
            raise ValueError("TFRecordWriter.write: the writer is closed")
        data = _frame(_record_bytes(record))
        self._file.write(self._zlib.compress(data) if self._zlib is not None else data)

    def flush(self) -> None:
        if self._zlib is not None:
            self._file.write(self._zlib.flush(zlib.Z_SYNC_FLUSH))
        self._file.flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._zlib is not None:
                self._file.write(self._zlib.flush())
            if self._file is not self._raw:
                self._file.close()
            self._raw.flush()
            os.fsync(self._raw.fileno())
            self._raw.close()
            os.replace(self._temp, self.path)
        except BaseException:
            self._raw.close()
            if os.path.exists(self._temp):
                os.remove(self._temp)
            raise

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:   # a failed write leaves no half-written file behind
            self._closed = True
            self._raw.close()
            if os.path.exists(self._temp):
                os.remove(self._temp)
            return False
        self.close()
        return False

    def __del__(self):
        if not getattr(self, "_closed", True):
            try:
                self.close()
            except Exception:
                pass


# ----------------------------------------------------------------- reading
def _file_bytes(path: str, kind: str) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if kind == "GZIP":
        return gzip.decompress(raw)
    return zlib.decompress(raw) if kind == "ZLIB" else raw


def read_records(path: str, compression_type=None):
    """The records of one TFRecord file, as bytes, each checked against its CRCs."""
    data = _file_bytes(path, compression_kind(compression_type, "TFRecordDataset"))
    pos = 0
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError(f"TFRecordDataset: truncated record at byte {pos} of {path!r}")
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if masked_crc32c(header) != length_crc:
            raise ValueError(f"TFRecordDataset: corrupted record at byte {pos} of {path!r} (the length's CRC "
                             "does not match); is it a TFRecord file, and is compression_type right?")
        start, end = pos + 12, pos + 12 + length
        if end + 4 > len(data):
            raise ValueError(f"TFRecordDataset: truncated record at byte {pos} of {path!r}")
        record = data[start:end]
        (data_crc,) = struct.unpack("<I", data[end:end + 4])
        if masked_crc32c(record) != data_crc:
            raise ValueError(f"TFRecordDataset: corrupted record at byte {pos} of {path!r} (the data's CRC "
                             "does not match)")
        yield record
        pos = end + 4


def file_paths(filenames, what: str) -> list[str]:
    if hasattr(filenames, "_numpy_elements"):   # a tf.data dataset of file names, in its order
        filenames = [name for element in filenames._numpy_elements() for name in np.asarray(element).reshape(-1)]
    elif isinstance(filenames, (str, bytes, os.PathLike)):
        filenames = [filenames]
    else:
        filenames = list(np.asarray(filenames, dtype=object).reshape(-1))
    paths = [p.decode("utf-8") if isinstance(p, bytes) else os.fspath(str(p) if isinstance(p, np.str_) else p)
             for p in filenames]
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"{what}: no file {path!r}")
    return paths


def records_block(records: list) -> np.ndarray:
    block = np.empty(len(records), dtype=object)   # bytes as they are: NumPy's "S" would drop trailing NULs
    block[:] = records
    return block


# ----------------------------------------------------------------- parsing
class FixedLenFeature:
    """A feature of a fixed ``shape`` and ``dtype`` (tf.string, tf.int64 or tf.float32); a record
    without it takes ``default_value``, or is an error when there is none."""

    def __init__(self, shape, dtype, default_value=None):
        self.shape = tuple(int(d) for d in (shape if isinstance(shape, (list, tuple)) else [shape]))
        self.dtype, self.default_value = dtype, default_value


class VarLenFeature:
    """A feature of any length, parsed as a SparseTensor (TF's rule)."""

    def __init__(self, dtype):
        self.dtype = dtype


class FixedLenSequenceFeature:
    """A feature whose values are a run of ``shape``-sized items: ``(items, *shape)``; with
    ``allow_missing`` a record without it gives no items."""

    def __init__(self, shape, dtype, allow_missing=False, default_value=None):
        self.shape = tuple(int(d) for d in (shape if isinstance(shape, (list, tuple)) else [shape]))
        self.dtype, self.allow_missing, self.default_value = dtype, allow_missing, default_value


def _kind_of(dtype) -> str:
    """'bytes', 'float' or 'int64': the list a feature of ``dtype`` is read from."""
    if isinstance(dtype, str) and dtype == "string" or dtype in (str, bytes, np.str_, np.bytes_, object) \
            or getattr(dtype, "kind", None) in ("U", "S", "O") or str(dtype) == "tf.string":
        return "bytes"
    try:
        kind = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"tf.io: a feature's dtype must be tf.string, tf.int64 or tf.float32, got {dtype}") from None
    if kind == np.int64:
        return "int64"
    if kind == np.float32:
        return "float"
    raise ValueError(f"tf.io: a feature's dtype must be tf.string, tf.int64 or tf.float32, got {dtype}")


def _values(feature, kind: str, key: str):
    """The values of one Feature read as ``kind``, or None when it has none of that kind."""
    present = feature.WhichOneof("kind") if feature is not None else None
    if present is None:
        return None
    expected = {"bytes": "bytes_list", "float": "float_list", "int64": "int64_list"}[kind]
    if present != expected:
        raise ValueError(f"tf.io.parse_example: feature {key!r} holds a {present} but the spec asks for "
                         f"{expected} (dtype)")
    return getattr(feature, expected).value


def _array_of(values, kind: str, shape=None) -> np.ndarray:
    if kind == "bytes":
        a = np.empty(len(values), dtype=object)
        a[:] = list(values)
    else:
        a = np.asarray(values, dtype=np.int64 if kind == "int64" else np.float32)
    return a if shape is None else a.reshape(shape)


def _as_output(a: np.ndarray):
    """A parsed value as the user gets it: numbers as Tensors, strings as (object) arrays of bytes."""
    return a if a.dtype == object else Tensor(a, dtype=a.dtype)


def _parse_one(serialized, features: dict) -> dict:
    data = _record_bytes(serialized)
    example = Example.FromString(data)
    found = example.features.feature
    out = {}
    for key, spec in features.items():
        kind = _kind_of(spec.dtype)
        values = _values(found.get(key), kind, key)
        if isinstance(spec, VarLenFeature):
            out[key] = ("var", _array_of(values or [], kind))
        elif isinstance(spec, FixedLenSequenceFeature):
            if values is None and not spec.allow_missing:
                raise ValueError(f"tf.io.parse_example: feature {key!r} is required but could not be found")
            a = _array_of(values or [], kind)
            size = int(np.prod(spec.shape)) if spec.shape else 1
            if a.size % size:
                raise ValueError(f"tf.io.parse_example: feature {key!r} has {a.size} values, not a whole number "
                                 f"of items of shape {spec.shape}")
            out[key] = ("seq", a.reshape((a.size // size, *spec.shape)))
        elif isinstance(spec, FixedLenFeature):
            if values is None:
                if spec.default_value is None:
                    raise ValueError(f"tf.io.parse_example: feature {key!r} is required but could not be found")
                default = spec.default_value
                default = [default] if np.ndim(default) == 0 and not isinstance(default, (list, tuple)) else default
                default = [d.encode("utf-8") if isinstance(d, str) else d for d in np.ravel(np.asarray(default, object))]
                size = int(np.prod(spec.shape)) if spec.shape else 1
                values = default * size if len(default) == 1 else default
            a = _array_of(values, kind)
            if a.size != (int(np.prod(spec.shape)) if spec.shape else 1):
                raise ValueError(f"tf.io.parse_example: key {key!r} has {a.size} values but the FixedLenFeature's "
                                 f"shape {list(spec.shape)} holds {int(np.prod(spec.shape)) if spec.shape else 1}")
            out[key] = ("fixed", a.reshape(spec.shape))
        else:
            raise TypeError(f"tf.io.parse_example: feature {key!r} has an unknown spec {type(spec).__name__}")
    return out


def parse_single_example(serialized, features, example_names=None, name=None) -> dict:
    """One serialized ``tf.train.Example`` as a dict: a ``FixedLenFeature`` as an array of its
    shape, a ``VarLenFeature`` as a 1-D SparseTensor, a ``FixedLenSequenceFeature`` as
    ``(items, *shape)``. Numbers come as Tensors, strings as arrays of bytes."""
    out = {}
    for key, (how, a) in _parse_one(serialized, features).items():
        if how == "var":
            out[key] = _sparse(np.arange(a.size, dtype=np.int64)[:, None], a, [a.size])
        else:
            out[key] = _as_output(a)
    return out


def parse_example(serialized, features, example_names=None, name=None) -> dict:
    """A batch of serialized Examples (a 1-D array or list), each feature stacked over the batch:
    ``(batch, *shape)``; a ``VarLenFeature`` as a 2-D SparseTensor ``(batch, longest)``; a
    ``FixedLenSequenceFeature`` padded with its default value (zero, or b"") to the longest."""
    records = serialized.data if isinstance(serialized, Tensor) else serialized
    records = list(np.asarray(records, dtype=object).reshape(-1)) if not isinstance(records, list) else records
    parsed = [_parse_one(r, features) for r in records]
    out = {}
    for key, spec in features.items():
        kind = _kind_of(spec.dtype)
        pieces = [p[key][1] for p in parsed]
        if isinstance(spec, VarLenFeature):
            rows = np.repeat(np.arange(len(pieces)), [p.size for p in pieces])
            cols = np.concatenate([np.arange(p.size) for p in pieces]) if pieces else np.zeros(0, int)
            values = np.concatenate(pieces) if pieces else _array_of([], kind)
            out[key] = _sparse(np.stack([rows, cols], axis=1).astype(np.int64), values,
                               [len(pieces), max((p.size for p in pieces), default=0)])
        elif isinstance(spec, FixedLenSequenceFeature):
            longest = max((len(p) for p in pieces), default=0)
            fill = spec.default_value if spec.default_value is not None else (b"" if kind == "bytes" else 0)
            batch = np.full((len(pieces), longest, *spec.shape), fill,
                            dtype=object if kind == "bytes" else _array_of([], kind).dtype)
            for i, p in enumerate(pieces):
                batch[i, :len(p)] = p
            out[key] = _as_output(batch)
        else:
            stacked = np.empty((len(pieces), *spec.shape), dtype=object) if kind == "bytes" else \
                np.stack(pieces) if pieces else np.zeros((0, *spec.shape), _array_of([], kind).dtype)
            if kind == "bytes":
                for i, p in enumerate(pieces):
                    stacked[i] = p
            out[key] = _as_output(stacked)
    return out


def _sparse(indices, values: np.ndarray, dense_shape) -> SparseTensor:
    return SparseTensor(indices, values if values.dtype == object else Tensor(values, dtype=values.dtype), dense_shape)


# ----------------------------------------------------------------- tf.io.gfile
def _gfile_glob(pattern):
    patterns = [pattern] if isinstance(pattern, (str, bytes, os.PathLike)) else list(pattern)
    found = []
    for p in patterns:
        p = p.decode("utf-8") if isinstance(p, bytes) else os.fspath(p)
        found += sorted(_glob.glob(p))
    return found


def _makedirs(path):
    os.makedirs(path, exist_ok=True)


def _copy(src, dst, overwrite=False):
    if os.path.exists(dst) and not overwrite:
        raise FileExistsError(f"tf.io.gfile.copy: {dst!r} exists (pass overwrite=True)")
    shutil.copyfile(src, dst)


def _rename(src, dst, overwrite=False):
    if os.path.exists(dst) and not overwrite:
        raise FileExistsError(f"tf.io.gfile.rename: {dst!r} exists (pass overwrite=True)")
    os.replace(src, dst)


gfile = SimpleNamespace(glob=_gfile_glob, exists=os.path.exists, isdir=os.path.isdir, listdir=os.listdir,
                        makedirs=_makedirs, mkdir=os.mkdir, remove=os.remove, rmtree=shutil.rmtree,
                        rename=_rename, copy=_copy, GFile=open, join=os.path.join,
                        stat=lambda path: SimpleNamespace(length=os.path.getsize(path), is_directory=os.path.isdir(path)))
