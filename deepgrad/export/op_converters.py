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
