"""Keras's core ops: conversion and dtypes, control flow, slicing and scattering, custom gradients.

Control flow (``cond``, ``while_loop``, ``scan``, ``map``...) runs eagerly in Python, as on
Keras's PyTorch backend: the graph records whatever ops the branches and bodies call, so
gradients flow through them with no special support.
"""
from __future__ import annotations

import builtins
import re

import numpy as np

from ..autograd import Function, Tensor, no_grad
from . import manipulation
from .dtypes import standardize_dtype
from .dtypes import to_array


def _dtype_name(dtype) -> str:
    # an np.dtype by its name: np.dtype("int64") == "int" is True, which the string rules would misread
    return standardize_dtype(dtype.name if isinstance(dtype, np.dtype) and dtype.kind not in "OUS" else dtype)


def _tensor(x, dtype=None) -> Tensor:
    """``x`` as a Tensor; integer and bool data keep their dtype (unlike ``Tensor(x)``)."""
    if isinstance(x, Tensor) and dtype is None:
        return x
    if isinstance(x, Tensor):
        return cast(x, dtype)
    a = to_array(x, dtype)
    return Tensor(a, dtype=a.dtype)


def _int_list(values, op: str, arg: str) -> list:
    a = np.asarray(to_array(values))
    if a.dtype.kind not in "iub":
        raise TypeError(f"{op}: {arg} must be integers, got dtype {a.dtype}")
    return [int(v) for v in a.reshape(-1)]


# ----------------------------------------------------------------- a small tree utility
def _flatten(tree) -> list:
    """The leaves of nested lists, tuples and dicts (dicts in key order)."""
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in _flatten(item)]
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in _flatten(tree[k])]
    return [tree]


def _pack(structure, leaves):
    """``leaves`` put back into the nesting of ``structure``."""
    it = iter(leaves)

    def build(s):
        if isinstance(s, (list, tuple)):
            items = [build(v) for v in s]
            return type(s)(items) if not hasattr(s, "_fields") else type(s)(*items)
        if isinstance(s, dict):
            return {k: build(s[k]) for k in sorted(s)}
        return next(it)

    return build(structure)


def _is_nested(x) -> bool:
    return isinstance(x, (list, tuple, dict))


# ----------------------------------------------------------------- conversion and dtypes
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """``x`` as a Tensor of ``dtype`` (Keras's dtype rules when None: ints int32, floats floatx)."""
    if sparse or ragged:
        raise ValueError("convert_to_tensor: deepgrad has no sparse or ragged tensors (sparse=True / ragged=True)")
    if isinstance(x, Tensor):
        return x if dtype is None else cast(x, dtype)
    if dtype is None or dtype == "string":
        a = to_array(x)
        if a.dtype.kind in "US":
            # text stays a NumPy array of str, which the text preprocessing layers read as
            # Keras's TensorFlow backend reads its string tensors
            return a
        if dtype == "string":
            raise TypeError(f"convert_to_tensor: dtype='string' needs text, got dtype {a.dtype}")
        return Tensor(a, dtype=a.dtype)
    return _tensor(x, dtype)


def convert_to_numpy(x):
    """``x`` as a NumPy array (a copy: writing into it never changes the Tensor)."""
    return np.array(to_array(x))


def is_tensor(x):
    return isinstance(x, Tensor)


def dtype(x):
    """The standard dtype name of ``x`` (``'float32'``, ``'int32'``...)."""
    if hasattr(x, "dtype") and not isinstance(x, (list, tuple)):  # also symbolic tensors
        return _dtype_name(x.dtype)
    return _dtype_name(to_array(x).dtype)


def shape(x):
    """The shape of ``x`` as a tuple of Python ints (None for an unknown size of a symbolic tensor)."""
    if hasattr(x, "shape"):
        return tuple(None if n is None else int(n) for n in x.shape)
    return tuple(int(n) for n in to_array(x).shape)


def cast(x, dtype):
    """``x`` in ``dtype``. Between float types, and from float to complex (the real part back), the
    gradient flows back (cast to the input's dtype); a cast to an integer or bool type carries none.
    Complex to real keeps the real part, as TensorFlow's cast."""
    target = _dtype_name(dtype)
    if target == "string":  # text stays text (Keras's TF backend); no number becomes text
        if isinstance(x, np.ndarray) and x.dtype.kind in "OUS":
            return x
        raise TypeError(f"cast: cannot cast {_dtype_name(getattr(x, 'dtype', None) or to_array(x).dtype)} "
                        "to 'string'")
    if hasattr(x, "dense_shape") and hasattr(x, "with_values"):  # a sparse tensor: its values are cast
        return x.with_values(cast(x.values, dtype))
    if not isinstance(x, Tensor):  # straight to the target: 0.1 to float64 is not rounded via float32
        with np.errstate(invalid="ignore", over="ignore"):
            a = to_array(x, target)
        return Tensor(a, dtype=a.dtype)
    t = x
    if t.dtype == np.dtype(target):
        return t
    if t.requires_grad and (np.dtype(target).kind == "f" or (np.dtype(target).kind == "c" and t.dtype.kind in "fc")):
        return manipulation.astype(t, target)
    with np.errstate(invalid="ignore", over="ignore"):
        out = t.data.astype(target)
    return Tensor(out, dtype=out.dtype)


def _dtype_range(name: str):
    if name == "bool":
        return 0, 1
    if "int" in name:
        info = np.iinfo(name)
    else:
        info = np.finfo(name)
    return info.min, info.max


def saturate_cast(x, dtype):
    """``cast`` after clipping to the range both dtypes can hold (no wrap-around, no inf).

    The bounds are nudged toward zero when the input dtype cannot represent them exactly.
    Differentiable (through the clip) between float types.
    """
    target = _dtype_name(dtype)
    t = _tensor(x)
    src = _dtype_name(t.dtype)
    in_min, in_max = _dtype_range(src)
    out_min, out_max = _dtype_range(target)
    lo = np.asarray(np.maximum(in_min, out_min)).astype(src)
    if lo < out_min:
        lo = np.nextafter(lo, 0, dtype=src)
    hi = np.asarray(np.minimum(in_max, out_max)).astype(src)
    if hi > out_max:
        hi = np.nextafter(hi, 0, dtype=src)
    if t.requires_grad:
        from .math import clip
        return cast(clip(t, lo.item(), hi.item()), target)
    return cast(Tensor(np.clip(t.data, lo, hi), dtype=t.dtype), target)


def stop_gradient(variable):
    """The same values, cut from the graph: no gradient flows back through the result."""
    t = _tensor(variable)
    return Tensor(t.data, dtype=t.dtype)


# ----------------------------------------------------------------- custom gradients
class _CustomGradient(Function):
    """Runs ``f`` for the forward pass and its ``grad_fn`` for the backward pass."""

    def forward(self, *arrays, fn=None, args=None, positions=None, kwargs=None, box=None):
        self.args = list(args)
        with no_grad():
            output, self.grad_fn = fn(*args, **kwargs)
        self.positions = positions
        self.structure = box["structure"] = output
        leaves = _flatten(output)
        self.single = not _is_nested(output)
        arrays_out = tuple(_tensor(o).data for o in leaves)
        return arrays_out[0] if self.single else arrays_out

    def backward(self, grad):
        upstream = Tensor(grad, dtype=grad.dtype) if self.single else _pack(
            self.structure, [Tensor(g, dtype=g.dtype) for g in self.filled(grad)])
        with no_grad():
            grads = self.grad_fn(*self.args, upstream=upstream)
        grads = list(grads) if isinstance(grads, (list, tuple)) else [grads]
        result = []
        for pos in self.positions:
            g = grads[pos] if pos < len(grads) else None
            result.append(None if g is None else to_array(g))
        return tuple(result)


def custom_gradient(f):
    """Decorator: ``f(*args)`` returns ``(output, grad_fn)``; the result computes ``output``
    and differentiates it with ``grad_fn(*args, upstream=...)``, which returns one gradient
    per argument of ``f``.

        @custom_gradient
        def log1pexp(x):
            e = exp(x)
            def grad(*args, upstream=None):
                return upstream * (1.0 - 1.0 / (1.0 + e))
            return log(1.0 + e), grad
    """

    def wrapper(*args, **kwargs):
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = [args[i] for i in positions]
        if not tensors:  # nothing to differentiate: just the forward values
            with no_grad():
                return f(*args, **kwargs)[0]
        box = {}
        out = _CustomGradient.apply(*tensors, fn=f, args=args, positions=positions, kwargs=kwargs, box=box)
        return out if isinstance(out, Tensor) else _pack(box["structure"], list(out))

    wrapper.__name__ = getattr(f, "__name__", "custom_gradient")
    wrapper.__doc__ = getattr(f, "__doc__", None)
    return wrapper


# ----------------------------------------------------------------- control flow
def _truth(pred, op: str) -> bool:
    a = to_array(pred)
    if a.size != 1:
        raise ValueError(f"{op}: the predicate must be a single value, got shape {a.shape}")
    return bool(a.reshape(()))


def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` else ``false_fn()``; only the branch taken runs."""
    return true_fn() if _truth(pred, "cond") else false_fn()


def switch(index, branches, *operands):
    """``branches[index](*operands)``, with ``index`` clipped to the valid range."""
    if not branches:
        raise ValueError("switch: branches must not be empty")
    i = int(np.clip(int(to_array(index).reshape(())), 0, len(branches) - 1))
    return branches[i](*operands)


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Apply ``body`` while ``cond(*loop_vars)`` holds (at most ``maximum_iterations`` times)."""
    is_tuple = isinstance(loop_vars, (list, tuple))
    loop_vars = tuple(loop_vars) if is_tuple else (loop_vars,)
    loop_vars = tuple(_pack(v, [_tensor(x) for x in _flatten(v)]) for v in loop_vars)
    count = 0
    while (maximum_iterations is None or count < maximum_iterations) and _truth(cond(*loop_vars), "while_loop"):
        loop_vars = body(*loop_vars)
        loop_vars = tuple(loop_vars) if isinstance(loop_vars, (list, tuple)) else (loop_vars,)
        count += 1
    return loop_vars if is_tuple else loop_vars[0]


def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``."""
    val = init_val
    for i in range(int(to_array(lower)), int(to_array(upper))):
        val = body_fun(i, val)
    return val


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns ``(carry, stacked ys)``.

    As ``jax.lax.scan``: ``xs`` and ``init`` may be nested lists/tuples/dicts; with ``xs=None``
    ``length`` steps run with ``x=None``. A step returning ``y=None`` stacks a list of zeros
    like the leaves of ``init``.
    """
    if not callable(f):
        raise TypeError(f"scan: f must be callable, got {f!r}")
    if isinstance(unroll, bool) is False and (not isinstance(unroll, int) or unroll < 1):
        raise ValueError(f"scan: unroll must be a positive integer or a bool, got {unroll!r}")
    if xs is None and length is None:
        raise ValueError("scan: got no xs to scan over and no length")
    xs_flat = [] if xs is None else [_tensor(x) for x in _flatten(xs)]
    n = int(length) if length is not None else xs_flat[0].shape[0]
    for x in xs_flat:
        if x.ndim == 0 or x.shape[0] < n:
            raise ValueError(f"scan: every xs needs a leading axis of length {n}, got shape {x.shape}")
    init_flat = [_tensor(v) for v in _flatten(init)]
    carry = _pack(init, init_flat) if _is_nested(init) else init_flat[0]
    dummy = [Tensor(np.zeros(v.shape, v.dtype), dtype=v.dtype) for v in init_flat]
    ys = []
    steps = range(n - 1, -1, -1) if reverse else range(n)
    for i in steps:
        x = None
        if xs_flat:
            parts = [manipulation.getitem(t, i) for t in xs_flat]
            x = _pack(xs, parts) if _is_nested(xs) else parts[0]
        carry, y = f(carry, x)
        ys.append(list(dummy) if y is None else y)  # as Keras: a list of zeros, one per carry leaf
    if reverse:
        ys.reverse()
    if not ys:
        return carry, None
    leaves = [_flatten(y) for y in ys]
    stacked = [manipulation.stack([_tensor(step[j]) for step in leaves], axis=0) for j in range(len(leaves[0]))]
    return carry, _pack(ys[0], stacked) if _is_nested(ys[0]) else stacked[0]


def map(f, xs):
    """``stack([f(x) for x in xs])`` over the leading axis (nested ``xs`` and outputs allowed)."""
    _, ys = scan(lambda carry, x: (carry, f(x)), (), xs)
    return ys


def vectorized_map(function, elements):
    """``function`` applied to each slice of ``elements`` along axis 0, results stacked."""
    return map(function, elements)


def vectorize(pyfunc, *, excluded=None, signature=None):
    """NumPy's ``vectorize``: ``pyfunc`` (written for single elements, or for the core shapes
    of ``signature`` such as ``"(d,d)->(d)"``) mapped over whole arrays. ``pyfunc`` receives
    Tensors; the result carries no gradient (it is computed element by element)."""
    def on_arrays(*args):
        out = pyfunc(*[Tensor(a, dtype=np.asarray(a).dtype) for a in args])
        return out.data if isinstance(out, Tensor) else out

    mapped = np.vectorize(on_arrays, excluded=excluded or set(), signature=signature)

    def vectorized(*args, **kwargs):
        args = [a.data if isinstance(a, Tensor) else a for a in args]
        out = np.asarray(mapped(*args, **kwargs))
        return Tensor(out, dtype=out.dtype)

    return vectorized


def view(x, dtype=None):
    """The bytes of ``x`` read as ``dtype`` (NumPy's ``ndarray.view``); no gradient."""
    a = x.data if isinstance(x, Tensor) else to_array(x)
    if dtype is None:
        return Tensor(a.copy(), dtype=a.dtype)
    try:
        out = a.view(np.dtype(dtype))
    except (TypeError, ValueError) as e:
        raise ValueError(f"view: cannot view an array of shape {a.shape} and dtype {a.dtype} as {dtype}: {e}") from None
    return Tensor(out, dtype=out.dtype)


def _along(t: Tensor, axis: int, index) -> Tensor:
    return manipulation.getitem(t, (builtins.slice(None),) * axis + (index,))


def _interleave(a: Tensor, b: Tensor, axis: int) -> Tensor:
    """a0 b0 a1 b1 ... along ``axis`` (``a`` may be one longer than ``b``)."""
    n = b.shape[axis]
    pairs = manipulation.stack([_along(a, axis, builtins.slice(0, n)), b], axis=axis + 1)
    merged = manipulation.reshape(pairs, a.shape[:axis] + (2 * n,) + a.shape[axis + 1:])
    if a.shape[axis] == n:
        return merged
    return manipulation.concatenate([merged, _along(a, axis, builtins.slice(n, None))], axis=axis)


def associative_scan(f, elems, reverse=False, axis=0):
    """All prefix combinations ``f(...f(f(e0, e1), e2)..., ei)`` along ``axis``, for an
    associative ``f``, in O(log n) rounds of ``f`` on whole arrays (the odd/even scan of
    Blelloch, as ``jax.lax.associative_scan``)."""
    if not callable(f):
        raise TypeError(f"associative_scan: f must be callable, got {f!r}")
    flat = [_tensor(e) for e in _flatten(elems)]
    axis = axis % flat[0].ndim
    n = flat[0].shape[axis]
    if any(e.shape[axis] != n for e in flat):
        raise ValueError(f"associative_scan: every element needs the same length on axis {axis}, "
                         f"got shapes {[e.shape for e in flat]}")
    if reverse:
        flat = [_along(e, axis, builtins.slice(None, None, -1)) for e in flat]

    def combine(a_flat, b_flat):
        c = f(_pack(elems, a_flat), _pack(elems, b_flat)) if _is_nested(elems) else f(a_flat[0], b_flat[0])
        return [_tensor(v) for v in _flatten(c)]

    def part(flat_list, start, stop=None, step=None):
        return [_along(e, axis, builtins.slice(start, stop, step)) for e in flat_list]

    def scan_(es):
        m = es[0].shape[axis]
        if m < 2:
            return es
        reduced = combine(part(es, 0, -1, 2), part(es, 1, None, 2))  # pairs (0,1), (2,3), ...
        odd = scan_(reduced)  # prefix results at positions 1, 3, 5, ...
        if m % 2 == 0:
            even = combine(part(odd, 0, -1), part(es, 2, None, 2))
        else:
            even = combine(odd, part(es, 2, None, 2))
        even = [manipulation.concatenate([_along(e, axis, builtins.slice(0, 1)), v], axis=axis)
                for e, v in zip(es, even)]
        return [_interleave(e, o, axis) for e, o in zip(even, odd)]

    out = scan_(flat)
    if reverse:
        out = [_along(e, axis, builtins.slice(None, None, -1)) for e in out]
    return _pack(elems, out) if _is_nested(elems) else out[0]


# ----------------------------------------------------------------- slicing and scattering
def slice(inputs, start_indices, shape):
    """The block of ``inputs`` of size ``shape`` starting at ``start_indices`` (differentiable)."""
    t = _tensor(inputs)
    starts = _int_list(start_indices, "slice", "start_indices")
    sizes = _int_list(shape, "slice", "shape")
    if len(starts) != t.ndim or len(sizes) != t.ndim:
        raise ValueError(f"slice: start_indices {starts} and shape {sizes} need one entry per axis of "
                         f"the input of shape {t.shape}")
    index = []
    for s, n, dim in zip(starts, sizes, t.shape):
        n = dim - s if n == -1 else n
        if s < 0 or n < 0 or s + n > dim:
            raise ValueError(f"slice: the block starting at {starts} of shape {sizes} does not fit "
                             f"in the input of shape {t.shape}")
        index.append(builtins.slice(s, s + n))
    return manipulation.getitem(t, tuple(index))


class SliceUpdate(Function):
    def forward(self, inputs, updates, index=None):
        self.index = index
        out = inputs.copy()
        out[index] = updates
        return out

    def backward(self, g):
        # out = inputs outside the block, updates inside: each gets g where it shows
        gi = gu = None
        if self.needs_input_grad[0]:
            gi = g.copy()
            gi[self.index] = 0
        if self.needs_input_grad[1]:
            gu = g[self.index]
        return gi, gu

    def graph_backward(self, g):
        return _written_apart(self, g, True)


def _written_apart(fn, g, replaced):
    """``graph_backward`` of a write at ``fn.index``: the inputs get g where nothing replaced them
    (a constant mask), the updates get g read at the index (recorded)."""
    gi = gu = None
    if fn.needs_input_grad[0]:
        gi = g
        if replaced:
            keep = np.ones(g.shape, g.dtype)
            keep[fn.index] = 0
            gi = g * keep
    if fn.needs_input_grad[1]:
        gu = g[fn.index]
    return gi, gu


def slice_update(inputs, start_indices, updates):
    """``inputs`` with the block at ``start_indices`` replaced by ``updates`` (differentiable in both)."""
    t, u = _tensor(inputs), _tensor(updates)
    starts = _int_list(start_indices, "slice_update", "start_indices")
    if len(starts) != t.ndim or u.ndim != t.ndim:
        raise ValueError(f"slice_update: inputs of shape {t.shape}, updates of shape {u.shape} and "
                         f"start_indices {starts} need the same rank")
    if any(s < 0 or s + n > dim for s, n, dim in zip(starts, u.shape, t.shape)):
        raise ValueError(f"slice_update: updates of shape {u.shape} at {starts} do not fit in inputs "
                         f"of shape {t.shape}")
    index = tuple(builtins.slice(s, s + n) for s, n in zip(starts, u.shape))
    if u.dtype != t.dtype:
        u = cast(u, t.dtype)
    return SliceUpdate.apply(t, u, index=index)


def _index_tuple(indices, target_shape, op: str):
    idx = to_array(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers, got dtype {idx.dtype}")
    if idx.ndim == 0:
        idx = idx.reshape(1, 1)
    k = idx.shape[-1]
    if k > len(target_shape):
        raise ValueError(f"{op}: indices of depth {k} for a target of shape {tuple(target_shape)}")
    flat = idx.reshape(-1, k)
    bounds = np.asarray(target_shape[:k])
    if flat.size and ((flat < -bounds).any() or (flat >= bounds).any()):
        raise ValueError(f"{op}: an index is out of range for the target shape {tuple(target_shape)}")
    return tuple(flat.T), idx.shape[:-1], k


class Scatter(Function):
    def forward(self, values, index=None, shape=None, value_shape=None):
        self.index, self.in_shape = index, values.shape
        out = np.zeros(shape, values.dtype)
        np.add.at(out, index, values.reshape(value_shape))  # repeated indices add up
        return out

    def backward(self, g):
        # out[idx_j] += v_j  =>  dv_j = g[idx_j]
        return g[self.index].reshape(self.in_shape)

    def graph_backward(self, g):
        return g[self.index].reshape(self.in_shape)


def scatter(indices, values, shape):
    """Zeros of ``shape`` with ``values`` added at ``indices`` (last axis: coordinates);
    repeated indices add up. Differentiable in ``values``."""
    shape = tuple(_int_list(shape, "scatter", "shape"))
    index, lead, k = _index_tuple(indices, shape, "scatter")
    v = _tensor(values)
    value_shape = (len(index[0]),) + shape[k:]
    if int(np.prod(v.shape)) != int(np.prod(value_shape)):
        raise ValueError(f"scatter: values of shape {v.shape} do not match indices {lead + (k,)} "
                         f"for shape {shape} (expected {lead + shape[k:]})")
    return Scatter.apply(v, index=index, shape=shape, value_shape=value_shape)


class ScatterUpdate(Function):
    def forward(self, inputs, updates, index=None, reduction=None):
        self.index, self.reduction = index, reduction
        out = inputs.copy()
        if reduction is None:
            out[index] = updates
        else:
            np.add.at(out, index, updates)
        return out

    def backward(self, g):
        # replace: inputs get g outside the written positions; add: inputs get all of g
        gi = gu = None
        if self.needs_input_grad[0]:
            gi = g
            if self.reduction is None:
                gi = g.copy()
                gi[self.index] = 0
        if self.needs_input_grad[1]:
            gu = g[self.index]
        return gi, gu

    def graph_backward(self, g):
        return _written_apart(self, g, self.reduction is None)


def scatter_update(inputs, indices, updates, reduction=None):
    """``inputs`` with ``updates`` written at ``indices`` (shape ``(n, k)``).

    ``reduction`` None replaces, ``"add"`` adds (repeats accumulate), ``"max"``, ``"min"``
    and ``"mul"`` combine. Differentiable for None and ``"add"``; the other reductions carry
    no gradient.
    """
    if reduction not in (None, "add", "max", "min", "mul"):
        raise ValueError(f"scatter_update: reduction must be None, 'add', 'max', 'min' or 'mul', got {reduction!r}")
    t = _tensor(inputs)
    index, lead, k = _index_tuple(indices, t.shape, "scatter_update")
    u = _tensor(updates)
    expected = (len(index[0]),) + t.shape[k:]
    if u.shape != expected:
        if int(np.prod(u.shape)) != int(np.prod(expected)):
            raise ValueError(f"scatter_update: updates of shape {u.shape} do not match {expected} "
                             f"(indices {lead + (k,)} into inputs {t.shape})")
        u = manipulation.reshape(u, expected)
    if u.dtype != t.dtype:
        u = cast(u, t.dtype)
    if reduction in (None, "add"):
        return ScatterUpdate.apply(t, u, index=index, reduction=reduction)
    out = t.data.copy()
    {"max": np.maximum, "min": np.minimum, "mul": np.multiply}[reduction].at(out, index, u.data)
    return Tensor(out, dtype=out.dtype)


def unstack(x, num=None, axis=0):
    """The slices of ``x`` along ``axis``, as a list (differentiable)."""
    t = _tensor(x)
    axis = axis % t.ndim if t.ndim else 0
    if num is not None and num != t.shape[axis]:
        raise ValueError(f"unstack: num={num} but axis {axis} of shape {t.shape} has {t.shape[axis]} entries")
    return [_along(t, axis, i) for i in range(t.shape[axis])]


# ----------------------------------------------------------------- rearrange
_TOKEN = re.compile(r"\(|\)|[A-Za-z_][A-Za-z0-9_]*|\d+")


def _parse_side(side: str, op: str) -> list:
    """``"b (h w) c"`` as ``[["b"], ["h", "w"], ["c"]]``."""
    groups, current = [], None
    for tok in _TOKEN.findall(side):
        if tok == "(":
            if current is not None:
                raise ValueError(f"{op}: nested parentheses in {side!r}")
            current = []
        elif tok == ")":
            if current is None:
                raise ValueError(f"{op}: unbalanced parentheses in {side!r}")
            groups.append(current)
            current = None
        elif current is not None:
            current.append(tok)
        else:
            groups.append([tok])
    if current is not None:
        raise ValueError(f"{op}: unbalanced parentheses in {side!r}")
    leftover = re.sub(r"[\s()A-Za-z0-9_]", "", side)
    if leftover:
        raise ValueError(f"{op}: unexpected characters {leftover!r} in pattern side {side!r}")
    return groups


def rearrange(tensor, pattern, **axes_lengths):
    """einops's ``rearrange``: ``"b (h w) c -> b h w c"`` splits, merges and permutes axes.

    A reshape into the elementary axes, one transpose, a reshape into the output groups
    (all differentiable).
    """
    t = _tensor(tensor)
    if pattern.count("->") != 1:
        raise ValueError(f"rearrange: the pattern needs one '->', got {pattern!r}")
    left, right = (_parse_side(s, "rearrange") for s in pattern.split("->"))
    names_in = [a for g in left for a in g]
    names_out = [a for g in right for a in g]
    if len(left) != t.ndim:
        raise ValueError(f"rearrange: pattern {pattern!r} has {len(left)} input axes but the tensor has shape {t.shape}")
    if sorted(n for n in names_in if not n.isdigit()) != sorted(n for n in names_out if not n.isdigit()):
        raise ValueError(f"rearrange: both sides of {pattern!r} must name the same axes")
    sizes = {k: int(v) for k, v in axes_lengths.items()}
    for group, dim in zip(left, t.shape):
        unknown = [a for a in group if not a.isdigit() and a not in sizes]
        known = int(np.prod([int(a) if a.isdigit() else sizes[a] for a in group if a not in unknown]))
        if len(unknown) > 1:
            raise ValueError(f"rearrange: cannot infer the sizes of {unknown} in {pattern!r}; pass them as keywords")
        if unknown:
            if known == 0 or dim % known:
                raise ValueError(f"rearrange: axis of size {dim} cannot be split into {group} with {sizes}")
            sizes[unknown[0]] = dim // known
        elif known != dim:
            raise ValueError(f"rearrange: axis of size {dim} does not match {group} = {known}")
    elementary = [a for a in names_in if not a.isdigit()]
    x = manipulation.reshape(t, tuple(sizes[a] for a in elementary))
    x = manipulation.transpose(x, tuple(elementary.index(a) for a in names_out if not a.isdigit()))
    out_shape = tuple(int(np.prod([int(a) if a.isdigit() else sizes[a] for a in g])) for g in right)
    return manipulation.reshape(x, out_shape)


# ----------------------------------------------------------------- complex views
def view_as_real(x):
    """A complex tensor as real pairs on a new last axis (no gradient: deepgrad's autograd is real)."""
    a = to_array(x)
    if a.dtype.kind != "c":
        raise ValueError(f"view_as_real: the input must be complex, got dtype {a.dtype}")
    out = np.stack([a.real, a.imag], axis=-1)
    return Tensor(out, dtype=out.dtype)


def view_as_complex(x):
    """Real pairs on the last axis as one complex64 tensor, as Keras returns (no gradient)."""
    a = to_array(x)
    if a.dtype.kind != "f" or a.ndim == 0 or a.shape[-1] != 2:
        raise ValueError(f"view_as_complex: the input must be float with a last axis of size 2, "
                         f"got shape {a.shape} and dtype {a.dtype}")
    out = (a[..., 0] + 1j * a[..., 1]).astype(np.complex64)
    return Tensor(out, dtype=out.dtype)
