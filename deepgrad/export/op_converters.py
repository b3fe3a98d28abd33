"""``deepgrad.ops`` calls as ONNX nodes: the ``SymbolicOp`` nodes of a functional model (``x * 2``,
``ops.concatenate([a, b])`` on symbolic tensors) and the functions of ``Lambda`` layers, traced on
symbolic tensors into such nodes.

``OP_CONVERTERS[op_name](b, where, *args, **kwargs)`` receives the op's own arguments (bound to its
signature, defaults filled) with each tensor as a ``Sym`` (its ONNX name, symbolic shape and dtype);
it returns a ``Sym`` or a list of them. Float math is float32 (the file's precision); an integer
operand met by a float one is cast to float32. An op without a converter stops the export with an
error naming it.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from .. import ops
from .activations import _ELEMENTWISE
from .graph import ExportError, GraphBuilder

OP_CONVERTERS: dict = {}
_F32 = np.dtype(np.float32)
_BOOL = np.dtype(bool)


@dataclass
class Sym:
    """A tensor of the traced graph: ONNX name, shape (None where unknown, the batch axis too), dtype."""
    name: str
    shape: tuple
    dtype: np.dtype

    @property
    def rank(self) -> int:
        return len(self.shape)


def register_op(*names):
    def decorate(fn):
        for n in names:
            OP_CONVERTERS[n] = fn
        return fn
    return decorate


def convert_op(b: GraphBuilder, where: str, op_name: str, args, kwargs):
    """``op_name(*args, **kwargs)`` as nodes; ``where`` names the layer for errors."""
    if op_name not in OP_CONVERTERS:
        raise ExportError(f"ONNX export: {where}: the op {op_name!r} has no ONNX converter (ops with one: "
                          f"{', '.join(sorted(OP_CONVERTERS))})")
    bound = inspect.signature(getattr(ops, op_name)).bind(*args, **kwargs)
    bound.apply_defaults()
    return OP_CONVERTERS[op_name](b, where, *bound.args, **bound.kwargs)


# ------------------------------------------------------------------------- helpers
def _is_int(dtype) -> bool:
    return np.dtype(dtype).kind in "iub"


def _cast(b: GraphBuilder, x: Sym, dtype, base: str) -> Sym:
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    return Sym(b.op("Cast", [x.name], base, to=b.helper.np_dtype_to_tensor_dtype(dtype)), x.shape, dtype)


def _sym(b: GraphBuilder, v, dtype, base: str) -> Sym:
    """A tensor operand, or a Python number / array as a constant of ``dtype``."""
    if isinstance(v, Sym):
        return _cast(b, v, dtype, base)
    a = np.asarray(v, dtype=dtype)
    return Sym(b.const(a, f"{base}_const", dtype=dtype), a.shape, np.dtype(dtype))


def _result_dtype(values) -> np.dtype:
    """float32 when any operand is float (a tensor or a Python float), else the widest integer
    tensor type (Python ints take the tensors' type), bool when all are bool."""
    tensors = [np.dtype(v.dtype) for v in values if isinstance(v, Sym)]
    if any(t.kind == "f" for t in tensors) or any(isinstance(v, float) for v in values):
        return _F32
    if any(isinstance(v, np.ndarray) and v.dtype.kind == "f" for v in values):
        return _F32
    ints = [t for t in tensors if t.kind in "iu"]
    if ints:
        return np.result_type(*ints)
    return tensors[0] if tensors else np.dtype(np.int64)


def _broadcast_shape(*shapes) -> tuple:
    rank = max(len(s) for s in shapes)
    out = []
    for dims in zip(*[(1,) * (rank - len(s)) + tuple(s) for s in shapes]):
        known = {d for d in dims if d is not None and d != 1}
        out.append(None if any(d is None for d in dims) and not known else (known.pop() if known else
                                                                            (None if None in dims else 1)))
    return tuple(out)


def _shape_of(v) -> tuple:
    return v.shape if isinstance(v, Sym) else np.shape(v)


def _axes(axis, rank: int) -> list:
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    return [int(a) % rank for a in axes]


# ------------------------------------------------------------------------- elementwise
_BINARY = {"add": "Add", "subtract": "Sub", "multiply": "Mul", "maximum": "Max", "minimum": "Min", "power": "Pow",
           "equal": "Equal", "not_equal": "Equal", "less": "Less", "less_equal": "LessOrEqual", "greater": "Greater",
           "greater_equal": "GreaterOrEqual", "logical_and": "And", "logical_or": "Or", "logical_xor": "Xor"}


def _binary(op_name):
    def convert(b, where, x1, x2):
        onnx_op = _BINARY[op_name]
        if onnx_op in ("And", "Or", "Xor"):
            dtype = _BOOL
        else:
            dtype = _result_dtype([x1, x2])
        a, c = _sym(b, x1, dtype, where), _sym(b, x2, dtype, where)
        if onnx_op == "Pow" and _is_int(dtype):   # ONNX Pow on integers: computed in float, cast back
            a, c = _cast(b, a, _F32, where), _cast(b, c, _F32, where)
        out = b.op(onnx_op, [a.name, c.name], where)
        if op_name == "not_equal":
            out = b.op("Not", [out], where)
        out_dtype = _BOOL if onnx_op in ("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or",
                                         "Xor") else (_F32 if onnx_op == "Pow" and _is_int(dtype) else dtype)
        result = Sym(out, _broadcast_shape(_shape_of(x1), _shape_of(x2)), out_dtype)
        return _cast(b, result, dtype, where) if onnx_op == "Pow" and _is_int(dtype) else result
    return convert


for _name in _BINARY:
    register_op(_name)(_binary(_name))


@register_op("divide", "true_divide")
def divide(b, where, x1, x2):
    a, c = _sym(b, x1, _F32, where), _sym(b, x2, _F32, where)
    return Sym(b.op("Div", [a.name, c.name], where), _broadcast_shape(a.shape, c.shape), _F32)


def _floor_op(kind):
    def convert(b, where, x1, x2):
        """Python's floor division and remainder (the remainder takes the divisor's sign):
        ``q = floor(a / b)``, ``a - q b``, in float32 (integers exactly while |values| < 2^24), cast back."""
        dtype = _result_dtype([x1, x2])
        a, c = _sym(b, x1, _F32, where), _sym(b, x2, _F32, where)
        q = b.op("Floor", [b.op("Div", [a.name, c.name], where)], where)
        out = q if kind == "floor_divide" else b.op("Sub", [a.name, b.op("Mul", [q, c.name], where)], where)
        return _cast(b, Sym(out, _broadcast_shape(a.shape, c.shape), _F32), dtype, where)
    return convert


OP_CONVERTERS["floor_divide"], OP_CONVERTERS["mod"] = _floor_op("floor_divide"), _floor_op("mod")

# unary ops that keep an integer type
_UNARY_SAME = {"negative": "Neg", "abs": "Abs", "absolute": "Abs", "sign": "Sign"}
# unary float ops (integer inputs are computed in float32)
_UNARY_FLOAT = {"exp": "Exp", "log": "Log", "sqrt": "Sqrt", "tanh": "Tanh", "sigmoid": "Sigmoid", "cos": "Cos",
                "sin": "Sin", "tan": "Tan", "erf": "Erf", "floor": "Floor", "ceil": "Ceil", "arctan": "Atan",
                "arcsin": "Asin", "arccos": "Acos", "sinh": "Sinh", "cosh": "Cosh", "reciprocal": "Reciprocal",
                "softplus": "Softplus", "softsign": "Softsign", "isnan": "IsNaN"}


def _unary(onnx_op, keep_int):
    def convert(b, where, x):
        x = x if keep_int or not _is_int(x.dtype) else _cast(b, x, _F32, where)
        dtype = _BOOL if onnx_op == "IsNaN" else x.dtype
        return Sym(b.op(onnx_op, [x.name], where), x.shape, dtype)
    return convert


for _name, _op in _UNARY_SAME.items():
    register_op(_name)(_unary(_op, True))
for _name, _op in _UNARY_FLOAT.items():
    register_op(_name)(_unary(_op, False))


@register_op("square")
def square(b, where, x):
    return Sym(b.op("Mul", [x.name, x.name], where), x.shape, x.dtype)


@register_op("rsqrt")
def rsqrt(b, where, x):
    x = _cast(b, x, _F32, where)
    return Sym(b.op("Reciprocal", [b.op("Sqrt", [x.name], where)], where), x.shape, _F32)


def _log_exp_op(kind):
    def convert(b, where, x):
        x = _cast(b, x, _F32, where)
        if kind == "log1p":
            out = b.op("Log", [b.op("Add", [x.name, b.const(np.float32(1.0))], where)], where)
        elif kind == "expm1":
            out = b.op("Sub", [b.op("Exp", [x.name], where), b.const(np.float32(1.0))], where)
        elif kind in ("log2", "log10"):
            out = b.op("Div", [b.op("Log", [x.name], where), b.const(np.float32(np.log(2 if kind == "log2" else 10)))],
                       where)
        else:   # exp2
            out = b.op("Pow", [b.const(np.float32(2.0)), x.name], where)
        return Sym(out, x.shape, _F32)
    return convert


for _name in ("log1p", "expm1", "log2", "log10", "exp2"):
    OP_CONVERTERS[_name] = _log_exp_op(_name)


@register_op("logical_not")
def logical_not(b, where, x):
    x = _cast(b, x, _BOOL, where)
    return Sym(b.op("Not", [x.name], where), x.shape, _BOOL)


@register_op("isfinite")
def isfinite(b, where, x):
    x = _cast(b, x, _F32, where)
    bad = b.op("Or", [b.op("IsNaN", [x.name], where), b.op("IsInf", [x.name], where)], where)
    return Sym(b.op("Not", [bad], where), x.shape, _BOOL)


def _activation(name):
    def convert(b, where, x, **kw):
        x = _cast(b, x, _F32, where)
        return Sym(_ELEMENTWISE[name](b, x.name, where), x.shape, _F32)
    return convert


for _name in ("relu", "relu6", "silu", "swish", "selu", "hard_sigmoid"):
    register_op(_name)(_activation(_name))


@register_op("gelu")
def gelu(b, where, x, approximate=True):
    x = _cast(b, x, _F32, where)
    if not approximate:
        return Sym(_ELEMENTWISE["gelu"](b, x.name, where), x.shape, _F32)
    # 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
    cube = b.op("Mul", [x.name, b.op("Mul", [x.name, x.name], where)], where)
    inner = b.op("Mul", [b.op("Add", [x.name, b.op("Mul", [cube, b.const(np.float32(0.044715))], where)], where),
                         b.const(np.float32(np.sqrt(2.0 / np.pi)))], where)
    out = b.op("Mul", [b.op("Mul", [x.name, b.const(np.float32(0.5))], where),
                       b.op("Add", [b.op("Tanh", [inner], where), b.const(np.float32(1.0))], where)], where)
    return Sym(out, x.shape, _F32)


@register_op("elu")
def elu(b, where, x, alpha=1.0):
    x = _cast(b, x, _F32, where)
    return Sym(b.op("Elu", [x.name], where, alpha=float(alpha)), x.shape, _F32)


@register_op("leaky_relu")
def leaky_relu(b, where, x, negative_slope=0.2):
    x = _cast(b, x, _F32, where)
    return Sym(b.op("LeakyRelu", [x.name], where, alpha=float(negative_slope)), x.shape, _F32)


def _softmax_op(onnx_op):
    def convert(b, where, x, axis=-1):
        x = _cast(b, x, _F32, where)
        axes = _axes(axis, x.rank) if axis is not None else list(range(x.rank))
        if len(axes) != 1:
            raise ExportError(f"ONNX export: {where}: {onnx_op.lower()} over several axes {axis}")
        return Sym(b.op(onnx_op, [x.name], where, axis=axes[0]), x.shape, _F32)
    return convert


OP_CONVERTERS["softmax"], OP_CONVERTERS["log_softmax"] = _softmax_op("Softmax"), _softmax_op("LogSoftmax")


@register_op("clip")
def clip(b, where, x, x_min=None, x_max=None):
    dtype = _result_dtype([x] + [v for v in (x_min, x_max) if v is not None])
    x = _cast(b, x, dtype, where)
    lo = "" if x_min is None else _sym(b, x_min, dtype, where).name
    hi = "" if x_max is None else _sym(b, x_max, dtype, where).name
    if (x_min is not None and _shape_of(x_min)) or (x_max is not None and _shape_of(x_max)):   # tensor bounds
        y = x.name if x_min is None else b.op("Max", [x.name, lo], where)
        y = y if x_max is None else b.op("Min", [y, hi], where)
        return Sym(y, x.shape, dtype)
    return Sym(b.op("Clip", [x.name, lo, hi], where), x.shape, dtype)


@register_op("where")
def where_(b, where, condition, x1=None, x2=None):
    if x1 is None or x2 is None:
        raise ExportError(f"ONNX export: {where}: where(condition) with one argument (its size is data-dependent)")
    dtype = _result_dtype([x1, x2])
    cond = _sym(b, condition, _BOOL, where)
    a, c = _sym(b, x1, dtype, where), _sym(b, x2, dtype, where)
    return Sym(b.op("Where", [cond.name, a.name, c.name], where), _broadcast_shape(cond.shape, a.shape, c.shape), dtype)


@register_op("cast")
def cast(b, where, x, dtype):
    return _cast(b, x, np.dtype(dtype), where)


@register_op("round")
def round_(b, where, x, decimals=0):
    """Half to even, as NumPy; with ``decimals``, ``round(x 10^d) / 10^d``."""
    if _is_int(x.dtype):
        return x
    if not decimals:
        return Sym(b.op("Round", [x.name], where), x.shape, x.dtype)
    scale = b.const(np.float32(10.0 ** decimals))
    return Sym(b.op("Div", [b.op("Round", [b.op("Mul", [x.name, scale], where)], where), scale], where), x.shape,
               x.dtype)


@register_op("nan_to_num")
def nan_to_num(b, where, x, nan=0.0, posinf=None, neginf=None):
    if _is_int(x.dtype):
        return x
    big = np.finfo(np.float32).max
    y = b.op("Where", [b.op("IsNaN", [x.name], where), b.const(np.float32(nan)), x.name], where)
    y = b.op("Where", [b.op("IsInf", [y], where, detect_negative=0), b.const(np.float32(big if posinf is None
                                                                                        else posinf)), y], where)
    y = b.op("Where", [b.op("IsInf", [y], where, detect_positive=0), b.const(np.float32(-big if neginf is None
                                                                                        else neginf)), y], where)
    return Sym(y, x.shape, x.dtype)


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
    shape = [0 if i == 0 and n is None else (-1 if n is None else n) for i, n in enumerate(x.shape)]
    if sum(1 for s in shape if s == -1) + (1 if shape[a] in (-1, 0) else 0) > 1 and shape[a] in (-1, 0):
        raise ExportError(f"ONNX export: {where}: repeat along an axis of unknown size")
    shape[a] = -1 if shape[a] in (-1, 0) else shape[a] * int(repeats)
    out_shape = tuple(None if n is None else (n * int(repeats) if i == a else n) for i, n in enumerate(x.shape))
    return Sym(b.reshape(y, shape, where), out_shape, x.dtype)


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
OP_CONVERTERS["full_like"] = lambda b, where, x, fill_value, dtype=None: _fill_like_op(fill_value)(
    b, where, x, fill_value, dtype)


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
