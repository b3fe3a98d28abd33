"""Elementwise math of ``keras.ops`` beyond ``ops.math``: each op's forward and backward side by side.

Dtypes follow Keras: transcendental ops turn bool and integer inputs into ``floatx``
(float16 stays float16, float64 stays float64); rounding, sign and remainder ops keep
the input's dtype; binary ops promote with ``result_type`` (Python numbers are weak).
Rounding, sign and step functions pass a zero gradient, as PyTorch's do, so that
compositions such as ``x - floor(x)`` stay differentiable.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, unbroadcast
from .dtypes import result_type, to_array
from .math import divide, exp, where
from .manipulation import astype

_LN2, _LN10 = np.log(2.0), np.log(10.0)


# ----------------------------------------------------------------------------- inputs
def _key(x):
    """What ``result_type`` should see for ``x``: Python numbers stay weak, the rest a dtype."""
    if isinstance(x, (bool, int, float, complex)):
        return x
    # by name: ``standardize_dtype`` reads np.dtype("float64") == "float" as floatx
    if isinstance(x, Tensor):
        return x.dtype.name
    a = to_array(x)
    if a.dtype.kind not in "biufc":
        a = backend.real_array(a)  # text, None and other objects: a TypeError saying what the data holds
    return a.dtype.name


def _cast(x, dtype) -> Tensor:
    """``x`` as a Tensor of ``dtype``; a Tensor already of that dtype passes through (keeps its graph)."""
    dtype = np.dtype(dtype)
    if isinstance(x, Tensor):
        return x if x.dtype == dtype else astype(x, dtype)
    a = to_array(x)
    return Tensor(a if a.dtype == dtype else a.astype(dtype), dtype=dtype)


def _float_dtype(x, int64_to=None) -> str:
    """Keras's dtype for a float-valued op of ``x``: ints and bool become floatx.

    ``int64_to`` is the dtype int64 becomes where Keras's op makes it something else
    (float64 for cbrt, deg2rad, rad2deg and i0).
    """
    key = _key(x)
    if int64_to is not None and not isinstance(key, (bool, int, float, complex)) and np.dtype(key) == np.int64:
        return int64_to
    return result_type(key, float)


def _check_broadcast(op: str, a: Tensor, b: Tensor) -> None:
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast") from None


def _pair(op: str, x1, x2, dtype) -> tuple:
    a, b = _cast(x1, dtype), _cast(x2, dtype)
    _check_broadcast(op, a, b)
    return a, b


def _kind(x) -> str:
    """NumPy's kind letter of ``x``'s dtype (``b``, ``i``, ``u``, ``f``, ``c``); Python numbers by type."""
    return np.dtype(type(x) if isinstance(x, (bool, int, float, complex)) else _key(x)).kind


def _integers_only(op: str, **named) -> None:
    for name, x in named.items():
        if _kind(x) not in "biu":
            raise TypeError(f"{op}: argument `{name}` must be an integer array, got "
                            f"{type(x).__name__ if isinstance(x, float) else np.dtype(_key(x)).name}")


# ----------------------------------------------------------------------------- unary
class _Unary(Function):
    """y = f(x); backward is g * f'(x, y). Subclasses give ``compute`` and ``derivative``."""

    def forward(self, x):
        with np.errstate(all="ignore"):  # domains and poles give nan/inf, as NumPy and PyTorch do
            out = np.asarray(self.compute(x)).astype(x.dtype, copy=False)
        self.save_for_backward(x, out)
        return out

    def backward(self, g):
        x, out = self.saved
        with np.errstate(all="ignore"):
            return (g * self.derivative(x, out)).astype(g.dtype, copy=False)


class _Step(Function):
    """A piecewise-constant y = f(x): the gradient is zero everywhere it exists."""

    def forward(self, x, **attrs):
        self.shape = x.shape
        return self.compute(x, **attrs)

    def backward(self, g):
        return np.zeros(self.shape, g.dtype)

    def graph_backward(self, g):
        return Tensor(np.zeros(self.shape, g.dtype))  # zero, and constant: so is every higher derivative


class Arccos(_Unary):
    compute = staticmethod(np.arccos)

    def derivative(self, x, out):  # d acos(x) = -1 / sqrt(1 - x^2)
        return -1 / np.sqrt(1 - x * x)

    def graph_backward(self, g):
        x = self.inputs[0]
        return g * -((1 - x * x) ** -0.5)


class Arccosh(_Unary):
    compute = staticmethod(np.arccosh)

    def derivative(self, x, out):  # d acosh(x) = 1 / sqrt(x^2 - 1)
        return 1 / np.sqrt(x * x - 1)

    def graph_backward(self, g):
        x = self.inputs[0]
        return g * (x * x - 1) ** -0.5


class Arcsin(_Unary):
    compute = staticmethod(np.arcsin)

    def derivative(self, x, out):  # d asin(x) = 1 / sqrt(1 - x^2)
        return 1 / np.sqrt(1 - x * x)

    def graph_backward(self, g):
        x = self.inputs[0]
        return g * (1 - x * x) ** -0.5


class Arcsinh(_Unary):
    compute = staticmethod(np.arcsinh)

    def derivative(self, x, out):  # d asinh(x) = 1 / sqrt(x^2 + 1)
        return 1 / np.sqrt(x * x + 1)

    def graph_backward(self, g):
        x = self.inputs[0]
        return g * (x * x + 1) ** -0.5


class Arctan(_Unary):
    compute = staticmethod(np.arctan)

    def derivative(self, x, out):  # d atan(x) = 1 / (1 + x^2)
        return 1 / (1 + x * x)

    def graph_backward(self, g):
        x = self.inputs[0]
        return g / (1 + x * x)


class Arctanh(_Unary):
    compute = staticmethod(np.arctanh)

    def derivative(self, x, out):  # d atanh(x) = 1 / (1 - x^2)
        return 1 / (1 - x * x)

    def graph_backward(self, g):
        x = self.inputs[0]
        return g / (1 - x * x)


class Cos(_Unary):
    compute = staticmethod(np.cos)

    def derivative(self, x, out):
        return -np.sin(x)

    def graph_backward(self, g):
        x = self.inputs[0]
        return -g * Sin.apply(x)


class Cosh(_Unary):
    compute = staticmethod(np.cosh)

    def derivative(self, x, out):
        return np.sinh(x)

    def graph_backward(self, g):
        x = self.inputs[0]
        return g * Sinh.apply(x)


class Sin(_Unary):
    compute = staticmethod(np.sin)

    def derivative(self, x, out):
        return np.cos(x)

    def graph_backward(self, g):
        x = self.inputs[0]
        return g * Cos.apply(x)


class Sinh(_Unary):
    compute = staticmethod(np.sinh)

    def derivative(self, x, out):
        return np.cosh(x)

    def graph_backward(self, g):
        x = self.inputs[0]
        return g * Cosh.apply(x)


class Tan(_Unary):
    compute = staticmethod(np.tan)

    def derivative(self, x, out):  # d tan(x) = 1 + tan(x)^2
        return 1 + out * out

    def graph_backward(self, g):
        x = self.inputs[0]
        y = Tan.apply(x)
        return g * (1 + y * y)


class Cbrt(_Unary):
    compute = staticmethod(np.cbrt)

    def derivative(self, x, out):  # d x^(1/3) = 1 / (3 x^(2/3))
        return 1 / (3 * out * out)

    def graph_backward(self, g):
        y = Cbrt.apply(self.inputs[0])
        return g / (3 * y * y)


class Exp2(_Unary):
    compute = staticmethod(np.exp2)

    def derivative(self, x, out):  # d 2^x = 2^x ln 2
        return out * _LN2

    def graph_backward(self, g):
        return g * Exp2.apply(self.inputs[0]) * _LN2


class Expm1(_Unary):
    compute = staticmethod(np.expm1)

    def derivative(self, x, out):  # d (e^x - 1) = e^x = y + 1
        return out + 1

    def graph_backward(self, g):
        x = self.inputs[0]
        return g * x.exp()


class Log10(_Unary):
    compute = staticmethod(np.log10)

    def derivative(self, x, out):
        return 1 / (x * _LN10)

    def graph_backward(self, g):
        x = self.inputs[0]
        return g / (x * _LN10)


class Log1p(_Unary):
    compute = staticmethod(np.log1p)

    def derivative(self, x, out):
        return 1 / (1 + x)

    def graph_backward(self, g):
        x = self.inputs[0]
        return g / (1 + x)


class Log2(_Unary):
    compute = staticmethod(np.log2)

    def derivative(self, x, out):
        return 1 / (x * _LN2)

    def graph_backward(self, g):
        x = self.inputs[0]
        return g / (x * _LN2)


class Reciprocal(_Unary):
    compute = staticmethod(np.reciprocal)

    def derivative(self, x, out):  # d (1/x) = -1/x^2
        return -out * out

    def graph_backward(self, g):
        x = self.inputs[0]
        return -g / (x * x)


class Fabs(_Unary):
    compute = staticmethod(np.fabs)

    def derivative(self, x, out):  # sign(0) = 0, as PyTorch's abs
        return np.sign(x)

    def graph_backward(self, g):
        return g * Sign.apply(self.inputs[0])


class Deg2rad(_Unary):
    compute = staticmethod(np.deg2rad)

    def derivative(self, x, out):
        return np.pi / 180

    def graph_backward(self, g):
        return g * (np.pi / 180)


class Rad2deg(_Unary):
    compute = staticmethod(np.rad2deg)

    def derivative(self, x, out):
        return 180 / np.pi

    def graph_backward(self, g):
        return g * (180 / np.pi)


class Sinc(_Unary):
    compute = staticmethod(np.sinc)

    def derivative(self, x, out):
        # sinc(x) = sin(pi x) / (pi x): d sinc = (cos(pi x) - sinc(x)) / x, and 0 at x = 0
        safe = np.where(x == 0, 1, x)
        return np.where(x == 0, 0, (np.cos(np.pi * x) - out) / safe)

    def graph_backward(self, g):
        # at x = 0 the derivative is the Taylor term -(pi^2 / 3) x: 0, with the right second derivative
        x = self.inputs[0]
        at_zero = x.data == 0
        safe = where(at_zero, 1.0, x)
        slope = (Cos.apply(safe * np.pi) - Sinc.apply(safe)) / safe
        return g * where(at_zero, x * (-np.pi ** 2 / 3), slope)


class I0(_Unary):
    compute = staticmethod(np.i0)

    def derivative(self, x, out):  # d I0(x) = I1(x)
        return _i1(x.astype(np.float64))


def _i1(x: np.ndarray) -> np.ndarray:
    """The modified Bessel function I1 (float64), odd in x.

    Power series I1(x) = sum_k (x/2)^(2k+1) / (k! (k+1)!) for |x| <= 30 (all terms positive,
    so no cancellation), and beyond it the asymptotic series
    I1(x) ~ e^x / sqrt(2 pi x) sum_k c_k,  c_k = c_(k-1) (-(4 - (2k-1)^2)) / (8 k x),  c_0 = 1.
    """
    ax = np.abs(x)
    small = np.minimum(ax, 30.0)
    term = small / 2
    series = term.copy()
    for k in range(1, 90):  # a fixed count of terms, each over the whole array
        term = term * (small / 2) ** 2 / (k * (k + 1))
        series += term
    big = np.maximum(ax, 30.0)
    coef, asym = np.ones_like(big), np.ones_like(big)
    for k in range(1, 30):
        coef = coef * -(4 - (2 * k - 1) ** 2) / (8 * k * big)
        asym += coef
    with np.errstate(over="ignore"):
        asym *= np.exp(big) / np.sqrt(2 * np.pi * big)
    return np.sign(x) * np.where(ax <= 30.0, series, asym)


class Identity(Function):
    """y = x (a copy); the gradient passes unchanged."""

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return g

    def graph_backward(self, g):
        return g


class Real(Function):
    def forward(self, x):
        return np.real(x).copy()

    def backward(self, g):
        return g

    def graph_backward(self, g):
        return g


class Imag(Function):
    """``Im(z)`` of a complex ``z``: for a real loss, ``dL/dz = i g`` (PyTorch's convention, where the
    gradient of a complex input is ``dL/dRe + i dL/dIm``)."""

    def forward(self, x):
        return np.imag(x).copy()

    def backward(self, g):
        return 1j * g

    def graph_backward(self, g):
        dtype = np.complex64 if g.dtype == np.float32 else np.complex128
        return Tensor(np.asarray(1j, dtype=dtype), dtype=dtype) * g


class Conj(Function):
    def forward(self, x):
        return np.conj(x)

    def backward(self, g):  # for complex inputs the adjoint of conj is conj
        return np.conj(g)

    def graph_backward(self, g):
        return Conj.apply(g) if g.dtype.kind == "c" else g


class Ceil(_Step):
    def compute(self, x):
        return np.ceil(x)


class Floor(_Step):
    def compute(self, x):
        return np.floor(x)


class Trunc(_Step):
    def compute(self, x):
        return np.trunc(x)


class Round(_Step):
    def compute(self, x, decimals=0):
        return np.round(x, decimals)  # halves to even, as NumPy and PyTorch


class Sign(_Step):
    def compute(self, x):
        return np.sign(x)


class Angle(_Step):
    def compute(self, x):
        # pi where x < 0, else 0, NaN kept (-0.0 gives 0, as Keras and PyTorch; np.angle says pi)
        return np.where(x < 0, np.pi, np.where(np.isnan(x), np.nan, 0)).astype(x.dtype)


class NanToNum(Function):
    def forward(self, x, nan=0.0, posinf=None, neginf=None):
        self.save_for_backward(np.isfinite(x))
        return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    def backward(self, g):
        # replaced values are constants: no gradient reaches them (as PyTorch)
        return g * self.saved[0]

    def graph_backward(self, g):
        return g * self.saved[0].astype(g.dtype)


def _float_unary(fn, x, int64_to=None):
    return fn.apply(_cast(x, _float_dtype(x, int64_to)))


def arccos(x):
    return _float_unary(Arccos, x)


def arccosh(x):
    return _float_unary(Arccosh, x)


def arcsin(x):
    return _float_unary(Arcsin, x)


def arcsinh(x):
    return _float_unary(Arcsinh, x)


def arctan(x):
    return _float_unary(Arctan, x)


def arctanh(x):
    return _float_unary(Arctanh, x)


def cos(x):
    return _float_unary(Cos, x)


def cosh(x):
    return _float_unary(Cosh, x)


def sin(x):
    return _float_unary(Sin, x)


def sinh(x):
    return _float_unary(Sinh, x)


def tan(x):
    return _float_unary(Tan, x)


def cbrt(x):
    return _float_unary(Cbrt, x, int64_to="float64")


def deg2rad(x):
    return _float_unary(Deg2rad, x, int64_to="float64")


def rad2deg(x):
    return _float_unary(Rad2deg, x, int64_to="float64")


def exp2(x):
    return _float_unary(Exp2, x)


def expm1(x):
    return _float_unary(Expm1, x)


def log10(x):
    return _float_unary(Log10, x)


def log1p(x):
    return _float_unary(Log1p, x)


def log2(x):
    return _float_unary(Log2, x)


def reciprocal(x):
    return _float_unary(Reciprocal, x)


def fabs(x):
    return _float_unary(Fabs, x)


def sinc(x):
    """sin(pi x) / (pi x), 1 at 0 (the normalised sinc, as NumPy and Keras)."""
    return _float_unary(Sinc, x)


def i0(x):
    """The modified Bessel function of the first kind, order 0; its derivative is I1."""
    return _float_unary(I0, x, int64_to="float64")


def angle(x):
    """The argument of each element: 0 for x >= 0 and pi for x < 0 on real input (zero gradient)."""
    key = _key(x)
    if not isinstance(key, (bool, int, float, complex)) and np.dtype(key).kind == "c":
        return Tensor(np.angle(to_array(x)), dtype=np.float32 if np.dtype(key) == np.complex64 else np.float64)
    return Angle.apply(_cast(x, _float_dtype(x)))


def _real_float_dtype(op: str, x) -> str:
    """``_float_dtype`` for an op of real numbers only (rounding has no meaning for complex)."""
    dtype = _float_dtype(x, int64_to=result_type(float))
    if "complex" in dtype:
        raise TypeError(f"{op}: complex input is not supported (dtype {dtype}); round np.real(x) instead")
    return dtype


def ceil(x):
    """Round up; ints and bool become floatx, as Keras's ``ceil`` (zero gradient)."""
    return Ceil.apply(_cast(x, _real_float_dtype("ceil", x)))


def floor(x):
    """Round down; ints and bool become floatx, as Keras's ``floor`` (zero gradient)."""
    return Floor.apply(_cast(x, _real_float_dtype("floor", x)))


def trunc(x):
    """Round toward zero, keeping the dtype (zero gradient)."""
    t = _cast(x, result_type(_key(x)))
    return Tensor(t.data.copy(), dtype=t.dtype) if t.dtype.kind in "biu" else Trunc.apply(t)


def round(x, decimals=0):
    """Round half to even to ``decimals`` places, keeping the dtype (zero gradient).

    Integers with negative ``decimals`` round to tens, hundreds, ... as NumPy does.
    """
    t = _cast(x, result_type(_key(x)))
    if t.dtype == np.bool_:
        raise TypeError("round: argument `x` must be numeric, got dtype bool")
    if not isinstance(decimals, (int, np.integer)):
        raise TypeError(f"round: `decimals` must be an integer, got {decimals!r}")
    return Round.apply(t, decimals=int(decimals))


def sign(x):
    """-1, 0 or 1 by the sign of each element, keeping the dtype (bool unchanged; zero gradient).

    NaN stays NaN, as in NumPy (Keras on PyTorch gives 0).
    """
    t = _cast(x, result_type(_key(x)))
    if t.dtype == np.bool_:
        return Tensor(t.data.copy(), dtype=np.bool_)
    return Sign.apply(t)


def signbit(x):
    """True where the sign bit is set (negative numbers and -0.0); bool, no gradient."""
    a = to_array(getattr(x, "data", x))
    return Tensor(np.signbit(a) if a.dtype != np.bool_ else np.zeros(a.shape, bool), dtype=np.bool_)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """NaN becomes ``nan``, +/-inf the given values or the dtype's largest finite numbers."""
    t = _cast(x, result_type(_key(x)))
    if t.dtype.kind in "biu":
        return Tensor(t.data.copy(), dtype=t.dtype)
    return NanToNum.apply(t, nan=nan, posinf=posinf, neginf=neginf)


def real(x):
    """The real part (the input itself, copied, for real dtypes)."""
    return Real.apply(_cast(x, result_type(_key(x))))


def imag(x):
    """The imaginary part: zeros for real dtypes (no gradient: the result does not depend on x);
    of a complex tensor, differentiable."""
    if isinstance(x, Tensor) and x.dtype.kind == "c" and x.requires_grad:
        return Imag.apply(x)
    a = to_array(getattr(x, "data", x))
    return Tensor(np.imag(a).copy(), dtype=np.imag(a).dtype)


def conj(x):
    """The complex conjugate (the input itself, copied, for real dtypes)."""
    t = _cast(x, result_type(_key(x)))
    return Conj.apply(t) if t.dtype.kind == "c" or t.requires_grad else Tensor(np.conj(t.data), dtype=t.dtype)


conjugate = conj


def copy(x):
    """A copy of ``x`` with its dtype; the gradient passes through."""
    return Identity.apply(_cast(x, result_type(_key(x))))


# ----------------------------------------------------------------------------- binary
class _Binary(Function):
    """A broadcasting y = f(a, b); subclasses give ``compute`` and ``partials`` (dy/da, dy/db)."""

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        with np.errstate(all="ignore"):
            out = np.asarray(self.compute(a, b)).astype(np.result_type(a, b), copy=False)
        self.save_for_backward(a, b, out)
        return out

    def backward(self, g):
        a, b, out = self.saved
        need_a, need_b = self.needs_input_grad
        with np.errstate(all="ignore"):
            da, db = self.partials(a, b, out, need_a, need_b)
        return (unbroadcast((g * da).astype(g.dtype, copy=False), self.a_shape) if need_a else None,
                unbroadcast((g * db).astype(g.dtype, copy=False), self.b_shape) if need_b else None)

    def graph_backward(self, g):
        """``backward`` with ``graph_partials``: the partials as recorded ops of the inputs (or constants)."""
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        with np.errstate(all="ignore"):
            da, db = self.graph_partials(a, b)
        return (unbroadcast(g * da, self.a_shape) if need_a else None,
                unbroadcast(g * db, self.b_shape) if need_b else None)


class Arctan2(_Binary):
    compute = staticmethod(np.arctan2)

    def partials(self, a, b, out, need_a, need_b):
        # atan2(a, b): d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2)
        r2 = a * a + b * b
        return b / r2, -a / r2

    def graph_partials(self, a, b):
        r2 = a * a + b * b
        return b / r2, -a / r2


class Logaddexp(_Binary):
    compute = staticmethod(np.logaddexp)

    def partials(self, a, b, out, need_a, need_b):
        # y = log(e^a + e^b): d/da = e^(a - y), d/db = e^(b - y)
        return np.exp(a - out), np.exp(b - out)

    def graph_partials(self, a, b):
        out = Logaddexp.apply(a, b)
        return exp(a - out), exp(b - out)


class Logaddexp2(_Binary):
    compute = staticmethod(np.logaddexp2)

    def partials(self, a, b, out, need_a, need_b):
        # y = log2(2^a + 2^b): d/da = 2^(a - y), d/db = 2^(b - y)
        return np.exp2(a - out), np.exp2(b - out)

    def graph_partials(self, a, b):
        out = Logaddexp2.apply(a, b)
        return Exp2.apply(a - out), Exp2.apply(b - out)


class Hypot(_Binary):
    compute = staticmethod(np.hypot)

    def partials(self, a, b, out, need_a, need_b):
        # y = sqrt(a^2 + b^2): d/da = a / y, d/db = b / y
        return a / out, b / out

    def graph_partials(self, a, b):
        out = Hypot.apply(a, b)
        return a / out, b / out


class DivideNoNan(_Binary):
    def compute(self, a, b):
        return np.where(b == 0, 0, a / np.where(b == 0, 1, b))

    def partials(self, a, b, out, need_a, need_b):
        # a / b where b != 0, else the constant 0
        safe = np.where(b == 0, 1, b)
        return np.where(b == 0, 0, 1 / safe), np.where(b == 0, 0, -a / (safe * safe))

    def graph_partials(self, a, b):
        zero = b.data == 0
        safe = where(zero, 1.0, b)
        return where(zero, 0.0, 1 / safe), where(zero, 0.0, -a / (safe * safe))


class Fmod(_Binary):
    compute = staticmethod(np.fmod)

    def partials(self, a, b, out, need_a, need_b):
        # a - b trunc(a / b): d/da = 1, d/db = -trunc(a / b)
        return 1, -np.trunc(a / b) if need_b else 0

    def graph_partials(self, a, b):  # the quotient's integer part is piecewise constant
        return 1.0, Tensor(-np.trunc(a.data / b.data))


class Mod(_Binary):
    compute = staticmethod(np.mod)

    def partials(self, a, b, out, need_a, need_b):
        # a - b floor(a / b): d/da = 1, d/db = -floor(a / b)
        return 1, -np.floor(a / b) if need_b else 0

    def graph_partials(self, a, b):
        return 1.0, Tensor(-np.floor(a.data / b.data))


class Fmax(_Binary):
    compute = staticmethod(np.fmax)

    def partials(self, a, b, out, need_a, need_b):
        # the gradient goes to the input that was chosen (ties and NaN in b: to a), as PyTorch
        to_a = (a >= b) | np.isnan(b)
        return to_a, ~to_a

    def graph_partials(self, a, b):
        to_a = (a.data >= b.data) | np.isnan(b.data)
        return to_a.astype(a.dtype), (~to_a).astype(a.dtype)


class Fmin(_Binary):
    compute = staticmethod(np.fmin)

    def partials(self, a, b, out, need_a, need_b):
        to_a = (a <= b) | np.isnan(b)
        return to_a, ~to_a

    def graph_partials(self, a, b):
        to_a = (a.data <= b.data) | np.isnan(b.data)
        return to_a.astype(a.dtype), (~to_a).astype(a.dtype)


class Ldexp(Function):
    def forward(self, a, e):
        self.a_shape = a.shape
        scale = np.exp2(e.astype(a.dtype))
        self.save_for_backward(scale)
        return (a * scale).astype(a.dtype, copy=False)

    def backward(self, g):  # y = a 2^e: d/da = 2^e (e is an integer: no gradient)
        return unbroadcast(g * self.saved[0], self.a_shape), None

    def graph_backward(self, g):
        return unbroadcast(g * self.saved[0], self.a_shape), None


def _float_binary(fn, op, x1, x2):
    a, b = _pair(op, x1, x2, result_type(_key(x1), _key(x2), float))
    return fn.apply(a, b)


def arctan2(x1, x2):
    """The angle of the point (x2, x1), in (-pi, pi]."""
    return _float_binary(Arctan2, "arctan2", x1, x2)


def logaddexp(x1, x2):
    """log(exp(x1) + exp(x2)), without overflow."""
    return _float_binary(Logaddexp, "logaddexp", x1, x2)


def logaddexp2(x1, x2):
    """log2(2^x1 + 2^x2), without overflow."""
    return _float_binary(Logaddexp2, "logaddexp2", x1, x2)


def hypot(x1, x2):
    """sqrt(x1^2 + x2^2), without overflow."""
    return _float_binary(Hypot, "hypot", x1, x2)


def divide_no_nan(x1, x2):
    """x1 / x2, and 0 wherever x2 is 0."""
    return _float_binary(DivideNoNan, "divide_no_nan", x1, x2)


def true_divide(x1, x2):
    """x1 / x2 in floating point (integers become floatx)."""
    a, b = _pair("true_divide", x1, x2, result_type(_key(x1), _key(x2), float))
    with np.errstate(divide="ignore", invalid="ignore"):  # x / 0 is +-inf or NaN, silently as Keras
        return divide(a, b)


def nextafter(x1, x2):
    """The next representable number after x1 toward x2 (no gradient, as in PyTorch)."""
    a, b = _pair("nextafter", x1, x2, result_type(_key(x1), _key(x2), float))
    return Tensor(np.nextafter(a.data, b.data), dtype=a.dtype)


def _same_type_binary(op, x1, x2):
    dtype = result_type(_key(x1), _key(x2))
    return _pair(op, x1, x2, "int32" if dtype == "bool" else dtype)


def fmod(x1, x2):
    """C's remainder: the sign of x1 (bool inputs give int32)."""
    a, b = _same_type_binary("fmod", x1, x2)
    if a.dtype.kind in "biu":
        with np.errstate(all="ignore"):
            return Tensor(np.fmod(a.data, b.data), dtype=a.dtype)
    return Fmod.apply(a, b)


def mod(x1, x2):
    """Python's remainder: the sign of x2 (bool inputs give int32)."""
    a, b = _same_type_binary("mod", x1, x2)
    if a.dtype.kind in "biu":
        with np.errstate(all="ignore"):
            return Tensor(np.mod(a.data, b.data), dtype=a.dtype)
    return Mod.apply(a, b)


def floor_divide(x1, x2):
    """floor(x1 / x2) in the promoted dtype (no gradient: the result is piecewise constant)."""
    a, b = _same_type_binary("floor_divide", x1, x2)
    with np.errstate(all="ignore"):
        return Tensor(np.floor_divide(a.data, b.data), dtype=a.dtype)


def fmax(x1, x2):
    """The larger of x1 and x2, ignoring NaN where only one is NaN."""
    a, b = _pair("fmax", x1, x2, result_type(_key(x1), _key(x2)))
    if a.dtype.kind in "biu":
        return Tensor(np.fmax(a.data, b.data), dtype=a.dtype)
    return Fmax.apply(a, b)


def fmin(x1, x2):
    """The smaller of x1 and x2, ignoring NaN where only one is NaN."""
    a, b = _pair("fmin", x1, x2, result_type(_key(x1), _key(x2)))
    if a.dtype.kind in "biu":
        return Tensor(np.fmin(a.data, b.data), dtype=a.dtype)
    return Fmin.apply(a, b)


def heaviside(x1, x2):
    """0 where x1 < 0, x2 where x1 == 0, 1 where x1 > 0 (no gradient, as in PyTorch).

    Integer inputs give floatx (int64 gives float64), two bools give bool, as Keras.
    """
    dtype = result_type(_key(x1), _key(x2))
    if dtype == "int64":
        dtype = "float64"
    elif dtype != "bool" and np.dtype(dtype).kind in "iu":
        dtype = result_type(float)
    a, b = _pair("heaviside", x1, x2, dtype)
    return Tensor(np.heaviside(a.data, b.data).astype(dtype), dtype=dtype)


def ldexp(x1, x2):
    """x1 * 2**x2, x2 an integer; differentiable in x1."""
    _integers_only("ldexp", x2=x2)
    a = _cast(x1, _float_dtype(x1))
    e = _cast(x2, result_type(_key(x2)))
    _check_broadcast("ldexp", a, e)
    return Ldexp.apply(a, e)


def _int_binary(op, fn, x1, x2):
    _integers_only(op, x1=x1, x2=x2)
    a, b = _pair(op, x1, x2, result_type(_key(x1), _key(x2)))
    if a.dtype == np.bool_:
        raise TypeError(f"{op}: arguments must be integer, got two bool arrays")
    return Tensor(fn(a.data, b.data), dtype=a.dtype)


def gcd(x1, x2):
    """The greatest common divisor of integers (non-negative)."""
    return _int_binary("gcd", np.gcd, x1, x2)


def lcm(x1, x2):
    """The least common multiple of integers (non-negative)."""
    return _int_binary("lcm", np.lcm, x1, x2)

