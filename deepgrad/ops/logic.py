"""Comparisons, logical, floating-point class and bitwise ops of ``keras.ops``.

Their results are bool or integer Tensors and carry no gradient (a comparison is
piecewise constant; bitwise ops take integers). Operands are first promoted to their
common dtype by Keras's rules (Python numbers are weak), so ``uint8(200) > int8(-1)``
compares the values, not the bits.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Tensor
from .dtypes import result_type, to_array


def _array(x) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else to_array(x)


def _key(x):
    """What ``result_type`` sees: Python numbers stay weak, the rest a dtype name."""
    if isinstance(x, (bool, int, float, complex)):
        return x
    return _array(x).dtype.name


def _promoted(op: str, x1, x2, names=("x1", "x2")) -> tuple:
    """Both operands as arrays of their common dtype, checked to broadcast."""
    dtype = result_type(_key(x1), _key(x2))
    a, b = _as(x1, dtype), _as(x2, dtype)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} of `{names[0]}` and `{names[1]}` "
                         "cannot be broadcast") from None
    return a, b


def _as(x, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if isinstance(x, int) and dtype.kind in "iu" and not np.iinfo(dtype).min <= x <= np.iinfo(dtype).max:
        return np.asarray(x)  # a Python int beyond the array's range (int8 vs 300): compare it as is
    return np.asarray(_array(x), dtype)


def _bool(array) -> Tensor:
    return Tensor(np.asarray(array, dtype=bool), dtype=np.bool_)


# ----------------------------------------------------------------------------- comparisons
def equal(x1, x2):
    """x1 == x2, elementwise (bool)."""
    return _bool(np.equal(*_promoted("equal", x1, x2)))


def not_equal(x1, x2):
    """x1 != x2, elementwise (bool)."""
    return _bool(np.not_equal(*_promoted("not_equal", x1, x2)))


def greater(x1, x2):
    """x1 > x2, elementwise (bool)."""
    return _bool(np.greater(*_promoted("greater", x1, x2)))


def greater_equal(x1, x2):
    """x1 >= x2, elementwise (bool)."""
    return _bool(np.greater_equal(*_promoted("greater_equal", x1, x2)))


def less(x1, x2):
    """x1 < x2, elementwise (bool)."""
    return _bool(np.less(*_promoted("less", x1, x2)))


def less_equal(x1, x2):
    """x1 <= x2, elementwise (bool)."""
    return _bool(np.less_equal(*_promoted("less_equal", x1, x2)))


# ----------------------------------------------------------------------------- logical
def logical_and(x1, x2):
    """Truth of x1 and x2 (nonzero is true), elementwise (bool)."""
    return _bool(np.logical_and(*_promoted("logical_and", x1, x2)))


def logical_or(x1, x2):
    """Truth of x1 or x2 (nonzero is true), elementwise (bool)."""
    return _bool(np.logical_or(*_promoted("logical_or", x1, x2)))


def logical_xor(x1, x2):
    """Truth of exactly one of x1, x2 (nonzero is true), elementwise (bool)."""
    return _bool(np.logical_xor(*_promoted("logical_xor", x1, x2)))


def logical_not(x):
    """Truth of not x (nonzero is true), elementwise (bool)."""
    return _bool(np.logical_not(_array(x)))


# ----------------------------------------------------------------------------- closeness
def _isclose(op, x1, x2, rtol, atol, equal_nan) -> np.ndarray:
    a, b = _promoted(op, x1, x2)
    if a.dtype.kind in "fc":
        return np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    return np.equal(a, b)


def isclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|x1 - x2| <= atol + rtol |x2| elementwise for floats, exact equality for integers (bool)."""
    return _bool(_isclose("isclose", x1, x2, rtol, atol, equal_nan))


def allclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether ``isclose`` holds everywhere: a 0-d bool Tensor."""
    return _bool(np.all(_isclose("allclose", x1, x2, rtol, atol, equal_nan)))


# ----------------------------------------------------------------------------- classes of numbers
def _float_class(fn, x) -> Tensor:
    """``fn`` on floating-point data; integers and bools are finite, never inf or NaN."""
    a = _array(x)
    if a.dtype.kind in "fc":
        return _bool(fn(a))
    return _bool(np.full(a.shape, fn is np.isfinite))


def isfinite(x):
    """True where x is neither inf nor NaN (bool)."""
    return _float_class(np.isfinite, x)


def isinf(x):
    """True where x is +inf or -inf (bool)."""
    return _float_class(np.isinf, x)


def isnan(x):
    """True where x is NaN (bool)."""
    return _float_class(np.isnan, x)


def isneginf(x):
    """True where x is -inf (bool)."""
    return _float_class(np.isneginf, x)


def isposinf(x):
    """True where x is +inf (bool)."""
    return _float_class(np.isposinf, x)


def isreal(x):
    """True where the imaginary part is zero: everywhere for real dtypes (bool)."""
    return _bool(np.isreal(_array(x)))


# ----------------------------------------------------------------------------- bitwise
def _integer_operands(op: str, names: tuple, *xs) -> tuple:
    for name, x in zip(names, xs):
        kind = np.dtype(type(x)).kind if isinstance(x, (bool, int, float, complex)) else _array(x).dtype.kind
        if kind not in "biu":
            raise TypeError(f"{op}: argument `{name}` must be an integer or bool array, got "
                            f"{type(x).__name__ if isinstance(x, (float, complex)) else _array(x).dtype.name}")
    if len(xs) == 1:
        return (_array(xs[0]),)
    return _promoted(op, *xs, names=names)


def _int_tensor(array) -> Tensor:
    return Tensor(array, dtype=array.dtype)


def bitwise_and(x, y):
    """x & y on the bits of integers (logical and on bools)."""
    return _int_tensor(np.bitwise_and(*_integer_operands("bitwise_and", ("x", "y"), x, y)))


def bitwise_or(x, y):
    """x | y on the bits of integers (logical or on bools)."""
    return _int_tensor(np.bitwise_or(*_integer_operands("bitwise_or", ("x", "y"), x, y)))


def bitwise_xor(x, y):
    """x ^ y on the bits of integers (logical xor on bools)."""
    return _int_tensor(np.bitwise_xor(*_integer_operands("bitwise_xor", ("x", "y"), x, y)))


def bitwise_not(x):
    """~x on the bits of integers (logical not on bools)."""
    return _int_tensor(np.invert(*_integer_operands("bitwise_not", ("x",), x)))


def bitwise_invert(x):
    """~x on the bits of integers (logical not on bools); the same as ``bitwise_not``."""
    return _int_tensor(np.invert(*_integer_operands("bitwise_invert", ("x",), x)))


def _shift(op: str, fn, x, y) -> Tensor:
    a, b = _integer_operands(op, ("x", "y"), x, y)
    if a.dtype == np.bool_:
        raise TypeError(f"{op}: arguments `x` and `y` cannot both be bool")
    return _int_tensor(np.asarray(fn(a, b), dtype=a.dtype))


def bitwise_left_shift(x, y):
    """x << y: the bits of x moved y places up (x * 2^y while it fits the dtype)."""
    return _shift("bitwise_left_shift", np.left_shift, x, y)


def bitwise_right_shift(x, y):
    """x >> y: the bits of x moved y places down (floor(x / 2^y), sign kept)."""
    return _shift("bitwise_right_shift", np.right_shift, x, y)


def left_shift(x, y):
    """x << y; the same as ``bitwise_left_shift``."""
    return _shift("left_shift", np.left_shift, x, y)


def right_shift(x, y):
    """x >> y; the same as ``bitwise_right_shift``."""
    return _shift("right_shift", np.right_shift, x, y)
