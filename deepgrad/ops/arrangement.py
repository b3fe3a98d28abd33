"""Rearranging elements: flips, rolls, tiles, repeats, diagonals, triangles, joins and splits.

Every op here (except ``vander``) is a linear *index map*: each output element is one
input element or zero. ``IndexMap`` runs such a map on flat positions, so one backward
serves them all: the gradient is the scatter-add of the upstream gradient through the
same map (a repeat sums its copies, a roll rolls back, a triangle keeps its half).
"""
from __future__ import annotations

import builtins

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, is_grad_enabled
from ..autograd.higher_order import frozen, linear_backward
from . import reduce as _reduce
from . import manipulation as _shape
from .dtypes import result_type as _result_type
from .dtypes import to_array


def as_tensor(x) -> Tensor:
    """``x`` as a Tensor with Keras's dtype (integer and bool data stay integer and bool)."""
    if isinstance(x, Tensor):
        return x
    a = to_array(x)
    return Tensor(a, dtype=a.dtype)


def result_type(*args) -> np.dtype:
    """Keras's promotion of ``args`` as an ``np.dtype`` (dtypes passed by name, so that
    ``np.dtype("float64")`` is never mistaken for the string ``"float"``)."""
    names = [a.name if isinstance(a, np.dtype) else a.dtype.name if isinstance(a, (np.ndarray, Tensor)) else a
             for a in args]
    return np.dtype(_result_type(*names))


def cast(t: Tensor, dtype) -> Tensor:
    """``t`` in ``dtype`` (a differentiable cast when the dtype changes)."""
    dtype = np.dtype(dtype)
    return t if t.dtype == dtype else _shape.astype(t, dtype)


class IndexMap(Function):
    """``out = a.flat[index]``, where ``index == a.size`` reads a zero.

    backward: ``grad.flat[k] = sum of g where index == k``, a scatter-add (bincount); when
    each element is read at most once (``injective``: flips, rolls, sorts, diagonals,
    triangles) a plain scatter does it.
    ``index`` is fixed metadata of the op, like an axis; backward only reads it.
    """

    def forward(self, a, index=None, injective=False):
        self.in_shape, self.index, self.injective = a.shape, index, injective
        flat = a.reshape(-1)
        if index.size and index.max(initial=0) >= a.size:
            flat = np.concatenate([flat, np.zeros(1, a.dtype)])
        return flat[index]

    def backward(self, g):
        n = int(np.prod(self.in_shape))
        if self.injective:
            grad = np.zeros(n + 1, g.dtype)
            grad[self.index.reshape(-1)] = g.reshape(-1)
        else:
            grad = np.bincount(self.index.reshape(-1), weights=g.reshape(-1), minlength=n + 1)
        return grad[:n].astype(g.dtype, copy=False).reshape(self.in_shape)

    def graph_backward(self, g):
        # linear in g; the adjoint of the scatter is the gather the forward does
        twin = frozen(self)
        return linear_backward(self, g, lambda u: twin.forward(u, index=twin.index, injective=twin.injective))


def index_map(x, fn, injective=False) -> Tensor:
    """Apply ``fn`` (a NumPy rearrangement that may insert zeros) to ``x``, differentiably.

    ``fn`` runs on the data directly when no gradient is needed; otherwise on the positions
    1..n (so that the zeros it inserts mark "no input element") to build an ``IndexMap``.
    ``injective``: ``fn`` reads each element at most once (the zeros it inserts may repeat).
    """
    t = as_tensor(x)
    if not (t.requires_grad and is_grad_enabled()):
        out = np.asarray(fn(t.data))
        if np.may_share_memory(out, t.data):  # a view (flip, diagonal): copied, so x stays apart
            out = out.copy()
        return Tensor(out, dtype=t.dtype)
    positions = np.arange(1, t.size + 1, dtype=np.intp).reshape(t.shape)
    index = np.asarray(fn(positions)) - 1
    index = np.where(index < 0, t.size, index)  # zeros the map inserted read the zero slot
    return IndexMap.apply(t, index=index, injective=injective)


def _axis(axis, ndim: int, op: str, name: str = "axis") -> int:
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{op}: {name} must be an int, got {axis!r}")
    if not -ndim <= axis < builtins.max(ndim, 1):
        raise ValueError(f"{op}: {name} {axis} is out of bounds for a tensor of rank {ndim}")
    return int(axis) % builtins.max(ndim, 1)


def _need_rank(t: Tensor, rank: int, op: str) -> None:
    if t.ndim < rank:
        raise ValueError(f"{op}: needs a tensor of rank >= {rank}, got shape {t.shape}")


# ------------------------------------------------------------------ flips and rotations
def flip(x, axis=None):
    t = as_tensor(x)
    axes = None if axis is None else tuple(_axis(a, t.ndim, "flip") for a in np.atleast_1d(axis))
    return index_map(t, lambda a: np.flip(a, axes), injective=True)


def fliplr(x):
    t = as_tensor(x)
    _need_rank(t, 2, "fliplr")
    return index_map(t, np.fliplr, injective=True)


def flipud(x):
    t = as_tensor(x)
    _need_rank(t, 1, "flipud")
    return index_map(t, np.flipud, injective=True)


def roll(x, shift, axis=None):
    """Elements shifted by ``shift`` along ``axis`` (the flattened tensor when None), wrapping round."""
    t = as_tensor(x)
    if axis is not None:
        for a in np.atleast_1d(axis):
            _axis(int(a), t.ndim, "roll")
    shift = np.asarray(to_array(shift)).tolist()
    return index_map(t, lambda a: np.roll(a, shift, axis), injective=True)


def rot90(array, k=1, axes=(0, 1)):
    t = as_tensor(array)
    if t.ndim < 2:
        raise ValueError(f"rot90: needs a tensor of rank >= 2, got shape {t.shape}")
    axes = tuple(_axis(a, t.ndim, "rot90", "axes") for a in axes)
    if len(axes) != 2 or axes[0] == axes[1]:
        raise ValueError(f"rot90: axes must be two different axes, got {axes}")
    return index_map(t, lambda a: np.rot90(a, int(k), axes), injective=True)


# ------------------------------------------------------------------ copies
def tile(x, repeats):
    reps = np.asarray(to_array(repeats)).astype(np.int64).reshape(-1).tolist()
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: repeats must be non-negative, got {reps}")
    if _shape.is_text(x):
        return np.tile(x, reps)
    t = as_tensor(x)
    # np.tile's result shape: the shorter of t.shape and reps is padded with leading ones
    n = builtins.max(t.ndim, len(reps))
    dims = [a * b for a, b in zip((1,) * (n - t.ndim) + t.shape, [1] * (n - len(reps)) + reps)]
    backend.check_allocation(dims, t.dtype, "tile")
    return index_map(t, lambda a: np.tile(a, reps))


def repeat(x, repeats, axis=None):
    """Each element repeated ``repeats`` times (the gradient sums the copies)."""
    if _shape.is_text(x):
        return np.repeat(x, to_array(repeats), axis)
    t = as_tensor(x)
    reps = to_array(repeats)
    if reps.dtype.kind not in "iub":
        raise TypeError(f"repeat: repeats must be integers, got dtype {reps.dtype}")
    if (reps < 0).any():
        raise ValueError("repeat: repeats must be non-negative")
    if axis is not None:
        axis = _axis(axis, t.ndim, "repeat")
    if reps.size == 1:  # one count for every element: the result has t.size * count elements
        backend.check_allocation(t.size * int(reps.reshape(-1)[0]), t.dtype, "repeat")
    try:
        return index_map(t, lambda a: np.repeat(a, reps, axis))
    except ValueError as e:
        raise ValueError(f"repeat: repeats of shape {reps.shape} do not fit a tensor of shape "
                         f"{t.shape} along axis {axis}") from e


# ------------------------------------------------------------------ diagonals and triangles
def diagonal(x, offset=0, axis1=0, axis2=1):
    t = as_tensor(x)
    _need_rank(t, 2, "diagonal")
    a1, a2 = _axis(axis1, t.ndim, "diagonal", "axis1"), _axis(axis2, t.ndim, "diagonal", "axis2")
    if a1 == a2:
        raise ValueError(f"diagonal: axis1 and axis2 must differ, got {axis1} and {axis2}")
    return index_map(t, lambda a: np.diagonal(a, int(offset), a1, a2), injective=True)


def diag(x, k=0):
    """The ``k``-th diagonal of a matrix, or a matrix with a vector on its ``k``-th diagonal."""
    t = as_tensor(x)
    if t.ndim not in (1, 2):
        raise ValueError(f"diag: needs a 1-D or 2-D tensor, got shape {t.shape}")
    return index_map(t, lambda a: np.diag(a, int(k)), injective=True)


def diagflat(x, k=0):
    return index_map(x, lambda a: np.diagflat(a, int(k)), injective=True)


def tril(x, k=0):
    """Zeros above the ``k``-th diagonal of the last two axes."""
    return index_map(x, lambda a: np.tril(a, int(k)), injective=True)


def triu(x, k=0):
    """Zeros below the ``k``-th diagonal of the last two axes."""
    return index_map(x, lambda a: np.triu(a, int(k)), injective=True)


def trace(x, offset=0, axis1=0, axis2=1):
    """The sum of a diagonal; small integers and bool sum as int32, as in Keras."""
    d = diagonal(x, offset, axis1, axis2)
    dtype = d.dtype
    if dtype.kind in "biu" and dtype not in (np.int64, np.uint64):
        dtype = np.dtype(np.int32)
    if d.dtype.kind != "f":
        return Tensor(np.sum(d.data, axis=-1).astype(dtype), dtype=dtype)
    return _reduce.sum(d, axis=-1)


# ------------------------------------------------------------------ joins and splits
def _common(tensors, op: str) -> list:
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError(f"{op}: needs at least one tensor")
    dtype = result_type(*[t.dtype for t in ts])
    return [cast(t, dtype) for t in ts]


def _concat(ts, axis, op):
    try:
        return _shape.concatenate(ts, axis=axis)
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in ts)
        raise ValueError(f"{op}: shapes {shapes} do not match except along axis {axis}") from None


def append(x1, x2, axis=None):
    a, b = _common([x1, x2], "append")
    if axis is None:
        a, b = ravel(a), ravel(b)
        axis = 0
    return _concat([a, b], axis, "append")


def _at_least(t: Tensor, rank: int) -> Tensor:
    """NumPy's atleast_2d/3d placement of new size-1 axes."""
    if t.ndim >= rank:
        return t
    if t.ndim == 0:
        shape = (1,) * rank
    elif t.ndim == 1:  # a row: (1, n), or (1, n, 1)
        shape = (1, t.size) + (1,) * (rank - 2)
    else:  # a matrix made 3-D: (m, n, 1)
        shape = t.shape + (1,)
    return _shape.reshape(t, shape)


def hstack(xs):
    ts = [t if t.ndim else _shape.reshape(t, (1,)) for t in _common(xs, "hstack")]
    return _concat(ts, 0 if ts[0].ndim == 1 else 1, "hstack")


def vstack(xs):
    return _concat([_at_least(t, 2) for t in _common(xs, "vstack")], 0, "vstack")


def dstack(xs):
    return _concat([_at_least(t, 3) for t in _common(xs, "dstack")], 2, "dstack")


class Split(Function):
    """Pieces of ``a`` along an axis; backward joins the pieces' gradients back."""
    keeps_integers = True

    def forward(self, a, bounds=None, axis=0):
        self.axis = axis
        return tuple(p.copy() for p in np.split(a, bounds, axis=axis))  # copies, not views of a

    def backward(self, grads):
        return np.concatenate(self.filled(grads), axis=self.axis)

    def graph_backward(self, grads):
        return _shape.concatenate(list(grads), axis=self.axis)


def _split(x, indices_or_sections, axis, op, even):
    t = as_tensor(x)
    axis = _axis(axis, t.ndim, op)
    n = t.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError(f"{op}: the number of sections must be positive, got {sections}")
        if even and n % sections:
            raise ValueError(f"{op}: axis {axis} of shape {t.shape} does not divide into "
                             f"{sections} equal sections")
        # array_split: the first n % sections pieces get one extra element
        sizes = [n // sections + 1] * (n % sections) + [n // sections] * (sections - n % sections)
        bounds = np.cumsum(sizes)[:-1].tolist()
    else:
        bounds = [int(i) for i in np.asarray(to_array(indices_or_sections)).reshape(-1)]
    return list(Split.apply(t, bounds=bounds, axis=axis))


def array_split(x, indices_or_sections, axis=0):
    """Like ``split``, but a number of sections need not divide the axis evenly."""
    return _split(x, indices_or_sections, axis, "array_split", even=False)


def hsplit(x, indices_or_sections):
    t = as_tensor(x)
    _need_rank(t, 1, "hsplit")
    return _split(t, indices_or_sections, 0 if t.ndim == 1 else 1, "hsplit", even=True)


def vsplit(x, indices_or_sections):
    t = as_tensor(x)
    _need_rank(t, 2, "vsplit")
    return _split(t, indices_or_sections, 0, "vsplit", even=True)


def dsplit(x, indices_or_sections):
    t = as_tensor(x)
    _need_rank(t, 3, "dsplit")
    return _split(t, indices_or_sections, 2, "dsplit", even=True)


# ------------------------------------------------------------------ axes and shapes
def moveaxis(x, source, destination):
    t = as_tensor(x)
    src = [_axis(a, t.ndim, "moveaxis", "source") for a in np.atleast_1d(source).tolist()]
    dst = [_axis(a, t.ndim, "moveaxis", "destination") for a in np.atleast_1d(destination).tolist()]
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: source {source} and destination {destination} differ in length")
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"moveaxis: repeated axis in source {source} or destination {destination}")
    order = [a for a in range(t.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return _shape.transpose(t, order)


def ravel(x):
    t = as_tensor(x)
    return _shape.reshape(t, (t.size,))


def meshgrid(*x, indexing="xy"):
    """Coordinate grids of 1-D inputs; with ``indexing="xy"`` the first two axes are swapped."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    ts = [ravel(t) for t in x]
    shape = [t.size for t in ts]
    if indexing == "xy" and len(ts) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, t in enumerate(ts):
        place = i if not (indexing == "xy" and i < 2 and len(ts) >= 2) else 1 - i
        view = [1] * len(ts)
        view[place] = t.size
        out.append(index_map(t, lambda a, v=tuple(view): np.broadcast_to(a.reshape(v), shape)))
    return out


def ndim(x):
    return int(np.ndim(to_array(x)))


def size(x):
    """The number of elements, as an int64 scalar tensor (as Keras returns it)."""
    return Tensor(np.asarray(np.size(to_array(x)), np.int64), dtype=np.int64)


# ------------------------------------------------------------------ Vandermonde
class Vander(Function):
    def forward(self, x, powers=None):
        self.save_for_backward(x)
        self.powers = powers
        return x[:, None] ** powers.astype(x.dtype)

    def backward(self, g):
        # d x^p / dx = p x^(p-1), and 0 for p = 0 (no 0 * 0^-1 = nan at x = 0)
        (x,) = self.saved
        p = self.powers.astype(x.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(p > 0, p * x[:, None] ** np.maximum(p - 1, 0), 0)
        return np.sum(g * d, axis=1).astype(g.dtype)

    def graph_backward(self, g):
        # sum_p g_p p x^(p-1) over the powers p > 0, recorded (the power 0 column is constant)
        x = self.inputs[0]
        p = self.powers.astype(x.dtype)
        live = p > 0
        slope = (x.reshape((-1, 1)) ** np.maximum(p - 1, 0)) * (p * live)
        return (g * slope).sum(axis=1)


def vander(x, N=None, increasing=False):
    """Columns are powers of ``x``: ``x^(N-1), ..., x, 1`` (reversed if ``increasing``)."""
    t = as_tensor(x)
    if t.ndim != 1:
        raise ValueError(f"vander: x must be 1-D, got shape {t.shape}")
    n = t.size if N is None else int(N)
    if n < 0:
        raise ValueError(f"vander: N must be non-negative, got {N}")
    powers = np.arange(n) if increasing else np.arange(n)[::-1].copy()
    if t.dtype.kind != "f":
        out = t.data[:, None] ** powers.astype(t.dtype if t.dtype != np.bool_ else np.int64)
        return Tensor(out.astype(t.dtype), dtype=t.dtype)
    return Vander.apply(t, powers=powers)
