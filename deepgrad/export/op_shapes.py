"""Converters of the reductions, shape, product and indexing ops of ``deepgrad.ops`` (see
``op_converters`` for the registry and the ``Sym`` values they take and return)."""
from __future__ import annotations

import numpy as np

from .graph import ExportError
from .op_converters import _BOOL, _F32, OP_CONVERTERS, Sym, _axes, _broadcast_shape, _cast, \
    _result_dtype, _sym, register_op


# ------------------------------------------------------------------------- reductions
def _reduction(onnx_op, float_out=False, bool_in=False):
    def convert(b, where, x, axis=None, keepdims=False, initial=None):
        if initial is not None:
            raise ExportError(f"ONNX export: {where}: the initial argument")
        if bool_in:
            x = _cast(b, x, np.int32, where)
        elif float_out:
            x = _cast(b, x, _F32, where)
        axes = list(range(x.rank)) if axis is None else _axes(axis, x.rank)
        out = b.reduce(onnx_op, x.name, axes, where, keepdims=bool(keepdims))
        shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape)) if keepdims else tuple(
            n for i, n in enumerate(x.shape) if i not in axes)
        if bool_in:
            return _cast(b, Sym(out, shape, np.dtype(np.int32)), _BOOL, where)
        return Sym(out, shape, x.dtype)
    return convert


OP_CONVERTERS.update({"sum": _reduction("ReduceSum"), "max": _reduction("ReduceMax"), "min": _reduction("ReduceMin"),
                      "mean": _reduction("ReduceMean", float_out=True), "any": _reduction("ReduceMax", bool_in=True),
                      "all": _reduction("ReduceMin", bool_in=True)})


@register_op("prod")
def prod(b, where, x, axis=None, keepdims=False, dtype=None):
    out = _reduction("ReduceProd")(b, where, x, axis, keepdims)
    return out if dtype is None else _cast(b, out, dtype, where)


def _moment(kind):
    def convert(b, where, x, axis=None, keepdims=False, ddof=0):
        """``sum((x - mean)^2) / (n - ddof)``; std its square root."""
        x = _cast(b, x, _F32, where)
        axes = list(range(x.rank)) if axis is None else _axes(axis, x.rank)
        mean = b.reduce("ReduceMean", x.name, axes, where, keepdims=True)
        d = b.op("Sub", [x.name, mean], where)
        var = b.reduce("ReduceMean", b.op("Mul", [d, d], where), axes, where, keepdims=bool(keepdims))
        if ddof:
            count = b.op("Cast", [b.reduce("ReduceProd", b.op("Gather", [b.op("Shape", [x.name], where),
                                                                        b.ints(axes, "axes")], where, axis=0),
                                           [0], where, keepdims=False)], where, to=b.TensorProto.FLOAT)
            var = b.op("Div", [b.op("Mul", [var, count], where),
                               b.op("Sub", [count, b.const(np.float32(ddof))], where)], where)
        out = b.op("Sqrt", [var], where) if kind == "std" else var
        shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape)) if keepdims else tuple(
            n for i, n in enumerate(x.shape) if i not in axes)
        return Sym(out, shape, _F32)
    return convert


OP_CONVERTERS["var"], OP_CONVERTERS["std"] = _moment("var"), _moment("std")


def _arg_op(onnx_op):
    def convert(b, where, x, axis=None, keepdims=False):
        if axis is None:
            raise ExportError(f"ONNX export: {where}: {onnx_op.lower()} over the flattened tensor (give an axis)")
        a = _axes(axis, x.rank)[0]
        out = b.op(onnx_op, [x.name], where, axis=a, keepdims=int(bool(keepdims)))
        shape = tuple(1 if i == a else n for i, n in enumerate(x.shape)) if keepdims else tuple(
            n for i, n in enumerate(x.shape) if i != a)
        return _cast(b, Sym(out, shape, np.dtype(np.int64)), np.int32, where)
    return convert


OP_CONVERTERS["argmax"], OP_CONVERTERS["argmin"] = _arg_op("ArgMax"), _arg_op("ArgMin")


@register_op("cumsum")
def cumsum(b, where, x, axis=None, dtype=None):
    if axis is None:
        raise ExportError(f"ONNX export: {where}: cumsum over the flattened tensor (give an axis)")
    out = Sym(b.op("CumSum", [x.name, b.const(np.int64(_axes(axis, x.rank)[0]))], where), x.shape, x.dtype)
    return out if dtype is None else _cast(b, out, dtype, where)


@register_op("norm")
def norm(b, where, x, ord=None, axis=None, keepdims=False):
    """The vector 2-norm (``ord`` None or 2) or 1-norm over ``axis``."""
    if ord not in (None, 1, 2) or (axis is None and x.rank > 1) or (isinstance(axis, (list, tuple))
                                                                     and len(axis) > 1):
        raise ExportError(f"ONNX export: {where}: norm with ord={ord!r}, axis={axis!r} (vector 1- and 2-norms "
                          "over one axis are exported)")
    x = _cast(b, x, _F32, where)
    axes = _axes(0 if axis is None else axis, x.rank)
    op = "ReduceL1" if ord == 1 else "ReduceL2"
    out = b.reduce(op, x.name, axes, where, keepdims=bool(keepdims))
    shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape)) if keepdims else tuple(
        n for i, n in enumerate(x.shape) if i not in axes)
    return Sym(out, shape, _F32)


# ------------------------------------------------------------------------- shapes
@register_op("reshape")
def reshape(b, where, x, newshape):
    newshape = [int(n) if n is not None else -1 for n in (newshape if isinstance(newshape, (list, tuple))
                                                          else [newshape])]
    out = b.reshape(x.name, newshape, where)
    return Sym(out, tuple(None if n == -1 else n for n in newshape), x.dtype)


@register_op("transpose")
def transpose(b, where, x, axes=None):
    perm = list(range(x.rank))[::-1] if axes is None else [int(a) % x.rank for a in axes]
    return Sym(b.transpose(x.name, perm, where), tuple(x.shape[p] for p in perm), x.dtype)


@register_op("swapaxes")
def swapaxes(b, where, x, axis1, axis2):
    perm = list(range(x.rank))
    a, c = int(axis1) % x.rank, int(axis2) % x.rank
    perm[a], perm[c] = perm[c], perm[a]
    return transpose(b, where, x, perm)


@register_op("moveaxis")
def moveaxis(b, where, x, source, destination):
    src = _axes(source, x.rank)
    dst = _axes(destination, x.rank)
    rest = [a for a in range(x.rank) if a not in src]
    perm = [None] * x.rank
    for s, d in zip(src, dst):
        perm[d] = s
    it = iter(rest)
    perm = [p if p is not None else next(it) for p in perm]
    return transpose(b, where, x, perm)


@register_op("expand_dims")
def expand_dims(b, where, x, axis):
    rank = x.rank + (len(axis) if isinstance(axis, (list, tuple)) else 1)
    axes = sorted(_axes(axis, rank))
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return Sym(b.op("Unsqueeze", [x.name, b.ints(axes, "axes")], where), tuple(shape), x.dtype)


@register_op("squeeze")
def squeeze(b, where, x, axis=None):
    """Without ``axis``, the axes of static size 1 (never the dynamic batch axis)."""
    axes = [i for i, n in enumerate(x.shape) if n == 1] if axis is None else _axes(axis, x.rank)
    if not axes:
        return x
    return Sym(b.op("Squeeze", [x.name, b.ints(axes, "axes")], where),
               tuple(n for i, n in enumerate(x.shape) if i not in axes), x.dtype)


@register_op("concatenate")
def concatenate(b, where, xs, axis=0):
    dtype = _result_dtype(list(xs))
    xs = [_sym(b, x, dtype, where) for x in xs]
    a = int(axis) % xs[0].rank
    size = None if any(x.shape[a] is None for x in xs) else sum(x.shape[a] for x in xs)
    shape = tuple(size if i == a else n for i, n in enumerate(xs[0].shape))
    return Sym(b.op("Concat", [x.name for x in xs], where, axis=a), shape, dtype)


@register_op("stack")
def stack(b, where, x, axis=0):
    dtype = _result_dtype(list(x))
    xs = [_sym(b, t, dtype, where) for t in x]
    a = int(axis) % (xs[0].rank + 1)
    parts = [b.op("Unsqueeze", [t.name, b.ints([a], "axes")], where) for t in xs]
    shape = list(xs[0].shape)
    shape.insert(a, len(xs))
    return Sym(b.op("Concat", parts, where, axis=a), tuple(shape), dtype)


@register_op("split")
def split(b, where, x, indices_or_sections, axis=0):
    a = int(axis) % x.rank
    n = x.shape[a]
    if isinstance(indices_or_sections, int):
        if n is None:
            raise ExportError(f"ONNX export: {where}: split of an axis of unknown size")
        sizes = [n // indices_or_sections] * indices_or_sections
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]
        if n is None:
            raise ExportError(f"ONNX export: {where}: split of an axis of unknown size")
        sizes = [hi - lo for lo, hi in zip(bounds[:-1], bounds[1:])]
    outs = b.split(x.name, sizes, a, where)
    return [Sym(o, tuple(s if i == a else m for i, m in enumerate(x.shape)), x.dtype) for o, s in zip(outs, sizes)]


@register_op("tile")
def tile(b, where, x, repeats):
    reps = [int(r) for r in (repeats if isinstance(repeats, (list, tuple)) else [repeats])]
    reps = [1] * (x.rank - len(reps)) + reps
    if len(reps) > x.rank:
        raise ExportError(f"ONNX export: {where}: tile with more repeats than axes")
    shape = tuple(None if n is None else n * r for n, r in zip(x.shape, reps))
    return Sym(b.op("Tile", [x.name, b.ints(reps, "repeats")], where), shape, x.dtype)


@register_op("repeat")
def repeat(b, where, x, repeats, axis=None):
    """Each element ``repeats`` times along ``axis``: (.., n, ..) -> (.., n, r, ..) -> (.., n r, ..)."""
    if axis is None or not isinstance(repeats, int):
        raise ExportError(f"ONNX export: {where}: repeat needs an axis and one integer count")
    a = int(axis) % x.rank
    y = b.op("Unsqueeze", [x.name, b.ints([a + 1], "axes")], where)
    reps = [1] * (x.rank + 1)
    reps[a + 1] = int(repeats)
    y = b.op("Tile", [y, b.ints(reps, "repeats")], where)
    # back to the rank of x: the sizes around ``axis`` from the runtime shape, ``axis`` inferred (-1)
    big = np.iinfo(np.int64).max
    target = b.op("Concat", [b.shape_of(x.name, 0, a, where), b.ints([-1]), b.shape_of(x.name, a + 1, big, where)],
                  where, axis=0)
    out_shape = tuple(None if n is None else (n * int(repeats) if i == a else n) for i, n in enumerate(x.shape))
    return Sym(b.op("Reshape", [y, target], where), out_shape, x.dtype)


@register_op("flip")
def flip(b, where, x, axis=None):
    axes = list(range(x.rank)) if axis is None else _axes(axis, x.rank)
    big = np.iinfo(np.int64).max
    out = b.slice(x.name, [-1] * len(axes), [-big] * len(axes), axes, where, steps=[-1] * len(axes))
    return Sym(out, x.shape, x.dtype)


@register_op("broadcast_to")
def broadcast_to(b, where, x, shape):
    dims = [0 if n is None else int(n) for n in shape]
    if any(n == 0 for n in dims):
        raise ExportError(f"ONNX export: {where}: broadcast_to a shape with unknown sizes")
    return Sym(b.op("Expand", [x.name, b.ints(dims)], where), tuple(shape), x.dtype)


def _fill_like_op(value):
    def convert(b, where, x, fill_value=None, dtype=None):
        v = value if fill_value is None else fill_value
        dtype = np.dtype(dtype) if dtype is not None else x.dtype
        shape = b.op("Shape", [x.name], where)
        tensor = b.helper.make_tensor("value", b.helper.np_dtype_to_tensor_dtype(dtype), [1],
                                      np.asarray([v], dtype).tolist() if dtype != _BOOL else [bool(v)])
        return Sym(b.op("ConstantOfShape", [shape], where, value=tensor), x.shape, dtype)
    return convert


OP_CONVERTERS["zeros_like"], OP_CONVERTERS["ones_like"] = _fill_like_op(0), _fill_like_op(1)


@register_op("full_like")
def full_like(b, where, x, fill_value, dtype=None):
    return _fill_like_op(fill_value)(b, where, x, fill_value, dtype)


def _tri_op(upper):
    def convert(b, where, x, k=0):
        return Sym(b.op("Trilu", [x.name, b.const(np.int64(k))], where, upper=int(upper)), x.shape, x.dtype)
    return convert


OP_CONVERTERS["triu"], OP_CONVERTERS["tril"] = _tri_op(True), _tri_op(False)


# ------------------------------------------------------------------------- products, indexing
@register_op("matmul")
def matmul(b, where, x1, x2):
    dtype = _result_dtype([x1, x2])
    a, c = _sym(b, x1, dtype, where), _sym(b, x2, dtype, where)
    if a.rank < 1 or c.rank < 1:
        raise ExportError(f"ONNX export: {where}: matmul of a scalar")
    lead = _broadcast_shape(a.shape[:-2], c.shape[:-2]) if a.rank > 1 and c.rank > 1 else ()
    shape = lead + (a.shape[-2:-1] if a.rank > 1 else ()) + (c.shape[-1:] if c.rank > 1 else ())
    if a.rank == 1 and c.rank > 1:
        shape = c.shape[:-2] + c.shape[-1:]
    elif c.rank == 1 and a.rank > 1:
        shape = a.shape[:-1]
    return Sym(b.op("MatMul", [a.name, c.name], where), shape, dtype)


@register_op("dot")
def dot(b, where, x1, x2):
    a, c = (x1 if isinstance(x1, Sym) else None), (x2 if isinstance(x2, Sym) else None)
    if a is None or c is None or c.rank > 2:
        raise ExportError(f"ONNX export: {where}: dot of these operands (matmul or einsum are exported)")
    return matmul(b, where, x1, x2)


@register_op("einsum")
def einsum(b, where, subscripts, *operands, **kwargs):
    dtype = _result_dtype(list(operands))
    xs = [_sym(b, x, dtype, where) for x in operands]
    out = b.op("Einsum", [x.name for x in xs], where, equation=subscripts.replace(" ", ""))
    # the output's shape from the equation's letters
    lhs, _, rhs = subscripts.replace(" ", "").partition("->")
    sizes = {}
    for spec, x in zip(lhs.split(","), xs):
        for letter, n in zip(spec, x.shape):
            sizes[letter] = n if sizes.get(letter) in (None, 1) else sizes[letter]
    return Sym(out, tuple(sizes.get(letter) for letter in rhs), dtype)


@register_op("take")
def take(b, where, x, indices, axis=None):
    if axis is None:
        raise ExportError(f"ONNX export: {where}: take over the flattened tensor (give an axis)")
    a = int(axis) % x.rank
    idx = _sym(b, indices, np.int64, where)
    shape = x.shape[:a] + idx.shape + x.shape[a + 1:]
    return Sym(b.op("Gather", [x.name, idx.name], where, axis=a), shape, x.dtype)


@register_op("one_hot")
def one_hot(b, where, x, num_classes, axis=-1, dtype=None, sparse=False):
    idx = _cast(b, x, np.int64, where)
    dtype = np.dtype(dtype) if dtype is not None else _F32
    hot = b.op("Equal", [b.op("Unsqueeze", [idx.name, b.ints([-1], "axes")], where),
                         b.const(np.arange(int(num_classes), dtype=np.int64), f"{where}_classes")], where)
    out = Sym(b.op("Cast", [hot], where, to=b.helper.np_dtype_to_tensor_dtype(dtype)), x.shape + (int(num_classes),),
              dtype)
    a = int(axis) % (x.rank + 1)
    if a != x.rank:
        perm = list(range(x.rank))
        perm.insert(a, x.rank)
        out = transpose(b, where, out, perm)
    return out


@register_op("getitem")
def getitem(b, where, a, index):
    """Basic indexing: integers, slices (any step), ``None`` and ``...``; a tensor of indices is a
    Gather along the first axis."""
    if isinstance(index, Sym):
        return take(b, where, a, index, axis=0)
    index = list(index) if isinstance(index, tuple) else [index]
    if any(isinstance(i, (Sym, list, np.ndarray)) for i in index):
        raise ExportError(f"ONNX export: {where}: advanced indexing with arrays (use take)")
    if index.count(Ellipsis) > 1:
        raise ExportError(f"ONNX export: {where}: an index with several ellipses")
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    if Ellipsis in index:
        k = index.index(Ellipsis)
        index = index[:k] + [slice(None)] * (a.rank - used) + index[k + 1:]
    index += [slice(None)] * (a.rank - sum(1 for i in index if i is not None))
    starts, ends, axes, steps, drop, new_axes, shape = [], [], [], [], [], [], []
    axis = 0
    out_axis = 0
    big = np.iinfo(np.int64).max
    for i in index:
        if i is None:
            new_axes.append(out_axis)
            shape.append(1)
            out_axis += 1
            continue
        n = a.shape[axis]
        if isinstance(i, (int, np.integer)):
            i = int(i)
            starts.append(i)
            ends.append(i + 1 if i != -1 else big)
            axes.append(axis)
            steps.append(1)
            drop.append(axis)
        elif isinstance(i, slice):
            if i != slice(None):
                step = 1 if i.step is None else int(i.step)
                start = i.start if i.start is not None else (0 if step > 0 else -1)
                stop = i.stop if i.stop is not None else (big if step > 0 else -big)
                starts.append(int(start))
                ends.append(int(stop))
                axes.append(axis)
                steps.append(step)
                shape.append(None if n is None else len(range(*i.indices(n))))
            else:
                shape.append(n)
            out_axis += 1
        else:
            raise ExportError(f"ONNX export: {where}: index {i!r}")
        axis += 1
    y = a.name
    if axes:
        y = b.slice(y, starts, ends, axes, where, steps=steps)
    if drop:
        y = b.op("Squeeze", [y, b.ints(drop, "axes")], where)
    if new_axes:
        y = b.op("Unsqueeze", [y, b.ints(new_axes, "axes")], where)
    return Sym(y, tuple(shape), a.dtype)


@register_op("convert_to_tensor")
def convert_to_tensor(b, where, x, dtype=None, sparse=None, ragged=None):
    return x if dtype is None else _cast(b, x, dtype, where)


@register_op("average")
def average(b, where, x, axis=None, weights=None):
    if weights is not None:
        raise ExportError(f"ONNX export: {where}: average with weights")
    return OP_CONVERTERS["mean"](b, where, x, axis)
