"""The ONNX graph being built: unique names, weights as initializers, one helper per node.

Converters never touch protobuf: they call ``GraphBuilder.op(...)`` and ``GraphBuilder.const(...)``,
which go through ``onnx.helper`` and ``onnx.numpy_helper``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class ExportError(ValueError):
    """A model (a layer, or one of its options) that has no ONNX form."""


@dataclass
class Call:
    """One call of a layer as a converter sees it.

    ``inputs`` are the ONNX names of the tensors the layer was called on (flattened), ``args`` and
    ``kwargs`` the other call arguments with every symbolic tensor replaced by its ONNX name, and
    the shapes are the symbolic ones (batch axis ``None``).
    """
    layer: object
    inputs: list
    input_shapes: list
    output_shapes: list
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    input_dtypes: list = field(default_factory=list)
    # the ONNX names of the inputs' Keras masks (bool, (batch, time) mostly), None where unmasked;
    # a converter that makes its outputs' masks sets ``output_masks`` (one name or None per output)
    masks: list = field(default_factory=list)
    output_masks: list | None = None
    # ``args`` and ``kwargs`` with each tensor replaced by its mask name (None when unmasked)
    arg_masks: tuple = ()
    kwarg_masks: dict = field(default_factory=dict)

    @property
    def mask(self):
        """The first input's mask name, or None."""
        return self.masks[0] if self.masks else None

    @property
    def name(self) -> str:
        return self.layer.name

    def unsupported(self, what: str) -> Exception:
        """The error for an option of this layer that has no ONNX form here."""
        return ExportError(f"ONNX export: layer {self.layer.name!r} ({type(self.layer).__name__}): {what}")


class GraphBuilder:
    """Collects nodes and initializers; ``op`` returns the output name(s) of the node it adds."""

    def __init__(self, opset: int, parent: "GraphBuilder | None" = None):
        from onnx import TensorProto, helper, numpy_helper
        self.helper, self.numpy_helper, self.TensorProto = helper, numpy_helper, TensorProto
        self.opset = int(opset)
        self.nodes = []
        self.dtypes: dict = {} if parent is None else parent.dtypes   # graph tensor name -> NumPy dtype, where known
        if parent is None:
            self.initializers, self._used, self._constants = [], set(), {}
        else:   # a subgraph (a Scan body): names stay unique across both, constants live in the outer graph
            self.initializers, self._used, self._constants = parent.initializers, parent._used, parent._constants

    def name(self, base: str) -> str:
        """``base``, or ``base_1``, ``base_2``... the first not yet used."""
        base = base.replace("/", "_") or "t"
        out, k = base, 0
        while out in self._used:
            k += 1
            out = f"{base}_{k}"
        self._used.add(out)
        return out

    def const(self, array, base: str = "const", dtype=None) -> str:
        """An initializer holding ``array`` (float arrays become float32 unless ``dtype`` says)."""
        a = np.asarray(array)
        if dtype is not None:
            a = a.astype(dtype)
        elif a.dtype.kind == "f":
            a = a.astype(np.float32)
        key = None
        if a.size <= 16:   # small constants (shapes, axes, scalars) are shared
            key = (a.dtype.str, a.shape, a.tobytes())
            if key in self._constants:
                return self._constants[key]
        name = self.name(base)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(a), name))
        if key is not None:
            self._constants[key] = name
        return name

    def ints(self, values, base: str = "shape") -> str:
        return self.const(np.asarray(values, np.int64), base)

    def op(self, op_type: str, inputs, base: str, outputs: int = 1, **attrs):
        """Add ``op_type(inputs) -> outputs`` with ``attrs``; a name "" in ``inputs`` is an omitted input."""
        names = [self.name(f"{base}_{op_type}" if outputs == 1 else f"{base}_{op_type}_{i}")
                 for i in range(outputs)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), names, name=self.name(f"{base}/{op_type}"),
                                                **{k: v for k, v in attrs.items() if v is not None}))
        return names[0] if outputs == 1 else names

    # ----------------------------------------------------------------- shared small patterns
    def reduce(self, op_type: str, x: str, axes, base: str, keepdims: bool = True) -> str:
        """A Reduce* node; its axes are an attribute before opset 18 (ReduceSum: 13) and an input after."""
        axes = [int(a) for a in axes]
        takes_input = self.opset >= (13 if op_type == "ReduceSum" else 18)
        if takes_input:
            return self.op(op_type, [x, self.ints(axes, "axes")], base, keepdims=int(keepdims))
        return self.op(op_type, [x], base, axes=axes, keepdims=int(keepdims))

    def reshape(self, x: str, shape, base: str) -> str:
        """Reshape to ``shape``; 0 keeps that input axis (the dynamic batch), -1 is inferred."""
        return self.op("Reshape", [x, self.ints(shape)], base)

    def transpose(self, x: str, perm, base: str) -> str:
        return self.op("Transpose", [x], base, perm=[int(p) for p in perm])

    def matmul_add(self, x: str, kernel, bias, base: str) -> str:
        """``x @ kernel + bias`` (bias may be None), the weights as initializers."""
        y = self.op("MatMul", [x, self.const(kernel, f"{base}_kernel")], base)
        if bias is not None:
            y = self.op("Add", [y, self.const(bias, f"{base}_bias")], base)
        return y

    def split(self, x: str, sizes, axis: int, base: str) -> list:
        """Split ``x`` along ``axis`` into pieces of ``sizes`` (the sizes as an input since opset 13)."""
        out = self.op("Split", [x, self.ints(sizes, "split")], base, outputs=len(sizes), axis=int(axis))
        return out if isinstance(out, list) else [out]

    def slice(self, x: str, starts, ends, axes, base: str, steps=None) -> str:
        inputs = [x, self.ints(starts, "starts"), self.ints(ends, "ends"), self.ints(axes, "axes")]
        if steps is not None:
            inputs.append(self.ints(steps, "steps"))
        return self.op("Slice", inputs, base)

    def shape_of(self, x: str, start: int, end: int, base: str) -> str:
        """``Shape(x)[start:end]`` as an int64 vector."""
        return self.slice(self.op("Shape", [x], base), [start], [end], [0], base)

    def zeros(self, like: str, tail, base: str) -> str:
        """float32 zeros of shape ``(batch of like,) + tail``."""
        shape = self.op("Concat", [self.shape_of(like, 0, 1, base), self.ints(list(tail))], base, axis=0)
        zero = self.helper.make_tensor("value", self.TensorProto.FLOAT, [1], [0.0])
        return self.op("ConstantOfShape", [shape], base, value=zero)

    def scan(self, body_fn, states: list, sequences: list, base: str, axis: int = 1, state_types=None,
             sequence_types=None, n_outputs: int = 1) -> tuple:
        """An ONNX Scan over axis ``axis`` of ``sequences``, carrying ``states``.

        ``body_fn(sub, state_names, step_names) -> (new_state_names, step_output_names)`` builds
        one step in the subgraph builder ``sub`` (which may read every outer name, the weights
        among them). Returns (final states, stacked step outputs along ``axis``).
        ``state_types``/``sequence_types`` are ONNX element types (float32 by default).
        """
        sub = GraphBuilder(self.opset, parent=self)
        float_ = self.TensorProto.FLOAT
        state_types = state_types or [float_] * len(states)
        sequence_types = sequence_types or [float_] * len(sequences)
        s_in = [sub.name(f"{base}_state_in") for _ in states]
        x_in = [sub.name(f"{base}_step_in") for _ in sequences]
        new_states, outs = body_fn(sub, list(s_in), list(x_in))
        if len(outs) != n_outputs:
            raise ValueError(f"scan body of {base}: {len(outs)} step outputs, expected {n_outputs}")
        out_names = []
        for name in list(new_states) + list(outs):   # body outputs are fresh names, never a body input
            out_names.append(sub.op("Identity", [name], f"{base}_body_out"))
        h = self.helper
        body = h.make_graph(
            sub.nodes, self.name(f"{base}_body"),
            [h.make_tensor_value_info(n, t, None) for n, t in zip(s_in + x_in, state_types + sequence_types)],
            [h.make_tensor_value_info(n, t, None) for n, t in
             zip(out_names, state_types + [float_] * n_outputs)])
        results = self.op("Scan", list(states) + list(sequences), base, outputs=len(states) + n_outputs, body=body,
                          num_scan_inputs=len(sequences), scan_input_axes=[axis] * len(sequences),
                          scan_output_axes=[axis] * n_outputs)
        results = results if isinstance(results, list) else [results]
        return results[:len(states)], results[len(states):]

    def as_bool(self, x: str, base: str) -> str:
        """A mask tensor as bool: float masks keep values > 0.5 (Keras's rule), integers != 0."""
        dtype = self.dtypes.get(x)
        if dtype is not None and np.dtype(dtype) == np.bool_:
            return x
        if dtype is not None and np.dtype(dtype).kind in "iu":
            return self.op("Cast", [x], base, to=self.TensorProto.BOOL)
        return self.op("Greater", [x, self.const(np.float32(0.5))], base)
