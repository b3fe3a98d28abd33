"""int8 arithmetic of quantized layers, with Keras's ``quantize("int8")`` semantics.

A quantized layer keeps its kernel as int8 ``q_w`` with one float scale per output channel,
``s_w = 127 / max|w|`` over the other axes (so ``w ~ q_w / s_w``). At run time each input row
is quantized the same way, ``q_x = clip(round(x * s_x), -127, 127)`` with
``s_x = 127 / (max_row |x| + epsilon)``, and

    y = (q_x @ q_w) / (s_x * s_w)

The integer product ``q_x @ q_w`` is computed **exactly in float32 BLAS**: every product of
two int8 values has magnitude <= 128 * 128 = 2**14, and a float32 holds every integer up to
2**24, so a dot product of length K <= 2**10 = 1024 is exact whatever order BLAS sums in
(every partial sum is an integer of magnitude <= 1024 * 2**14 = 2**24). A longer contraction
is cut into chunks of 1024 along K; each chunk's float32 GEMM is exact and the chunks are
summed in float64 (exact up to 2**53, i.e. K up to 2**39). The result equals the int64
product, then rounds once to float32 as Keras's ``cast(int32 product, float32)`` does.

The gradient flows to the inputs only, through the dequantized kernel ``q_w / s_w`` (Keras's
custom gradient); the int8 kernel and its scale are constants (non-trainable), the bias trains.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function, Tensor
from .linear_algebra import Einsum
from .convolution import _to_first, _to_last, col2im, output_shape, pad_spatial, windows
from .im2col import same_padding

# the longest contraction whose float32 sum of int8 x int8 products is exact: 2**24 / 2**14
EXACT_CHUNK = 1024
EPSILON = 1e-7  # Keras's backend.epsilon(), the abs-max quantizer's default


def abs_max_quantize_array(x: np.ndarray, axis, value_range=(-127, 127), epsilon=EPSILON):
    """``(round(x * scale) clipped to value_range, scale)``, ``scale = value_range[1] / (max|x| + epsilon)``
    over ``axis`` (kept as size-1 axes); both in ``x``'s float dtype (the values are integers)."""
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    if x.ndim == 2 and axis in (-1, 1) and x.shape[1] <= 64:
        # short rows (a convolution's receptive fields): one vectorised maximum per column is
        # many times faster than NumPy's reduction along a short contiguous axis
        amax = np.abs(x[:, :1]).astype(dtype)
        for j in range(1, x.shape[1]):
            np.maximum(amax, np.abs(x[:, j:j + 1]), out=amax)
    else:
        amax = np.max(np.abs(x), axis=axis, keepdims=True).astype(dtype, copy=False)
    scale = (dtype.type(value_range[1]) / (amax + dtype.type(epsilon))).astype(dtype, copy=False)
    q = np.multiply(x, scale, dtype=dtype)
    np.round(q, out=q)
    np.clip(q, value_range[0], value_range[1], out=q)
    return q, scale


def int8_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The exact product of two integer-valued arrays with entries in [-128, 127], ``(..., M, K) @ (..., K, N)``,
    as float32 (see the module docstring: float32 GEMMs over chunks of K <= 1024, summed in float64)."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    k = a.shape[-1]
    if b.shape[-2] != k:
        raise ValueError(f"int8_matmul: shapes {a.shape} and {b.shape} do not multiply")
    if k <= EXACT_CHUNK:
        return a @ b
    acc = np.zeros(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1]), np.float64)
    for start in range(0, k, EXACT_CHUNK):
        acc += a[..., start:start + EXACT_CHUNK] @ b[..., start:start + EXACT_CHUNK, :]
    return acc.astype(np.float32)


def _quantized_product(rows: np.ndarray, kernel2d: np.ndarray, kernel_scale: np.ndarray,
                       quantize_inputs: bool) -> np.ndarray:
    """``rows @ dequantized kernel`` the way Keras's int8 layers compute it; ``quantize_inputs`` is
    True (abs-max per row), False (float inputs) or a quantizer called as ``(rows, axis=-1)`` that
    returns ``(q, scale)`` with ``rows ~ q / scale`` (a config's own activation quantizer)."""
    dtype = rows.dtype if rows.dtype.kind == "f" else np.dtype(np.float32)
    if callable(quantize_inputs):
        q, scale = quantize_inputs(rows, axis=-1)
        q, scale = np.asarray(getattr(q, "data", q)), np.asarray(getattr(scale, "data", scale), dtype)
        return int8_matmul(q, kernel2d).astype(dtype, copy=False) / (scale * kernel_scale.astype(dtype))
    if quantize_inputs:
        q, scale = abs_max_quantize_array(rows, axis=-1)
        y = int8_matmul(q, kernel2d).astype(dtype, copy=False)
        # y / (s_x * s_w) as two in-place divisions: no (rows, out) array of scales (Keras divides
        # once by the product; the two agree to a float32 rounding)
        np.divide(y, scale, out=y)
        np.divide(y, kernel_scale.astype(dtype), out=y)
        return y
    # no activation quantizer: float inputs times the int8 kernel, de-scaled by s_w only
    return (rows @ kernel2d.astype(dtype)) / kernel_scale.astype(dtype)


def _dequantized(kernel: np.ndarray, kernel_scale: np.ndarray, dtype) -> np.ndarray:
    """``q_w / s_w``, the float kernel the gradient flows through."""
    return kernel.astype(dtype) / kernel_scale.astype(dtype)


class QuantizedLinear(Function):
    """``y = (q_x @ q_w) / (s_x * s_w) + bias`` over the last axis; int8 kernel ``(in, out)``."""

    def forward(self, x, bias=None, kernel=None, kernel_scale=None, quantize_inputs=True):
        if kernel.ndim != 2 or x.ndim == 0 or x.shape[-1] != kernel.shape[0]:
            raise ValueError(f"quantized_linear: input of shape {x.shape} does not match the int8 kernel of shape "
                             f"{kernel.shape}")
        x2 = x.reshape(-1, x.shape[-1])
        y = _quantized_product(x2, kernel, kernel_scale, quantize_inputs)
        if bias is not None:
            y += bias
        self.in_shape = x.shape
        self.kernel, self.kernel_scale = kernel, kernel_scale
        return y.reshape(*x.shape[:-1], kernel.shape[1])

    def backward(self, g):
        # dX = dY (q_w / s_w)^T: Keras's gradient through the dequantized kernel;  db = sum_rows dY
        g2 = g.reshape(-1, g.shape[-1])
        gx = None
        if self.needs_input_grad[0]:
            gx = (g2 @ _dequantized(self.kernel, self.kernel_scale, g.dtype).T).reshape(self.in_shape)
        gb = g2.sum(axis=0) if len(self.needs_input_grad) > 1 and self.needs_input_grad[1] else None
        return gx, gb

    def graph_backward(self, g):
        # linear in g through the constant dequantized kernel: the same products, recorded
        g2 = g.reshape((-1, g.shape[-1]))
        gx = gb = None
        if self.needs_input_grad[0]:
            kernel_t = _dequantized(self.kernel, self.kernel_scale, g.dtype).T
            gx = (g2 @ Tensor(np.ascontiguousarray(kernel_t), dtype=g.dtype)).reshape(self.in_shape)
        if len(self.needs_input_grad) > 1 and self.needs_input_grad[1]:
            gb = g2.sum(axis=0)
        return gx, gb


def quantized_linear(x, kernel, kernel_scale, bias=None, quantize_inputs=True):
    """``x @ (kernel / kernel_scale) + bias`` computed as Keras's int8 Dense does (module docstring);
    ``kernel`` an int8 array ``(in, out)``, ``kernel_scale`` ``(out,)``."""
    kernel, kernel_scale = np.asarray(getattr(kernel, "data", kernel)), np.asarray(getattr(kernel_scale, "data",
                                                                                           kernel_scale))
    args = (x,) if bias is None else (x, bias)
    return QuantizedLinear.apply(*args, kernel=kernel, kernel_scale=kernel_scale, quantize_inputs=quantize_inputs)


class QuantizedConv(Function):
    """N-D convolution with an int8 kernel ``(*kernel_size, in_channels, filters)``: the im2col rows
    (one receptive field each, the rows of a Dense layer's input) are quantized per row, and
    ``y = (q_cols @ q_w) / (s_cols * s_w)`` as in ``QuantizedLinear``."""

    def forward(self, x, kernel=None, kernel_scale=None, strides=None, padding="valid", dilation=None,
                channels_first=False, quantize_inputs=True):
        x = _to_last(x, channels_first)
        nd = x.ndim - 2
        *ks, cin, cout = kernel.shape
        if kernel.ndim != nd + 2 or x.shape[-1] != cin:
            raise ValueError(f"quantized_conv: inputs of shape {x.shape} (channels last) do not match the int8 "
                             f"kernel of shape {kernel.shape}")
        pads = ([same_padding(n, k, s, d) for n, k, s, d in zip(x.shape[1:-1], ks, strides, dilation)]
                if padding == "same" else [(0, 0)] * nd)
        out_shape = output_shape(x.shape[1:-1], ks, strides, dilation, pads)
        if min(out_shape) < 1:
            raise ValueError(f"quantized_conv: the kernel {tuple(ks)} does not fit in the input of shape {x.shape}")
        xp = pad_spatial(x, pads)
        taps = math.prod(ks)
        rows = x.shape[0] * math.prod(out_shape)
        cols = np.ascontiguousarray(windows(xp, ks, strides, dilation, out_shape)).reshape(rows, taps * cin)
        out = _quantized_product(cols, kernel.reshape(taps * cin, cout), kernel_scale, quantize_inputs)
        self.geometry = (x.shape, xp.shape, pads, tuple(ks), strides, dilation, out_shape, channels_first)
        self.kernel, self.kernel_scale = kernel, kernel_scale
        return _to_first(out.reshape(x.shape[0], *out_shape, cout), channels_first)

    def backward(self, g):
        # dcols = dOut (q_w / s_w)^T, scattered back onto the input (col2im)
        x_shape, xp_shape, pads, ks, strides, dilation, out_shape, channels_first = self.geometry
        kernel = _dequantized(self.kernel, self.kernel_scale, g.dtype)
        cin, cout = kernel.shape[-2:]
        g2 = _to_last(g, channels_first).reshape(-1, cout)
        dcols = (g2 @ kernel.reshape(-1, cout).T).reshape(x_shape[0], *out_shape, *ks, cin)
        dxp = col2im(dcols, xp_shape, ks, strides, dilation, out_shape)
        dx = dxp[(slice(None),) + tuple(slice(b, b + n) for (b, _), n in zip(pads, x_shape[1:-1]))]
        return (_to_first(dx, channels_first),)


def quantized_conv(inputs, kernel, kernel_scale, strides, padding="valid", dilation=None,
                   channels_first: bool = False, quantize_inputs: bool = True):
    """A convolution with an int8 kernel and per-filter scale (see ``QuantizedConv``); ``strides``
    and ``dilation`` tuples of one int per spatial axis."""
    kernel, kernel_scale = np.asarray(getattr(kernel, "data", kernel)), np.asarray(getattr(kernel_scale, "data",
                                                                                           kernel_scale))
    nd = kernel.ndim - 2
    return QuantizedConv.apply(inputs, kernel=kernel, kernel_scale=kernel_scale, strides=tuple(strides),
                               padding=padding, dilation=tuple(dilation or (1,) * nd),
                               channels_first=channels_first, quantize_inputs=quantize_inputs)


def output_aligned(scale: np.ndarray, spec: str, out_spec: str) -> np.ndarray:
    """A scale over the axes of ``spec`` (size 1 on the axes the output lacks) laid out on the
    output's axes: its kept axes in the output's order, size 1 on the others (Keras's layout of
    an EinsumDense ``kernel_scale``)."""
    kept = [c for c in spec if c in out_spec]
    order = sorted(kept, key=out_spec.index)
    values = scale.reshape([scale.shape[spec.index(c)] for c in kept]).transpose([kept.index(c) for c in order])
    return values.reshape([scale.shape[spec.index(c)] if c in kept else 1 for c in out_spec])


def _int8_contract(x: np.ndarray, kernel: np.ndarray, specs) -> np.ndarray:
    """``einsum(inp,ker->out)`` of integer-valued arrays, exactly, as one batched ``int8_matmul``:
    x to (shared, free, summed), kernel to (shared, summed, kept), as tensordot arranges them."""
    inp, ker, out = specs
    shared = [c for c in inp if c in ker and c in out]
    summed = [c for c in inp if c in ker and c not in out]
    free = [c for c in inp if c not in ker]
    kept = [c for c in ker if c not in inp]
    size = {**dict(zip(inp, x.shape)), **dict(zip(ker, kernel.shape))}

    def prod(letters):
        return math.prod(size[c] for c in letters)

    a = x.transpose([inp.index(c) for c in shared + free + summed]).reshape(prod(shared), prod(free), prod(summed))
    b = kernel.transpose([ker.index(c) for c in shared + summed + kept]).reshape(prod(shared), prod(summed),
                                                                                prod(kept))
    order = shared + free + kept
    y = int8_matmul(a, b).reshape([size[c] for c in order])
    return y.transpose([order.index(c) for c in out])


class QuantizedEinsum(Function):
    """``einsum(inp,ker->out)`` with an int8 kernel, as Keras's int8 EinsumDense computes it: the
    inputs quantized by abs-max over their contracted axes, ``y = (q_x . q_w) / (s_x * s_w)`` with
    both scales laid out on the output's axes; the gradient flows through ``q_w / s_w``."""

    def forward(self, x, kernel=None, kernel_scale=None, specs=None, quantize_inputs=True):
        inp, ker, out = specs
        if x.ndim != len(inp) or kernel.ndim != len(ker):
            raise ValueError(f"quantized_einsum: inputs of shape {x.shape} and int8 kernel of shape {kernel.shape} "
                             f"do not fit {inp},{ker}->{out}")
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
        self.specs, self.x_shape = specs, x.shape
        self.float_kernel = self._float_kernel(kernel, kernel_scale, dtype)
        if not quantize_inputs:
            return np.einsum(f"{inp},{ker}->{out}", x, self.float_kernel, optimize=True).astype(dtype, copy=False)
        reduced = tuple(i for i, c in enumerate(inp) if c not in out)
        q, scale = abs_max_quantize_array(x, axis=reduced)
        y = _int8_contract(q, kernel, specs).astype(dtype, copy=False)
        return y / (output_aligned(scale, inp, out) * kernel_scale.astype(dtype))

    def _float_kernel(self, kernel, kernel_scale, dtype):
        """``q_w / s_w`` with the output-aligned scale brought back onto the kernel's axes."""
        inp, ker, out = self.specs
        kept = [c for c in out if c in ker]
        values = kernel_scale.reshape([kernel_scale.shape[out.index(c)] for c in kept])
        values = values.transpose([kept.index(c) for c in ker if c in kept])
        scale = values.reshape([kernel.shape[i] if c in kept else 1 for i, c in enumerate(ker)])
        return kernel.astype(dtype) / scale.astype(dtype)

    def backward(self, g):
        # dX = einsum(out,ker->inp)(dY, q_w / s_w), Keras's custom gradient
        inp, ker, out = self.specs
        return (np.einsum(f"{out},{ker}->{inp}", g, self.float_kernel.astype(g.dtype), optimize=True),)

    def graph_backward(self, g):
        inp, ker, out = self.specs
        kernel = Tensor(self.float_kernel.astype(g.dtype), dtype=g.dtype)
        return (Einsum.apply(g, kernel, terms=[out, ker], out=inp),)


def quantized_einsum(x, kernel, kernel_scale, specs, quantize_inputs: bool = True):
    """``einsum`` with an int8 kernel and its output-aligned scale (see ``QuantizedEinsum``);
    ``specs`` the ``(input, kernel, output)`` letters with any ``...`` spelled out."""
    kernel, kernel_scale = np.asarray(getattr(kernel, "data", kernel)), np.asarray(getattr(kernel_scale, "data",
                                                                                           kernel_scale))
    return QuantizedEinsum.apply(x, kernel=kernel, kernel_scale=kernel_scale, specs=tuple(specs),
                                 quantize_inputs=quantize_inputs)


def quantized_embedding(ids: np.ndarray, table: np.ndarray, table_scale: np.ndarray, dtype) -> Tensor:
    """Rows of an int8 table de-scaled by their own scale, ``table[ids] / scale[ids]``: a constant,
    as in Keras (the quantized table does not train)."""
    table, table_scale = np.asarray(getattr(table, "data", table)), np.asarray(getattr(table_scale, "data",
                                                                                       table_scale))
    return Tensor(table[ids].astype(dtype) / table_scale[ids].astype(dtype)[..., None])


__all__ = ["EXACT_CHUNK", "QuantizedConv", "QuantizedEinsum", "QuantizedLinear", "abs_max_quantize_array",
           "int8_matmul", "output_aligned", "quantized_conv", "quantized_einsum", "quantized_embedding",
           "quantized_linear"]
