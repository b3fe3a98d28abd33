"""Elementwise arithmetic: each op's forward and backward side by side.

Binary ops broadcast as NumPy does; their gradients are reduced by ``unbroadcast``.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import FloatMath, Function, Tensor, unbroadcast
from ..autograd.function import keeping_tensor


def _broadcast_error(op: str, *operands) -> None:
    """Raise a ValueError naming ``op`` and every shape if the operands do not broadcast."""
    # as_array: a ragged operand is named as such rather than failing inside np.shape
    shapes = [x.shape if isinstance(x, Tensor) else backend.as_array(x).shape for x in operands]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        listed = ", ".join(str(tuple(s)) for s in shapes[:-1]) + f" and {tuple(shapes[-1])}"
        raise ValueError(f"{op}: shapes {listed} cannot be broadcast") from None


class _Binary(Function):
    """A broadcasting op of two inputs; subclasses implement ``compute(a, b)``.

    ``forward`` keeps the input shapes so backward can undo broadcasting. The public
    functions turn NumPy's broadcasting error into one that names the function and both
    shapes (checked only after a failure, so the common path costs nothing).
    """

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        return self.compute(a, b)

    def compute(self, a, b):  # pragma: no cover - interface
        raise NotImplementedError

    def _reduce(self, ga, gb):
        return (
            unbroadcast(ga, self.a_shape) if ga is not None else None,
            unbroadcast(gb, self.b_shape) if gb is not None else None,
        )

    def _reduce_graph(self, ga, gb):
        """``_reduce`` for gradients that are Tensors (``graph_backward``)."""
        return (
            unbroadcast(ga, self.a_shape) if ga is not None else None,
            unbroadcast(gb, self.b_shape) if gb is not None else None,
        )


class Add(_Binary):
    keeps_integers = True

    def compute(self, a, b):
        return a + b

    def backward(self, g):
        return self._reduce(g, g)

    def graph_backward(self, g):
        return self._reduce_graph(g, g)


class Sub(_Binary):
    keeps_integers = True

    def compute(self, a, b):
        return a - b

    def backward(self, g):
        return self._reduce(g, -g if self.needs_input_grad[1] else None)

    def graph_backward(self, g):
        return self._reduce_graph(g, -g if self.needs_input_grad[1] else None)


class Mul(_Binary):
    keeps_integers = True

    def compute(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, g):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        return self._reduce(g * b if need_a else None, g * a if need_b else None)

    def graph_backward(self, g):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        return self._reduce_graph(g * b if need_a else None, g * a if need_b else None)


class Div(FloatMath, _Binary):

    def compute(self, a, b):
        self.save_for_backward(a, b)
        return a / b

    def backward(self, g):
        # d(a/b) = da / b - a db / b^2
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        gb = g / b
        return self._reduce(gb if need_a else None, -gb * a / b if need_b else None)

    def graph_backward(self, g):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        gb = g / b
        return self._reduce_graph(gb if need_a else None, -gb * a / b if need_b else None)


class Pow(_Binary):
    keeps_integers = True

    def compute(self, a, b):
        out = np.power(a, b)
        self.save_for_backward(a, b, out)
        return out

    def backward(self, g):
        # d(a^b) = b a^(b-1) da + a^b ln(a) db
        a, b, out = self.saved
        need_a, need_b = self.needs_input_grad
        ga = None
        if need_a:  # 0 where b == 0 (a^0 is constant), as PyTorch: not 0 * 0^-1 = nan at a == 0
            with np.errstate(divide="ignore", invalid="ignore"):
                ga = g * b * np.power(a, b - 1)
            zero = b == 0
            if np.any(zero):
                ga = np.where(zero, np.zeros((), ga.dtype), ga)
        gb = None
        if need_b:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * out * np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0).astype(out.dtype)
        return self._reduce(ga, gb)

    def graph_backward(self, g):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        ga = None
        if need_a:  # 0 where b == 0, as backward; there the masked branch takes a^1, whose own
            # derivatives are finite (a^-1 would send 0 * inf = nan through the mask)
            zero = np.asarray(b.data) == 0
            if np.any(zero):
                ga = where(zero, 0.0, g * b * a ** where(zero, 1.0, b - 1))
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    ga = g * b * a ** (b - 1)
        gb = None
        if need_b:  # a^b ln a, taken as 0 where a <= 0 (as backward does)
            positive = a.data > 0
            safe = where(positive, a, 1.0)
            gb = g * a ** b * where(positive, log(safe), 0.0)
        return self._reduce_graph(ga, gb)


class Maximum(_Binary):
    keeps_integers = True

    def compute(self, a, b):
        self.save_for_backward(a, b)
        return np.maximum(a, b)

    def backward(self, g):
        # ties split the gradient evenly, as PyTorch does
        a, b = self.saved
        wa = (a > b) + 0.5 * (a == b)
        return self._reduce(g * wa.astype(g.dtype), g * (1 - wa).astype(g.dtype))

    def graph_backward(self, g):
        a, b = self.saved
        wa = (a > b) + 0.5 * (a == b)
        return self._reduce_graph(g * wa.astype(g.dtype), g * (1 - wa).astype(g.dtype))


class Minimum(_Binary):
    keeps_integers = True

    def compute(self, a, b):
        self.save_for_backward(a, b)
        return np.minimum(a, b)

    def backward(self, g):
        a, b = self.saved
        wa = (a < b) + 0.5 * (a == b)
        return self._reduce(g * wa.astype(g.dtype), g * (1 - wa).astype(g.dtype))

    def graph_backward(self, g):
        a, b = self.saved
        wa = (a < b) + 0.5 * (a == b)
        return self._reduce_graph(g * wa.astype(g.dtype), g * (1 - wa).astype(g.dtype))


class Where(Function):
    keeps_integers = True
    def forward(self, cond, a, b):
        cond = cond.astype(bool)
        self.a_shape, self.b_shape = a.shape, b.shape
        self.save_for_backward(cond)
        return np.where(cond, a, b)

    def backward(self, g):
        cond = self.saved[0]
        zero = np.zeros((), g.dtype)
        ga = unbroadcast(np.where(cond, g, zero), self.a_shape) if self.needs_input_grad[1] else None
        gb = unbroadcast(np.where(cond, zero, g), self.b_shape) if self.needs_input_grad[2] else None
        return None, ga, gb

    def graph_backward(self, g):
        cond = self.saved[0]
        ga = unbroadcast(g * cond, self.a_shape) if self.needs_input_grad[1] else None
        gb = unbroadcast(g * ~cond, self.b_shape) if self.needs_input_grad[2] else None
        return None, ga, gb


class Neg(Function):
    keeps_integers = True
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g

    def graph_backward(self, g):
        return -g


class Exp(FloatMath):
    def forward(self, a):
        out = np.exp(a)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        return g * self.saved[0]

    def graph_backward(self, g):
        return g * exp(self.inputs[0])


class Log(FloatMath):
    def forward(self, a):
        self.save_for_backward(a)
        return np.log(a)

    def backward(self, g):
        return g / self.saved[0]

    def graph_backward(self, g):
        return g / self.inputs[0]


class Sqrt(FloatMath):
    def forward(self, a):
        out = np.sqrt(a)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        return g / (2 * self.saved[0])

    def graph_backward(self, g):
        return g / (2 * sqrt(self.inputs[0]))


class Abs(Function):
    keeps_integers = True
    def forward(self, a):
        self.save_for_backward(a)
        return np.abs(a)

    def backward(self, g):
        return g * np.sign(self.saved[0])

    def graph_backward(self, g):
        return g * np.sign(self.saved[0])


class Clip(Function):
    keeps_integers = True
    def forward(self, a, lo=None, hi=None):
        if self.needs_input_grad[0]:
            # gradient passes where the input is inside [lo, hi] (bounds included, as PyTorch)
            inside = np.ones(a.shape, bool)
            if lo is not None:
                inside &= a >= lo
            if hi is not None:
                inside &= a <= hi
            self.save_for_backward(inside)
        return np.clip(a, lo, hi).astype(a.dtype, copy=False)

    def backward(self, g):
        return g * self.saved[0]

    def graph_backward(self, g):
        return g * self.saved[0]  # a constant mask: the second derivative is 0


def add(x1, x2):
    try:
        return Add.apply(x1, x2)
    except ValueError:
        _broadcast_error("add", x1, x2)
        raise


def subtract(x1, x2):
    try:
        return Sub.apply(x1, x2)
    except ValueError:
        _broadcast_error("subtract", x1, x2)
        raise


def multiply(x1, x2):
    try:
        return Mul.apply(x1, x2)
    except ValueError:
        _broadcast_error("multiply", x1, x2)
        raise


def divide(x1, x2):
    try:
        return Div.apply(x1, x2)
    except ValueError:
        _broadcast_error("divide", x1, x2)
        raise


def power(x1, x2):
    try:
        return Pow.apply(x1, x2)
    except ValueError:
        _broadcast_error("power", x1, x2)
        raise


def maximum(x1, x2):
    try:
        return Maximum.apply(x1, x2)
    except ValueError:
        _broadcast_error("maximum", x1, x2)
        raise


def minimum(x1, x2):
    try:
        return Minimum.apply(x1, x2)
    except ValueError:
        _broadcast_error("minimum", x1, x2)
        raise


def where(condition, x1=None, x2=None):
    """``condition ? x1 : x2``, differentiable in ``x1`` and ``x2``.

    With ``x1`` and ``x2`` left out, the indices where ``condition`` holds, one integer
    tensor per axis (NumPy's ``nonzero``), as Keras's ``where``.
    """
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if x1 is None and x2 is None:
        return tuple(Tensor(i, dtype=i.dtype) for i in np.nonzero(cond))
    if x1 is None or x2 is None:
        raise ValueError("where: give both x1 and x2, or neither (for the indices where condition holds)")
    try:
        return Where.apply(Tensor(cond.astype(bool, copy=False), dtype=bool), x1, x2)
    except ValueError:
        _broadcast_error("where", cond, x1, x2)
        raise


def negative(x):
    return Neg.apply(x)


def exp(x):
    return Exp.apply(x)


def log(x):
    return Log.apply(x)


def sqrt(x):
    return Sqrt.apply(x)


def square(x):
    if not isinstance(x, Tensor) or x.data.dtype == np.bool_:
        x = keeping_tensor(x)
        if x.data.dtype == np.bool_:  # Keras squares bools as int32
            x = Tensor(x.data, dtype=np.int32)
    return Mul.apply(x, x)


def abs(x):  # noqa: A001 - NumPy's name
    return Abs.apply(x)


def clip(x, x_min=None, x_max=None):
    """``x`` limited to ``[x_min, x_max]`` (either may be None); the gradient flows where it is inside."""
    return Clip.apply(x, lo=x_min, hi=x_max)


absolute = abs
sub = subtract
mul = multiply
div = divide
pow = power  # noqa: A001
neg = negative
