"""Statistics: logical and arg reductions, products, running sums, quantiles, the NaN-ignoring
family, correlation, differences, integration and counting.

Dtypes follow Keras: small integers and bool sum and multiply as int32, quantiles and means
of integers are floats, arg-reductions and counts are int32. 64-bit inputs keep 64 bits.
"""
from __future__ import annotations

import builtins

import numpy as np

from ..autograd import Function, Tensor, is_grad_enabled
from ..autograd.higher_order import frozen, linear_backward, recomputed_backward
from . import math as _math
from . import manipulation as _shape
from . import reduce as _reduce
from .arrangement import _axis, as_tensor, cast, diagonal, index_map, moveaxis, ravel, result_type
from .dtypes import to_array
from .indexing import get_item
from .reduce import _axes


def _float_dtype(dtype) -> np.dtype:
    """The float dtype an op on integers returns: ``result_type(dtype, float)``."""
    return np.dtype(result_type(dtype, float))


def _keep(out: np.ndarray, dtype) -> Tensor:
    dtype = np.dtype(dtype)
    return Tensor(np.asarray(out).astype(dtype, copy=False), dtype=dtype)


def _grad_path(t: Tensor) -> bool:
    return t.requires_grad and is_grad_enabled()


# ------------------------------------------------------------------ logical and arg reductions
def all(x, axis=None, keepdims=False):  # noqa: A001 - NumPy's name
    a = to_array(x)
    return _keep(np.all(a, axis=_axes(axis, a.ndim, "all"), keepdims=keepdims), bool)


def any(x, axis=None, keepdims=False):  # noqa: A001
    a = to_array(x)
    return _keep(np.any(a, axis=_axes(axis, a.ndim, "any"), keepdims=keepdims), bool)


def _arg(fn, x, axis, keepdims, op):
    a = to_array(x)
    if a.size == 0:
        raise ValueError(f"{op}: cannot reduce an empty tensor of shape {a.shape}")
    if axis is not None:
        axis = _axis(axis, a.ndim, op)
    return _keep(fn(a, axis=axis, keepdims=keepdims), np.int32)


def argmax(x, axis=None, keepdims=False):
    """int32 index of the largest value (the first one on ties; NaN counts as largest)."""
    return _arg(np.argmax, x, axis, keepdims, "argmax")


def argmin(x, axis=None, keepdims=False):
    return _arg(np.argmin, x, axis, keepdims, "argmin")


def count_nonzero(x, axis=None):
    a = to_array(x)
    return _keep(np.count_nonzero(a, axis=_axes(axis, a.ndim, "count_nonzero")), np.int32)


# ------------------------------------------------------------------ running sums and products
def _accumulate_dtype(x_dtype, dtype) -> np.dtype:
    out = np.dtype(result_type(dtype or x_dtype))
    return np.dtype(np.int32) if out == np.bool_ else out


class CumSum(Function):
    def forward(self, a, axis=0, dtype=None):
        self.axis = axis
        work = np.float32 if dtype == np.float16 else dtype  # float16 accumulates in float32
        return np.cumsum(a, axis=axis, dtype=work).astype(dtype, copy=False)

    def backward(self, g):
        # d out_j / d a_i = [j >= i]: the reversed running sum of g
        return np.flip(np.cumsum(np.flip(g, self.axis), axis=self.axis), self.axis)

    def graph_backward(self, g):
        # linear in g; the adjoint of the reversed running sum is the running sum
        axis = self.axis
        return linear_backward(self, g, lambda u: np.cumsum(u, axis=axis))


def _reversed_cumsum(t, axis):
    """sum_{j >= i} t_j along ``axis``, from recorded ops: sum(t) - cumsum(t) + t."""
    return _reduce.sum(t, axis=axis, keepdims=True) - CumSum.apply(t, axis=axis, dtype=t.dtype) + t


def _products_along_last(m, op_dtype):
    """``Prod`` over the last axis, recorded."""
    return Prod.apply(m, axes=(m.ndim - 1,), keepdims=False, dtype=op_dtype)


class CumProd(Function):
    """out_j = prod_{k <= j} a_k, with a gradient that stays exact when ``a`` has zeros.

    d out_j / d a_i = prod_{k <= j, k != i} a_k for j >= i. Before the first zero z this is
    out_j / a_i; at z it is the running product with a_z replaced by 1; after z it is 0.
    """

    def forward(self, a, axis=0, dtype=None):
        self.axis = axis
        work = np.float32 if dtype == np.float16 else dtype
        out = np.cumprod(a, axis=axis, dtype=work).astype(dtype, copy=False)
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, out = self.saved
        ax = self.axis
        zeros_so_far = np.cumsum(a == 0, axis=ax)
        before = zeros_so_far == 0
        first_zero = (a == 0) & (zeros_so_far == 1)
        safe = np.where(before, a, 1)
        # i before the first zero: sum_{i <= j < z} g_j out_j / a_i
        tail = np.flip(np.cumsum(np.flip(np.where(before, g * out, 0), ax), axis=ax), ax)
        grad = tail / safe
        if first_zero.any():
            # i = z: sum_{j >= z} g_j prod_{k <= j, k != z} a_k
            skip = np.cumprod(np.where(first_zero, 1, a), axis=ax)
            at_zero = np.sum(np.where(zeros_so_far >= 1, g * skip, 0), axis=ax, keepdims=True)
            grad = np.where(first_zero, at_zero, np.where(before, grad, 0))
        return grad.astype(g.dtype, copy=False)

    def graph_backward(self, g):
        (a,) = self.inputs
        axis = self.axis
        if not (a.data == 0).any():
            # d/da_i sum_j g_j out_j = sum_{j >= i} g_j out_j / a_i
            out = CumProd.apply(a, axis=axis, dtype=a.dtype)
            return _reversed_cumsum(g * out, axis) / a
        # with zeros: out_j = prod_k m_jk, m_jk = a_k for k <= j else 1, through Prod's exact rule
        return recomputed_backward(self, g, lambda a: _cumprod_by_products(a, axis))[0]


def _cumprod_by_products(a, axis):
    """cumprod as products over an (n, n) lower-triangular arrangement: recorded ops only."""
    at = moveaxis(a, axis, -1)
    n = at.shape[-1]
    lower = np.tril(np.ones((n, n), dtype=bool))
    m = _math.where(lower, _shape.expand_dims(at, -2), np.ones((), a.dtype))
    return moveaxis(_products_along_last(m, a.dtype), -1, axis)


def _running(cls, x, axis, dtype, op):
    t = as_tensor(x)
    out_dtype = _accumulate_dtype(t.dtype, dtype)
    if axis is None or t.ndim == 0:
        t, axis = ravel(t), 0
    axis = _axis(axis, t.ndim, op)
    if not _grad_path(t) or out_dtype.kind != "f":
        return Tensor(cls().forward(t.data, axis=axis, dtype=out_dtype), dtype=out_dtype)
    return cls.apply(cast(t, out_dtype), axis=axis, dtype=out_dtype)


def cumsum(x, axis=None, dtype=None):
    """Running sum along ``axis`` (the flattened tensor when None); bool sums as int32."""
    return _running(CumSum, x, axis, dtype, "cumsum")


def cumprod(x, axis=None, dtype=None):
    """Running product along ``axis`` (the flattened tensor when None); exact gradient at zeros."""
    return _running(CumProd, x, axis, dtype, "cumprod")


class Prod(Function):
    """prod over ``axes``; d/d a_i = prod_{k != i} a_k, computed without dividing by zero."""

    def forward(self, a, axes=(), keepdims=False, dtype=None):
        self.axes, self.keepdims = axes, keepdims
        work = np.float32 if dtype == np.float16 else dtype
        out = np.prod(a, axis=axes, keepdims=True, dtype=work).astype(dtype, copy=False)
        self.save_for_backward(a)
        return out if keepdims else np.squeeze(out, axis=axes)

    def backward(self, g):
        (a,) = self.saved
        g = g if self.keepdims else np.expand_dims(g, self.axes)
        is_zero = a == 0
        zeros = np.sum(is_zero, axis=self.axes, keepdims=True)
        nonzero = np.where(is_zero, 1, a)
        others = np.prod(nonzero, axis=self.axes, keepdims=True)  # product of the non-zero a_k
        # no zero: P / a_i; one zero: the others' product at the zero, 0 elsewhere; more: 0
        grad = np.where(zeros == 0, others / nonzero, np.where((zeros == 1) & is_zero, others, 0))
        return (g * grad).astype(g.dtype, copy=False)

    def graph_backward(self, g):
        (a,) = self.inputs
        axes = self.axes
        g = g if self.keepdims else g.reshape(tuple(1 if i in axes else n for i, n in enumerate(a.shape)))
        if not (a.data == 0).any():
            return g * Prod.apply(a, axes=axes, keepdims=True, dtype=a.dtype) / a
        # with zeros: prod_{k != i} a_k as the product of row i of a matrix with a_i replaced by 1
        kept = [i for i in range(a.ndim) if i not in axes]
        order = kept + list(axes)
        at = _shape.transpose(a, order)
        n = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))
        lead = tuple(a.shape[i] for i in kept)
        rows = _shape.reshape(at, lead + (1, n))
        m = _math.where(np.eye(n, dtype=bool), np.ones((), a.dtype), rows)  # (..., n, n)
        others = _shape.reshape(_products_along_last(m, a.dtype), tuple(at.shape))
        others = _shape.transpose(others, tuple(int(i) for i in np.argsort(order)))
        return g * others


def _prod_dtype(x_dtype, dtype) -> np.dtype:
    if dtype is not None:
        return np.dtype(result_type(dtype))
    d = np.dtype(result_type(x_dtype))
    return np.dtype(np.int32) if d in (np.bool_, np.int8, np.int16, np.uint8) else d


def prod(x, axis=None, keepdims=False, dtype=None):
    """Product over ``axis``; bool and small integers multiply as int32 (as Keras)."""
    t = as_tensor(x)
    out_dtype = _prod_dtype(t.dtype, dtype)
    axes = _axes(axis, t.ndim, "prod")
    if not _grad_path(t) or out_dtype.kind != "f":
        return Tensor(Prod().forward(t.data, axes=axes, keepdims=keepdims, dtype=out_dtype), dtype=out_dtype)
    return Prod.apply(cast(t, out_dtype), axes=axes, keepdims=keepdims, dtype=out_dtype)


# ------------------------------------------------------------------ means and spreads
def average(x, axis=None, weights=None):
    """Weighted mean ``sum(x w) / sum(w)`` over ``axis``; 1-D weights run along ``axis``."""
    t = as_tensor(x)
    w = None if weights is None else as_tensor(weights)
    dtype = np.dtype(result_type(t.dtype, float, *([w.dtype] if w is not None else [])))
    t = cast(t, dtype)
    axes = _axes(axis, t.ndim, "average")
    if w is None:
        return _reduce.mean(t, axis=axes)
    w = cast(w, dtype)
    weights_full = w.shape == t.shape
    if not weights_full:
        if axis is None or w.ndim != 1 or len(axes) != 1 or w.shape[0] != t.shape[axes[0]]:
            raise ValueError(f"average: weights of shape {w.shape} must match x {t.shape}, or be "
                             f"1-D with the length of axis {axis}")
        view = [1] * t.ndim
        view[axes[0]] = w.shape[0]
        w = w.reshape(tuple(view))
    num = _reduce.sum(_math.multiply(t, w), axis=axes)
    # 1-D weights: sum(w) over their one axis; weights shaped as x: summed over ``axis``
    den = _reduce.sum(w, axis=axes) if w.ndim == t.ndim and weights_full else _reduce.sum(w)
    return _math.divide(num, den)


def ptp(x, axis=None, keepdims=False):
    """Range ``max - min`` over ``axis`` (the gradient goes to the extremes, shared on ties)."""
    t = as_tensor(x)
    if t.dtype == np.bool_:
        raise TypeError("ptp: bool tensors are not supported")
    axes = _axes(axis, t.ndim, "ptp")
    if t.size == 0:
        raise ValueError(f"ptp: cannot reduce an empty tensor of shape {t.shape}")
    if t.dtype.kind != "f":
        out = np.max(t.data, axis=axes, keepdims=keepdims) - np.min(t.data, axis=axes, keepdims=keepdims)
        return _keep(out, t.dtype)
    return _math.subtract(_reduce.max(t, axis=axes, keepdims=keepdims),
                          _reduce.min(t, axis=axes, keepdims=keepdims))


# ------------------------------------------------------------------ quantiles
class Quantile(Function):
    """out = (1 - w) a[lo] + w a[hi]: two gathered order statistics, linearly mixed.

    ``lo``/``hi`` are flat positions into ``a`` and ``w`` the weights (fixed metadata);
    backward scatters g (1 - w) to ``lo`` and g w to ``hi``.
    """

    def forward(self, a, lo=None, hi=None, w=None, dtype=None):
        self.in_shape, self.src_dtype, self.lo, self.hi, self.w = a.shape, a.dtype, lo, hi, w
        flat = a.reshape(-1).astype(w.dtype)
        x_lo, x_hi = flat[lo], flat[hi]
        # a + w (b - a), with w = 0 read as exactly a (no inf - inf)
        return np.where(w == 0, x_lo, x_lo + w * (x_hi - x_lo)).astype(dtype, copy=False)

    def backward(self, g):
        n = int(np.prod(self.in_shape))
        g = g.astype(self.w.dtype)
        grad = np.bincount(self.lo.reshape(-1), (g * (1 - self.w)).reshape(-1), minlength=n)
        grad += np.bincount(self.hi.reshape(-1), (g * self.w).reshape(-1), minlength=n)
        return grad.astype(self.src_dtype).reshape(self.in_shape)

    def graph_backward(self, g):  # linear in g; the adjoint is the forward's mix of order statistics
        twin = frozen(self)
        return linear_backward(self, g, lambda u: twin.forward(u, lo=twin.lo, hi=twin.hi, w=twin.w, dtype=u.dtype))


_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(x, q, axis, method, keepdims, op, ignore_nan=False, scale=1.0):
    if method not in _METHODS:
        raise ValueError(f"{op}: method must be one of {_METHODS}, got {method!r}")
    t = as_tensor(x)
    dtype = _float_dtype(t.dtype)
    work = np.dtype(np.float32) if dtype == np.float16 else dtype
    # q in the working dtype, as Keras casts it (a float32 q stays float32 before the cast)
    qs = (np.asarray(q.data if isinstance(q, Tensor) else q, dtype=np.float64) / scale).astype(work)
    if qs.ndim > 1:
        raise ValueError(f"{op}: q must be a scalar or 1-D, got shape {qs.shape}")
    if np.isnan(qs).any() or (qs < 0).any() or (qs > 1).any():
        raise ValueError(f"{op}: q must be within [0, {1 * scale:g}], got {np.asarray(to_array(q)).tolist()}")
    axes = _axes(axis, t.ndim, op)
    rest = [i for i in range(t.ndim) if i not in axes]
    # the reduced axes moved last and flattened into one of length m
    data = np.transpose(t.data, rest + list(axes)).astype(work)
    pos = np.transpose(np.arange(t.size).reshape(t.shape), rest + list(axes))
    outer = data.shape[:len(rest)]
    m = int(np.prod([t.shape[i] for i in axes]))
    data, pos = data.reshape(outer + (m,)), pos.reshape(outer + (m,))
    order = np.argsort(data, axis=-1, kind="stable")  # NaN sorts last
    nan = np.isnan(data)
    n = (m - nan.sum(-1)) if ignore_nan else np.full(outer, m)
    # rank = q (n - 1), per quantile (leading axis) and slice
    rank = qs.reshape(qs.shape + (1,) * len(outer)) * (np.maximum(n, 1) - 1).astype(work)
    lo_rank, hi_rank = np.floor(rank), np.ceil(rank)
    if method == "linear":
        w = rank - lo_rank
    elif method == "lower":
        w, hi_rank = np.zeros_like(rank), lo_rank
    elif method == "higher":
        w, lo_rank = np.zeros_like(rank), hi_rank
    elif method == "midpoint":
        w = np.where(hi_rank > lo_rank, 0.5, 0.0)
    else:  # nearest: round half to even, as NumPy and PyTorch
        lo_rank = hi_rank = np.round(rank)
        w = np.zeros_like(rank)
    grid = np.broadcast_to(order, rank.shape + (m,))
    pos = np.broadcast_to(pos, rank.shape + (m,))

    def pick(r):
        i = np.take_along_axis(grid, r.astype(np.intp)[..., None], -1)
        return np.take_along_axis(pos, i, -1)[..., 0]

    lo, hi = pick(lo_rank), pick(hi_rank)
    w = w.astype(work)
    src = cast(t, dtype) if t.dtype.kind == "f" else Tensor(t.data.astype(dtype), dtype=dtype)
    out = Quantile.apply(src, lo=lo, hi=hi, w=w, dtype=dtype)
    # NaN where a slice has no number to rank (or, without ignore_nan, holds a NaN)
    bad = (n == 0) if ignore_nan else nan.any(-1) | (m == 0)
    if np.any(bad):
        out = _math.where(np.broadcast_to(bad, out.shape), Tensor(np.asarray(np.nan, dtype), dtype=dtype), out)
    if keepdims:
        shape = list(qs.shape) + [1 if i in axes else t.shape[i] for i in range(t.ndim)]
        out = out.reshape(tuple(shape))
    return out


def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th quantile(s) over ``axis``; a 1-D ``q`` adds a leading axis.

    The gradient flows to the one or two order statistics the result interpolates.
    """
    return _quantile(x, q, axis, method, keepdims, "quantile")


def percentile(x, q, axis=None, method="linear", keepdims=False):
    """``quantile`` with ``q`` in percent."""
    return _quantile(x, q, axis, method, keepdims, "percentile", scale=100.0)


def median(x, axis=None, keepdims=False):
    return _quantile(x, 0.5, axis, "linear", keepdims, "median")


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    """``quantile`` of the non-NaN values (NaN where a slice is all NaN)."""
    return _quantile(x, q, axis, method, keepdims, "nanquantile", ignore_nan=True)


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    return _quantile(x, q, axis, method, keepdims, "nanpercentile", ignore_nan=True, scale=100.0)


def nanmedian(x, axis=None, keepdims=False):
    return _quantile(x, 0.5, axis, "linear", keepdims, "nanmedian", ignore_nan=True)


# ------------------------------------------------------------------ the NaN-ignoring family
class NanFill(Function):
    """NaN replaced by ``value``; the gradient is 0 at the NaN positions and passes elsewhere."""

    def forward(self, a, value=0.0):
        self.nan = np.isnan(a)
        return np.where(self.nan, np.asarray(value, a.dtype), a)

    def backward(self, g):
        return np.where(self.nan, np.zeros((), g.dtype), g)

    def graph_backward(self, g):
        return g * (~self.nan).astype(g.dtype)


def _nan_fill(t: Tensor, value) -> Tensor:
    if t.dtype.kind != "f":
        return t
    if not _grad_path(t):
        return Tensor(np.where(np.isnan(t.data), np.asarray(value, t.dtype), t.data), dtype=t.dtype)
    return NanFill.apply(t, value=value)


def nansum(x, axis=None, keepdims=False):
    """Sum of the non-NaN values; bool and small integers sum as int32."""
    t = as_tensor(x)
    axes = _axes(axis, t.ndim, "nansum")
    dtype = np.dtype(np.int32) if t.dtype in (np.bool_, np.int8, np.int16, np.uint8) else t.dtype
    if t.dtype.kind != "f":
        return _keep(np.sum(t.data, axis=axes, keepdims=keepdims, dtype=dtype), dtype)
    return _reduce.sum(_nan_fill(t, 0.0), axis=axes, keepdims=keepdims)


def nanprod(x, axis=None, keepdims=False):
    t = as_tensor(x)
    return prod(_nan_fill(t, 1.0), axis=axis, keepdims=keepdims)


def nancumsum(x, axis=None, dtype=None):
    return cumsum(_nan_fill(as_tensor(x), 0.0), axis=axis, dtype=dtype)


def nancumprod(x, axis=None, dtype=None):
    return cumprod(_nan_fill(as_tensor(x), 1.0), axis=axis, dtype=dtype)


def _count_valid(t: Tensor, axes, keepdims, dtype) -> np.ndarray:
    return np.sum(~np.isnan(t.data), axis=axes, keepdims=keepdims).astype(dtype)


def nanmean(x, axis=None, keepdims=False):
    """Mean of the non-NaN values (NaN where there are none)."""
    t = as_tensor(x)
    dtype = _float_dtype(t.dtype)
    t = cast(t, dtype)
    axes = _axes(axis, t.ndim, "nanmean")
    total = _reduce.sum(_nan_fill(t, 0.0), axis=axes, keepdims=keepdims)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _math.divide(total, Tensor(_count_valid(t, axes, keepdims, dtype), dtype=dtype))


def nanvar(x, axis=None, keepdims=False):
    """Variance of the non-NaN values: mean of (x - nanmean)^2 over them."""
    t = as_tensor(x)
    dtype = _float_dtype(t.dtype)
    t = cast(t, dtype)
    axes = _axes(axis, t.ndim, "nanvar")
    centred = _nan_fill(_math.subtract(t, nanmean(t, axis=axes, keepdims=True)), 0.0)
    total = _reduce.sum(_math.multiply(centred, centred), axis=axes, keepdims=keepdims)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _math.divide(total, Tensor(_count_valid(t, axes, keepdims, dtype), dtype=dtype))


def nanstd(x, axis=None, keepdims=False):
    with np.errstate(invalid="ignore"):
        return _math.sqrt(nanvar(x, axis=axis, keepdims=keepdims))


def _nan_extreme(x, axis, keepdims, op, largest):
    t = as_tensor(x)
    axes = _axes(axis, t.ndim, op)
    if t.size == 0:
        raise ValueError(f"{op}: cannot reduce an empty tensor of shape {t.shape}")
    reducer = _reduce.max if largest else _reduce.min
    if t.dtype.kind != "f":
        fn = np.max if largest else np.min
        return _keep(fn(t.data, axis=axes, keepdims=keepdims), t.dtype)
    out = reducer(_nan_fill(t, -np.inf if largest else np.inf), axis=axes, keepdims=keepdims)
    all_nan = np.all(np.isnan(t.data), axis=axes, keepdims=keepdims)
    if all_nan.any():
        out = _math.where(all_nan, Tensor(np.asarray(np.nan, t.dtype), dtype=t.dtype), out)
    return out


def nanmax(x, axis=None, keepdims=False):
    """Largest non-NaN value (NaN where a slice is all NaN); the gradient skips the NaNs."""
    return _nan_extreme(x, axis, keepdims, "nanmax", largest=True)


def nanmin(x, axis=None, keepdims=False):
    return _nan_extreme(x, axis, keepdims, "nanmin", largest=False)


def _nan_arg(x, axis, keepdims, op, largest):
    a = to_array(x)
    if a.dtype.kind != "f":
        return _arg(np.argmax if largest else np.argmin, a, axis, keepdims, op)
    filled = np.where(np.isnan(a), -np.inf if largest else np.inf, a)
    out = _arg(np.argmax if largest else np.argmin, filled, axis, keepdims, op).data
    if axis is not None:
        axis = _axis(axis, a.ndim, op)
    all_nan = np.all(np.isnan(a), axis=axis, keepdims=keepdims)
    return _keep(np.where(all_nan, -1, out), np.int32)  # -1 marks an all-NaN slice


def nanargmax(x, axis=None, keepdims=False):
    """int32 index of the largest non-NaN value, -1 where a slice is all NaN."""
    return _nan_arg(x, axis, keepdims, "nanargmax", largest=True)


def nanargmin(x, axis=None, keepdims=False):
    return _nan_arg(x, axis, keepdims, "nanargmin", largest=False)


# ------------------------------------------------------------------ correlation
def corrcoef(x):
    """Pearson correlation of the rows of ``x`` (variables in rows), clipped to [-1, 1]."""
    t = as_tensor(x)
    if t.ndim > 2:
        raise ValueError(f"corrcoef: x must be 1-D or 2-D, got shape {t.shape}")
    dtype = np.dtype(np.float64) if t.dtype == np.int64 else _float_dtype(t.dtype)
    v = cast(t, dtype)
    v = v.reshape((1, v.size)) if v.ndim < 2 else v
    centred = _math.subtract(v, _reduce.mean(v, axis=1, keepdims=True))
    cov = _math.multiply(centred.reshape(centred.shape[:1] + (1,) + centred.shape[1:]),
                         centred.reshape((1,) + centred.shape))
    cov = _reduce.sum(cov, axis=-1)  # sum_k c_ik c_jk
    scale = _math.sqrt(diagonal(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = _math.divide(_math.divide(cov, scale.reshape((-1, 1))), scale.reshape((1, -1)))
    r = _math.clip(r, -1.0, 1.0)
    return r.reshape(()) if t.ndim < 2 else r


def correlate(x1, x2, mode="valid"):
    """Cross-correlation of two 1-D signals: c_k = sum_j x1[k + j - (M - 1)] x2[j] (``full``).

    ``valid`` keeps the |N - M| + 1 outputs where the signals overlap fully, ``same`` the N
    central ones, as Keras does. Differentiable in both inputs.
    """
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"correlate: mode must be 'valid', 'same' or 'full', got {mode!r}")
    a, v = as_tensor(x1), as_tensor(x2)
    if a.ndim != 1 or v.ndim != 1:
        raise ValueError(f"correlate: x1 and x2 must be 1-D, got shapes {a.shape} and {v.shape}")
    dtype = np.dtype(result_type(a.dtype, v.dtype))
    if dtype == np.int64:
        dtype = np.dtype(np.float64)
    elif dtype not in (np.float16, np.float64):
        dtype = np.dtype(np.float32)
    a, v = cast(a, dtype), cast(v, dtype)
    n, m = a.size, v.size
    if n == 0 or m == 0:
        raise ValueError(f"correlate: inputs must not be empty, got shapes {a.shape} and {v.shape}")
    full = n + m - 1
    # windows[k, j] = x1[k + j - (m - 1)], zero outside x1
    k, j = np.arange(full)[:, None], np.arange(m)[None, :]
    windows = index_map(a, lambda s: np.pad(s, m - 1)[k + j])
    out = _reduce.sum(_math.multiply(windows, v), axis=1)
    if mode == "valid":
        start, length = builtins.min(n, m) - 1, abs(n - m) + 1
    elif mode == "same":
        start, length = (full - n) // 2, n
    else:
        start, length = 0, full
    return get_item(out, slice(start, start + length))


# ------------------------------------------------------------------ differences and integrals
def diff(a, n=1, axis=-1):
    """The ``n``-th discrete difference along ``axis``: out_i = a_{i+1} - a_i, repeated."""
    t = as_tensor(a)
    if t.ndim == 0:
        raise ValueError("diff: needs a tensor of rank >= 1, got a scalar")
    axis = _axis(axis, t.ndim, "diff")
    if int(n) < 0:
        raise ValueError(f"diff: order n must be non-negative, got {n}")
    if t.dtype.kind != "f":
        return _keep(np.diff(t.data, int(n), axis=axis), t.dtype)
    head = (slice(None),) * axis
    for _ in range(int(n)):
        t = _math.subtract(get_item(t, head + (slice(1, None),)), get_item(t, head + (slice(None, -1),)))
    return t


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """Integral of ``y`` by the trapezoid rule: sum_i (x_{i+1} - x_i) (y_i + y_{i+1}) / 2."""
    t = as_tensor(y)
    if t.ndim == 0:
        raise ValueError("trapezoid: y needs rank >= 1, got a scalar")
    dtype = np.dtype(result_type(t.dtype, float, *([as_tensor(x).dtype] if x is not None else [])))
    t = cast(t, dtype)
    axis = _axis(axis, t.ndim, "trapezoid")
    head = (slice(None),) * axis
    mids = _math.add(get_item(t, head + (slice(1, None),)), get_item(t, head + (slice(None, -1),)))
    if x is None:
        step = Tensor(np.asarray(to_array(dx), dtype) / 2, dtype=dtype)
        return _reduce.sum(_math.multiply(mids, step), axis=axis)
    xs = cast(as_tensor(x), dtype)
    if xs.ndim == 1:
        if xs.shape[0] != t.shape[axis]:
            raise ValueError(f"trapezoid: x of length {xs.shape[0]} does not match axis {axis} of y {t.shape}")
        view = [1] * t.ndim
        view[axis] = xs.shape[0]
        xs = xs.reshape(tuple(view))
    steps = diff(xs, 1, axis if xs.ndim == t.ndim else -1)
    half = Tensor(np.asarray(0.5, dtype), dtype=dtype)
    return _reduce.sum(_math.multiply(_math.multiply(steps, mids), half), axis=axis)


# ------------------------------------------------------------------ counting
def histogram(x, bins=10, range=None):  # noqa: A002 - NumPy's name
    """Counts of ``x`` in ``bins`` equal bins over ``range`` (min to max when None), and the edges.

    Both come in ``x``'s float dtype, as Keras returns them. Not differentiable.
    """
    a = to_array(x)
    if a.ndim != 1:
        raise ValueError(f"histogram: x must be 1-D, got shape {a.shape}")
    if not isinstance(bins, (int, np.integer)) or bins <= 0:
        raise ValueError(f"histogram: bins must be a positive int, got {bins!r}")
    if range is not None and (len(range) != 2 or range[0] > range[1]):
        raise ValueError(f"histogram: range must be (min, max) with min <= max, got {range!r}")
    dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    counts, edges = np.histogram(a.astype(dtype), bins=int(bins), range=range)
    return _keep(counts, dtype), _keep(edges, dtype)


def bincount(x, weights=None, minlength=0, sparse=False):
    """Counts (or summed ``weights``) of each non-negative integer; a 2-D ``x`` counts per row.

    Rows share one length (the largest value + 1, at least ``minlength``). Not differentiable.
    """
    if sparse:
        raise ValueError("bincount: sparse=True is not supported")
    a = to_array(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"bincount: x must be integers, got dtype {a.dtype}")
    if a.ndim not in (1, 2):
        raise ValueError(f"bincount: x must be 1-D or 2-D, got shape {a.shape}")
    if a.size and a.min() < 0:
        raise ValueError("bincount: x must be non-negative")
    w = None if weights is None else to_array(weights)
    if w is not None and w.shape != a.shape:
        raise ValueError(f"bincount: weights of shape {w.shape} must match x {a.shape}")
    dtype = np.dtype(np.int32) if w is None else np.dtype(result_type(a.dtype, w.dtype))
    length = builtins.max(int(a.max()) + 1 if a.size else 0, int(minlength))
    if a.ndim == 1:
        return _keep(np.bincount(a, w, minlength=length), dtype)
    rows = a.shape[0]
    # one bincount over the rows side by side: row r counts into [r L, (r + 1) L)
    flat = (a + np.arange(rows)[:, None] * length).reshape(-1)
    counts = np.bincount(flat, None if w is None else w.reshape(-1), minlength=rows * length)
    return _keep(counts.reshape(rows, length), dtype)


def digitize(x, bins):
    """int32 index of the bin each value falls in (``bins[i-1] <= x < bins[i]`` for rising bins).

    Not differentiable (an integer result)."""
    a, b = to_array(x), to_array(bins)
    if b.ndim != 1:
        raise ValueError(f"digitize: bins must be 1-D, got shape {b.shape}")
    return _keep(np.digitize(a.astype(np.uint8) if a.dtype == np.bool_ else a, b), np.int32)
