"""float8 on NumPy: the rounding of float8 E4M3FN/E5M2 (and bfloat16) emulated exactly in float32,
and the two fake-quantization ops of Keras's float8 training (``quantize("float8")``).

NumPy has no float8. A float32 ``x`` rounds to the nearest float8 value, ties to even, as a cast
does: with ``e = floor(log2|x|)`` clamped below at the format's smallest normal exponent, the
spacing of the format around ``x`` is ``q = 2**(e - mantissa_bits)`` and the result is
``rint(x / q) * q`` (every step exact: ``q`` is a power of two). Values are clipped to the
format's largest finite value before they are rounded (Keras clips before it casts), so the
formats' overflow (NaN for E4M3FN, inf for E5M2) never arises.

Delayed scaling, as Keras's float8 Dense/EinsumDense train: each float8 tensor has a ``scale``
and an ``amax_history`` (the last ``n`` values of ``max|x|``, newest first). Forward uses the
current scale; the "gradients" of the scale and the history are their new values, which the
optimizer writes in place (``overwrite_with_gradient``):

    new_history = [max|x|] + history[:-1]     new_scale = 1 / (dtype_max / max(history))
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor

# name -> (mantissa bits, smallest normal exponent, largest finite value)
FLOAT8_FORMATS = {
    "float8_e4m3fn": (3, -6, 448.0),
    "float8_e5m2": (2, -14, 57344.0),
}


def float8_max(dtype: str) -> float:
    """The largest finite value of a float8 format."""
    return _format(dtype)[2]


def _format(dtype: str) -> tuple:
    try:
        return FLOAT8_FORMATS[str(dtype)]
    except KeyError:
        raise ValueError(f"float8: unknown float8 dtype {dtype!r}; expected one of {sorted(FLOAT8_FORMATS)}") from None


def round_to_float8(x: np.ndarray, dtype: str) -> np.ndarray:
    """``x`` (float32 or float64) rounded to the nearest value of the float8 format ``dtype``,
    ties to even, in ``x``'s dtype; |x| above the largest finite value rounds as if the exponent
    range went on (clip first, as ``quantize_and_dequantize`` does)."""
    mantissa_bits, min_exponent, _ = _format(dtype)
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    _, e = np.frexp(x)  # x = m * 2**e with 0.5 <= |m| < 1, so floor(log2|x|) = e - 1
    step = np.ldexp(np.ones((), x.dtype), np.maximum(e - 1, min_exponent) - mantissa_bits)
    return np.rint(x / step) * step


def round_to_bfloat16(x: np.ndarray) -> np.ndarray:
    """float32 ``x`` rounded to the nearest bfloat16 (its top 16 bits), ties to even, kept in float32."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    bits = x.view(np.uint32)
    # add 0x7FFF plus the lowest kept bit, then drop the low 16 bits: round to nearest, ties to even
    rounded = ((bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000))
    return np.where(np.isnan(x), x, rounded.view(np.float32))


def quantize_and_dequantize_array(x: np.ndarray, scale, dtype: str, compute_dtype) -> np.ndarray:
    """``round_to_float8(clip(x / scale, -max, max)) * scale`` in ``compute_dtype``."""
    compute_dtype = np.dtype(compute_dtype)
    top = compute_dtype.type(float8_max(dtype))
    scale = np.asarray(scale).astype(compute_dtype)
    q = np.clip(np.asarray(x).astype(compute_dtype) / scale, -top, top)
    return (round_to_float8(q, dtype) * scale).astype(compute_dtype)


def new_float8_scale(amax_history: np.ndarray, scale: np.ndarray, dtype_max: float) -> np.ndarray:
    """``1 / (dtype_max / max(history))``; the old scale while ``max(history)`` is 0 or not finite."""
    amax = np.max(amax_history, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.divide(np.float32(dtype_max), amax)
        factor = np.where((amax > 0.0) & np.isfinite(amax), factor, np.reciprocal(scale))
        return np.reciprocal(factor).astype(scale.dtype)


def new_amax_history(x: np.ndarray, amax_history: np.ndarray) -> np.ndarray:
    """The history shifted by one (its oldest value out) with ``max|x|`` first."""
    new = np.roll(amax_history, -1)
    new[0] = np.max(np.abs(x))
    return new


class Float8QDQ(Function):
    """Forward: ``x`` quantized to float8 with ``scale`` and back. Backward: the gradient passes
    straight through; in training the scale and the history get their new values as gradients
    (None otherwise)."""

    def forward(self, x, scale, history, dtype="float8_e4m3fn", training=False):
        if training and (self.needs_input_grad[1] or self.needs_input_grad[2]):
            self.updates = (new_float8_scale(history, scale, float8_max(dtype)), new_amax_history(x, history))
        else:
            self.updates = (None, None)
        return quantize_and_dequantize_array(x, scale, dtype, x.dtype)

    def backward(self, g):
        # the updates stay: a retained graph's second backward gives the same values
        new_scale, new_history = self.updates
        return g, new_scale, new_history

    def graph_backward(self, g):
        # the identity in g; the new scale and history are values, not functions of g
        new_scale, new_history = self.updates
        return (g, None if new_scale is None else Tensor(new_scale, dtype=new_scale.dtype),
                None if new_history is None else Tensor(new_history, dtype=new_history.dtype))


class Float8GradQDQ(Function):
    """Forward: the identity. Backward: the incoming gradient quantized to float8 (E5M2 by default)
    with ``scale`` and back; the scale and the history get their new values, computed from the
    gradient, as their gradients."""

    def forward(self, x, scale, history, dtype="float8_e5m2"):
        self.dtype = dtype
        self.save_for_backward(scale, history)
        return x.copy()

    def backward(self, g):
        scale, history = self.saved
        return (quantize_and_dequantize_array(g, scale, self.dtype, g.dtype),
                new_float8_scale(history, scale, float8_max(self.dtype)), new_amax_history(g, history))

    def graph_backward(self, g):
        # rounding is piecewise constant in g (derivative 0 almost everywhere): its values as constants
        return tuple(Tensor(a, dtype=a.dtype) for a in self.backward(g.data))


class BFloat16Round(Function):
    """A cast of float32 to bfloat16 and back: forward and backward both round to bfloat16 (the
    gradient crosses the bfloat16 tensor too, as in every Keras backend)."""

    def forward(self, x):
        return round_to_bfloat16(x) if x.dtype == np.float32 else x.copy()

    def backward(self, g):
        return round_to_bfloat16(g) if g.dtype == np.float32 else g

    def graph_backward(self, g):
        # rounding is piecewise constant in g (derivative 0 almost everywhere): its value as a constant
        return Tensor(self.backward(g.data), dtype=g.dtype) if g.dtype == np.float32 else g


def float8_qdq(x: Tensor, scale, history, dtype="float8_e4m3fn", training=False) -> Tensor:
    """``x`` through float8 and back with delayed scaling (see ``Float8QDQ``)."""
    return Float8QDQ.apply(x, scale, history, dtype=dtype, training=bool(training))


def float8_grad_qdq(x: Tensor, scale, history, dtype="float8_e5m2") -> Tensor:
    """``x`` unchanged; its gradient through float8 and back (see ``Float8GradQDQ``)."""
    return Float8GradQDQ.apply(x, scale, history, dtype=dtype)


def bfloat16_round(x: Tensor) -> Tensor:
    """``x`` at bfloat16 precision, and its gradient too."""
    return BFloat16Round.apply(x)


__all__ = ["FLOAT8_FORMATS", "bfloat16_round", "float8_grad_qdq", "float8_max", "float8_qdq", "new_amax_history",
           "new_float8_scale", "quantize_and_dequantize_array", "round_to_bfloat16", "round_to_float8"]
