"""The activations of ``keras.ops.nn`` that ``activation.py`` does not hold, with Keras's signatures.

Each is one graph node: forward on NumPy arrays, the derivative beside it. Integer and
bool inputs become ``floatx`` first, except for the piecewise-linear ``relu6``,
``hard_tanh`` and ``threshold``, which keep an integer dtype as Keras does.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function, Tensor
from . import manipulation as _shape
from .activation import GELU
from .math import exp, where
from .dtypes import to_array


def as_op_input(x, floating: bool = True) -> Tensor:
    """``x`` as a Tensor with Keras's dtype; integer/bool data made ``floatx`` when ``floating``."""
    if not isinstance(x, Tensor):
        a = to_array(x)
        x = Tensor(a, dtype=a.dtype)
    if floating and x.dtype.kind not in "fc":
        x = Tensor(x.data.astype(backend.floatx()), dtype=backend.floatx())
    return x


def _c(value, like: np.ndarray):
    """A constant in the dtype of ``like``, so float16/float32 are never promoted."""
    return np.asarray(value, dtype=like.dtype)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    # 1 / (1 + e^-a) from e^-|a|, never overflowing
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def _axis(axis, ndim: int, op: str) -> int:
    if not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis!r} is out of range for an input of rank {ndim}")
    return int(axis) % ndim


class ReLU6(Function):
    def forward(self, a):
        self.save_for_backward((a > 0) & (a < 6))
        return np.clip(a, 0, 6).astype(a.dtype, copy=False)

    def backward(self, g):
        # d/da min(max(a, 0), 6) = 1 on (0, 6)
        return g * self.saved[0]

    def graph_backward(self, g):
        return g * self.saved[0]  # a constant mask: the second derivative is 0


class HardTanh(Function):
    def forward(self, a):
        self.save_for_backward((a > -1) & (a < 1))
        return np.clip(a, -1, 1).astype(a.dtype, copy=False)

    def backward(self, g):
        # d/da clip(a, -1, 1) = 1 on (-1, 1)
        return g * self.saved[0]

    def graph_backward(self, g):
        return g * self.saved[0]  # a constant mask: the second derivative is 0


class HardSigmoid(Function):
    def forward(self, a):
        # relu6(a + 3) / 6
        self.save_for_backward((a > -3) & (a < 3))
        return np.clip(a / _c(6, a) + _c(0.5, a), 0, 1)

    def backward(self, g):
        return g * self.saved[0] / _c(6, g)

    def graph_backward(self, g):
        return g * (self.saved[0] / _c(6, g))  # a constant slope: the second derivative is 0


class HardSilu(Function):
    def forward(self, a):
        # a relu6(a + 3) / 6
        self.save_for_backward(a)
        return a * np.clip(a / _c(6, a) + _c(0.5, a), 0, 1)

    def backward(self, g):
        # 0 below -3, 1 above 3, (2a + 3) / 6 between (PyTorch's hardswish convention at the ends)
        a = self.saved[0]
        d = np.where(a < -3, _c(0, a), np.where(a <= 3, a / _c(3, a) + _c(0.5, a), _c(1, a)))
        return g * d

    def graph_backward(self, g):
        # (2a + 3) / 6 on [-3, 3], constants outside
        a = self.inputs[0]
        mid = (a.data >= -3) & (a.data <= 3)
        return g * where(mid, a / 3 + 0.5, (a.data > 3).astype(a.dtype))


class Silu(Function):
    def forward(self, a):
        s = _sigmoid(a)
        self.save_for_backward(a, s)
        return a * s

    def backward(self, g):
        # d/da a s(a) = s + a s (1 - s)
        a, s = self.saved
        return g * (s * (1 + a * (1 - s)))

    def graph_backward(self, g):
        a = self.inputs[0]
        s = a.sigmoid()
        return g * (s * (1 + a * (1 - s)))


class LogSigmoid(Function):
    def forward(self, a):
        # log s(a) = min(a, 0) - log(1 + e^-|a|)
        self.save_for_backward(a)
        return np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a)))

    def backward(self, g):
        # d/da log s(a) = 1 - s(a) = s(-a)
        return g * _sigmoid(-self.saved[0])

    def graph_backward(self, g):
        return g * (-self.inputs[0]).sigmoid()


class CELU(Function):
    def forward(self, a, alpha=1.0):
        # max(0, a) + min(0, alpha (e^(a/alpha) - 1))
        self.alpha = _c(alpha, a)
        e = np.exp(np.minimum(a, 0) / self.alpha)
        self.save_for_backward(a > 0, e)
        return np.where(a > 0, a, self.alpha * (e - 1))

    def backward(self, g):
        # 1 for a > 0, e^(a/alpha) otherwise
        pos, e = self.saved
        return g * np.where(pos, _c(1, e), e)

    def graph_backward(self, g):
        a, pos = self.inputs[0], self.saved[0]
        return g * where(pos, 1.0, exp(where(pos, 0.0, a) / self.alpha))


class GLU(Function):
    def forward(self, a, axis=-1):
        axis = _axis(axis, a.ndim, "glu")
        if a.shape[axis] % 2:
            raise ValueError(f"glu: the size of axis {axis} must be even, got input shape {a.shape}")
        self.axis = axis
        first, second = np.split(a, 2, axis=axis)
        s = _sigmoid(second)
        self.save_for_backward(first, s)
        return first * s

    def backward(self, g):
        # y = u s(v):  du = g s(v),  dv = g u s(v) (1 - s(v))
        u, s = self.saved
        return np.concatenate([g * s, g * u * s * (1 - s)], axis=self.axis)

    def graph_backward(self, g):
        u, v = _shape.split(self.inputs[0], 2, axis=self.axis)
        s = v.sigmoid()
        return _shape.concatenate([g * s, g * u * s * (1 - s)], axis=self.axis)


class Shrink(Function):
    """hard_shrink (``soft=False``): a where |a| > t else 0; soft_shrink: a - t sign(a) where |a| > t."""

    def forward(self, a, threshold=0.5, soft=False):
        t = _c(threshold, a)
        keep = np.abs(a) > t
        self.save_for_backward(keep)
        out = a - np.sign(a) * t if soft else a
        return np.where(keep, out, _c(0, a))

    def backward(self, g):
        return g * self.saved[0]

    def graph_backward(self, g):
        return g * self.saved[0]  # a constant mask: the second derivative is 0


class Softsign(Function):
    def forward(self, a):
        d = 1 + np.abs(a)
        self.save_for_backward(d)
        return a / d

    def backward(self, g):
        # d/da a / (1 + |a|) = 1 / (1 + |a|)^2
        d = self.saved[0]
        return g / (d * d)

    def graph_backward(self, g):
        d = 1 + self.inputs[0].abs()
        return g / (d * d)


class SparsePlus(Function):
    def forward(self, a):
        # 0 for a <= -1, (a + 1)^2 / 4 for -1 < a < 1, a for a >= 1
        self.save_for_backward(a)
        mid = (a + 1) ** 2 / _c(4, a)
        return np.where(a <= -1, _c(0, a), np.where(a < 1, mid, a))

    def backward(self, g):
        # 0, (a + 1) / 2, 1 on the three pieces
        a = self.saved[0]
        return g * np.where(a <= -1, _c(0, a), np.where(a < 1, (a + 1) / _c(2, a), _c(1, a)))

    def graph_backward(self, g):
        a = self.inputs[0]
        mid = (a.data > -1) & (a.data < 1)
        return g * where(mid, (a + 1) / 2, (a.data >= 1).astype(a.dtype))


class SparseSigmoid(Function):
    def forward(self, a):
        # 0 for a <= -1, (a + 1) / 2 between, 1 for a >= 1
        self.save_for_backward((a > -1) & (a < 1))
        return np.clip((a + 1) / _c(2, a), 0, 1)

    def backward(self, g):
        return g * self.saved[0] / _c(2, g)

    def graph_backward(self, g):
        return g * (self.saved[0] / _c(2, g))  # a constant slope: the second derivative is 0


class Sparsemax(Function):
    """Euclidean projection onto the simplex along ``axis`` (Martins and Astudillo, 2016).

    y = max(a - tau, 0) with tau chosen so that sum(y) = 1; the support is S = {y > 0}.
    """

    def forward(self, a, axis=-1):
        self.axis = axis = _axis(axis, a.ndim, "sparsemax")
        z = -np.sort(-a, axis=axis)  # descending
        cumulative = np.cumsum(z, axis=axis)
        shape = [1] * a.ndim
        shape[axis] = -1
        k = np.arange(1, a.shape[axis] + 1, dtype=a.dtype).reshape(shape)
        support = z - (cumulative - 1) / k > 0
        size = support.sum(axis=axis, keepdims=True)
        # tau = (z_1 + ... + z_k - 1) / k over the k largest entries. Keras 3.15 sums the
        # cumulative sums instead, which breaks sum(y) = 1 whenever k > 1; this is the projection.
        total = np.take_along_axis(cumulative, size - 1, axis=axis)
        tau = (total - 1) / size.astype(a.dtype)
        out = np.maximum(a - tau, 0)
        self.save_for_backward(out > 0)
        return out

    def backward(self, g):
        # dy/da = diag(S) - S S^T / |S|:  da = S (g - sum_S(g) / |S|)
        s = self.saved[0]
        n = s.sum(axis=self.axis, keepdims=True).astype(g.dtype)
        mean = (g * s).sum(axis=self.axis, keepdims=True) / n
        return s * (g - mean)

    def graph_backward(self, g):
        # linear in g with a constant support (piecewise linear): the same formula, recorded
        s = self.saved[0].astype(g.dtype)
        n = s.sum(axis=self.axis, keepdims=True)
        return s * (g - (g * s).sum(axis=self.axis, keepdims=True) / n)


class Squareplus(Function):
    def forward(self, a, b=4):
        self.b = b
        root = np.sqrt(a * a + _c(b, a))
        self.save_for_backward(a, root)
        return (a + root) / _c(2, a)

    def backward(self, g):
        # d/da (a + sqrt(a^2 + b)) / 2 = (1 + a / sqrt(a^2 + b)) / 2
        a, root = self.saved
        return g * (1 + a / root) / _c(2, g)

    def graph_backward(self, g):
        a = self.inputs[0]
        return g * (1 + a * (a * a + self.b) ** -0.5) / 2


class TanhShrink(Function):
    def forward(self, a):
        t = np.tanh(a)
        self.save_for_backward(t)
        return a - t

    def backward(self, g):
        # d/da (a - tanh a) = tanh^2 a
        t = self.saved[0]
        return g * t * t

    def graph_backward(self, g):
        t = self.inputs[0].tanh()
        return g * t * t


class Threshold(Function):
    def forward(self, a, threshold=0.0, default_value=0.0):
        keep = a > threshold
        self.save_for_backward(keep)
        return np.where(keep, a, np.asarray(default_value).astype(a.dtype))

    def backward(self, g):
        # a passes where a > threshold, the constant elsewhere
        return g * self.saved[0]

    def graph_backward(self, g):
        return g * self.saved[0]  # a constant mask: the second derivative is 0


def relu6(x):
    """``min(max(x, 0), 6)``."""
    return ReLU6.apply(as_op_input(x, floating=False))


def hard_tanh(x):
    """``clip(x, -1, 1)``."""
    return HardTanh.apply(as_op_input(x, floating=False))


def hard_sigmoid(x):
    """``relu6(x + 3) / 6``."""
    return HardSigmoid.apply(as_op_input(x))


def hard_silu(x):
    """``x * relu6(x + 3) / 6``, also named hard_swish."""
    return HardSilu.apply(as_op_input(x))


hard_swish = hard_silu


def silu(x):
    """``x * sigmoid(x)``, also named swish."""
    return Silu.apply(as_op_input(x))


swish = silu


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large ``|x|``."""
    return LogSigmoid.apply(as_op_input(x))


def celu(x, alpha=1.0):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be zero")
    return CELU.apply(as_op_input(x), alpha=alpha)


def glu(x, axis=-1):
    """Gated linear unit: ``a * sigmoid(b)`` where ``x`` is split in halves ``a, b`` along ``axis``."""
    return GLU.apply(as_op_input(x), axis=axis)


def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, else 0."""
    return Shrink.apply(as_op_input(x), threshold=threshold, soft=False)


def soft_shrink(x, threshold=0.5):
    """``x - threshold`` above ``threshold``, ``x + threshold`` below ``-threshold``, else 0."""
    return Shrink.apply(as_op_input(x), threshold=threshold, soft=True)


def softsign(x):
    """``x / (1 + |x|)``."""
    return Softsign.apply(as_op_input(x))


def sparse_plus(x):
    """0 for ``x <= -1``, ``(x + 1)^2 / 4`` for ``|x| < 1``, ``x`` for ``x >= 1``."""
    return SparsePlus.apply(as_op_input(x))


def sparse_sigmoid(x):
    """0 for ``x <= -1``, ``(x + 1) / 2`` for ``|x| < 1``, 1 for ``x >= 1``."""
    return SparseSigmoid.apply(as_op_input(x))


def sparsemax(x, axis=-1):
    """The projection of ``x`` onto the probability simplex along ``axis``: a softmax with exact zeros."""
    return Sparsemax.apply(as_op_input(x), axis=axis)


def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2``, a smooth relu."""
    if b < 0:
        raise ValueError(f"squareplus: b must be non-negative, got {b}")
    return Squareplus.apply(as_op_input(x), b=b)


def tanh_shrink(x):
    """``x - tanh(x)``."""
    return TanhShrink.apply(as_op_input(x))


def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, else ``default_value``."""
    return Threshold.apply(as_op_input(x, floating=False), threshold=threshold, default_value=default_value)


__all__ = [
    "celu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "log_sigmoid", "relu6", "silu", "soft_shrink", "softsign", "sparse_plus", "sparse_sigmoid",
    "sparsemax", "squareplus", "swish", "tanh_shrink", "threshold",
]
