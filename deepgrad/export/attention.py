"""MultiHeadAttention, GroupedQueryAttention, Attention and AdditiveAttention as MatMul/Softmax subgraphs.

The heads layers: projections with the layer's own Einsum equations, so inputs of any rank;
``q k^T / sqrt(key_dim)`` over the attention axes (several fold into one), softmax, times ``v``,
the heads joined by the output projection. Masks: the Keras masks of query, value and key, the
``attention_mask`` input (bool, integer or float > 0.5), ``use_causal_mask`` and a sliding window,
combined as the layers combine them, for (batch, time, features) inputs.
"""
from __future__ import annotations

import numpy as np

from .. import layers
from .activations import apply_activation
from .graph import Call, ExportError, GraphBuilder
from .registry import handles_masks, main_weight, register_converter, weight


def _project(b: GraphBuilder, dense, x: str, base: str) -> str:
    """An EinsumDense projection (query/key/value/output) of the attention layer."""
    kernel = b.const(main_weight(dense), f"{base}_kernel")
    y = b.op("Einsum", [x, kernel], base, equation=dense.equation)
    if getattr(dense, "bias", None) is not None:
        y = b.op("Add", [y, b.const(weight(dense.bias), f"{base}_bias")], base)
    return apply_activation(b, dense.activation, y, base, f"layer {dense.name!r}")


def _time_mask(b: GraphBuilder, q: str, k: str, base: str, window=None) -> str:
    """(1, Tq, Tk) bool: ``i >= j`` (causal), or ``|i - j| < window`` (a sliding window), from the
    runtime lengths of the projected (batch, T, heads, dim) ``q`` and ``k``."""
    tq, tk = b.shape_of(q, 1, 2, base), b.shape_of(k, 1, 2, base)
    if window is None:
        one = b.helper.make_tensor("value", b.TensorProto.FLOAT, [1], [1.0])
        ones = b.op("ConstantOfShape", [b.op("Concat", [tq, tk], base, axis=0)], base, value=one)
        allowed = b.op("Cast", [b.op("Trilu", [ones], base, upper=0)], base, to=b.TensorProto.BOOL)
    else:
        def positions(n):
            scalar = b.op("Squeeze", [n, b.ints([0], "axes")], base)
            return b.op("Range", [b.const(np.int64(0)), scalar, b.const(np.int64(1))], base)
        i = b.op("Unsqueeze", [positions(tq), b.ints([1], "axes")], base)
        j = b.op("Unsqueeze", [positions(tk), b.ints([0], "axes")], base)
        allowed = b.op("Less", [b.op("Abs", [b.op("Sub", [i, j], base)], base), b.const(np.int64(window))], base)
    return b.op("Unsqueeze", [allowed, b.ints([0], "axes")], base)


def _and(b: GraphBuilder, a, m, base: str):
    return m if a is None else a if m is None else b.op("And", [a, m], base)


def _attention_mask(b: GraphBuilder, c: Call, layer, q: str, k: str, value_arg_mask, key_arg_mask,
                    key_given: bool, gqa: bool):
    """The (batch, Tq, Tk) (or broadcastable) bool mask from the inputs' Keras masks, the mask arguments,
    the causal mask and the sliding window, as the layer builds it; None when nothing masks."""
    kw, base = c.kwargs, c.name
    q_mask = kw.get("query_mask") if gqa and kw.get("query_mask") is not None else c.mask
    v_mask = kw.get("value_mask") if kw.get("value_mask") is not None else value_arg_mask
    k_mask = kw.get("key_mask") if kw.get("key_mask") is not None else key_arg_mask
    auto = None
    if q_mask is not None:
        auto = b.op("Unsqueeze", [b.as_bool(q_mask, base), b.ints([2], "axes")], base)
    if v_mask is not None:
        auto = _and(b, auto, b.op("Unsqueeze", [b.as_bool(v_mask, base), b.ints([1], "axes")], base), base)
    if key_given and k_mask is not None:
        auto = _and(b, auto, b.op("Unsqueeze", [b.as_bool(k_mask, base), b.ints([1], "axes")], base), base)
    if kw.get("use_causal_mask"):
        auto = _and(b, auto, _time_mask(b, q, k, base), base)
    window = getattr(layer, "_sliding_window", None)
    if window is not None:
        auto = _and(b, auto, _time_mask(b, q, k, base, int(window)), base)
    explicit = kw.get("attention_mask")
    return _and(b, None if explicit is None else b.as_bool(explicit, base), auto, base), q_mask


def _fold(b: GraphBuilder, t: str, perm, n_lead: int, heads: int, n_attn: int, base: str) -> str:
    """Projected ``t`` transposed by ``perm`` to (batch..., heads, attention..., dim) and, when there are
    several batch or attention axes, folded to (B', heads, A, dim), A the product of the attention sizes."""
    t = b.transpose(t, perm, base) if list(perm) != list(range(len(perm))) else t
    if n_lead == 1 and n_attn == 1:
        return t
    sizes = b.shape_of(t, n_lead + 1, n_lead + 1 + n_attn, base)
    area = b.reduce("ReduceProd", sizes, [0], base)
    shape = b.op("Concat", [b.ints([-1, heads]), area, b.shape_of(t, -1, np.iinfo(np.int64).max, base)], base, axis=0)
    return b.op("Reshape", [t, shape], base)


@handles_masks
@register_converter(layers.MultiHeadAttention, layers.GroupedQueryAttention)
def multi_head_attention(b: GraphBuilder, c: Call):
    """Projections as Einsum nodes with the layer's own equations, then the attention of its ``_attend``:
    the fused path (rank-4 projections, no dropout, no scores returned) adds ``-0.7 * 3.38953e38`` to
    masked scores; the explicit path sets them to ``-1e9`` and zeroes their probabilities after the softmax."""
    layer, base = c.layer, c.name
    gqa = isinstance(layer, layers.GroupedQueryAttention)
    query = c.inputs[0]
    value = c.args[0] if c.args else c.kwargs.get("value")
    key_given = (len(c.args) > 1 and c.args[1] is not None) or c.kwargs.get("key") is not None
    key = c.args[1] if len(c.args) > 1 else c.kwargs.get("key")
    key = value if key is None else key
    if not all(isinstance(t, str) for t in (value, key)):
        raise c.unsupported("value or key given as values rather than model tensors")
    value_arg_mask = c.arg_masks[0] if c.arg_masks else c.kwarg_masks.get("value")
    key_arg_mask = (c.arg_masks[1] if len(c.arg_masks) > 1 else c.kwarg_masks.get("key")) if key_given else None
    if not gqa and not key_given:
        key_arg_mask = value_arg_mask
    scores_wanted = bool(c.kwargs.get("return_attention_scores"))
    rank = len(c.input_shapes[0]) + 1                           # the projections carry a heads axis
    axes = (1,) if gqa else tuple(layer._attention_axes)
    heads = layer.num_query_heads if gqa else layer._num_heads
    q = _project(b, layer.query_dense, query, f"{base}_query")
    k = _project(b, layer.key_dense, key, f"{base}_key")
    v = _project(b, layer.value_dense, value, f"{base}_value")
    if gqa and layer.num_repeats > 1:   # query head u reads key/value head u // repeats
        def repeat(t):
            t = b.op("Unsqueeze", [t, b.ints([3], "axes")], base)
            t = b.op("Expand", [t, b.ints([1, 1, 1, layer.num_repeats, 1])], base)
            return b.reshape(t, [0, 0, heads, layer.head_dim], base)
        k, v = repeat(k), repeat(v)
    mask, q_mask = _attention_mask(b, c, layer, q, k, value_arg_mask, key_arg_mask, key_given, gqa)
    if mask is not None and rank != 4:
        raise c.unsupported(f"masks with inputs of rank {rank - 1} (masks are exported for (batch, time, "
                            "features) inputs)")
    fused = rank == 4 and not layer._dropout > 0 and not scores_wanted
    q = b.op("Mul", [q, b.const(np.float32(layer._inverse_sqrt_dim))], base)
    batch_axes = [i for i in range(rank - 2) if i not in axes]
    perm = batch_axes + [rank - 2] + list(axes) + [rank - 1]
    qp = b.transpose(q, perm, base) if perm != list(range(rank)) else q
    qf = _fold(b, qp, list(range(rank)), len(batch_axes), heads, len(axes), base)
    kf = _fold(b, k, perm, len(batch_axes), heads, len(axes), base)
    vf = _fold(b, v, perm, len(batch_axes), heads, len(axes), base)
    scores = b.op("MatMul", [qf, b.transpose(kf, [0, 1, 3, 2], base)], base)    # (B', heads, Tq, Tk)
    if mask is not None:
        mask = b.op("Unsqueeze", [mask, b.ints([1], "axes")], base)          # the heads axis
        fill = np.float32(-0.7 * 3.38953e38) if fused else np.float32(-1e9)
        scores = b.op("Where", [mask, scores, b.const(fill)], base)
    probs = b.op("Softmax", [scores], base, axis=-1)
    if mask is not None and not fused:
        probs = b.op("Where", [mask, probs, b.const(np.float32(0.0))], base)
    out = b.op("MatMul", [probs, vf], base)                                   # (B', heads, Tq, dim_v)
    dim_v = weight(layer.value_dense.kernel).shape[-1]
    out = b.op("Reshape", [out, b.op("Concat", [b.shape_of(qp, 0, rank - 1, base), b.ints([dim_v])], base,
                                     axis=0)], base)
    out = b.transpose(out, list(np.argsort(perm)), base) if perm != list(range(rank)) else out
    if getattr(layer, "_use_gate", False) or getattr(layer, "use_gate", False):
        out = b.op("Mul", [out, _project(b, layer.gate_dense, query, f"{base}_gate")], base)
    out = _project(b, layer.output_dense, out, f"{base}_output")
    c.output_masks = [q_mask, None]
    if not scores_wanted:
        return out
    kp = b.transpose(k, perm, base)
    shape = b.op("Concat", [b.shape_of(qp, 0, rank - 1, base), b.shape_of(kp, len(batch_axes) + 1, rank - 1, base)],
                 base, axis=0)
    return [out, b.op("Reshape", [probs, shape], base)]


@handles_masks
@register_converter(layers.Attention, layers.AdditiveAttention)
def attention(b: GraphBuilder, c: Call):
    """``softmax(scores) @ value`` on ``[query, value(, key)]``: Luong scores ``scale * q k^T`` or, with
    score_mode="concat", ``c * sum(tanh(scale * (q + k)))``; Bahdanau (AdditiveAttention) scores
    ``sum(scale * tanh(q + k))``."""
    layer = c.layer
    mask = c.kwargs.get("mask")
    if mask is not None:
        if not isinstance(mask, (list, tuple)) or not all(m is None or isinstance(m, str) for m in mask):
            raise c.unsupported("a mask argument given as values rather than model tensors")
        masks = list(mask)
    else:   # the Keras masks of the inputs
        masks = list(c.masks)
    q_mask, v_mask = (masks + [None, None])[:2]
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
    allowed = None if v_mask is None else b.op("Unsqueeze", [b.as_bool(v_mask, c.name), b.ints([1], "axes")], c.name)
    if c.kwargs.get("use_causal_mask"):
        allowed = _and(b, allowed, _time_mask(b, q, v, c.name), c.name)
    if allowed is not None:   # masked keys lose 1e9 from their scores
        penalty = b.op("Where", [allowed, b.const(np.float32(0.0)), b.const(np.float32(1e9))], c.name)
        scores = b.op("Sub", [scores, penalty], c.name)
    weights = b.op("Softmax", [scores], c.name, axis=-1)
    out = b.op("MatMul", [weights, v], c.name)
    if q_mask is not None:   # masked queries output zeros
        keep = b.op("Unsqueeze", [b.as_bool(q_mask, c.name), b.ints([-1], "axes")], c.name)
        out = b.op("Where", [keep, out, b.const(np.float32(0.0))], c.name)
    c.output_masks = [q_mask, None]
    return [out, weights] if c.kwargs.get("return_attention_scores") else out
