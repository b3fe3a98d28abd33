"""Shapes and indexing: reshape, transpose, expand/squeeze, broadcast, join, split, pad, getitem."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, unbroadcast
from ..autograd.function import keeping_tensor
from ..autograd.higher_order import linear_backward
from ..autograd.scopes import in_symbolic_scope


class Reshape(Function):
    keeps_integers = True
    def forward(self, a, shape=None):
        self.in_shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            if in_symbolic_scope():
                return _traced_reshape(a, shape)
            raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} into shape {tuple(shape)}") from None

    def backward(self, g):
        return g.reshape(self.in_shape)

    def graph_backward(self, g):
        return g.reshape(self.in_shape)


def _traced_reshape(a, shape):
    """A reshape whose element count does not match, met while a layer is traced for its output
    shape (``SymbolicScope``): the traced batch stands for an unknown batch, so a shape that
    names a batch size of its own (``reshape(x, [batch_size * tokens, width])``) is taken as given
    and its count checked when the model runs on data, as a graph with an unknown batch does.
    The values of a trace are placeholders; a ``-1`` takes what the other entries leave (at least 1)."""
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) == 1:
        known = int(np.prod([s for s in shape if s != -1]))
        shape = tuple(max(a.size // known, 1) if known and s == -1 else (1 if s == -1 else s) for s in shape)
    if shape.count(-1) > 1 or any(s < 0 for s in shape):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} into shape {shape}")
    return np.zeros(shape, a.dtype)


class Transpose(Function):
    keeps_integers = True
    def forward(self, a, axes=None):
        self.axes = tuple(range(a.ndim))[::-1] if axes is None else tuple(ax % a.ndim for ax in axes)
        return a.transpose(self.axes)

    def backward(self, g):
        return g.transpose(np.argsort(self.axes))

    def graph_backward(self, g):
        return g.transpose(tuple(int(i) for i in np.argsort(self.axes)))


class BroadcastTo(Function):
    keeps_integers = True
    def forward(self, a, shape=None):
        self.in_shape = a.shape
        try:
            return np.broadcast_to(a, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast a tensor of shape {a.shape} to shape {shape}") from None

    def backward(self, g):
        return unbroadcast(g, self.in_shape)

    def graph_backward(self, g):
        return unbroadcast(g, self.in_shape)


class Concatenate(Function):
    keeps_integers = True
    def forward(self, *arrays, axis=0):
        ndim = arrays[0].ndim
        if ndim == 0:
            raise ValueError("concatenate: cannot join 0-d tensors (scalars) along an axis; use stack")
        _int_axis("concatenate", "axis", axis, ndim)
        self.axis = axis
        self.sizes = [a.shape[axis] if a.ndim == ndim else 0 for a in arrays]
        try:
            return np.concatenate(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"concatenate: shapes {shapes} do not match except on axis {axis}") from None

    def backward(self, g):
        return tuple(np.split(g, np.cumsum(self.sizes)[:-1], axis=self.axis))

    def graph_backward(self, g):
        return tuple(split(g, [int(i) for i in np.cumsum(self.sizes)[:-1]], axis=self.axis))


class Stack(Function):
    keeps_integers = True
    def forward(self, *arrays, axis=0):
        _int_axis("stack", "axis", axis, arrays[0].ndim + 1)
        out = np.stack(arrays, axis=axis) if len({a.shape for a in arrays}) == 1 else None
        if out is None:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"stack: all inputs need the same shape, got {shapes}")
        self.axis = axis % out.ndim
        return out

    def backward(self, g):
        return tuple(np.moveaxis(g, self.axis, 0))

    def graph_backward(self, g):
        lead = (slice(None),) * self.axis
        return tuple(g[lead + (i,)] for i in range(g.shape[self.axis]))


class Split(Function):
    keeps_integers = True
    def forward(self, a, indices_or_sections=None, axis=0):
        if a.ndim == 0:
            raise ValueError("split: cannot split a 0-d tensor (a scalar)")
        self.axis = _int_axis("split", "axis", axis, a.ndim)
        sections = indices_or_sections
        if isinstance(sections, (int, np.integer)) and not isinstance(sections, bool):
            if sections <= 0:
                raise ValueError(f"split: indices_or_sections must be a positive number of sections, got {sections}")
            if a.shape[self.axis] % sections:
                raise ValueError(f"split: axis {axis} of size {a.shape[self.axis]} cannot be split into "
                                 f"{sections} equal sections")
        return tuple(np.split(a, sections, axis=self.axis))

    def backward(self, grads):
        return np.concatenate(self.filled(grads), axis=self.axis)

    def graph_backward(self, grads):
        return concatenate(list(grads), axis=self.axis)


# NumPy's names for the modes; "circular" and "replicate" are PyTorch's spellings of "wrap"
# and "edge". Every mode but "constant" copies input entries, so its gradient is a gather's.
_PAD_MODES = {"constant": "constant", "reflect": "reflect", "symmetric": "symmetric", "edge": "edge",
              "wrap": "wrap", "circular": "wrap", "replicate": "edge"}


class Pad(Function):
    keeps_integers = True
    def forward(self, a, pad_width=None, mode="constant", constant_values=0):
        key = mode.lower() if isinstance(mode, str) else mode
        if key not in _PAD_MODES:
            raise ValueError(f"pad: mode must be one of {sorted(_PAD_MODES)}, got {mode!r}")
        self.mode = _PAD_MODES[key]
        try:
            width = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (a.ndim, 2))
        except (TypeError, ValueError):
            raise ValueError(f"pad: pad_width {pad_width!r} does not fit a tensor of rank {a.ndim}: "
                             "expected an int, one (before, after) pair or a pair for each axis") from None
        if (width < 0).any():
            raise ValueError(f"pad: pad_width must not be negative, got {pad_width!r}")
        if a.ndim == 0:
            raise ValueError("pad: cannot pad a 0-d tensor (a scalar)")
        if self.mode == "reflect":
            # reflection repeats no edge entry, so a pad may reach at most n - 1 entries deep
            too_deep = [(ax, n) for ax, ((lo, hi), n) in enumerate(zip(width, a.shape)) if max(lo, hi) > n - 1]
            if too_deep:
                ax, n = too_deep[0]
                raise ValueError(f"pad: mode='reflect' needs pad_width < size on each axis; axis {ax} has size {n} "
                                 f"and pad_width {tuple(int(v) for v in width[ax])}")
        if self.mode != "constant" and 0 in a.shape and width.any():
            raise ValueError(f"pad: mode={mode!r} cannot pad an empty tensor of shape {a.shape}")
        self.width = width
        self.in_shape = a.shape
        self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(width, a.shape))
        if self.mode == "constant":
            return np.pad(a, width, mode="constant", constant_values=constant_values)
        return np.pad(a, width, mode=self.mode)

    def backward(self, g):
        if self.mode == "constant":
            return g[self.slices]
        # Axis by axis, last padded first: the centre block maps one to one onto the input; each
        # border entry came from the input entry np.pad copied (source[i]) and adds its gradient there.
        for ax in reversed(range(g.ndim)):
            lo, hi = (int(v) for v in self.width[ax])
            if lo == 0 and hi == 0:
                continue
            n = self.in_shape[ax]
            source = np.pad(np.arange(n), (lo, hi), mode=self.mode)
            centre = [slice(None)] * g.ndim
            centre[ax] = slice(lo, lo + n)
            out = np.array(g[tuple(centre)], copy=True)
            border = np.r_[0:lo, lo + n:lo + n + hi]
            np.add.at(np.moveaxis(out, ax, 0), source[border], np.moveaxis(np.take(g, border, axis=ax), ax, 0))
            g = out
        return g

    def graph_backward(self, g):
        if self.mode == "constant":
            return getitem(g, self.slices)
        # the gradient is a fixed linear map of g; its adjoint is the padding itself
        width, mode = self.width, self.mode
        return linear_backward(self, g, adjoint=lambda u: np.pad(u, width, mode=mode))


class Cast(Function):
    def forward(self, a, dtype=None):
        self.src = a.dtype
        if a.dtype.kind == "c" and np.dtype(dtype).kind != "c":
            return np.real(a).astype(dtype)  # complex to real keeps the real part, as TensorFlow's cast
        return a.astype(dtype)

    def backward(self, g):
        # real to complex: z = x + 0i, so dL/dx = Re(dL/dz); the other way the gradient is g + 0i
        if np.iscomplexobj(g) and self.src.kind != "c":
            return np.real(g).astype(self.src)
        return g.astype(self.src)

    def graph_backward(self, g):
        return g.astype(self.src)


class GetItem(Function):
    keeps_integers = True
    def forward(self, a, index=None):
        self.in_shape = a.shape
        self.save_for_backward(index)  # may hold integer or boolean arrays
        try:
            return a[index]
        except IndexError:
            raise IndexError(f"index {index!r} is out of range for a tensor of shape {a.shape}") from None
        except (TypeError, ValueError):
            raise TypeError(f"index {index!r} is not a valid index for a tensor of shape {a.shape}: expected "
                            "ints, slices, None, Ellipsis, or integer or boolean arrays") from None

    def backward(self, g):
        index = self.saved[0]
        out = np.zeros(self.in_shape, g.dtype)
        if _is_basic(index):
            out[index] = g
        else:
            np.add.at(out, index, g)  # repeated indices accumulate
        return out

    def graph_backward(self, g):
        return IndexAdd.apply(g, index=self.saved[0], shape=self.in_shape)


class IndexAdd(Function):
    """``zeros(shape)`` with ``g`` added at ``index`` (repeats accumulate): the adjoint of ``a[index]``,
    so its own gradient is that indexing again (the gradient of a gradient of indexing)."""

    def forward(self, g, index=None, shape=None):
        self.index = index
        out = np.zeros(shape, g.dtype)
        if _is_basic(index):
            out[index] = g
        else:
            np.add.at(out, index, g)
        return out

    def backward(self, u):
        return u[self.index]

    def graph_backward(self, u):
        return GetItem.apply(u, index=self.index)


def is_text(x) -> bool:
    """Whether ``x`` is text: a NumPy array of str or bytes (object arrays of them too), which is
    what deepgrad holds for Keras's ``"string"`` tensors. The shape ops below move text around as
    Keras's TensorFlow backend moves its string tensors; text has no gradient, so they use NumPy."""
    if not isinstance(x, np.ndarray):
        return False
    if x.dtype.kind in "US":
        return True
    return x.dtype.kind == "O" and (x.size == 0 or isinstance(x.flat[0], (str, bytes)))


def _any_text(xs) -> bool:
    return not isinstance(xs, (Tensor, np.ndarray)) and hasattr(xs, "__iter__") and any(is_text(x) for x in xs)


def _is_basic(index) -> bool:
    """True for an index of ints, slices, None and Ellipsis (no repeated elements possible)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


def _unwrap_index(index):
    if isinstance(index, Tensor):
        return index.data.astype(np.intp) if index.data.dtype.kind == "f" else index.data
    if isinstance(index, tuple):
        return tuple(_unwrap_index(i) for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def reshape(x, newshape):
    """``x`` in the shape ``newshape`` (a tuple, or one int; -1 once for "the rest")."""
    shape = (newshape,) if isinstance(newshape, (int, np.integer)) else newshape
    if is_text(x):
        return x.reshape(tuple(int(s) for s in shape))
    return Reshape.apply(x, shape=tuple(int(s) for s in shape))


def _int_axis(op: str, name: str, axis, ndim: int) -> int:
    """``axis`` as an int in [0, ndim), or a clear error naming ``op`` and ``name``."""
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{op}: {name} must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: {name} {axis} is out of bounds for a tensor of rank {ndim}")
    return int(axis) % ndim


def transpose(x, axes=None):
    """``x`` with its axes in the order ``axes`` (reversed when None)."""
    if axes is not None:
        ndim = np.ndim(x.data if isinstance(x, Tensor) else x)
        try:
            axes = tuple(axes)
        except TypeError:
            raise TypeError(f"transpose: axes must be a sequence of ints, got {axes!r}") from None
        if len(axes) != ndim:
            raise ValueError(f"transpose: axes {axes} must list each of the {ndim} axes once")
        if len({_int_axis("transpose", "axes", a, ndim) for a in axes}) != ndim:
            raise ValueError(f"transpose: axes {axes} repeat an axis")
    if is_text(x):
        return np.transpose(x, axes)
    return Transpose.apply(x, axes=axes)


permute = transpose


def swapaxes(x, axis1, axis2):
    axes = list(range(np.ndim(x.data if isinstance(x, Tensor) else x)))
    axis1, axis2 = (_int_axis("swapaxes", name, a, len(axes)) for name, a in (("axis1", axis1), ("axis2", axis2)))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


def expand_dims(x, axis):
    if is_text(x):
        return np.expand_dims(x, axis)
    t = keeping_tensor(x)
    return reshape(t, np.expand_dims(np.empty(t.shape, np.bool_), axis).shape)


def squeeze(x, axis=None):
    if is_text(x):
        return np.squeeze(x, axis)
    t = keeping_tensor(x)
    try:
        shape = np.squeeze(np.empty(t.shape, np.bool_), axis=axis).shape
    except ValueError:
        raise ValueError(f"squeeze: axis {axis} of shape {t.shape} does not have size 1") from None
    return reshape(t, shape)


def flatten(a):
    if is_text(a):
        return a.reshape(-1)
    t = keeping_tensor(a)
    return reshape(t, (t.size,))


def broadcast_to(x, shape):
    try:
        shape = tuple(int(d) for d in ((shape,) if isinstance(shape, (int, np.integer)) else shape))
    except (TypeError, ValueError):
        raise TypeError(f"broadcast_to: `shape` must be an int or a sequence of ints, got {shape!r}") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"broadcast_to: `shape` must not have negative sizes, got {shape}")
    # the result is a view, but the first op on it (or its gradient) writes the whole size
    if is_text(x):
        return np.broadcast_to(x, shape)
    backend.check_allocation(shape, keeping_tensor(x).dtype, "broadcast_to")
    return BroadcastTo.apply(x, shape=shape)


def _tensor_list(op: str, xs) -> list:
    if isinstance(xs, (Tensor, np.ndarray)) or not hasattr(xs, "__iter__"):
        raise TypeError(f"{op}: expects a list or tuple of tensors, got {type(xs).__name__}")
    xs = list(xs)
    if not xs:
        raise ValueError(f"{op}: needs at least one tensor, got an empty list")
    return xs


def concatenate(xs, axis=0):
    if _any_text(xs):
        return np.concatenate([np.asarray(x) for x in xs], axis=axis)
    return Concatenate.apply(*_tensor_list("concatenate", xs), axis=axis)


def stack(x, axis=0):
    """The tensors of the sequence ``x`` stacked along a new axis ``axis``."""
    if _any_text(x):
        return np.stack([np.asarray(a) for a in x], axis=axis)
    return Stack.apply(*_tensor_list("stack", x), axis=axis)


def split(x, indices_or_sections, axis=0):
    return list(Split.apply(x, indices_or_sections=indices_or_sections, axis=axis))


def pad(x, pad_width, mode="constant", constant_values=None):
    """NumPy's ``pad``: ``mode`` "constant", "reflect", "symmetric", "edge" or "wrap" (any case, as
    TensorFlow's "REFLECT"); ``constant_values`` (default 0) only with ``mode="constant"``, as Keras."""
    if constant_values is not None and str(mode).lower() != "constant":
        raise ValueError(f"pad: constant_values is only for mode='constant', got mode={mode!r}")
    return Pad.apply(x, pad_width=pad_width, mode=mode, constant_values=0 if constant_values is None else constant_values)


def getitem(a, index):
    if is_text(a):
        return a[_unwrap_index(index)]
    return GetItem.apply(a, index=_unwrap_index(index))


def take(x, indices, axis=None):
    """``np.take`` for integer ``indices`` along ``axis`` (the flattened array when None)."""
    idx = _unwrap_index(indices)
    if is_text(x):
        return np.take(x, idx, axis=axis)
    if axis is None:
        return getitem(flatten(x), idx)
    t = keeping_tensor(x)
    return getitem(t, (slice(None),) * _int_axis("take", "axis", axis, t.ndim) + (idx,))


def astype(a, dtype):
    """A copy in another dtype; the gradient flows back cast to the original dtype."""
    return Cast.apply(a, dtype=np.dtype(dtype))
