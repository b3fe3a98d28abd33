"""Array creation of ``keras.ops``: ranges, constants, identity matrices and window functions.

Default dtypes are Keras's: ``floatx`` for ``ones``/``zeros``/``full``/``eye``/``tri``/
``empty``/the windows; the promoted type of the arguments for ``arange`` (``arange(3)`` is
int32) and, with ``float`` added, for ``linspace``/``logspace``/``geomspace``; the input's
dtype for the ``*_like`` ops. The results are new constants: no gradient flows through them.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend
from ..autograd import Tensor
from .dtypes import result_type, standardize_dtype, to_array


def _tensor(array, dtype) -> Tensor:
    with np.errstate(over="ignore"):  # 10^25 in float16 is inf, as in every library
        return Tensor(np.asarray(array, dtype=dtype), dtype=dtype)


def _dtype(dtype) -> str:
    return backend.floatx() if dtype is None else standardize_dtype(dtype)


def _shape(op: str, shape) -> tuple:
    """``shape`` (an int or a sequence of ints) as a tuple of non-negative ints."""
    if isinstance(shape, Tensor):
        shape = shape.data.tolist()
    dims = (shape,) if isinstance(shape, (numbers.Integral, np.integer)) else shape
    try:
        # a size may be a 0-d integer tensor (``ops.shape(x)[0]`` cast, as Keras programs pass it)
        dims = tuple(d.data[()] if isinstance(d, Tensor) and d.ndim == 0 and d.dtype.kind in "iu" else d
                     for d in dims)
    except TypeError:
        raise TypeError(f"{op}: `shape` must be an int or a sequence of ints, got {shape!r}") from None
    if not all(isinstance(d, (numbers.Integral, np.integer)) and not isinstance(d, bool) for d in dims):
        raise TypeError(f"{op}: `shape` must be an int or a sequence of ints, got {shape!r}")
    if any(d < 0 for d in dims):
        raise ValueError(f"{op}: `shape` must not have negative sizes, got {tuple(int(d) for d in dims)}")
    return tuple(int(d) for d in dims)


def _sized(op: str, shape, dtype) -> tuple:
    """``_shape`` of ``shape``, refused before allocating when it cannot fit in memory."""
    dims = _shape(op, shape)
    backend.check_allocation(dims, dtype, op)
    return dims


def _count(op: str, name: str, n, allow_none=False) -> int | None:
    if n is None and allow_none:
        return None
    if isinstance(n, Tensor):
        n = n.data.item()
    if isinstance(n, np.ndarray) and n.ndim == 0:
        n = n.item()
    if not isinstance(n, (numbers.Integral, np.integer)) or isinstance(n, bool):
        raise TypeError(f"{op}: `{name}` must be an integer, got {n!r}")
    if n < 0:
        raise ValueError(f"{op}: `{name}` must not be negative, got {int(n)}")
    return int(n)


def _key(x):
    """What ``result_type`` sees: Python numbers stay weak, the rest a dtype name."""
    if isinstance(x, (bool, int, float, complex)):
        return x
    return (x.data if isinstance(x, Tensor) else to_array(x)).dtype.name


def _value(x):
    """A number or array argument as NumPy data."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


# ----------------------------------------------------------------------------- constants
def array(x, dtype=None):
    """A new Tensor holding ``x``: Python ints become int32, floats floatx, arrays keep theirs."""
    a = to_array(x, dtype)
    return Tensor(np.array(a, copy=True), dtype=a.dtype)


def empty(shape, dtype=None):
    """An uninitialised array of ``shape`` (floatx by default): write before reading."""
    return _tensor(np.empty(_sized("empty", shape, _dtype(dtype)), _dtype(dtype)), _dtype(dtype))


def zeros(shape, dtype=None):
    """Zeros of ``shape`` (floatx by default)."""
    return _tensor(np.zeros(_sized("zeros", shape, _dtype(dtype)), _dtype(dtype)), _dtype(dtype))


def ones(shape, dtype=None):
    """Ones of ``shape`` (floatx by default)."""
    return _tensor(np.ones(_sized("ones", shape, _dtype(dtype)), _dtype(dtype)), _dtype(dtype))


def full(shape, fill_value, dtype=None):
    """``fill_value`` (a number or an array that broadcasts to ``shape``) repeated over ``shape``."""
    dtype = _dtype(dtype)
    shape = _sized("full", shape, dtype)
    fill = _value(fill_value)
    try:
        out = np.broadcast_to(fill, shape)
    except ValueError:
        raise ValueError(f"full: `fill_value` of shape {fill.shape} cannot be broadcast to shape {shape}") from None
    return _tensor(out.astype(dtype), dtype)


def _like_dtype(x, dtype) -> tuple:
    a = x.data if isinstance(x, Tensor) else to_array(x)
    return a.shape, (a.dtype.name if dtype is None else _dtype(dtype))


def empty_like(x, dtype=None):
    """An uninitialised array of ``x``'s shape and (by default) dtype."""
    shape, dtype = _like_dtype(x, dtype)
    return _tensor(np.empty(shape, dtype), dtype)


def zeros_like(x, dtype=None):
    """Zeros of ``x``'s shape and (by default) dtype."""
    shape, dtype = _like_dtype(x, dtype)
    return _tensor(np.zeros(shape, dtype), dtype)


def ones_like(x, dtype=None):
    """Ones of ``x``'s shape and (by default) dtype."""
    shape, dtype = _like_dtype(x, dtype)
    return _tensor(np.ones(shape, dtype), dtype)


def full_like(x, fill_value, dtype=None):
    """``fill_value`` over ``x``'s shape, in ``x``'s dtype by default (2.5 in int8 is 2)."""
    shape, dtype = _like_dtype(x, dtype)
    return full(shape, fill_value, dtype=dtype)


def eye(N, M=None, k=0, dtype=None):
    """An N x M matrix (M = N by default) with ones on the k-th diagonal, zeros elsewhere."""
    N, M = _count("eye", "N", N), _count("eye", "M", M, allow_none=True)
    k = 0 if k is None else int(k)
    backend.check_allocation((N, N if M is None else M), _dtype(dtype), "eye")
    return _tensor(np.eye(N, M, k, dtype=_dtype(dtype)), _dtype(dtype))


def identity(n, dtype=None):
    """The n x n identity matrix."""
    n = _count("identity", "n", n)
    backend.check_allocation((n, n), _dtype(dtype), "identity")
    return _tensor(np.eye(n, dtype=_dtype(dtype)), _dtype(dtype))


def tri(N, M=None, k=0, dtype=None):
    """An N x M matrix with ones at and below the k-th diagonal, zeros above."""
    N, M = _count("tri", "N", N), _count("tri", "M", M, allow_none=True)
    backend.check_allocation((N, N if M is None else M), _dtype(dtype), "tri")
    return _tensor(np.tri(N, M, int(k), dtype=_dtype(dtype)), _dtype(dtype))


# ----------------------------------------------------------------------------- ranges
def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in [start, stop); ``arange(n)`` is [0, n).

    The dtype is the promoted type of the arguments (Python ints give int32, floats floatx).
    """
    if dtype is None:
        dtype = result_type(*[_key(v) for v in (start, stop, step) if v is not None])
    dtype = _dtype(dtype)
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    start, stop, step = (_value(v).item() if np.ndim(_value(v)) == 0 else None for v in (start, stop, step))
    if None in (start, stop, step):
        raise TypeError("arange: `start`, `stop` and `step` must be numbers")
    if step == 0:
        raise ValueError("arange: `step` must not be zero")
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise ValueError(f"arange: `start`, `stop` and `step` must be finite, got {start}, {stop}, {step}")
    backend.check_allocation(max(int(np.ceil((stop - start) / step)), 0), "float64", "arange")
    if all(isinstance(v, int) for v in (start, stop, step)):
        values = np.arange(start, stop, step, dtype=np.int64)  # exact in integers
    else:
        # the count and the values in float64 (as PyTorch does), then the requested dtype
        n = max(int(np.ceil((stop - start) / step)), 0)
        values = start + step * np.arange(n, dtype=np.float64)
    return _tensor(values, dtype)


def _space_dtype(start, stop, dtype) -> str:
    return _dtype(dtype) if dtype is not None else result_type(_key(start), _key(stop), float)


def _check_num(op: str, num) -> int:
    return _count(op, "num", num)


def _axis(op: str, axis, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: `axis` {axis} is out of range for a result of {ndim} dimensions")
    return axis


def _spaced(op: str, start, stop, axis, num: int):
    a, b = _value(start).astype(np.float64), _value(stop).astype(np.float64)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} of `start` and `stop` cannot be broadcast") from None
    _axis(op, axis, len(shape) + 1)
    backend.check_allocation(shape + (num,), np.float64, op)  # computed in float64
    return a, b


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from start to stop (stop excluded if not ``endpoint``).

    ``start``/``stop`` may be arrays: the new axis of samples is put at ``axis``.
    With ``retstep`` the spacing is returned too: ``(samples, step)``.
    """
    num, out_dtype = _check_num("linspace", num), _space_dtype(start, stop, dtype)
    a, b = _spaced("linspace", start, stop, axis, num)
    values, step = np.linspace(a, b, num, endpoint=endpoint, retstep=True, axis=axis)
    out = _tensor(values, out_dtype)
    if not retstep:
        return out
    return out, (float(step) if np.ndim(step) == 0 else _tensor(np.asarray(step).astype(out_dtype), out_dtype))


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    """``base ** linspace(start, stop, num)``: values evenly spaced on a log scale."""
    num, out_dtype = _check_num("logspace", num), _space_dtype(start, stop, dtype)
    a, b = _spaced("logspace", start, stop, axis, num)
    values = np.logspace(a, b, num, endpoint=endpoint, base=float(_value(base)), axis=axis)
    return _tensor(values, out_dtype)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """``num`` values from start to stop in geometric progression (start and stop nonzero)."""
    num, out_dtype = _check_num("geomspace", num), _space_dtype(start, stop, dtype)
    a, b = _spaced("geomspace", start, stop, axis, num)
    if np.any(a == 0) or np.any(b == 0):
        raise ValueError("geomspace: `start` and `stop` must be nonzero")
    values = np.geomspace(a, b, num, endpoint=endpoint, axis=axis)
    return _tensor(values, out_dtype)


# ----------------------------------------------------------------------------- windows
def _window(op: str, fn, x, *args) -> Tensor:
    """A symmetric window of ``x`` points (floatx)."""
    m = _count(op, "x", x)
    dtype = backend.floatx()
    return _tensor(fn(m, *args).astype(dtype), dtype)


def bartlett(x):
    """The triangular window of ``x`` points: 1 - |2n / (x - 1) - 1|."""
    return _window("bartlett", np.bartlett, x)


def blackman(x):
    """The Blackman window: 0.42 - 0.5 cos(2 pi n / (x - 1)) + 0.08 cos(4 pi n / (x - 1))."""
    return _window("blackman", np.blackman, x)


def hamming(x):
    """The Hamming window: 0.54 - 0.46 cos(2 pi n / (x - 1))."""
    return _window("hamming", np.hamming, x)


def hanning(x):
    """The Hann window: 0.5 - 0.5 cos(2 pi n / (x - 1))."""
    return _window("hanning", np.hanning, x)


def kaiser(x, beta):
    """The Kaiser window: I0(beta sqrt(1 - (2n / (x - 1) - 1)^2)) / I0(beta)."""
    return _window("kaiser", np.kaiser, x, float(_value(beta)))
