"""``tf.lookup``'s static tables: a fixed map from keys (text or integers) to values, built from an
initializer, looked up elementwise with a default for missing keys. Keras programs use them to map
tokens to group numbers inside a layer's ``call`` (``table.lookup(inputs)``).

``KeyValueTensorInitializer(keys, values)`` holds the two columns with TF's dtypes (Python ints
int32, floats float32, text ``tf.string``); ``StaticHashTable(initializer, default_value)`` looks keys
up with one sort and one ``searchsorted`` (no Python loop over the keys), so a batch of any shape
maps to a tensor of the same shape.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ..autograd import Tensor


def _column(values, dtype, what: str) -> np.ndarray:
    """``values`` as a 1-D array of TF's dtype for it: text as str, Python ints int32, floats float32."""
    raw = values.data if isinstance(values, Tensor) else values
    a = np.asarray(raw)
    if dtype is not None:
        dtype = np.dtype(str) if dtype in ("string", np.str_, str) or _is_text(np.empty(0, dtype)) else np.dtype(dtype)
        a = a.astype(dtype)
    elif _is_text(a):
        a = a.astype(str)
    elif not isinstance(raw, (np.ndarray, np.generic)) and a.dtype.kind in "if":
        a = a.astype(np.int32 if a.dtype.kind == "i" else np.float32)
    if a.ndim != 1:
        raise ValueError(f"tf.lookup.KeyValueTensorInitializer: {what} must be 1-D, got shape {a.shape}")
    return a


def _is_text(a: np.ndarray) -> bool:
    kind = np.dtype(a.dtype).kind if not hasattr(a.dtype, "kind") else a.dtype.kind
    return kind in "US" or (kind == "O" and (a.size == 0 or isinstance(a.flat[0], (str, bytes))))


def _as_text(a: np.ndarray) -> np.ndarray:
    """Text as str: bytes (TF's own form of a string) decoded as UTF-8."""
    if a.dtype.kind == "S" or (a.dtype.kind == "O" and a.size and isinstance(a.flat[0], bytes)):
        return np.char.decode(a.astype(bytes), "utf-8")
    return a.astype(str)


def _dtype_name(a: np.ndarray) -> str:
    return "string" if a.dtype.kind in "USO" else a.dtype.name


class KeyValueTensorInitializer:
    """The keys and values of a static table, two 1-D columns of one length."""

    def __init__(self, keys, values, key_dtype=None, value_dtype=None, name=None):
        self._keys = _column(keys, key_dtype, "keys")
        self._values = _column(values, value_dtype, "values")
        if self._keys.shape != self._values.shape:
            raise ValueError(f"tf.lookup.KeyValueTensorInitializer: {self._keys.size} keys and "
                             f"{self._values.size} values; they must pair up one to one")
        self.name = name

    @property
    def key_dtype(self) -> str:
        return _dtype_name(self._keys)

    @property
    def value_dtype(self) -> str:
        return _dtype_name(self._values)


class StaticHashTable:
    """``table.lookup(keys)``: each key's value, ``default_value`` where the key is not in the table."""

    def __init__(self, initializer, default_value, name=None, experimental_is_anonymous=False):
        if not isinstance(initializer, KeyValueTensorInitializer):
            raise TypeError(f"tf.lookup.StaticHashTable: initializer must be a KeyValueTensorInitializer, "
                            f"got {type(initializer).__name__}")
        keys, values = initializer._keys, initializer._values
        order = np.argsort(keys, kind="stable")
        self._sorted_keys, self._sorted_values = keys[order], values[order]
        same = self._sorted_keys[1:] == self._sorted_keys[:-1]
        if (same & (self._sorted_values[1:] != self._sorted_values[:-1])).any():
            key = self._sorted_keys[1:][same][0]
            raise ValueError(f"tf.lookup.StaticHashTable: the key {key!r} is given two different values")
        self._initializer = initializer
        self.key_dtype, self.value_dtype = initializer.key_dtype, initializer.value_dtype
        raw = default_value.data if isinstance(default_value, Tensor) else default_value
        self.default_value = np.asarray(raw).astype(values.dtype)
        if self.default_value.ndim != 0:
            raise ValueError(f"tf.lookup.StaticHashTable: default_value must be a scalar, got shape "
                             f"{self.default_value.shape}")
        self.name = name

    def lookup(self, keys, name=None):
        raw = keys.data if isinstance(keys, Tensor) else keys
        a = np.asarray(raw)
        text = _is_text(a)
        if text != (self.key_dtype == "string"):
            raise TypeError(f"tf.lookup.StaticHashTable.lookup: the table's keys are {self.key_dtype}, "
                            f"got keys of dtype {_dtype_name(a) if text else a.dtype.name}")
        flat = (_as_text(a) if text else a.astype(self._sorted_keys.dtype)).reshape(-1)
        if self._sorted_keys.size == 0:
            found_values = np.full(flat.shape, self.default_value)
        else:
            pos = np.clip(np.searchsorted(self._sorted_keys, flat), 0, self._sorted_keys.size - 1)
            found = self._sorted_keys[pos] == flat
            found_values = np.where(found, self._sorted_values[pos], self.default_value)
        out = found_values.reshape(a.shape)
        if self.value_dtype == "string":
            return out.astype(str)
        return Tensor(out, dtype=out.dtype)

    __getitem__ = lookup

    def size(self, name=None) -> Tensor:
        """The number of distinct keys (an int64 scalar, as TF gives it)."""
        return Tensor(np.asarray(np.unique(self._sorted_keys).size, np.int64), dtype=np.int64)

    def export(self, name=None):
        """The table's keys and values (in key order)."""
        keys, first = np.unique(self._sorted_keys, return_index=True)
        values = self._sorted_values[first]
        wrap = (lambda v: v) if values.dtype.kind in "US" else (lambda v: Tensor(v, dtype=v.dtype))
        return (keys if keys.dtype.kind in "US" else Tensor(keys, dtype=keys.dtype)), wrap(values)


lookup = SimpleNamespace(KeyValueTensorInitializer=KeyValueTensorInitializer, StaticHashTable=StaticHashTable)
