"""Quantizers and the quantization helpers of ``keras.quantizers``, on NumPy.

``abs_max_quantize`` is the int8 scheme of ``Model.quantize("int8")``: per slice along ``axis``,
``scale = value_range[1] / (max|x| + epsilon)`` and ``q = clip(round(x * scale), *value_range)``,
so ``x ~ q / scale``. ``pack_int4``/``unpack_int4`` store two signed 4-bit values per byte as Keras
does (the first of each pair in the low nibble). The float8 helpers keep Keras's delayed-scaling
formulas (``compute_float8_scale``, ``compute_float8_amax_history``).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function, Tensor
from ..ops.quantized import EPSILON, abs_max_quantize_array
from ..registry import Configurable, Registry
from .float8 import FLOAT8_FORMATS, quantize_and_dequantize_array


def _array(x) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def _tensor(a: np.ndarray) -> Tensor:
    return Tensor(a, dtype=a.dtype)


class Quantizer(Configurable):
    """Base class: ``__call__(x)`` returns the quantized ``x`` (the identity here)."""

    def __init__(self, output_dtype="int8"):
        self.output_dtype = output_dtype

    def __call__(self, x):
        return x

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config()")


def abs_max_quantize(inputs, axis, value_range=(-127, 127), dtype="int8", epsilon=EPSILON, to_numpy=False):
    """``(quantized inputs as dtype, scale)``: per slice along ``axis``,
    ``scale = value_range[1] / (max|x| + epsilon)`` (kept with size-1 axes) and
    ``q = clip(round(x * scale), *value_range)``. ``to_numpy`` is accepted for Keras's signature
    (the computation is NumPy's either way)."""
    x = _array(inputs)
    q, scale = abs_max_quantize_array(x, axis if not isinstance(axis, list) else tuple(axis), value_range, epsilon)
    return _tensor(q.astype(dtype)), _tensor(scale)


def abs_max_quantize_grouped_with_zero_point(inputs, block_size, value_range=(-8, 7), dtype="int8",
                                             epsilon=EPSILON, to_numpy=False):
    """Asymmetric quantization of a 2-D ``(input_dim, output_dim)`` tensor in groups of ``block_size``
    rows: per group and column ``scale = (max - min + epsilon) / (qmax - qmin)``,
    ``zero = clip(round(-min / scale) + qmin)``, ``q = clip(round(x / scale) + zero)``. Returns
    ``(q, scale, zero)`` with ``scale`` and ``zero`` of shape ``(ceil(input_dim / block_size), output_dim)``."""
    x = _array(inputs)
    if x.ndim != 2:
        raise ValueError(f"abs_max_quantize_grouped_with_zero_point: expected a 2-D tensor, got shape {x.shape}")
    rows, cols = x.shape
    groups = math.ceil(rows / block_size)
    qmin, qmax = value_range
    padded = np.concatenate([x, np.zeros((groups * block_size - rows, cols), x.dtype)]) if groups * block_size > rows \
        else x
    blocks = padded.reshape(groups, block_size, cols)
    lo, hi = blocks.min(axis=1, keepdims=True), blocks.max(axis=1, keepdims=True)
    scale = (hi - lo + epsilon) / (qmax - qmin)
    zero = np.clip(np.round(-lo / scale) + qmin, qmin, qmax)
    q = np.clip(np.round(blocks / scale) + zero, qmin, qmax).astype(dtype)
    q = q.reshape(groups * block_size, cols)[:rows]
    return _tensor(q), _tensor(scale[:, 0].astype(x.dtype)), _tensor(zero[:, 0].astype("int8"))


class AbsMaxQuantizer(Quantizer):
    """``abs_max_quantize`` along ``axis`` (given here or to ``__call__``; -1 when neither is)."""

    def __init__(self, axis=None, value_range=(-127, 127), epsilon=EPSILON, output_dtype="int8"):
        super().__init__(output_dtype=output_dtype)
        self.axis = None if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
        self.value_range = tuple(value_range)
        self.epsilon = epsilon
        if output_dtype == "int8" and (self.value_range[0] < -128 or self.value_range[1] > 127):
            raise ValueError(f"AbsMaxQuantizer: output_dtype='int8' needs value_range within [-128, 127], "
                             f"got value_range={value_range}")

    def __call__(self, x, axis=None, to_numpy=False):
        axis = self.axis if axis is None else axis
        return abs_max_quantize(x, -1 if axis is None else axis, self.value_range, self.output_dtype, self.epsilon)

    def get_config(self):
        config = {"value_range": list(self.value_range), "epsilon": self.epsilon, "output_dtype": self.output_dtype}
        if self.axis is not None:
            config["axis"] = list(self.axis)
        return config


class FakeQuant(Function):
    """Fake quantization onto ``[min, max]`` with ``2**num_bits`` levels (nudged so 0 is exact);
    the gradient passes where ``min <= x <= max`` and goes to ``min``/``max`` where x is clipped."""

    def forward(self, x, lo, hi, num_bits=8, narrow_range=False, axis=None):
        qmin, qmax = (1 if narrow_range else 0), (1 << num_bits) - 1
        lo64, hi64 = lo.astype(np.float64), hi.astype(np.float64)
        if axis is not None:  # per channel: the bounds lie along ``axis``
            shape = [1] * x.ndim
            shape[axis] = -1
            lo64, hi64 = lo64.reshape(shape), hi64.reshape(shape)
        scale = (hi64 - lo64) / (qmax - qmin)
        zero = np.round(np.clip(qmin - lo64 / scale, qmin, qmax))
        nudged_lo, nudged_hi = (qmin - zero) * scale, (qmax - zero) * scale
        quant_zero = np.floor(-nudged_lo / scale + 0.5)
        clamped = np.clip(x, nudged_lo, nudged_hi)
        out = np.floor((clamped - nudged_lo) / scale - quant_zero + 0.5) * scale
        self.masks = ((x >= nudged_lo) & (x <= nudged_hi), x <= nudged_lo, x >= nudged_hi)
        self.axis, self.bound_shape = axis, lo.shape
        return out.astype(x.dtype)

    def backward(self, g):
        inside, below, above = self.masks
        axes = tuple(i for i in range(g.ndim) if i != self.axis) if self.axis is not None else None
        d_lo = np.where(below, g, 0).sum(axis=axes).reshape(self.bound_shape)
        d_hi = np.where(above, g, 0).sum(axis=axes).reshape(self.bound_shape)
        return np.where(inside, g, 0), d_lo, d_hi

    def graph_backward(self, g):
        # the masks are constants: g routed to x, min and max, each a linear function of g
        inside, below, above = (m.astype(g.dtype) for m in self.masks)
        axes = tuple(i for i in range(g.ndim) if i != self.axis) if self.axis is not None else None
        return (g * inside, (g * below).sum(axis=axes).reshape(self.bound_shape),
                (g * above).sum(axis=axes).reshape(self.bound_shape))


def fake_quant_with_min_max_vars(inputs, min_vals, max_vals, num_bits=8, narrow_range=False, axis=None):
    """Per-tensor (``axis=None``) or per-channel fake quantization of ``inputs`` into
    ``[min_vals, max_vals]`` on ``2**num_bits`` levels (``narrow_range`` drops the lowest);
    differentiable in the inputs and in both bounds."""
    x = inputs if isinstance(inputs, Tensor) else Tensor(np.asarray(inputs))
    if axis is not None:
        axis = axis % x.ndim
    return FakeQuant.apply(x, min_vals, max_vals, num_bits=int(num_bits), narrow_range=bool(narrow_range), axis=axis)


def compute_float8_scale(amax, scale, dtype_max, margin=0):
    """The new delayed-scaling factor: ``1 / ((dtype_max / amax) / 2**margin)``, the old ``scale``
    where ``amax`` is 0 or not finite."""
    amax, scale = _array(amax), _array(scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        sf = np.divide(np.divide(dtype_max, amax), 2 ** margin)
        sf = np.where((amax > 0.0) & np.isfinite(amax), sf, np.reciprocal(scale))
        return _tensor(np.asarray(np.reciprocal(sf), dtype=scale.dtype))


def compute_float8_amax_history(x, amax_history):
    """``amax_history`` rolled back by one with ``max|x|`` written first."""
    history = _array(amax_history)
    new = np.roll(history, -1)
    new[0] = np.max(np.abs(_array(x)))
    return _tensor(new)


def _numpy_dtype(name: str):
    """``name`` as a NumPy dtype; the float8 types come from ml_dtypes (Keras's dependency)."""
    try:
        import ml_dtypes
    except ImportError:
        ml_dtypes = None
    if ml_dtypes is not None and hasattr(ml_dtypes, str(name)):
        return np.dtype(getattr(ml_dtypes, str(name))), ml_dtypes
    try:
        return np.dtype(name), None
    except TypeError:
        raise ValueError(f"quantize_and_dequantize: unknown dtype {name!r} (the float8 types need the ml_dtypes "
                         "package)") from None


def quantize_and_dequantize(inputs, scale, quantized_dtype, compute_dtype):
    """``cast(clip(x / scale, -max, max), quantized_dtype) * scale`` in ``compute_dtype``, where ``max`` is
    the largest finite value of ``quantized_dtype``. The float8 formats are rounded by NumPy
    emulation (``quantizers.float8``), exactly as a cast does."""
    if str(quantized_dtype) in FLOAT8_FORMATS:
        return _tensor(quantize_and_dequantize_array(_array(inputs), _array(scale), quantized_dtype,
                                                     compute_dtype))
    dtype, ml_dtypes = _numpy_dtype(quantized_dtype)
    if ml_dtypes is not None:
        top = float(ml_dtypes.finfo(dtype).max)
    else:
        top = float(np.finfo(dtype).max) if dtype.kind == "f" else float(np.iinfo(dtype).max)
    scale = _array(scale).astype(compute_dtype)
    x = np.clip(_array(inputs).astype(compute_dtype) / scale, -top, top)
    return _tensor(x.astype(dtype).astype(compute_dtype) * scale)


def pack_int4(arr, axis=0, dtype="int8"):
    """``(packed, packed_shape, orig_len)``: int4 values in [-8, 7] paired along ``axis`` into
    bytes, the first of each pair in the low nibble (an odd length is padded with a 0)."""
    if dtype not in ("int8", "uint8"):
        raise ValueError(f"pack_int4: dtype must be 'int8' or 'uint8', got {dtype!r}")
    a = _array(arr)
    if a.dtype != np.dtype(dtype):
        raise TypeError(f"pack_int4: expected a {dtype} tensor, got {a.dtype}")
    a = np.moveaxis(a, axis, 0)
    n = a.shape[0]
    if n % 2:
        a = np.concatenate([a, np.zeros((1,) + a.shape[1:], a.dtype)])
    packed = ((a[::2] & 0x0F) | ((a[1::2] & 0x0F) << 4)).astype(dtype)
    packed = np.moveaxis(packed, 0, axis)
    return _tensor(packed), tuple(packed.shape), n


def unpack_int4(packed, orig_len, axis=0, dtype="int8"):
    """The inverse of ``pack_int4``: the low and high nibbles, sign-extended, interleaved along
    ``axis`` and cut to ``orig_len``."""
    if dtype not in ("int8", "uint8"):
        raise ValueError(f"unpack_int4: dtype must be 'int8' or 'uint8', got {dtype!r}")
    p = _array(packed)
    if p.dtype not in (np.int8, np.uint8):
        raise TypeError(f"unpack_int4: expected an int8 or uint8 tensor, got {p.dtype}")
    u = np.moveaxis(p, axis, 0).astype(np.uint8)
    # a nibble n in [0, 16) as a signed int4: (n ^ 8) - 8
    low = ((u & 0x0F).astype(np.int8) ^ 8) - 8
    high = (((u >> 4) & 0x0F).astype(np.int8) ^ 8) - 8
    out = np.empty((2 * u.shape[0],) + u.shape[1:], np.int8)
    out[::2], out[1::2] = low, high
    out = np.moveaxis(out[:orig_len], 0, axis).astype(dtype)
    return _tensor(out)


# the quantizers a config may name (its weight_quantizer and activation_quantizer)
QUANTIZERS = Registry("quantizer", [Quantizer, AbsMaxQuantizer])

__all__ = ["AbsMaxQuantizer", "Quantizer", "abs_max_quantize", "abs_max_quantize_grouped_with_zero_point",
           "compute_float8_amax_history", "compute_float8_scale", "fake_quant_with_min_max_vars", "pack_int4",
           "quantize_and_dequantize", "unpack_int4"]
