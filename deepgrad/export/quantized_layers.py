"""Layers quantized with ``model.quantize("int8")``, exported as deepgrad's int8 runtime computes them.

The file keeps the int8 weight (a quarter of the float size) with its float scale ``s_w`` and
does what ``ops.quantized`` does at run time:

- each input row (Dense; the contracted axes of EinsumDense; each receptive field of a
  convolution) is quantized, ``s_x = 127 / (max|x| + 1e-7)``, ``q_x = clip(round(x s_x), -127, 127)``;
- ``y = (q_x @ q_w) / s_x / s_w + bias``, the integer product in float32 (exact while a dot product
  has at most 1024 terms, as deepgrad's own float32 GEMM);
- a convolution's receptive fields are taken by a Conv with one-hot kernels (each output channel
  copies one input value of the window: exact; the kernels are built in the graph from an
  identity matrix, not stored), so that each field gets its own scale;
- Embedding: ``table[ids] / scale[ids]``.

``Cast`` turns the int8 initializer into float32 inside the graph. Without an inputs quantizer
(``inputs_quantizer=None``) the float input meets the int8 kernel: ``(x @ q_w) / s_w``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import layers
from .activations import apply_activation
from .conv import conv_pads, to_first, to_last
from .graph import Call, GraphBuilder
from .registry import register_quantized_converter, weight

_EPSILON = np.float32(1e-7)   # the abs-max quantizer's epsilon (Keras's backend.epsilon())


def _int8(b: GraphBuilder, q: np.ndarray, base: str) -> str:
    """The int8 weight as an initializer, cast to float32 in the graph."""
    return b.op("Cast", [b.const(np.asarray(q, np.int8), f"{base}_int8", dtype=np.int8)], base,
                to=b.TensorProto.FLOAT)


def _quantize_rows(b: GraphBuilder, x: str, axes, base: str) -> tuple:
    """(q_x, s_x): abs-max quantization of ``x`` over ``axes`` (kept as size-1 axes)."""
    amax = b.reduce("ReduceMax", b.op("Abs", [x], base), axes, base, keepdims=True)
    scale = b.op("Div", [b.const(np.float32(127.0)), b.op("Add", [amax, b.const(_EPSILON)], base)], base)
    q = b.op("Clip", [b.op("Round", [b.op("Mul", [x, scale], base)], base), b.const(np.float32(-127.0)),
                      b.const(np.float32(127.0))], base)
    return q, scale


@register_quantized_converter(layers.Dense)
def dense_int8(b: GraphBuilder, c: Call):
    layer = c.layer
    kernel = _int8(b, weight(layer.kernel), f"{c.name}_kernel")
    scale_w = b.const(weight(layer.kernel_scale).reshape(-1).astype(np.float32), f"{c.name}_kernel_scale")
    if layer.inputs_quantizer is not None:
        q, scale_x = _quantize_rows(b, c.inputs[0], [-1], c.name)
        y = b.op("Div", [b.op("MatMul", [q, kernel], c.name), scale_x], c.name)
    else:
        y = b.op("MatMul", [c.inputs[0], kernel], c.name)
    y = b.op("Div", [y, scale_w], c.name)
    if layer.use_bias:
        y = b.op("Add", [y, b.const(weight(layer.bias), f"{c.name}_bias")], c.name)
    return apply_activation(b, layer.activation, y, c.name, f"layer {c.name!r} (Dense, int8)")


@register_quantized_converter(layers.EinsumDense)
def einsum_dense_int8(b: GraphBuilder, c: Call):
    layer = c.layer
    inp, ker, out = layer._specs
    if "..." in layer.equation:
        raise c.unsupported(f"int8 with the equation {layer.equation!r} (an ellipsis)")
    kernel = _int8(b, weight(layer.kernel), f"{c.name}_kernel")
    x = c.inputs[0]
    equation = f"{inp},{ker}->{out}"
    if layer.inputs_quantizer is not None:
        reduced = [i for i, ch in enumerate(inp) if ch not in out]
        q, scale_x = _quantize_rows(b, x, reduced, c.name)
        y = b.op("Einsum", [q, kernel], c.name, equation=equation)
        # s_x (input layout, 1 on the reduced axes) laid out on the output's axes
        kept = [ch for ch in inp if ch in out]
        s = b.op("Squeeze", [scale_x, b.ints(reduced, "axes")], c.name) if reduced else scale_x
        order = sorted(kept, key=out.index)
        if order != kept:
            s = b.transpose(s, [kept.index(ch) for ch in order], c.name)
        missing = [i for i, ch in enumerate(out) if ch not in kept]
        if missing:
            s = b.op("Unsqueeze", [s, b.ints(missing, "axes")], c.name)
        y = b.op("Div", [y, s], c.name)
    else:
        y = b.op("Einsum", [x, kernel], c.name, equation=equation)
    y = b.op("Div", [y, b.const(weight(layer.kernel_scale).astype(np.float32), f"{c.name}_kernel_scale")], c.name)
    if getattr(layer, "bias", None) is not None:
        y = b.op("Add", [y, b.const(weight(layer.bias), f"{c.name}_bias")], c.name)
    return apply_activation(b, layer.activation, y, c.name, f"layer {c.name!r} (EinsumDense, int8)")


@register_quantized_converter(layers.Embedding)
def embedding_int8(b: GraphBuilder, c: Call):
    from .core import embedding_mask, embedding_ids
    layer = c.layer
    ids = embedding_ids(b, c)
    rows = b.op("Gather", [_int8(b, weight(layer.embeddings), f"{c.name}_embeddings"), ids], c.name, axis=0)
    scales = b.op("Gather", [b.const(weight(layer.embeddings_scale).reshape(-1).astype(np.float32),
                                     f"{c.name}_embeddings_scale"), ids], c.name, axis=0)
    c.output_masks = [embedding_mask(b, c, ids)]
    return b.op("Div", [rows, b.op("Unsqueeze", [scales, b.ints([-1], "axes")], c.name)], c.name)


embedding_int8.handles_masks = True


@register_quantized_converter(layers.Conv1D, layers.Conv2D, layers.Conv3D)
def conv_int8(b: GraphBuilder, c: Call):
    """Receptive fields (B, taps C, *S') by a one-hot Conv, quantized per field, contracted with the
    int8 kernel by a 1x1 Conv, de-scaled."""
    layer, rank = c.layer, c.layer.rank
    q_w = weight(layer.kernel)                       # (*k, C, F)
    *ks, cin, cout = q_w.shape
    taps = math.prod(ks)
    x = to_first(b, c.inputs[0], rank, c)
    padding = layer.padding
    if padding == "causal":   # (k - 1) d zeros before the steps, then "valid"
        left = (ks[0] - 1) * layer.dilation_rate[0]
        x = b.op("Pad", [x, b.ints([0, 0, left, 0, 0, 0], "pads")], c.name, mode="constant")
        pads = {"pads": [0, 0]}
    else:
        pads = conv_pads(c, rank, ks, layer.strides, layer.dilation_rate, padding)
    # one-hot kernel: output channel t C + ci copies input channel ci at window position t; built in the
    # graph from an identity matrix (K = taps C): I (K, K) -> (K, taps, C) -> (K, C, taps) -> (K, C, *k)
    k = taps * cin
    zero = b.helper.make_tensor("value", b.TensorProto.FLOAT, [1], [0.0])
    eye = b.op("EyeLike", [b.op("ConstantOfShape", [b.ints([k, k])], c.name, value=zero)], c.name)
    onehot = b.transpose(b.reshape(eye, [k, taps, cin], c.name), [0, 2, 1], c.name)
    onehot = b.reshape(onehot, [k, cin] + list(ks), c.name)
    fields = b.op("Conv", [x, onehot], c.name, kernel_shape=list(ks),
                  strides=list(layer.strides), dilations=list(layer.dilation_rate), **pads)
    kernel = _int8(b, q_w.reshape(taps * cin, cout).T.reshape((cout, taps * cin) + (1,) * rank), f"{c.name}_kernel")
    if layer.inputs_quantizer is not None:
        q, scale_x = _quantize_rows(b, fields, [1], c.name)
        y = b.op("Div", [b.op("Conv", [q, kernel], c.name, kernel_shape=[1] * rank), scale_x], c.name)
    else:
        y = b.op("Conv", [fields, kernel], c.name, kernel_shape=[1] * rank)
    scale_w = weight(layer.kernel_scale).reshape((-1,) + (1,) * rank).astype(np.float32)
    y = b.op("Div", [y, b.const(scale_w, f"{c.name}_kernel_scale")], c.name)
    if layer.bias is not None:
        y = b.op("Add", [y, b.const(weight(layer.bias).reshape((-1,) + (1,) * rank), f"{c.name}_bias")], c.name)
    y = to_last(b, y, rank, c)
    return apply_activation(b, layer.activation, y, c.name, f"layer {c.name!r} ({type(layer).__name__}, int8)")
