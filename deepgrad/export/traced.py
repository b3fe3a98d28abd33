"""``SymbolicOp`` nodes (``deepgrad.ops`` called on a functional model's symbolic tensors) and ``Lambda``
layers, whose function is traced: called once on fresh symbolic tensors of the layer's input
shapes, so that each op it runs is recorded as a ``SymbolicOp`` node, which is then converted op
by op (``op_converters``). A function that does not run on symbolic tensors (NumPy code, Python
control flow on values) cannot be traced and is refused with the error it raised.
"""
from __future__ import annotations

import numpy as np

from .. import layers
from ..layers.symbolic_op import SymbolicOp, _fill
from ..symbolic import KerasTensor, flatten
from .graph import Call, ExportError, GraphBuilder
from . import op_elementwise, op_shapes  # noqa: F401  (they register the op converters)
from .op_converters import Sym, convert_op
from .registry import handles_masks, register_converter


@register_converter(SymbolicOp)
def symbolic_op(b: GraphBuilder, c: Call):
    layer = c.layer
    # the graph's own types: a symbolic tensor may record float32 for what an integer op returns
    syms = [Sym(n, tuple(s), np.dtype(b.dtypes.get(n, d))) for n, s, d in zip(c.inputs, c.input_shapes,
                                                                              c.input_dtypes)]
    where = f"op {layer.name!r} ({layer.op_name})"
    out = convert_op(b, where, layer.op_name, _fill(layer.template_args, syms), _fill(layer.template_kwargs, syms))
    outs = out if isinstance(out, (list, tuple)) else [out]
    recorded = list(getattr(layer, "_output_dtypes", []) or [])
    names = []
    for i, o in enumerate(outs):
        want = np.dtype(recorded[i]) if i < len(recorded) else o.dtype
        # integer and bool results keep the type deepgrad gives them; float results are float32 here
        if want.kind in "iub" and want != o.dtype:
            names.append(b.op("Cast", [o.name], where, to=b.helper.np_dtype_to_tensor_dtype(want)))
            b.dtypes[names[-1]] = want
        else:
            names.append(o.name)
            b.dtypes[o.name] = o.dtype
    return names


def _trace(b: GraphBuilder, layer, c: Call) -> tuple:
    """(fresh input KerasTensors, the function's output KerasTensors, the recorded nodes in order)."""
    fresh = [KerasTensor((None,) + tuple(s[1:]), b.dtypes.get(n, d)) for n, s, d in zip(c.inputs, c.input_shapes,
                                                                                        c.input_dtypes)]
    x = fresh if len(fresh) > 1 else fresh[0]
    kwargs = dict(layer.arguments)
    if "mask" in layer._fn_takes:
        kwargs["mask"] = None
    if "training" in layer._fn_takes:
        kwargs["training"] = False
    try:
        out = layer.function(x, **kwargs)
    except Exception as e:   # noqa: BLE001 - any failure means the function is not traceable
        raise c.unsupported(f"its function cannot be traced on symbolic tensors ({type(e).__name__}: {e}); "
                            "write it with deepgrad.ops (or tensor operators) only") from e
    outs = out if isinstance(out, (list, tuple)) else [out]
    if not outs or not all(isinstance(t, KerasTensor) for t in outs):
        raise c.unsupported("its function returned something other than tensors computed from its input "
                            f"({type(out).__name__}); write it with deepgrad.ops only")
    inputs = {id(t) for t in fresh}
    order, seen = [], set()

    def visit(t):
        if id(t) in inputs:
            return
        node = t.node
        if node is None:
            raise c.unsupported("its function reads a tensor that is not its input (a model input or "
                                "another layer's output from outside); pass it as an input of the Lambda")
        if id(node) in seen:
            return
        seen.add(id(node))
        for parent in flatten((node.inputs, node.args, node.kwargs)):
            visit(parent)
        order.append(node)

    for t in outs:
        visit(t)
    return fresh, outs, order


@handles_masks
@register_converter(layers.Lambda)
def lambda_layer(b: GraphBuilder, c: Call):
    from .onnx_export import convert_nodes
    layer = c.layer
    if c.mask is not None and ("mask" in layer._fn_takes or layer.mask is not None):
        raise c.unsupported("a masked input with a function or mask rule that reads the mask")
    fresh, outs, nodes = _trace(b, layer, c)
    try:
        names = {id(t): n for t, n in zip(fresh, c.inputs)}
        for t, n in zip(fresh, c.inputs):
            b.dtypes.setdefault(n, t.dtype)
        convert_nodes(b, nodes, names, {})
    except ExportError as e:
        raise c.unsupported(f"its traced function: {e}") from e
    finally:   # the trace leaves no calls behind on the layers it met
        for node in nodes:
            inbound = node.layer.__dict__.get("_inbound_nodes", [])
            if node in inbound:
                inbound.remove(node)
    c.output_masks = [None] * len(outs)
    result = [b.op("Identity", [names[id(t)]], c.name) for t in outs]
    return result
