"""``export_onnx(model, path)``: a walk over a Sequential or functional model's layer calls, each
turned into ONNX nodes by its converter; nested models are walked in place.

The model is exported in inference mode (Dropout is the identity, BatchNormalization uses its
moving statistics), in float32, with the batch dimension dynamic. This module reads models by
their graph (``_nodes`` of a functional model, ``_layers`` and ``_layer_outputs`` of a Sequential)
rather than importing the model classes, so that models can call it.
"""
from __future__ import annotations

import os

import numpy as np

from ..files.atomic import write_bytes_atomic
from ..symbolic import flatten, map_structure
from .graph import Call, ExportError, GraphBuilder
from .registry import converter_for

DEFAULT_OPSET = 18
MIN_OPSET = 17   # LayerNormalization-era ONNX: every converter here is written for opset >= 17


def require_onnx():
    """``onnx``, or an error saying how to install it."""
    try:
        import onnx
    except ImportError as e:
        raise ImportError("ONNX export needs the onnx package: pip install deepgrad[onnx]") from e
    return onnx


def _is_functional(model) -> bool:
    return "_nodes" in model.__dict__ and getattr(model, "_inputs", None) is not None


def _is_sequential(model) -> bool:
    return "_layer_outputs" in model.__dict__


def _reads_masks(layer) -> bool:
    """Whether ``layer`` computes something else when its input is masked (its call reads the mask,
    or it has its own mask rule), rather than passing the mask on or dropping it."""
    from ..layers.base import Layer
    return bool(getattr(layer, "_call_takes_mask", False)) or type(layer).compute_mask is not Layer.compute_mask


def _convert(b: GraphBuilder, call: Call) -> list:
    """The converter's output names; ``call.output_masks`` is set to the outputs' mask names."""
    layer = call.layer
    masked = any(m is not None for m in call.masks)
    if hasattr(layer, "compile"):   # a nested model: walked in place
        outs, call.output_masks = walk_model(b, layer, call.inputs, call.masks, with_masks=True)
        return outs
    fn = converter_for(layer)
    if masked and not getattr(fn, "handles_masks", False) and _reads_masks(layer):
        raise ExportError(f"ONNX export: layer {layer.name!r} ({type(layer).__name__}) receives a Keras mask, "
                          "which its ONNX converter does not apply; masks are exported for Embedding(mask_zero), "
                          "Masking, SimpleRNN/LSTM/GRU/Bidirectional, MultiHeadAttention, Attention, "
                          "GlobalAveragePooling1D and layers that pass masks on unchanged")
    out = fn(b, call)
    out = list(out) if isinstance(out, (list, tuple)) else [out]
    if call.output_masks is None:
        # the mask passes through a layer that supports masking with the default rule, else it ends
        passes = masked and (getattr(layer, "supports_masking", False) or getattr(fn, "is_identity", False))
        call.output_masks = [call.masks[0] if passes else None] * len(out)
    for m in call.output_masks:
        if m is not None:
            b.dtypes.setdefault(m, np.dtype(bool))
    return out


def convert_nodes(b: GraphBuilder, nodes, names: dict, masks: dict) -> None:
    """Each of ``nodes`` (layer calls on symbolic tensors, in graph order) converted; ``names`` and
    ``masks`` map ``id(KerasTensor)`` to the ONNX names of the tensors and their masks, and gain
    the nodes' outputs."""
    def name_of(t):
        return names[id(t)]

    for node in nodes:
        flat = flatten(node.inputs)
        call = Call(layer=node.layer, inputs=[names[id(t)] for t in flat], input_shapes=[t.shape for t in flat],
                    output_shapes=[t.shape for t in node.outputs], args=map_structure(name_of, node.args),
                    kwargs=map_structure(name_of, node.kwargs), input_dtypes=[t.dtype for t in flat],
                    masks=[masks.get(id(t)) for t in flat],
                    arg_masks=map_structure(lambda t: masks.get(id(t)), node.args),
                    kwarg_masks=map_structure(lambda t: masks.get(id(t)), node.kwargs))
        outs = _convert(b, call)
        for t in node.outputs:
            if t.index is None or t.index < len(outs):
                b.dtypes.setdefault(outs[t.index or 0], t.dtype)
        if len(node.outputs) == 1 and node.outputs[0].index is None:
            names[id(node.outputs[0])] = outs[0]
            masks[id(node.outputs[0])] = call.output_masks[0]
        else:
            for t in node.outputs:
                names[id(t)] = outs[t.index]
                masks[id(t)] = call.output_masks[t.index] if t.index < len(call.output_masks) else None


def _functional(b: GraphBuilder, model, input_names: list, input_masks: list) -> tuple:
    names = {id(t): n for t, n in zip(model.inputs, input_names)}
    masks = {id(t): m for t, m in zip(model.inputs, input_masks)}
    for t, n in zip(model.inputs, input_names):
        b.dtypes.setdefault(n, t.dtype)
    convert_nodes(b, model._nodes, names, masks)
    return [names[id(t)] for t in model.outputs], [masks.get(id(t)) for t in model.outputs]


def _sequential(b: GraphBuilder, model, input_names: list, input_masks: list) -> tuple:
    x, prev, mask = input_names[0], model._inputs[0], input_masks[0]
    b.dtypes.setdefault(x, prev.dtype)
    for layer, out in zip(model._layers, model._layer_outputs):
        call = Call(layer=layer, inputs=[x], input_shapes=[prev.shape], output_shapes=[out.shape],
                    input_dtypes=[prev.dtype], masks=[mask])
        x = _convert(b, call)[0]
        b.dtypes.setdefault(x, out.dtype)
        mask = call.output_masks[0]
        prev = out
    return [x], [mask]


def walk_model(b: GraphBuilder, model, input_names: list, input_masks=None, with_masks: bool = False):
    """The ONNX names of ``model``'s outputs, its nodes added to ``b`` (and, ``with_masks``, the
    names of their Keras masks, None where unmasked)."""
    _check_graph(model)
    input_masks = list(input_masks) if input_masks is not None else [None] * len(input_names)
    outs, masks = (_functional if _is_functional(model) else _sequential)(b, model, input_names, input_masks)
    return (outs, masks) if with_masks else outs


def _check_graph(model) -> None:
    """A Sequential with its input known, or a functional model; else an error saying why not."""
    if _is_sequential(model):
        if model._inputs is None or len(model._layer_outputs) != len(model._layers):
            raise ExportError(f"ONNX export: Sequential model {model.name!r} is not built; give it an Input "
                              "or call it on data first")
        return
    if _is_functional(model):
        return
    raise ExportError(f"ONNX export: model {model.name!r} ({type(model).__name__}) is a subclassed model; "
                      "its call() is Python code with no layer graph to export. Use a Sequential or "
                      "functional model")


def _elem_type(dtype) -> int:
    from onnx import helper
    try:
        return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    except (KeyError, TypeError, ValueError) as e:
        raise ExportError(f"ONNX export: inputs of dtype {dtype} are not supported") from e


def _value_info(helper, name: str, tensor):
    """Name, element type and shape of a graph input or output: the batch axis dynamic ("batch"),
    float tensors float32 (the precision the file computes in)."""
    shape, dtype = tensor.shape, np.dtype(tensor.dtype)
    dims = ["batch"] + [f"{name}_{i}" if n is None else int(n) for i, n in enumerate(shape[1:], start=1)]
    return helper.make_tensor_value_info(name, _elem_type(np.float32 if dtype.kind == "f" else dtype), dims)


def _inferred_outputs(onnx, b: GraphBuilder, graph_inputs, out_names: list, opset: int) -> dict:
    """ONNX's own inference of the output tensors' types and shapes: an output name -> TypeProto.

    The symbolic graph records a layer's dtype for its outputs, which is not what an integer layer
    (a lookup, Discretization(output_mode="int")) returns, nor always the shape a layer that is the
    identity at inference returns; the file declares what the graph computes."""
    from onnx import helper
    outputs = [helper.make_empty_tensor_value_info(n) for n in dict.fromkeys(out_names)]
    graph = helper.make_graph(b.nodes, "probe", graph_inputs, outputs, b.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    try:
        proto = onnx.shape_inference.infer_shapes(proto)
    except Exception:   # noqa: BLE001 - the checker below reports a broken graph with its own message
        return {}
    found = {v.name: v.type for v in list(proto.graph.value_info) + list(proto.graph.input)}
    return {n: found[n] for n in out_names if n in found}


def _output_info(helper, name: str, tensor, inferred):
    """A graph output: the inferred element type (float32 when none), the inferred sizes where known,
    else the symbolic ones, the batch axis dynamic."""
    info = _value_info(helper, name, tensor)
    if inferred is None or not inferred.HasField("tensor_type") or not inferred.tensor_type.elem_type:
        return info
    t = inferred.tensor_type
    dims = ["batch"] + [f"{name}_{i}" if n is None else int(n) for i, n in enumerate(tensor.shape[1:], start=1)]
    if t.HasField("shape") and len(t.shape.dim) == len(dims):
        for i, d in enumerate(t.shape.dim[1:], start=1):
            dims[i] = int(d.dim_value) if d.HasField("dim_value") else dims[i]
    return helper.make_tensor_value_info(name, t.elem_type, dims)


def _clean(name: str, fallback: str) -> str:
    name = "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in str(name or ""))
    return name or fallback


def build_onnx_model(model, opset_version: int | None = None):
    """The ``onnx.ModelProto`` of ``model`` (checked with ``onnx.checker``'s full check)."""
    onnx = require_onnx()
    from onnx import helper

    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"ONNX export: opset_version must be between {MIN_OPSET} and "
                         f"{onnx.defs.onnx_opset_version()}, got {opset_version!r}")
    _check_graph(model)
    inputs, outputs = list(model.inputs), list(model.outputs)
    b = GraphBuilder(opset)
    in_names = [b.name(_clean(getattr(t, "name", None), f"input_{i}")) for i, t in enumerate(inputs)]
    out_names = walk_model(b, model, in_names)
    wanted = list(getattr(model, "_output_keys", None) or getattr(model, "output_names", None) or [])  # a dict's keys
    graph_inputs = [_value_info(helper, n, t) for n, t in zip(in_names, inputs)]
    inferred = _inferred_outputs(onnx, b, graph_inputs, out_names, opset)
    graph_outputs = []
    for i, (t, name) in enumerate(zip(outputs, out_names)):
        final = b.name(_clean(wanted[i] if i < len(wanted) else None, f"output_{i}"))
        b.nodes.append(helper.make_node("Identity", [name], [final], name=b.name(f"{final}/Identity")))
        graph_outputs.append(_output_info(helper, final, t, inferred.get(name)))
    graph = helper.make_graph(b.nodes, _clean(model.name, "model"), graph_inputs, graph_outputs, b.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="deepgrad")
    # the IR version of the opset, not the newest the onnx package knows, so that older runtimes load it
    proto.ir_version = min(onnx.IR_VERSION, _ir_version_for(onnx, opset))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _ir_version_for(onnx, opset: int) -> int:
    versions = [row[1] for row in onnx.helper.VERSION_TABLE if row[2] == opset]
    return min(versions) if versions else onnx.IR_VERSION


def export_onnx(model, filepath, opset_version: int | None = None, quantize: str | None = None,
                calibration_data=None, verbose: bool | None = None) -> None:
    """Write ``model`` as an ONNX file at ``filepath`` (atomically).

    ``quantize="int8"`` then quantises it with onnxruntime: dynamically (int8 weights, activations
    quantised per batch at run time: Dense/MatMul, LSTM, GRU) without ``calibration_data``, or
    statically (convolutions too, activation ranges measured on ``calibration_data``, an array
    of model inputs) with it.
    """
    if quantize not in (None, "int8"):
        raise ValueError(f"export: quantize must be None or 'int8', got {quantize!r}")
    if calibration_data is not None and quantize is None:
        raise ValueError("export: calibration_data is for quantize='int8'")
    proto = build_onnx_model(model, opset_version)
    data = proto.SerializeToString()
    if quantize == "int8":
        from .quantize import quantize_int8
        data = quantize_int8(data, calibration_data, [i.name for i in proto.graph.input])
    write_bytes_atomic(os.fspath(filepath), data)
    if verbose:
        print(f"Saved artifact at '{os.fspath(filepath)}'.")
