"""Converters of the normalisation layers, written with elementary ONNX ops in the layers' own formulas."""
from __future__ import annotations

import numpy as np

from .. import layers
from .graph import Call, GraphBuilder
from .registry import register_converter, weight


def _broadcast(param: np.ndarray, ndim: int, axes) -> np.ndarray:
    """``param`` (the sizes of ``axes``) shaped to broadcast against a rank-``ndim`` input (batch axis 1)."""
    axes = sorted(a % ndim for a in axes)
    shape = [1] * ndim
    for a, n in zip(axes, param.shape if param.ndim == len(axes) else (param.size,)):
        shape[a] = n
    return param.reshape(shape)


def _standardize(b: GraphBuilder, x: str, axes, epsilon: float, base: str, center: bool = True) -> str:
    """``(x - mean) / sqrt(var + epsilon)`` over ``axes`` (biased variance); without ``center`` the
    variance is still taken about the mean but x is not shifted (LayerNormalization's rms_scaling)."""
    mean = b.reduce("ReduceMean", x, axes, base)
    d = b.op("Sub", [x, mean], base)
    var = b.reduce("ReduceMean", b.op("Mul", [d, d], base), axes, base)
    std = b.op("Sqrt", [b.op("Add", [var, b.const(np.float32(epsilon))], base)], base)
    return b.op("Div", [d if center else x, std], base)


def _scale_shift(b: GraphBuilder, y: str, gamma, beta, ndim: int, axes, base: str) -> str:
    if gamma is not None:
        y = b.op("Mul", [y, b.const(_broadcast(weight(gamma), ndim, axes), f"{base}_gamma")], base)
    if beta is not None:
        y = b.op("Add", [y, b.const(_broadcast(weight(beta), ndim, axes), f"{base}_beta")], base)
    return y


@register_converter(layers.BatchNormalization)
def batch_normalization(b: GraphBuilder, c: Call):
    """Inference: ``x * s + t`` with ``s = gamma / sqrt(var + eps)`` and ``t = beta - mean * s``, folded here."""
    layer = c.layer
    ndim = len(c.input_shapes[0])
    axes = [layer._feature_axes[0]]
    var = weight(layer.moving_variance).astype(np.float64)
    scale = 1.0 / np.sqrt(var + layer.epsilon)
    if layer.gamma is not None:
        scale = scale * weight(layer.gamma)
    shift = -weight(layer.moving_mean) * scale
    if layer.beta is not None:
        shift = shift + weight(layer.beta)
    y = b.op("Mul", [c.inputs[0], b.const(_broadcast(scale, ndim, axes), f"{c.name}_scale")], c.name)
    return b.op("Add", [y, b.const(_broadcast(shift, ndim, axes), f"{c.name}_shift")], c.name)


@register_converter(layers.LayerNormalization)
def layer_normalization(b: GraphBuilder, c: Call):
    layer = c.layer
    ndim = len(c.input_shapes[0])
    axes = list(layer._feature_axes)
    y = _standardize(b, c.inputs[0], axes, layer.epsilon, c.name, center=not layer.rms_scaling)
    return _scale_shift(b, y, layer.gamma, None if layer.rms_scaling else layer.beta, ndim, axes, c.name)


@register_converter(layers.GroupNormalization)
def group_normalization(b: GraphBuilder, c: Call):
    """Channels split into (groups, channels / groups); statistics over every axis but batch and group."""
    layer = c.layer
    shape = c.input_shapes[0]
    ndim, axis = len(shape), layer._channel_axis
    channels = int(shape[axis])
    grouped = [0] * axis + [layer.groups, channels // layer.groups] + [0] * (ndim - axis - 1)
    x = b.reshape(c.inputs[0], grouped, c.name)
    reduce = [i for i in range(1, ndim + 1) if i != axis]
    y = _standardize(b, x, reduce, layer.epsilon, c.name)
    y = b.op("Reshape", [y, b.op("Shape", [c.inputs[0]], c.name)], c.name)
    return _scale_shift(b, y, layer.gamma, layer.beta, ndim, [axis], c.name)


@register_converter(layers.RMSNormalization)
def rms_normalization(b: GraphBuilder, c: Call):
    """``x / sqrt(mean(x^2) + epsilon) * scale``."""
    layer = c.layer
    ndim = len(c.input_shapes[0])
    axes = [a % ndim for a in layer.axis]
    x = c.inputs[0]
    ms = b.reduce("ReduceMean", b.op("Mul", [x, x], c.name), axes, c.name)
    y = b.op("Div", [x, b.op("Sqrt", [b.op("Add", [ms, b.const(np.float32(layer.epsilon))], c.name)], c.name)],
             c.name)
    return _scale_shift(b, y, layer.scale, None, ndim, axes, c.name)


@register_converter(layers.UnitNormalization)
def unit_normalization(b: GraphBuilder, c: Call):
    """``x / max(||x||_2, 1e-12)`` over ``axis``."""
    ndim = len(c.input_shapes[0])
    axes = [a % ndim for a in (c.layer.axis if isinstance(c.layer.axis, list) else [c.layer.axis])]
    x = c.inputs[0]
    norm = b.op("Sqrt", [b.reduce("ReduceSum", b.op("Mul", [x, x], c.name), axes, c.name)], c.name)
    return b.op("Div", [x, b.op("Max", [norm, b.const(np.float32(1e-12))], c.name)], c.name)
