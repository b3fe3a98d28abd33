"""Converters of the core, activation, regularisation, reshaping, merging and embedding layers."""
from __future__ import annotations

import numpy as np

from .. import layers
from .activations import apply_activation
from .graph import Call, GraphBuilder
from .registry import converter_for, handles_masks, main_weight, register_converter, weight


@register_converter(layers.Dense)
def dense(b: GraphBuilder, c: Call):
    """``activation(x @ W + b)``; MatMul broadcasts over every leading axis, as Dense does."""
    layer = c.layer
    y = b.matmul_add(c.inputs[0], main_weight(layer), weight(layer.bias) if layer.use_bias else None, c.name)
    return apply_activation(b, layer.activation, y, c.name, f"layer {c.name!r} (Dense)")


@register_converter(layers.EinsumDense)
def einsum_dense(b: GraphBuilder, c: Call):
    layer = c.layer
    y = b.op("Einsum", [c.inputs[0], b.const(main_weight(layer), f"{c.name}_kernel")], c.name,
             equation=layer.equation)
    if getattr(layer, "bias", None) is not None:
        y = b.op("Add", [y, b.const(weight(layer.bias), f"{c.name}_bias")], c.name)
    return apply_activation(b, layer.activation, y, c.name, f"layer {c.name!r} (EinsumDense)")


@register_converter(layers.Activation)
def activation(b: GraphBuilder, c: Call):
    return apply_activation(b, c.layer.activation, c.inputs[0], c.name, f"layer {c.name!r} (Activation)")


@register_converter(layers.ReLU)
def relu(b: GraphBuilder, c: Call):
    """Keras's relu: ``x`` for ``threshold <= x``, ``negative_slope * (x - threshold)`` below, capped at max_value."""
    layer, x = c.layer, c.inputs[0]
    slope, threshold, cap = float(layer.negative_slope), float(layer.threshold), layer.max_value
    if threshold == 0.0:
        y = b.op("LeakyRelu", [x], c.name, alpha=slope) if slope else b.op("Relu", [x], c.name)
    else:
        below = b.op("Less", [x, b.const(threshold)], c.name)
        low = b.op("Mul", [b.op("Sub", [x, b.const(threshold)], c.name), b.const(slope)], c.name)
        y = b.op("Where", [below, low, x], c.name)
    if cap is not None:
        y = b.op("Min", [y, b.const(float(cap))], c.name)
    return y


@register_converter(layers.LeakyReLU)
def leaky_relu(b: GraphBuilder, c: Call):
    return b.op("LeakyRelu", [c.inputs[0]], c.name, alpha=float(c.layer.negative_slope))


@register_converter(layers.ELU)
def elu(b: GraphBuilder, c: Call):
    return b.op("Elu", [c.inputs[0]], c.name, alpha=float(c.layer.alpha))


@register_converter(layers.PReLU)
def prelu(b: GraphBuilder, c: Call):
    return b.op("PRelu", [c.inputs[0], b.const(weight(c.layer.alpha), f"{c.name}_alpha")], c.name)


@register_converter(layers.Softmax)
def softmax(b: GraphBuilder, c: Call):
    axes = c.layer.axis if isinstance(c.layer.axis, (list, tuple)) else [c.layer.axis]
    if len(axes) != 1:
        raise c.unsupported(f"softmax over several axes {axes}")
    if c.args or any(k in c.kwargs for k in ("mask",)):
        raise c.unsupported("a mask argument")
    return b.op("Softmax", [c.inputs[0]], c.name, axis=int(axes[0]))


# Layers that are the identity at inference
@register_converter(layers.Dropout, layers.SpatialDropout1D, layers.SpatialDropout2D, layers.SpatialDropout3D,
                    layers.GaussianDropout, layers.GaussianNoise, layers.AlphaDropout, layers.ActivityRegularization,
                    layers.Identity)
def identity(b: GraphBuilder, c: Call):
    return b.op("Identity", [c.inputs[0]], c.name)


identity.is_identity = True   # the mask of its input passes on, as the layer returns its input


@register_converter(layers.Flatten)
def flatten(b: GraphBuilder, c: Call):
    x = c.inputs[0]
    rank = len(c.input_shapes[0])
    if c.layer.data_format == "channels_first" and rank > 2:
        # Keras flattens channels-first data in channels-last order
        x = b.transpose(x, [0] + list(range(2, rank)) + [1], c.name)
    return b.op("Flatten", [x], c.name, axis=1)


@register_converter(layers.Reshape)
def reshape(b: GraphBuilder, c: Call):
    return b.reshape(c.inputs[0], [0] + [int(s) for s in c.layer.target_shape], c.name)


@register_converter(layers.Permute)
def permute(b: GraphBuilder, c: Call):
    return b.transpose(c.inputs[0], [0] + [int(d) for d in c.layer.dims], c.name)


@register_converter(layers.RepeatVector)
def repeat_vector(b: GraphBuilder, c: Call):
    """(batch, features) -> (batch, n, features)."""
    x = b.op("Unsqueeze", [c.inputs[0], b.ints([1], "axes")], c.name)
    return b.op("Expand", [x, b.ints([1, int(c.layer.n), 1])], c.name)


@register_converter(layers.Rescaling)
def rescaling(b: GraphBuilder, c: Call):
    y = b.op("Mul", [c.inputs[0], b.const(np.asarray(c.layer.scale, np.float32), f"{c.name}_scale")], c.name)
    return b.op("Add", [y, b.const(np.asarray(c.layer.offset, np.float32), f"{c.name}_offset")], c.name)


# ------------------------------------------------------------------------- merging
def _chain(b: GraphBuilder, op: str, xs, base: str) -> str:
    y = xs[0]
    for x in xs[1:]:
        y = b.op(op, [y, x], base)
    return y


@register_converter(layers.Add)
def add(b, c):
    return _chain(b, "Add", c.inputs, c.name)


@register_converter(layers.Subtract)
def subtract(b, c):
    return b.op("Sub", c.inputs, c.name)


@register_converter(layers.Multiply)
def multiply(b, c):
    return _chain(b, "Mul", c.inputs, c.name)


@register_converter(layers.Average)
def average(b, c):
    return b.op("Mul", [_chain(b, "Add", c.inputs, c.name), b.const(1.0 / len(c.inputs))], c.name)


@register_converter(layers.Maximum)
def maximum(b, c):
    return b.op("Max", c.inputs, c.name)


@register_converter(layers.Minimum)
def minimum(b, c):
    return b.op("Min", c.inputs, c.name)


@register_converter(layers.Concatenate)
def concatenate(b, c):
    return b.op("Concat", c.inputs, c.name, axis=int(c.layer.axis))


@register_converter(layers.Dot)
def dot(b, c):
    """Keras's ``batch_dot``: ``out[b, i..., j...] = sum_k x[b, i..., k] y[b, k, j...]`` over the axes
    given, as one Einsum (a (batch,) result gains an axis of 1); with ``normalize=True`` both inputs are
    first L2-normalised along their axis, ``x / sqrt(max(sum x^2, 1e-12))``."""
    ranks = [len(s) for s in c.input_shapes]
    axes = [c.layer.axes] * 2 if isinstance(c.layer.axes, int) else list(c.layer.axes)
    i, j = (a % r for a, r in zip(axes, ranks))
    xs = list(c.inputs)
    if c.layer.normalize:
        xs = [b.op("Div", [x, b.op("Sqrt", [b.op("Max", [b.reduce("ReduceSum", b.op("Mul", [x, x], c.name), [axis],
                                                                  c.name), b.const(np.float32(1e-12))], c.name)],
                                     c.name)], c.name) for x, axis in zip(xs, (i, j))]
    letters = iter("cdefghijklmnopqrstuvwxy")
    x_spec = ["b"] + [next(letters) for _ in range(ranks[0] - 1)]
    y_spec = ["b"] + [next(letters) for _ in range(ranks[1] - 1)]
    x_spec[i] = y_spec[j] = "z"
    out_spec = ["b"] + [ch for ch in x_spec[1:] if ch != "z"] + [ch for ch in y_spec[1:] if ch != "z"]
    y = b.op("Einsum", xs, c.name, equation=f"{''.join(x_spec)},{''.join(y_spec)}->{''.join(out_spec)}")
    return b.op("Unsqueeze", [y, b.ints([1], "axes")], c.name) if len(out_spec) == 1 else y


# ------------------------------------------------------------------------- embedding
@handles_masks
@register_converter(layers.Embedding)
def embedding(b: GraphBuilder, c: Call):
    """Gather rows of the table; with ``mask_zero`` the output's mask is ``index != 0``."""
    ids = embedding_ids(b, c)
    y = b.op("Gather", [b.const(main_weight(c.layer), f"{c.name}_embeddings"), ids], c.name, axis=0)
    c.output_masks = [embedding_mask(b, c, ids)]
    return y


def embedding_ids(b: GraphBuilder, c: Call) -> str:
    """The indices, float inputs cast to int64."""
    idx = c.inputs[0]
    if c.input_dtypes and np.dtype(c.input_dtypes[0]).kind == "f":
        idx = b.op("Cast", [idx], c.name, to=b.TensorProto.INT64)
    return idx


def embedding_mask(b: GraphBuilder, c: Call, ids: str):
    """``ids != 0`` with ``mask_zero``, else None."""
    if not c.layer.mask_zero:
        return None
    return b.op("Not", [b.op("Equal", [ids, b.const(np.zeros((), idx_dtype(c)))], c.name)], c.name)


def idx_dtype(c: Call):
    """The integer type the indices have in the graph (float inputs are cast to int64)."""
    dtype = np.dtype(c.input_dtypes[0]) if c.input_dtypes else np.dtype(np.int64)
    return np.int64 if dtype.kind == "f" else dtype


@handles_masks
@register_converter(layers.Masking)
def masking(b: GraphBuilder, c: Call):
    """``keep = any(x != mask_value, axis=-1)``; the output ``x * keep`` with ``keep`` as its mask."""
    x = c.inputs[0]
    differs = b.op("Not", [b.op("Equal", [x, b.const(np.float32(c.layer.mask_value))], c.name)], c.name)
    keep_f = b.reduce("ReduceMax", b.op("Cast", [differs], c.name, to=b.TensorProto.FLOAT), [-1], c.name)
    keep = b.op("Cast", [b.op("Squeeze", [keep_f, b.ints([-1], "axes")], c.name)], c.name, to=b.TensorProto.BOOL)
    c.output_masks = [keep]
    return b.op("Mul", [x, keep_f], c.name)


# ------------------------------------------------------------------------- wrappers
@register_converter(layers.TimeDistributed)
def time_distributed(b: GraphBuilder, c: Call):
    """``(batch, time, ...) -> (batch * time, ...)``, the inner layer's converter, then back to
    ``(batch, time, ...)`` with the batch and time taken from the input's runtime shape."""
    inner = c.layer.layer
    x = c.inputs[0]
    in_shape = (None,) + tuple(c.input_shapes[0][2:])
    folded = b.op("Reshape", [x, b.op("Concat", [b.ints([-1]), b.slice(b.op("Shape", [x], c.name), [2],
                                                                          [len(c.input_shapes[0])], [0], c.name)],
                                      c.name, axis=0)], c.name)
    out_shape = tuple(inner.compute_output_shape(in_shape))
    y = converter_for(inner)(b, Call(layer=inner, inputs=[folded], input_shapes=[in_shape],
                                     output_shapes=[out_shape], input_dtypes=c.input_dtypes))
    lead = b.slice(b.op("Shape", [x], c.name), [0], [2], [0], c.name)
    rest = b.slice(b.op("Shape", [y], c.name), [1], [len(out_shape)], [0], c.name)
    return b.op("Reshape", [y, b.op("Concat", [lead, rest], c.name, axis=0)], c.name)


@register_converter(layers.ReversibleEmbedding)
def reversible_embedding(b: GraphBuilder, c: Call):
    """Forward: the embedding lookup. ``reverse=True``: ``logits = x @ E^T`` (or the separate reverse
    table), ``tanh(logits / cap) cap`` with a ``logit_soft_cap``."""
    layer = c.layer
    reverse = c.kwargs.get("reverse", c.args[0] if c.args else False)
    if not reverse:
        return embedding(b, c)
    if layer.reverse_dtype is not None and np.dtype(layer.reverse_dtype) != np.float32:
        raise c.unsupported(f"reverse_dtype={layer.reverse_dtype!r} (the file computes in float32)")
    kernel = main_weight(layer).T if layer.tie_weights else weight(layer.reverse_embeddings)
    y = b.op("MatMul", [c.inputs[0], b.const(kernel, f"{c.name}_reverse")], c.name)
    c.output_masks = [None]
    if layer.logit_soft_cap is not None:
        cap = b.const(np.float32(layer.logit_soft_cap))
        y = b.op("Mul", [b.op("Tanh", [b.op("Div", [y, cap], c.name)], c.name), cap], c.name)
    return y


reversible_embedding.handles_masks = True


@register_converter(layers.SpectralNormalization)
def spectral_normalization(b: GraphBuilder, c: Call):
    """At inference the wrapped layer with its kernel as it stands (the normalised one after training)."""
    inner = c.layer.layer
    return converter_for(inner)(b, Call(layer=inner, inputs=c.inputs, input_shapes=c.input_shapes,
                                        output_shapes=c.output_shapes, input_dtypes=c.input_dtypes))


@register_converter(layers.Pipeline)
def pipeline(b: GraphBuilder, c: Call):
    """Each layer of the pipeline in turn, as at inference."""
    x, shape = c.inputs[0], tuple(c.input_shapes[0])
    for layer in c.layer.layers:
        out_shape = tuple(layer.compute_output_shape(shape))
        x = converter_for(layer)(b, Call(layer=layer, inputs=[x], input_shapes=[shape], output_shapes=[out_shape],
                                          input_dtypes=c.input_dtypes))
        x = x[0] if isinstance(x, (list, tuple)) else x
        shape = out_shape
    return x
