"""MultiHeadAttention as a MatMul/Softmax subgraph.

For (batch, T, dim) inputs, attention over the time axis:
``q = x_q W_q + b_q`` split into heads (batch, heads, T, key_dim), likewise k and v;
``out = softmax(q k^T / sqrt(key_dim)) v``, heads joined, then ``out W_o + b_o``.
"""
from __future__ import annotations

import numpy as np

from .. import layers
from .graph import Call, GraphBuilder
from .registry import register_converter, weight


def _heads(b: GraphBuilder, x: str, dense, heads: int, dim: int, base: str) -> str:
    """(batch, T, d) @ kernel (d, heads, dim) + bias -> (batch, heads, T, dim)."""
    kernel = weight(dense.kernel)
    y = b.matmul_add(x, kernel.reshape(kernel.shape[0], heads * dim),
                     None if dense.bias is None else weight(dense.bias).reshape(-1), base)
    return b.transpose(b.reshape(y, [0, 0, heads, dim], base), [0, 2, 1, 3], base)


def _causal(b: GraphBuilder, scores: str, base: str) -> str:
    """Query i sees keys j <= i: the lower triangle of a (Tq, Tk) matrix of ones (Trilu), the rest
    of the scores set to a large negative number before the softmax."""
    size = b.slice(b.op("Shape", [scores], base), [-2], [np.iinfo(np.int64).max], [0], base)
    one = b.helper.make_tensor("value", b.TensorProto.FLOAT, [1], [1.0])
    ones = b.op("ConstantOfShape", [size], base, value=one)
    hidden = b.op("Less", [b.op("Trilu", [ones], base, upper=0), b.const(np.float32(0.5))], base)
    return b.op("Where", [hidden, b.const(np.float32(-1e9)), scores], base)


@register_converter(layers.MultiHeadAttention)
def multi_head_attention(b: GraphBuilder, c: Call):
    layer = c.layer
    query = c.inputs[0]
    value = c.args[0] if c.args else c.kwargs.get("value")
    key = c.args[1] if len(c.args) > 1 else c.kwargs.get("key")
    key = value if key is None else key
    for option in ("query_mask", "value_mask", "key_mask", "attention_mask"):
        if c.kwargs.get(option) is not None:
            raise c.unsupported(f"{option} (masks are not exported)")
    if c.kwargs.get("return_attention_scores"):
        raise c.unsupported("return_attention_scores=True")
    if layer._use_gate or getattr(layer, "_sliding_window", None) is not None:
        raise c.unsupported("use_gate or sliding_window")
    if len(c.input_shapes[0]) != 3 or layer._attention_axes not in ((1,), None):
        raise c.unsupported(f"query of shape {c.input_shapes[0]} with attention_axes {layer._attention_axes}: "
                            "only (batch, time, features) inputs attending over time are exported")
    if not all(isinstance(t, str) for t in (value, key)):
        raise c.unsupported("value or key given as values rather than model tensors")
    H, K, V = layer._num_heads, layer._key_dim, layer._value_dim
    q = _heads(b, query, layer.query_dense, H, K, f"{c.name}_query")
    k = _heads(b, key, layer.key_dense, H, K, f"{c.name}_key")
    v = _heads(b, value, layer.value_dense, H, V, f"{c.name}_value")
    q = b.op("Mul", [q, b.const(np.float32(layer._inverse_sqrt_dim))], c.name)
    scores = b.op("MatMul", [q, b.transpose(k, [0, 1, 3, 2], c.name)], c.name)   # (batch, heads, Tq, Tk)
    if c.kwargs.get("use_causal_mask"):
        scores = _causal(b, scores, c.name)
    attn = b.op("Softmax", [scores], c.name, axis=-1)
    out = b.op("MatMul", [attn, v], c.name)                                     # (batch, heads, Tq, V)
    out = b.reshape(b.transpose(out, [0, 2, 1, 3], c.name), [0, 0, H * V], c.name)
    wo = weight(layer.output_dense.kernel)
    bo = layer.output_dense.bias
    return b.matmul_add(out, wo.reshape(H * V, -1), None if bo is None else weight(bo).reshape(-1),
                        f"{c.name}_output")


@register_converter(layers.Attention, layers.AdditiveAttention)
def attention(b: GraphBuilder, c: Call):
    """``softmax(scores) @ value`` on ``[query, value(, key)]``: Luong scores ``scale * q k^T`` or, with
    score_mode="concat", ``c * sum(tanh(scale * (q + k)))``; Bahdanau (AdditiveAttention) scores
    ``sum(scale * tanh(q + k))``."""
    layer = c.layer
    if c.kwargs.get("mask") is not None:
        raise c.unsupported("a mask argument (masks are not exported)")
    q, v = c.inputs[0], c.inputs[1]
    k = c.inputs[2] if len(c.inputs) > 2 else v
    scale = None if layer.scale is None else b.const(weight(layer.scale), f"{c.name}_scale")
    if isinstance(layer, layers.AdditiveAttention) or layer.score_mode == "concat":
        pairs = b.op("Add", [b.op("Unsqueeze", [q, b.ints([-2], "axes")], c.name),
                             b.op("Unsqueeze", [k, b.ints([-3], "axes")], c.name)], c.name)   # (B, Tq, Tv, dim)
        if isinstance(layer, layers.AdditiveAttention):
            pairs = b.op("Tanh", [pairs], c.name)
            pairs = pairs if scale is None else b.op("Mul", [pairs, scale], c.name)
            scores = b.reduce("ReduceSum", pairs, [-1], c.name, keepdims=False)
        else:
            pairs = pairs if scale is None else b.op("Mul", [pairs, scale], c.name)
            scores = b.reduce("ReduceSum", b.op("Tanh", [pairs], c.name), [-1], c.name, keepdims=False)
            scores = b.op("Mul", [scores, b.const(weight(layer.concat_score_weight), f"{c.name}_concat")], c.name)
    else:
        scores = b.op("MatMul", [q, b.transpose(k, [0, 2, 1], c.name)], c.name)
        scores = scores if scale is None else b.op("Mul", [scores, scale], c.name)
    if c.kwargs.get("use_causal_mask"):
        scores = _causal(b, scores, c.name)
    weights = b.op("Softmax", [scores], c.name, axis=-1)
    out = b.op("MatMul", [weights, v], c.name)
    return [out, weights] if c.kwargs.get("return_attention_scores") else out
