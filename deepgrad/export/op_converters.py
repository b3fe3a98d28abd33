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


from . import op_shapes   # noqa: E402,F401  (registers the reductions, shape and indexing ops)
