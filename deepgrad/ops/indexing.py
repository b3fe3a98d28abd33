"""Gathering, selecting, searching and sorting.

Gathers (``take_along_axis``, ``get_item``, the values of ``sort`` and ``top_k``) are
index maps: their gradient scatters back into the picked positions (see
``arrangement.IndexMap``). Indices, masks and counts are integer or bool tensors with no
gradient.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor, unbroadcast
from . import manipulation as _shape
from .arrangement import _axis, as_tensor, cast, index_map, result_type
from .dtypes import to_array


def _int_tensor(a, dtype=np.int32) -> Tensor:
    return Tensor(np.asarray(a).astype(dtype), dtype=dtype)


def _indices(x, op: str, name: str = "indices") -> np.ndarray:
    a = to_array(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: {name} must be integers, got dtype {a.dtype}")
    return a


# ------------------------------------------------------------------ gathers
def take_along_axis(x, indices, axis=None):
    """``x`` picked at ``indices`` along ``axis``; the other axes broadcast. Negative indices count from the end."""
    t = as_tensor(x)
    idx = _indices(indices, "take_along_axis").astype(np.intp)
    if axis is None:
        t, axis = _shape.reshape(t, (t.size,)), 0
        idx = idx.reshape(-1)
    axis = _axis(axis, t.ndim, "take_along_axis")
    if idx.ndim != t.ndim:
        raise ValueError(f"take_along_axis: indices of shape {idx.shape} need the rank of x {t.shape}")
    n = t.shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise ValueError(f"take_along_axis: indices out of range for axis {axis} of size {n}")
    idx = np.where(idx < 0, idx + n, idx)
    try:  # every axis but ``axis`` broadcasts between x and indices
        common = list(np.broadcast_shapes(t.shape[:axis] + (1,) + t.shape[axis + 1:],
                                          idx.shape[:axis] + (1,) + idx.shape[axis + 1:]))
    except ValueError:
        raise ValueError(f"take_along_axis: shapes {t.shape} and {idx.shape} do not broadcast "
                         f"outside axis {axis}") from None
    x_shape, i_shape = list(common), list(common)
    x_shape[axis], i_shape[axis] = n, idx.shape[axis]
    idx = np.broadcast_to(idx, i_shape)
    return index_map(t, lambda a: np.take_along_axis(np.broadcast_to(a, x_shape), idx, axis))


def _key(key):
    """A Keras/NumPy index with Tensors and lists turned into arrays."""
    if isinstance(key, tuple):
        return tuple(_key(k) for k in key)
    if isinstance(key, (Tensor, list, np.ndarray)):
        a = to_array(key)
        if a.dtype.kind not in "iub":
            raise TypeError(f"get_item: an index array must be integer or bool, got dtype {a.dtype}")
        return a
    return key


def get_item(x, key):
    """``x[key]`` with NumPy's indexing (ints, slices, None, Ellipsis, integer/bool arrays)."""
    t = as_tensor(x)
    key = _key(key)
    try:
        np.broadcast_to(np.empty((), np.bool_), t.shape)[key]  # check the key (no copy of x)
    except (IndexError, TypeError) as e:
        raise IndexError(f"get_item: bad index {key!r} for a tensor of shape {t.shape}: {e}") from None
    if t.requires_grad:
        return _shape.GetItem.apply(t, index=key)
    return Tensor(np.asarray(t.data[key]), dtype=t.dtype)


class Select(Function):
    """``out = choice_i`` where ``cond_i`` is the first true condition, else ``default``.

    backward: choice ``i`` (and default) receive ``g`` where they were chosen, reduced by ``unbroadcast``.
    """

    def forward(self, *arrays, n=0):
        conds, choices, default = arrays[:n], arrays[n:2 * n], arrays[2 * n]
        shape = np.broadcast_shapes(*[a.shape for a in arrays])
        # which[i] = index of the first true condition, n when none is true
        which = np.full(shape, n, dtype=np.intp)
        for i in reversed(range(n)):
            which = np.where(conds[i], i, which)
        self.which, self.shapes = which, [a.shape for a in arrays]
        options = [np.broadcast_to(a, shape) for a in choices + (default,)]
        return np.take_along_axis(np.stack(options), which[None], 0)[0]

    def backward(self, g):
        n = len(self.shapes) // 2
        grads = [None] * (2 * n + 1)
        for i in range(n + 1):
            if self.needs_input_grad[n + i]:
                grads[n + i] = unbroadcast(np.where(self.which == i, g, 0).astype(g.dtype), self.shapes[n + i])
        return tuple(grads)

    def graph_backward(self, g):
        n = len(self.shapes) // 2
        grads = [None] * (2 * n + 1)
        for i in range(n + 1):
            if self.needs_input_grad[n + i]:  # g where choice i was taken: a constant mask
                grads[n + i] = unbroadcast(g * (self.which == i).astype(g.dtype), self.shapes[n + i])
        return tuple(grads)


def select(condlist, choicelist, default=0):
    """``choicelist[i]`` where ``condlist[i]`` is the first true condition, ``default`` elsewhere."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: condlist has {len(condlist)} entries but choicelist {len(choicelist)}")
    if not condlist:
        raise ValueError("select: condlist must not be empty")
    conds = [Tensor(to_array(c).astype(bool), dtype=bool) for c in condlist]
    choices = [as_tensor(c) for c in choicelist]
    weak = isinstance(default, (bool, int, float))  # a Python number takes the choices' dtype
    default_t = None if weak else as_tensor(default)
    dtype = result_type(*[c.dtype for c in choices], default if weak else default_t.dtype)
    choices = [cast(c, dtype) for c in choices]
    default = Tensor(np.asarray(default, dtype), dtype=dtype) if weak else cast(default_t, dtype)
    try:
        np.broadcast_shapes(*[a.shape for a in conds + choices + [default]])
    except ValueError:
        shapes = ", ".join(str(a.shape) for a in conds + choices + [default])
        raise ValueError(f"select: shapes {shapes} cannot be broadcast") from None
    return Select.apply(*conds, *choices, default, n=len(conds))


# ------------------------------------------------------------------ searching
def nonzero(x):
    """A tuple of int32 index arrays, one per axis, of the non-zero elements."""
    return tuple(_int_tensor(i) for i in np.nonzero(np.atleast_1d(to_array(x))))


def searchsorted(sorted_sequence, values, side="left"):
    seq, vals = to_array(sorted_sequence), to_array(values)
    if seq.ndim != 1:
        raise ValueError(f"searchsorted: sorted_sequence must be 1-D, got shape {seq.shape}")
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    return _int_tensor(np.searchsorted(seq, vals, side=side))


def unravel_index(indices, shape):
    """Flat indices as a tuple of coordinate arrays in ``shape`` (the indices' integer dtype)."""
    idx = _indices(indices, "unravel_index")
    shape = tuple(int(s) for s in shape)
    if idx.size and (idx.min() < 0 or idx.max() >= int(np.prod(shape))):
        raise ValueError(f"unravel_index: indices out of range for shape {shape}")
    return tuple(Tensor(c.astype(idx.dtype), dtype=idx.dtype) for c in np.unravel_index(idx, shape))


def isin(x1, x2, assume_unique=False, invert=False):
    return Tensor(np.isin(to_array(x1), to_array(x2), assume_unique=assume_unique, invert=invert), dtype=bool)


def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False,  # noqa: A002
           axis=None, size=None, fill_value=None):
    """Unique elements (or slices along ``axis``), sorted; ``size`` truncates or pads with ``fill_value``.

    Index, inverse and count outputs are int64, as Keras returns them. Not differentiable.
    """
    a = to_array(x)
    if axis is not None:
        axis = _axis(axis, a.ndim, "unique")
    values, index, inverse, counts = np.unique(a, return_index=True, return_inverse=True,
                                               return_counts=True, axis=axis)
    dim = 0 if axis is None else axis
    if size is not None:
        size, have = int(size), values.shape[dim]
        if have >= size:
            cut = [slice(None)] * values.ndim
            cut[dim] = slice(0, size)
            values, index, counts = values[tuple(cut)], index[:size], counts[:size]
        else:
            width = [(0, 0)] * values.ndim
            width[dim] = (0, size - have)
            values = np.pad(values, width, constant_values=0 if fill_value is None else fill_value)
            index = np.pad(index, (0, size - have), constant_values=1)
            counts = np.pad(counts, (0, size - have))
    out = [Tensor(values, dtype=values.dtype)]
    if return_index:
        out.append(_int_tensor(index, np.int64))
    if return_inverse:
        out.append(_int_tensor(inverse.reshape(a.shape) if axis is None else inverse.reshape(-1), np.int64))
    if return_counts:
        out.append(_int_tensor(counts, np.int64))
    return out[0] if len(out) == 1 else tuple(out)


# ------------------------------------------------------------------ sorting
def _sortable(a: np.ndarray) -> np.ndarray:
    return a.astype(np.uint8) if a.dtype == np.bool_ else a


def _flat_axis(t: Tensor, axis):
    if axis is None:
        return _shape.reshape(t, (t.size,)), 0
    return t, _axis(axis, t.ndim, "sort")


def argsort(x, axis=-1):
    """Indices that sort ``x`` along ``axis`` (stable: ties keep their order; NaN last)."""
    t, axis = _flat_axis(as_tensor(x), axis)
    return _int_tensor(np.argsort(_sortable(t.data), axis=axis, kind="stable"))


def sort(x, axis=-1):
    """``x`` sorted along ``axis``; the gradient goes back to each value's original position."""
    t, axis = _flat_axis(as_tensor(x), axis)
    order = np.argsort(_sortable(t.data), axis=axis, kind="stable")
    return index_map(t, lambda a: np.take_along_axis(a, order, axis), injective=True)


def argpartition(x, kth, axis=-1):
    """Indices that put the ``kth`` smallest element in place along ``axis``, smaller ones before it."""
    t, axis = _flat_axis(as_tensor(x), axis)
    n = t.shape[axis]
    if not -n <= int(kth) < n:
        raise ValueError(f"argpartition: kth={kth} is out of range for axis {axis} of size {n}")
    return _int_tensor(np.argpartition(_sortable(t.data), int(kth), axis=axis))


def top_k(x, k, sorted=True):  # noqa: A002
    """The ``k`` largest values along the last axis and their int64 indices (values differentiable).

    Ties are taken in index order and NaN counts as the largest value, as in PyTorch.
    """
    t = as_tensor(x)
    if t.ndim < 1:
        raise ValueError(f"top_k: needs a tensor of rank >= 1, got shape {t.shape}")
    k = int(k)
    if not 0 <= k <= t.shape[-1]:
        raise ValueError(f"top_k: k={k} must be within [0, {t.shape[-1]}] for the last axis")
    a = t.data
    if a.dtype == np.bool_:
        raise TypeError("top_k: bool tensors are not supported")
    # a descending stable order: sort the negated key (NaN as +inf, unsigned made signed first)
    key = a.astype(np.int64) if a.dtype.kind == "u" else a
    key = np.where(np.isnan(key), -np.inf, -key) if key.dtype.kind == "f" else -key
    order = np.argsort(key, axis=-1, kind="stable")[..., :k]
    values = index_map(t, lambda v: np.take_along_axis(v, order, -1), injective=True)
    return values, _int_tensor(order, np.int64)
