"""Converters of the elementwise ops of ``deepgrad.ops``: arithmetic, comparisons, logic, math
functions and activations (see ``op_converters`` for the registry and the ``Sym`` values)."""
from __future__ import annotations

import numpy as np

from .activations import _ELEMENTWISE
from .graph import ExportError
from .op_converters import _BOOL, _F32, OP_CONVERTERS, Sym, _axes, _broadcast_shape, _cast, _is_int, \
    _result_dtype, _shape_of, _sym, register_op


# ------------------------------------------------------------------------- elementwise
_BINARY = {"add": "Add", "subtract": "Sub", "multiply": "Mul", "maximum": "Max", "minimum": "Min", "power": "Pow",
           "equal": "Equal", "not_equal": "Equal", "less": "Less", "less_equal": "LessOrEqual", "greater": "Greater",
           "greater_equal": "GreaterOrEqual", "logical_and": "And", "logical_or": "Or", "logical_xor": "Xor"}


def _binary(op_name):
    def convert(b, where, x1, x2):
        onnx_op = _BINARY[op_name]
        logical = onnx_op in ("And", "Or", "Xor")
        dtype = _BOOL if logical else _result_dtype([x1, x2])
        a, c = _sym(b, x1, dtype, where), _sym(b, x2, dtype, where)
        shape = _broadcast_shape(_shape_of(x1), _shape_of(x2))
        if onnx_op == "Pow" and _is_int(dtype):   # integer powers: in float32, rounded back to the integer type
            y = b.op("Round", [b.op("Pow", [_cast(b, a, _F32, where).name, _cast(b, c, _F32, where).name], where)],
                     where)
            return _cast(b, Sym(y, shape, _F32), dtype, where)
        out = b.op(onnx_op, [a.name, c.name], where)
        if op_name == "not_equal":
            out = b.op("Not", [out], where)
        compare = onnx_op in ("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual")
        return Sym(out, shape, _BOOL if compare or logical else dtype)
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
