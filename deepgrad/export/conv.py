"""Converters of the convolutions (plain, transposed, depthwise, separable), pooling and the
spatial reshaping layers (padding, cropping, up-sampling).

deepgrad's images are channels-last; ONNX's Conv and pooling are channels-first, so a
channels-last input is transposed to ``(batch, channels, *spatial)`` before the node and back
after it. Paddings are computed from the static spatial sizes, as the layers compute them.
"""
from __future__ import annotations

import math

import numpy as np

from .. import layers
from ..ops.convolution import transpose_crops
from .activations import apply_activation
from .graph import Call, GraphBuilder
from .registry import handles_masks, main_weight, register_converter, weight


def _last(c: Call) -> bool:
    return getattr(c.layer, "data_format", "channels_last") != "channels_first"


def to_first(b: GraphBuilder, x: str, rank: int, c: Call) -> str:
    """channels-last ``(N, *spatial, C)`` -> ``(N, C, *spatial)``; ``rank`` spatial axes."""
    return b.transpose(x, [0, rank + 1] + list(range(1, rank + 1)), c.name) if _last(c) else x


def to_last(b: GraphBuilder, x: str, rank: int, c: Call) -> str:
    return b.transpose(x, [0] + list(range(2, rank + 2)) + [1], c.name) if _last(c) else x


def spatial_shape(c: Call, rank: int) -> list:
    shape = c.input_shapes[0]
    return list(shape[1:rank + 1]) if _last(c) else list(shape[2:rank + 2])


def conv_pads(c: Call, rank: int, kernel, strides, dilation, padding: str) -> dict:
    """ONNX ``pads`` (all begins, then all ends) for Keras's "valid", "same" (extra at the end) or
    "causal" ((k - 1) d zeros before); ``auto_pad`` when a spatial size is unknown."""
    if padding == "valid":
        return {"pads": [0] * (2 * rank)}
    if padding == "causal":
        return {"pads": [(kernel[0] - 1) * dilation[0], 0]}
    sizes = spatial_shape(c, rank)
    if any(n is None for n in sizes):
        return {"auto_pad": "SAME_UPPER"}
    begins, ends = [], []
    for n, k, s, d in zip(sizes, kernel, strides, dilation):
        # out = ceil(n / s); total = max((out - 1) s + (k - 1) d + 1 - n, 0), the smaller half first
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
        begins.append(total // 2)
        ends.append(total - total // 2)
    return {"pads": begins + ends}


def _bias_activation(b: GraphBuilder, c: Call, y: str, rank: int, kind: str) -> str:
    """Bias on the channel axis of a channels-first ``y``, back to the layer's layout, activation."""
    layer = c.layer
    bias = getattr(layer, "bias", None)
    if bias is not None:
        y = b.op("Add", [y, b.const(weight(bias).reshape((-1,) + (1,) * rank), f"{c.name}_bias")], c.name)
    y = to_last(b, y, rank, c)
    return apply_activation(b, layer.activation, y, c.name, f"layer {c.name!r} ({kind})")


@register_converter(layers.Conv1D, layers.Conv2D, layers.Conv3D)
def conv(b: GraphBuilder, c: Call):
    layer, rank = c.layer, c.layer.rank
    kernel = main_weight(layer)   # Keras (*k, in / groups, out) -> ONNX (out, in / groups, *k)
    w = np.transpose(kernel, [rank + 1, rank] + list(range(rank)))
    x = to_first(b, c.inputs[0], rank, c)
    y = b.op("Conv", [x, b.const(w, f"{c.name}_kernel")], c.name, kernel_shape=list(layer.kernel_size),
             strides=list(layer.strides), dilations=list(layer.dilation_rate), group=int(layer.groups),
             **conv_pads(c, rank, layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding))
    return _bias_activation(b, c, y, rank, type(layer).__name__)


@register_converter(layers.Conv1DTranspose, layers.Conv2DTranspose, layers.Conv3DTranspose)
def conv_transpose(b: GraphBuilder, c: Call):
    """ONNX's ConvTranspose crops ``pads`` from the full output and adds ``output_padding`` zeros at the end;
    deepgrad's crops (negative = zeros added) map onto those."""
    layer, rank = c.layer, c.layer.rank
    out_pad = layer.output_padding or (None,) * rank
    crops = transpose_crops(layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding, out_pad)
    if any(left < 0 for left, _ in crops):
        raise c.unsupported(f"output cropping {crops} adds zeros before the output")
    kernel = weight(layer.kernel)   # Keras (*k, out, in) -> ONNX (in, out, *k)
    w = np.transpose(kernel, [rank + 1, rank] + list(range(rank)))
    x = to_first(b, c.inputs[0], rank, c)
    y = b.op("ConvTranspose", [x, b.const(w, f"{c.name}_kernel")], c.name, kernel_shape=list(layer.kernel_size),
             strides=list(layer.strides), dilations=list(layer.dilation_rate),
             pads=[max(left, 0) for left, _ in crops] + [max(right, 0) for _, right in crops],
             output_padding=[max(-right, 0) for _, right in crops])
    return _bias_activation(b, c, y, rank, type(layer).__name__)


def _depthwise(b: GraphBuilder, c: Call, x: str, kernel: np.ndarray, rank: int) -> str:
    """Depthwise conv: Keras (*k, C, M) -> ONNX (C M, 1, *k) with group = C (output channel c M + m)."""
    layer = c.layer
    channels, mult = kernel.shape[rank], kernel.shape[rank + 1]
    w = np.transpose(kernel.reshape(kernel.shape[:rank] + (1, channels * mult)), [rank + 1, rank] + list(range(rank)))
    return b.op("Conv", [x, b.const(w, f"{c.name}_depthwise_kernel")], c.name, kernel_shape=list(layer.kernel_size),
                strides=list(layer.strides), dilations=list(layer.dilation_rate), group=int(channels),
                **conv_pads(c, rank, layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding))


@register_converter(layers.DepthwiseConv1D, layers.DepthwiseConv2D)
def depthwise_conv(b: GraphBuilder, c: Call):
    rank = c.layer.rank
    y = _depthwise(b, c, to_first(b, c.inputs[0], rank, c), weight(c.layer.kernel), rank)
    return _bias_activation(b, c, y, rank, type(c.layer).__name__)


@register_converter(layers.SeparableConv1D, layers.SeparableConv2D)
def separable_conv(b: GraphBuilder, c: Call):
    """Depthwise, then a 1x1 convolution with the pointwise kernel (1.., C M, filters)."""
    layer, rank = c.layer, c.layer.rank
    y = _depthwise(b, c, to_first(b, c.inputs[0], rank, c), weight(layer.depthwise_kernel), rank)
    pw = weight(layer.pointwise_kernel)
    w = np.transpose(pw, [rank + 1, rank] + list(range(rank)))
    y = b.op("Conv", [y, b.const(w, f"{c.name}_pointwise_kernel")], c.name, kernel_shape=[1] * rank)
    return _bias_activation(b, c, y, rank, type(layer).__name__)


# ------------------------------------------------------------------------- pooling
@register_converter(layers.MaxPooling1D, layers.MaxPooling2D, layers.MaxPooling3D,
                    layers.AveragePooling1D, layers.AveragePooling2D, layers.AveragePooling3D)
def pooling(b: GraphBuilder, c: Call):
    """Max or average pooling; "same" average pooling divides by the cells inside the input, as Keras
    (ONNX's count_include_pad=0)."""
    layer = c.layer
    rank = len(layer.pool_size)
    op = "MaxPool" if "Max" in type(layer).__name__ else "AveragePool"
    x = to_first(b, c.inputs[0], rank, c)
    pads = conv_pads(c, rank, layer.pool_size, layer.strides, (1,) * rank, layer.padding)
    y = b.op(op, [x], c.name, kernel_shape=list(layer.pool_size), strides=list(layer.strides), **pads)
    return to_last(b, y, rank, c)


@handles_masks
@register_converter(layers.GlobalMaxPooling1D, layers.GlobalMaxPooling2D, layers.GlobalMaxPooling3D,
                    layers.GlobalAveragePooling1D, layers.GlobalAveragePooling2D, layers.GlobalAveragePooling3D)
def global_pooling(b: GraphBuilder, c: Call):
    """Max or mean over the spatial axes; GlobalAveragePooling1D with a (batch, steps) mask averages the
    kept steps only: ``sum(where(keep, x, 0)) / sum(keep)``. The other layers drop the mask, as they do."""
    layer = c.layer
    rank = len(c.input_shapes[0]) - 2
    if c.kwargs.get("mask") is not None or (c.args and c.args[0] is not None):
        raise c.unsupported("a mask argument")
    axes = list(range(1, rank + 1)) if _last(c) else list(range(2, rank + 2))
    c.output_masks = [None]
    if c.mask is not None and isinstance(layer, layers.GlobalAveragePooling1D):
        keep = b.op("Unsqueeze", [b.as_bool(c.mask, c.name), b.ints([1 if not _last(c) else -1], "axes")], c.name)
        total = b.reduce("ReduceSum", b.op("Where", [keep, c.inputs[0], b.const(np.float32(0.0))], c.name), axes,
                         c.name, keepdims=layer.keepdims)
        count = b.reduce("ReduceSum", b.op("Cast", [keep], c.name, to=b.TensorProto.FLOAT), axes, c.name,
                         keepdims=layer.keepdims)
        return b.op("Div", [total, count], c.name)
    op = "ReduceMax" if "Max" in type(layer).__name__ else "ReduceMean"
    return b.reduce(op, c.inputs[0], axes, c.name, keepdims=layer.keepdims)


# ------------------------------------------------------------------------- spatial reshaping
def _spatial_axes(c: Call, rank: int) -> list:
    return list(range(1, rank + 1)) if _last(c) else list(range(2, rank + 2))


@register_converter(layers.ZeroPadding1D, layers.ZeroPadding2D, layers.ZeroPadding3D)
def zero_padding(b: GraphBuilder, c: Call):
    pairs = c.layer.padding
    ndim = len(c.input_shapes[0])
    begins, ends = [0] * ndim, [0] * ndim
    for axis, (lo, hi) in zip(_spatial_axes(c, len(pairs)), pairs):
        begins[axis], ends[axis] = int(lo), int(hi)
    return b.op("Pad", [c.inputs[0], b.ints(begins + ends, "pads")], c.name, mode="constant")


@register_converter(layers.Cropping1D, layers.Cropping2D, layers.Cropping3D)
def cropping(b: GraphBuilder, c: Call):
    pairs = c.layer.cropping
    axes = _spatial_axes(c, len(pairs))
    shape = c.input_shapes[0]
    if any(shape[a] is None for a in axes):
        raise c.unsupported(f"input of shape {shape}: cropping needs known spatial sizes")
    return b.slice(c.inputs[0], [int(lo) for lo, _ in pairs], [int(shape[a]) - int(hi) for a, (_, hi) in
                                                                zip(axes, pairs)], axes, c.name)


@register_converter(layers.UpSampling1D, layers.UpSampling2D, layers.UpSampling3D)
def up_sampling(b: GraphBuilder, c: Call):
    """Nearest-neighbour repetition: Resize with integer scales, ``floor(out_index / scale)``."""
    layer = c.layer
    if getattr(layer, "interpolation", "nearest") != "nearest":
        raise c.unsupported(f"interpolation={layer.interpolation!r} (only 'nearest' is exported)")
    size = list(layer.size)
    scales = [1.0] * len(c.input_shapes[0])
    for axis, s in zip(_spatial_axes(c, len(size)), size):
        scales[axis] = float(s)
    return b.op("Resize", [c.inputs[0], "", b.const(np.asarray(scales, np.float32), "scales")], c.name,
                mode="nearest", nearest_mode="floor", coordinate_transformation_mode="asymmetric")


# ------------------------------------------------------------------------- adaptive pooling
def _adaptive_bins(n: int, out: int) -> list:
    """PyTorch's windows ``[floor(i n / o), ceil((i + 1) n / o))``."""
    return [((i * n) // out, -(-((i + 1) * n) // out)) for i in range(out)]


@register_converter(layers.AdaptiveAveragePooling1D, layers.AdaptiveAveragePooling2D, layers.AdaptiveAveragePooling3D,
                    layers.AdaptiveMaxPooling1D, layers.AdaptiveMaxPooling2D, layers.AdaptiveMaxPooling3D)
def adaptive_pooling(b: GraphBuilder, c: Call):
    """Axis by axis (both poolings are separable over a box): the mean as a (out, in) averaging matrix
    (Einsum), the maximum as one ReduceMax per window (Slice, then Concat). Spatial sizes must be known."""
    layer = c.layer
    rank = len(layer.output_size)
    axes = _spatial_axes(c, rank)
    shape = c.input_shapes[0]
    if any(shape[a] is None for a in axes):
        raise c.unsupported(f"input of shape {shape}: adaptive pooling needs known spatial sizes")
    x = c.inputs[0]
    if c.input_dtypes and np.dtype(c.input_dtypes[0]).kind != "f":
        x = b.op("Cast", [x], c.name, to=b.TensorProto.FLOAT)
    average = "Average" in type(layer).__name__
    letters = "abcdefgh"[:len(shape)]
    for axis, out in zip(axes, layer.output_size):
        bins = _adaptive_bins(int(shape[axis]), int(out))
        if average:
            matrix = np.zeros((out, shape[axis]), np.float32)
            for i, (lo, hi) in enumerate(bins):
                matrix[i, lo:hi] = 1.0 / (hi - lo)
            result = letters.replace(letters[axis], "z")
            x = b.op("Einsum", [x, b.const(matrix, f"{c.name}_bins")], c.name,
                     equation=f"{letters},z{letters[axis]}->{result}")
        else:
            parts = [b.reduce("ReduceMax", b.slice(x, [lo], [hi], [axis], c.name), [axis], c.name)
                     for lo, hi in bins]
            x = b.op("Concat", parts, c.name, axis=axis) if len(parts) > 1 else parts[0]
    return x
