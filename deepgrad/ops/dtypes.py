"""Dtype rules of the ops, as Keras 3 states them (``keras.backend.result_type``).

Types are promoted on a lattice rather than by NumPy's table, so that

* an integer array meeting a float array takes the float's width (int64 + float32 ->
  float32; NumPy would give float64);
* Python numbers are *weak*: ``x + 2.0`` keeps ``x``'s dtype, and a Python number alone
  becomes int32 or ``floatx``;
* float64 stays float64 and int64 stays int64 (what Keras's ops return on the PyTorch
  backend), and no float32 is silently promoted to float64.

The lattice (in ``deepgrad.backend``, as ``keras.backend.result_type`` is) links each type to
the types just above it; the result of several types is their least upper bound::

    bool -> int(weak) -> uint8 -> uint16 -> uint32 -> uint64 -> float(weak)
                      -> int8  -> int16  -> int32  -> int64  -> float(weak)
    uint8 -> int16, uint16 -> int32, uint32 -> int64
    float(weak) -> float16 | bfloat16 -> float32 -> float64 -> complex128
    float32 -> complex64 -> complex128, int(weak) -> complex64
"""
from __future__ import annotations

import numpy as np

from .. import backend
# the lattice and the two rules built on it are keras.backend's, so they sit in ``backend``
from ..backend import result_type, standardize_dtype  # noqa: F401


def is_float(dtype) -> bool:
    return standardize_dtype(dtype) in ("float16", "bfloat16", "float32", "float64")


def is_int(dtype) -> bool:
    return "int" in standardize_dtype(dtype)


def python_value_dtype(x) -> str | None:
    """Keras's dtype for a Python scalar or (nested) list: bools bool, ints int32, floats floatx.

    None when ``x`` is not made of Python numbers (an array, a Tensor, ...).
    """
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return "int32"
    if isinstance(x, float):
        return backend.floatx()
    if isinstance(x, complex):
        return "complex64"
    if isinstance(x, (list, tuple)):
        kinds = {python_value_dtype(v) for v in x}
        if None in kinds:
            return None
        for kind in ("complex64", backend.floatx(), "int32", "bool"):
            if kind in kinds:
                return kind
        return backend.floatx()  # an empty list
    return None


def to_array(x, dtype=None) -> np.ndarray:
    """``x`` as an ndarray with Keras's dtype: arrays keep theirs, Python values as above.

    Unlike ``Tensor(x)`` (which makes integer data floatx, deepgrad's rule for data fed to
    layers), integer and bool inputs stay integer and bool here, as Keras's ops keep them.
    """
    if dtype is not None:
        target, raw = standardize_dtype(dtype), getattr(x, "data", x)
        if isinstance(raw, np.ndarray) and raw.dtype.kind in "biuf":
            return np.asarray(raw, dtype=target)
        a = backend.as_array(raw)
        if np.dtype(target).kind != "c":
            # None, text and complex are refused here, not turned into NaN or a dropped imaginary part
            a = backend.real_array(a)
        return np.asarray(a, dtype=target)
    if hasattr(x, "data") and isinstance(getattr(x, "data"), _TENSOR_DATA):
        return np.asarray(x.data)  # a Tensor (a 0-d one may hold a NumPy scalar)
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, np.generic):
        return np.asarray(x)
    py = python_value_dtype(x)
    if py is None and not isinstance(x, (list, tuple)):
        return np.asarray(x)
    if py is None:
        return backend.as_array(x) if not _has_tensor(x) else np.stack([to_array(v) for v in x])
    try:
        return np.asarray(x, dtype=py)
    except ValueError:
        backend.as_array(x)  # a ragged sequence: raises the clear error
        raise
    except OverflowError:
        # Python ints past int32 (e.g. a count of 10**12) widen to int64, as NumPy does
        if py != "int32":
            raise
    try:
        return np.asarray(x, dtype=np.int64)
    except OverflowError:
        raise ValueError(f"The integer value(s) {x!r} do not fit in 64 bits") from None


# What a Tensor's ``data`` holds: an ndarray, or a NumPy scalar for the 0-d result of an
# element index or a full reduction (``y[0]``, ``x.sum()``).
_TENSOR_DATA = (np.ndarray, np.generic)


def _has_tensor(x) -> bool:
    return any(hasattr(v, "data") and isinstance(getattr(v, "data"), _TENSOR_DATA) for v in x)



def real_number(op: str, name: str, value) -> float:
    """A numeric argument (a slope, a rate, an epsilon) as a float; anything else a TypeError naming it."""
    if hasattr(value, "data") and isinstance(getattr(value, "data"), _TENSOR_DATA):
        value = np.asarray(value.data)  # a Tensor
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: `{name}` must be a real number, got {value!r}")
    return float(value)
