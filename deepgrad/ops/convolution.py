"""N-D convolutions with Keras's signatures: ``conv``, ``conv_transpose``, ``depthwise_conv``, ``separable_conv``.

Inputs are ``(batch, *spatial, channels)`` (``data_format="channels_last"``, Keras's default)
or ``(batch, channels, *spatial)``, with 1, 2 or 3 spatial axes; kernels keep Keras's
layouts, ``(*kernel, in_channels / groups, out_channels)`` for ``conv`` and
``(*kernel, out_channels, in_channels)`` for ``conv_transpose``.

Both directions are im2col and one GEMM: the receptive fields are gathered as rows of a
matrix ``cols`` (one strided copy), multiplied by the kernel seen as a matrix, and the
way back (col2im) scatter-adds the taps of each stride phase block at once (``conv_phases``),
so Python loops only over groups of kernel taps, never over pixels. A transposed
convolution is the same pair run the other way round: col2im forward, im2col backward; a strided
one whose kernel is wider than its stride (with 32 filters or more) runs its forward as one
small correlation per output phase instead (``transpose_phases``), no col2im.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import backend
from ..autograd import Function
from ..runtime import for_batch_halves
from . import blas, depthwise, transpose_phases, workspace
from .conv_phases import col2im_gemm, fill_outside, scatter_add
from .halves import channel_sums, contiguous_halves, over_rows, ufunc_halves
from .halves import conv_matmul
from .im2col import conv1d, conv1d_relu, conv2d, conv2d_relu, same_padding
from .dtypes import result_type
from .nn_activations import as_op_input


# ------------------------------------------------------------------ arguments
def normalize_tuple(value, n: int, name: str, op: str, minimum: int = 1) -> tuple:
    """``2`` -> ``(2, 2)`` for ``n == 2``; a sequence must have ``n`` entries, each >= ``minimum``."""
    if isinstance(value, (int, np.integer)):
        value = (int(value),) * n
    try:
        value = tuple(int(v) for v in value)
    except TypeError:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}") from None
    if len(value) != n or min(value) < minimum:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints >= {minimum}, got {value!r}")
    return value


def data_format_of(data_format, op: str) -> str:
    if data_format is None:
        data_format = getattr(backend, "image_data_format", lambda: "channels_last")()
    data_format = str(data_format).lower()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return data_format


def _padding_of(padding, op: str) -> str:
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    return padding.lower()


def _spatial_rank(x, op: str) -> int:
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"{op}: inputs must have rank 3, 4 or 5 (batch, 1 to 3 spatial axes, channels), "
                         f"got shape {x.shape}")
    return x.ndim - 2


# ------------------------------------------------------------- im2col / col2im
def pad_spatial(x: np.ndarray, pads, value=0) -> np.ndarray:
    """Pad the spatial axes of (N, *spatial, C) by ``pads`` = ((before, after), ...)."""
    if not any(b or a for b, a in pads):
        return x
    out = workspace.empty((x.shape[0], *[n + b + a for n, (b, a) in zip(x.shape[1:-1], pads)], x.shape[-1]), x.dtype)
    box = [(b, b + n) for n, (b, _) in zip(x.shape[1:-1], pads)]
    inside = tuple(slice(lo, hi) for lo, hi in box)

    def pad(samples):  # each half of the batch in its own thread; only the border is filled
        fill_outside(out[samples], box, value)
        out[(samples, *inside)] = x[samples]

    for_batch_halves(pad, len(x), out.size)
    return out


def windows(xp: np.ndarray, kernel, strides, dilation, out_shape) -> np.ndarray:
    """A read-only view (N, *out, *kernel, C) of the receptive fields of the padded input."""
    n, c = xp.shape[0], xp.shape[-1]
    spatial = xp.strides[1:-1]
    return as_strided(xp, shape=(n, *out_shape, *kernel, c), writeable=False,
                      strides=(xp.strides[0], *[t * s for t, s in zip(spatial, strides)],
                               *[t * d for t, d in zip(spatial, dilation)], xp.strides[-1]))


def tap_slices(tap, strides, dilation, out_shape) -> tuple:
    """The cells of the padded input that kernel tap ``tap`` meets, one per output position."""
    return (slice(None),) + tuple(slice(t * d, t * d + s * (o - 1) + 1, s)
                                  for t, s, d, o in zip(tap, strides, dilation, out_shape)) + (slice(None),)


def col2im(dcols: np.ndarray, padded_shape, kernel, strides, dilation, out_shape) -> np.ndarray:
    """The adjoint of ``windows``: dcols (N, *out, *kernel, C) scatter-added onto (N, *padded, C)
    (the taps of a stride's phases in one add, ``conv_phases``)."""
    out = workspace.empty(padded_shape, dcols.dtype)
    scatter_add(out, dcols, kernel, strides, dilation, out_shape, fresh=True)
    return out


def output_shape(spatial, kernel, strides, dilation, pads) -> tuple:
    return tuple((n + b + a - (k - 1) * d - 1) // s + 1
                 for n, k, s, d, (b, a) in zip(spatial, kernel, strides, dilation, pads))


def _to_last(a: np.ndarray, channels_first: bool) -> np.ndarray:
    return np.moveaxis(a, 1, -1) if channels_first else a


def _to_first(a: np.ndarray, channels_first: bool) -> np.ndarray:
    return np.moveaxis(a, -1, 1) if channels_first else a


# ------------------------------------------------------------------ the ops
class Conv(Function):
    """Grouped N-D convolution (cross-correlation): out = cols @ K per group.

    With G groups the input channels split into G blocks of ``cin / G``; block g is seen by
    output channels ``g * cout/G ... (g+1) * cout/G - 1``, one batched GEMM over the groups.
    With ``bias`` (cout,) the bias is added to the output as it is made, and ``ConvReLU`` applies
    a ReLU there too: the depthwise layers' call, whose passes (``depthwise``) add both on blocks
    still in cache and mask dY by ``y > 0`` in the backward's own blocked pass.
    """

    fused_relu = False  # ConvReLU: relu(conv(x, K) + b)

    def forward(self, x, kernel, bias=None, strides=None, padding="valid", dilation=None, channels_first=False,
                op="conv"):
        x = _to_last(x, channels_first)
        nd = x.ndim - 2
        *ks, cin_g, cout = kernel.shape
        cin = x.shape[-1]
        if kernel.ndim != nd + 2:
            raise ValueError(f"{op}: a kernel of rank {nd + 2} is needed for inputs of rank {x.ndim}, "
                             f"got kernel shape {kernel.shape}")
        if cin_g == 0 or cin % cin_g or cout % (cin // cin_g):
            raise ValueError(f"{op}: the input's {cin} channels must be a multiple of the kernel's {cin_g} input "
                             f"channels (groups), and the kernel's {cout} filters a multiple of the groups "
                             f"(input shape {x.shape}, kernel shape {kernel.shape})")
        if bias is not None and bias.shape != (cout,):
            raise ValueError(f"{op}: the bias must have shape ({cout},), one value per filter, got {bias.shape}")
        groups = cin // cin_g
        pads = ([same_padding(n, k, s, d) for n, k, s, d in zip(x.shape[1:-1], ks, strides, dilation)]
                if padding == "same" else [(0, 0)] * nd)
        out_shape = output_shape(x.shape[1:-1], ks, strides, dilation, pads)
        if min(out_shape) < 1:
            raise ValueError(f"{op}: the kernel {tuple(ks)} with dilation {dilation} does not fit in the input "
                             f"of shape {x.shape} (padding {padding!r})")
        padded_shape = (x.shape[0], *[n + b + a for n, (b, a) in zip(x.shape[1:-1], pads)], cin)
        self.geometry = (x.shape, padded_shape, pads, tuple(ks), strides, dilation, out_shape, groups, channels_first)
        if groups > 1 and cin_g == 1:  # depthwise: element-wise by taps, no unfold, padded a block at a time
            out, padded = depthwise.forward(x, kernel, pads, ks, strides, dilation, out_shape, bias, self.fused_relu,
                                            keep=self.needs_input_grad[1])
            self.save_for_backward(padded, kernel, out if self.fused_relu else None)
            return _to_first(out, channels_first)
        xp = pad_spatial(x, pads)
        taps = math.prod(ks)
        rows = x.shape[0] * math.prod(out_shape)
        cols = workspace.contiguous(windows(xp, ks, strides, dilation, out_shape)).reshape(rows, taps * cin)
        if groups == 1:
            out = workspace.matmul(cols, kernel.reshape(taps * cin, cout))
        else:
            out = _group_cols(cols, taps, groups) @ _group_kernel(kernel, taps, groups)  # (G, rows, cout/G)
            out = out.transpose(1, 0, 2).reshape(rows, cout)
        out = out.reshape(x.shape[0], *out_shape, cout)
        if bias is not None:
            out += bias
        if self.fused_relu:
            np.maximum(out, 0, out=out)
        self.save_for_backward(cols if self.needs_input_grad[1] else None, kernel, out if self.fused_relu else None)
        return _to_first(out, channels_first)

    def backward(self, g):
        cols, kernel, relu_out = self.saved
        x_shape, xp_shape, pads, ks, strides, dilation, out_shape, groups, channels_first = self.geometry
        taps, cin = math.prod(ks), x_shape[-1]
        needs = self.needs_input_grad
        need_bias = len(needs) > 2 and needs[2]
        g = _to_last(g, channels_first)
        if groups > 1 and kernel.shape[-2] == 1:   # depthwise: ``cols`` is the padded input's phases
            dx, dkernel, dbias = depthwise.backward(g, cols, kernel, relu_out, x_shape, pads, ks, strides, dilation,
                                                    out_shape, (needs[0], needs[1], need_bias))
            return ((None if dx is None else _to_first(dx, channels_first)), dkernel, dbias)[:len(needs)]
        if relu_out is not None:   # relu'(y) = [y > 0]
            g = g * (relu_out > 0)
        dbias = g.sum(axis=tuple(range(g.ndim - 1))) if need_bias else None
        dx = dkernel = None
        dxp = None
        if groups == 1:
            g2 = g.reshape(-1, kernel.shape[-1])
            if self.needs_input_grad[1]:
                dkernel = blas.matmul(cols.T, g2).reshape(kernel.shape)  # dK = cols^T dOut
            if self.needs_input_grad[0]:  # col2im(dOut K^T), a part of the batch at a time
                dxp = col2im_gemm(g2, kernel.reshape(taps * cin, -1).T, xp_shape, ks, strides, dilation, out_shape)
        else:
            g2 = g.reshape(-1, kernel.shape[-1])
            gg = g2.reshape(len(g2), groups, -1).transpose(1, 0, 2)  # (G, rows, cout/G)
            if self.needs_input_grad[1]:
                dk = _group_cols(cols, taps, groups).transpose(0, 2, 1) @ gg  # (G, taps*cg, cout/G)
                dkernel = dk.reshape(groups, taps, cin // groups, -1).transpose(1, 2, 0, 3).reshape(kernel.shape)
            if self.needs_input_grad[0]:
                dc = gg @ _group_kernel(kernel, taps, groups).transpose(0, 2, 1)  # (G, rows, taps*cg)
                dcols = dc.reshape(groups, -1, taps, cin // groups).transpose(1, 2, 0, 3)
        if self.needs_input_grad[0]:
            if dxp is None:
                dxp = col2im(dcols.reshape(x_shape[0], *out_shape, *ks, cin), xp_shape, ks, strides, dilation, out_shape)
            dx = _to_first(dxp[(slice(None),) + tuple(slice(b, b + n) for (b, _), n in zip(pads, x_shape[1:-1]))],
                           channels_first)
        return (dx, dkernel, dbias)[:len(needs)]

    def graph_backward(self, g):
        channels_first = self.geometry[-1]
        if self.fused_relu:   # a constant mask: no second derivative
            g = g * _to_first(self.saved[2] > 0, channels_first)
        dx, dkernel = _graph_backward(self, g, ConvInputGrad, ConvKernelGrad)
        if len(self.needs_input_grad) == 2:
            return dx, dkernel
        channel = 1 if channels_first else g.ndim - 1
        dbias = g.sum(axis=tuple(i for i in range(g.ndim) if i != channel)) if self.needs_input_grad[2] else None
        return dx, dkernel, dbias


class ConvReLU(Conv):
    fused_relu = True


def _group_cols(cols, taps, groups):
    """(rows, taps*cin) -> (G, rows, taps*cin/G): each group's own channels at every tap."""
    rows = cols.shape[0]
    return cols.reshape(rows, taps, groups, -1).transpose(2, 0, 1, 3).reshape(groups, rows, -1)


def _group_kernel(kernel, taps, groups):
    """(*k, cin/G, cout) -> (G, taps*cin/G, cout/G)."""
    cin_g, cout = kernel.shape[-2:]
    return kernel.reshape(taps, cin_g, groups, cout // groups).transpose(2, 0, 1, 3).reshape(groups, -1, cout // groups)


def transpose_crops(kernel, strides, dilation, padding, output_padding) -> list:
    """Per axis (left, right) cells cut from the full transposed output (negative: zeros added).

    The full output is ``(n - 1) s + (k - 1) d + 1`` long. Keras's padding rule: for "valid",
    ``left = k' - 1`` and ``right = k' - 1 + output_padding`` (default ``max(k', s) - k'``) of
    padding around the dilated input; for "same", a total of ``s + k' - 2`` (or
    ``k' + k' mod 2 - 2 + output_padding``) split with the odd cell on the left, the left
    side at most ``k' - 1``; here ``k' = (k - 1) d + 1``. The crop is ``k' - 1 - pad``.
    """
    crops = []
    for k, s, d, op_ in zip(kernel, strides, dilation, output_padding):
        span = (k - 1) * d + 1
        if padding == "valid":
            op_ = max(span, s) - span if op_ is None else op_
            left, right = span - 1, span - 1 + op_
        else:
            total = s + span - 2 if op_ is None else span + span % 2 - 2 + op_
            left = min(total // 2 + total % 2, span - 1)
            right = total - left
        crops.append((span - 1 - left, span - 1 - right))
    return crops


class ConvTranspose(Function):
    """The adjoint of a convolution: every input cell adds ``x K^T`` over its receptive field.

    With ``bias`` (C,) the bias is added as the cropped output is written (``conv_transpose``'s
    layers pass theirs here: one pass less over the output, no array of its own)."""

    def forward(self, x, kernel, bias=None, strides=None, padding="valid", output_padding=None, dilation=None,
                channels_first=False):
        x = _to_last(x, channels_first)
        nd = x.ndim - 2
        if kernel.ndim != nd + 2 or kernel.shape[-1] != x.shape[-1]:
            raise ValueError(f"conv_transpose: the kernel (*kernel, out_channels, in_channels) must have rank "
                             f"{nd + 2} and {x.shape[-1]} input channels, got kernel shape {kernel.shape} for "
                             f"input shape {x.shape}")
        *ks, cout, cin = kernel.shape
        if bias is not None and bias.shape != (cout,):
            raise ValueError(f"conv_transpose: the bias must have shape ({cout},), one value per filter, got "
                             f"{bias.shape}")
        in_shape = x.shape[1:-1]
        full = tuple((n - 1) * s + (k - 1) * d + 1 for n, k, s, d in zip(in_shape, ks, strides, dilation))
        crops = transpose_crops(ks, strides, dilation, padding, output_padding)
        out_len = [f - cl - cr for f, (cl, cr) in zip(full, crops)]
        if min(out_len) < 1:
            raise ValueError(f"conv_transpose: the output would be empty (input shape {x.shape}, kernel shape "
                             f"{kernel.shape}, padding {padding!r}, output_padding {output_padding})")
        taps = math.prod(ks)
        x2 = x.reshape(-1, cin)
        self.geometry = (x.shape, tuple(ks), strides, dilation, full, crops, channels_first)
        self.save_for_backward(x2 if self.needs_input_grad[1] else None, kernel)
        if transpose_phases.applies(ks, strides, dilation, cout):  # one correlation per output phase
            return _to_first(transpose_phases.conv_transpose_phases(x, kernel, bias, strides, crops, out_len),
                             channels_first)
        # out = col2im(x K^T), made and scattered a part of the batch at a time (conv_phases)
        out = col2im_gemm(x2, kernel.reshape(taps * cout, cin).T, (x.shape[0], *full, cout), ks, strides, dilation,
                          in_shape)
        return _to_first(_crop(out, crops, bias), channels_first)

    def backward(self, g):
        x2, kernel = self.saved
        x_shape, ks, strides, dilation, full, crops, channels_first = self.geometry
        g = _to_last(g, channels_first)
        g_full = workspace.empty((g.shape[0], *full, g.shape[-1]), g.dtype)
        # undo the crop: the part of g that came from the full output goes back to its cells
        src = tuple(slice(max(0, -cl), g.shape[1 + i] - max(0, -cr)) for i, (cl, cr) in enumerate(crops))
        dst = tuple(slice(max(0, cl), f - max(0, cr)) for f, (cl, cr) in zip(full, crops))

        def uncrop(samples):  # zeros only around the box the copy fills
            fill_outside(g_full[samples], [(d.start, d.stop) for d in dst])
            g_full[(samples, *dst)] = g[(samples, *src)]

        over_rows(uncrop, g_full.shape)
        taps, cout, cin = math.prod(ks), kernel.shape[-2], kernel.shape[-1]
        # the unfolded gradient, copied over the two halves of the batch in two threads
        cells = windows(g_full, ks, strides, dilation, x_shape[1:-1])
        dcols = contiguous_halves(cells, workspace.empty(cells.shape, g.dtype)).reshape(-1, taps * cout)
        dx = dkernel = None
        if self.needs_input_grad[0]:
            dx = workspace.empty((len(dcols), cin), dcols.dtype)
            dx = _to_first(conv_matmul(dcols, kernel.reshape(taps * cout, cin), out=dx).reshape(x_shape),
                           channels_first)
        if self.needs_input_grad[1]:
            # cols = x K^T  =>  dK = dcols^T x; in this order the GEMM ran about 5x faster than (x^T dcols)^T
            dkernel = conv_matmul(dcols.T, x2).reshape(kernel.shape)
        if len(self.needs_input_grad) > 2:
            dbias = channel_sums(g, tuple(range(g.ndim - 1))) if self.needs_input_grad[2] else None
            return dx, dkernel, dbias
        return dx, dkernel

    def graph_backward(self, g):
        dx, dkernel = _graph_backward(self, g, ConvTransposeInputGrad, ConvTransposeKernelGrad)
        if len(self.needs_input_grad) == 2:
            return dx, dkernel
        channel = 1 if self.geometry[-1] else g.ndim - 1
        dbias = g.sum(axis=tuple(i for i in range(g.ndim) if i != channel)) if self.needs_input_grad[2] else None
        return dx, dkernel, dbias


def _crop(out: np.ndarray, crops, bias=None) -> np.ndarray:
    """Cut (left, right) cells from each spatial axis of (N, *spatial, C) (a negative count adds
    zeros), then add ``bias`` (C,) if given; C-contiguous."""
    index = (slice(None),) + tuple(slice(max(0, cl), out.shape[1 + i] - max(0, cr)) for i, (cl, cr) in enumerate(crops))
    out = out[index]
    extra = [(max(0, -cl), max(0, -cr)) for cl, cr in crops]
    if any(b or a for b, a in extra):
        out = pad_spatial(out, extra)
    elif bias is not None and not out.flags.c_contiguous:
        # crop and bias in one pass, over the two halves of the batch in two threads
        return ufunc_halves(np.add, out, bias, out=workspace.empty(out.shape, np.result_type(out, bias)))
    else:
        out = contiguous_halves(out)
    if bias is not None:
        ufunc_halves(np.add, out, bias, out=out)
    return out


# ------------------------------------------------------------ public functions
def _float_pair(inputs, kernel):
    x, k = as_op_input(inputs), as_op_input(kernel)
    dtype = result_type(x.dtype.name, k.dtype.name)
    if x.dtype != dtype:
        x = x.astype(dtype)
    if k.dtype != dtype:
        k = k.astype(dtype)
    return x, k


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution; grouped when the kernel has fewer input channels than ``inputs`` (``cin / G``)."""
    x, k = _float_pair(inputs, kernel)
    nd = _spatial_rank(x, "conv")
    if k.ndim != nd + 2:
        raise ValueError(f"conv: the kernel must be (*kernel_size, in_channels, filters), of rank {nd + 2} for "
                         f"inputs of shape {x.shape}, got kernel shape {k.shape}")
    return Conv.apply(x, k, strides=normalize_tuple(strides, nd, "strides", "conv"),
                      padding=_padding_of(padding, "conv"),
                      dilation=normalize_tuple(dilation_rate, nd, "dilation_rate", "conv"),
                      channels_first=data_format_of(data_format, "conv") == "channels_first")


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Each input channel convolved with its own ``multiplier`` filters; kernel ``(*k, cin, multiplier)``."""
    return _depthwise(Conv, inputs, kernel, None, strides, padding, data_format, dilation_rate)


def depthwise_conv_bias(inputs, kernel, bias, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """``depthwise_conv(...) + bias`` (bias (cin * multiplier,), or None) as one op: the depthwise
    layers' call."""
    return _depthwise(Conv, inputs, kernel, bias, strides, padding, data_format, dilation_rate)


def depthwise_conv_bias_relu(inputs, kernel, bias, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """``relu(depthwise_conv(...) + bias)`` as one op: the bias and the ReLU are applied on blocks
    of the output still in cache, and the backward masks dY by ``y > 0`` in its own blocked pass."""
    return _depthwise(ConvReLU, inputs, kernel, bias, strides, padding, data_format, dilation_rate)


def _depthwise(op, inputs, kernel, bias, strides, padding, data_format, dilation_rate):
    x, k = _float_pair(inputs, kernel)
    nd = _spatial_rank(x, "depthwise_conv")
    channels_first = data_format_of(data_format, "depthwise_conv") == "channels_first"
    cin = x.shape[1] if channels_first else x.shape[-1]
    if k.ndim != nd + 2 or k.shape[-2] != cin:
        raise ValueError(f"depthwise_conv: the kernel must be (*kernel, {cin}, multiplier) for inputs of shape "
                         f"{x.shape}, got kernel shape {k.shape}")
    # (*k, cin, m) -> (*k, 1, cin*m): a convolution with one group per input channel
    k = k.reshape(*k.shape[:-2], 1, k.shape[-2] * k.shape[-1])
    operands = (x, k)
    if bias is not None:
        bias = as_op_input(bias)
        operands = (x, k, bias if bias.dtype == x.dtype else bias.astype(x.dtype))
    return op.apply(*operands, strides=normalize_tuple(strides, nd, "strides", "depthwise_conv"),
                    padding=_padding_of(padding, "depthwise_conv"),
                    dilation=normalize_tuple(dilation_rate, nd, "dilation_rate", "depthwise_conv"),
                    channels_first=channels_first, op="depthwise_conv")


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """A depthwise convolution followed by a 1x1 (pointwise) convolution mixing the channels."""
    out = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(out, pointwise_kernel, strides=1, padding="valid", data_format=data_format)


def separable_conv_bias(inputs, depthwise_kernel, pointwise_kernel, bias, strides=1, padding="valid",
                        data_format=None, dilation_rate=1):
    """``separable_conv(...) + bias`` (bias (filters,), or None): the separable layers' call."""
    return _separable(False, inputs, depthwise_kernel, pointwise_kernel, bias, strides, padding, data_format,
                      dilation_rate)


def separable_conv_bias_relu(inputs, depthwise_kernel, pointwise_kernel, bias, strides=1, padding="valid",
                             data_format=None, dilation_rate=1):
    """``relu(separable_conv(...) + bias)``, the bias and the ReLU fused into the pointwise convolution."""
    return _separable(True, inputs, depthwise_kernel, pointwise_kernel, bias, strides, padding, data_format,
                      dilation_rate)


def _separable(relu, inputs, depthwise_kernel, pointwise_kernel, bias, strides, padding, data_format, dilation_rate):
    out = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    nd = out.ndim - 2
    channels_first = data_format_of(data_format, "separable_conv") == "channels_first"
    if nd <= 2 and not channels_first:
        # the 1x1 convolution of channels-last maps: conv2d's (conv1d's) one GEMM, the bias and the
        # ReLU applied to each half of its rows while they are in cache
        pointwise = {(1, False): conv1d, (1, True): conv1d_relu, (2, False): conv2d, (2, True): conv2d_relu}[nd, relu]
        return pointwise(out, pointwise_kernel, bias)
    x, k = _float_pair(out, pointwise_kernel)
    operands = (x, k)
    if bias is not None:
        bias = as_op_input(bias)
        operands = (x, k, bias if bias.dtype == x.dtype else bias.astype(x.dtype))
    return (ConvReLU if relu else Conv).apply(*operands, strides=(1,) * nd, padding="valid", dilation=(1,) * nd,
                                              channels_first=channels_first, op="separable_conv")


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    """Transposed N-D convolution (the gradient of ``conv`` with respect to its input), as Keras sizes it.

    Output length per axis: ``(n - 1) s + k' + output_padding - 2 * pad`` in Keras's rule
    (``n s`` for "same" and ``(n - 1) s + max(k', s)`` for "valid" when ``output_padding``
    is None), with ``k' = (k - 1) dilation + 1``.
    """
    return conv_transpose_bias(inputs, kernel, None, strides, padding, output_padding, data_format, dilation_rate)


def conv_transpose_bias(inputs, kernel, bias, strides=1, padding="valid", output_padding=None, data_format=None,
                        dilation_rate=1):
    """``conv_transpose(...) + bias`` (bias (C,) on the channel axis, or None) as one op: the
    transposed convolution layers' call."""
    x, k = _float_pair(inputs, kernel)
    nd = _spatial_rank(x, "conv_transpose")
    strides = normalize_tuple(strides, nd, "strides", "conv_transpose")
    if output_padding is None:
        output_padding = (None,) * nd
    else:
        output_padding = normalize_tuple(output_padding, nd, "output_padding", "conv_transpose", minimum=0)
    operands = (x, k)
    if bias is not None:
        bias = as_op_input(bias)
        operands = (x, k, bias if bias.dtype == x.dtype else bias.astype(x.dtype))
    return ConvTranspose.apply(*operands, strides=strides, padding=_padding_of(padding, "conv_transpose"),
                               output_padding=output_padding,
                               dilation=normalize_tuple(dilation_rate, nd, "dilation_rate", "conv_transpose"),
                               channels_first=data_format_of(data_format, "conv_transpose") == "channels_first")


# ------------------------------------------- gradients as recorded ops (second derivatives)
# With the trilinear form T(dY, X, K) = <dY, conv(X, K)>, conv's gradients are dX = InputGrad(dY, K)
# and dK = KernelGrad(X, dY); differentiating <u, InputGrad(dY, K)> = T(dY, u, K) gives conv(u, K)
# and KernelGrad(u, dY), and <v, KernelGrad(X, dY)> = T(dY, X, v) gives InputGrad(dY, v) and
# conv(X, v): every order stays within these three ops. The same holds for conv_transpose with
# T'(dY, X, K) = <dY, conv_transpose(X, K)>. The NumPy work is the ops' own forward and
# backward, run on a fresh instance that holds the recorded forward's geometry.
def _conv_params(geometry) -> dict:
    """Conv's keyword arguments that give ``geometry`` again on an input of the same shape."""
    _, _, pads, _, strides, dilation, _, _, channels_first = geometry
    # "same" on an input of the same shape gives the same pads; all-zero pads are "valid"
    padding = "same" if any(b or a for b, a in pads) else "valid"
    return dict(strides=strides, padding=padding, dilation=dilation, channels_first=channels_first)


def _conv_numpy(x, kernel, geometry):
    fn = Conv()
    fn.needs_input_grad = (False, False)
    return fn.forward(x, kernel, **_conv_params(geometry))


def _conv_input_grad(g, kernel, geometry):
    fn = Conv()
    fn.geometry, fn.saved, fn.needs_input_grad = geometry, (None, kernel, None), (True, False)
    return fn.backward(g)[0]


def _conv_kernel_grad(x, g, geometry, kernel_shape):
    _, _, pads, ks, strides, dilation, out_shape, groups, channels_first = geometry
    x = _to_last(x, channels_first)
    if groups > 1 and kernel_shape[-2] == 1:   # depthwise: backward reads the padded input's phases
        cols = depthwise.padded_input(x, kernel_shape[-1], pads, ks, strides, dilation, out_shape)
    else:
        xp = pad_spatial(x, pads)
        cols = np.ascontiguousarray(windows(xp, ks, strides, dilation, out_shape))
        cols = cols.reshape(-1, math.prod(ks) * x.shape[-1])
    fn = Conv()
    kernel = np.broadcast_to(np.zeros((), g.dtype), kernel_shape)  # backward reads only its shape here
    fn.geometry, fn.needs_input_grad = geometry, (False, True)
    fn.saved = (cols, kernel, None)
    return fn.backward(g)[1]


def _graph_backward(fn, g, input_grad, kernel_grad):
    """(dX, dK) of a convolution ``fn`` as recorded ops (``input_grad``, ``kernel_grad``), so that
    they can be differentiated again."""
    x, kernel = fn.inputs[:2]
    need_x, need_k = fn.needs_input_grad[:2]
    dx = input_grad.apply(g, kernel, geometry=fn.geometry) if need_x else None
    dk = kernel_grad.apply(x, g, geometry=fn.geometry, kernel_shape=kernel.shape) if need_k else None
    return dx, dk


class ConvInputGrad(Function):
    """dX of ``Conv`` for the output gradient dY and the kernel K."""

    def forward(self, g, kernel, geometry=None):
        self.geometry = geometry
        self.save_for_backward(g, kernel)
        return _conv_input_grad(g, kernel, geometry)

    def backward(self, u):
        g, kernel = self.saved
        need_g, need_k = self.needs_input_grad
        return (_conv_numpy(u, kernel, self.geometry) if need_g else None,
                _conv_kernel_grad(u, g, self.geometry, kernel.shape) if need_k else None)

    def graph_backward(self, u):
        g, kernel = self.inputs
        need_g, need_k = self.needs_input_grad
        return (Conv.apply(u, kernel, **_conv_params(self.geometry)) if need_g else None,
                ConvKernelGrad.apply(u, g, geometry=self.geometry, kernel_shape=kernel.shape) if need_k else None)


class ConvKernelGrad(Function):
    """dK of ``Conv`` for the input X and the output gradient dY."""

    def forward(self, x, g, geometry=None, kernel_shape=None):
        self.geometry = geometry
        self.save_for_backward(x, g)
        return _conv_kernel_grad(x, g, geometry, kernel_shape)

    def backward(self, v):
        x, g = self.saved
        need_x, need_g = self.needs_input_grad
        return (_conv_input_grad(g, v, self.geometry) if need_x else None,
                _conv_numpy(x, v, self.geometry) if need_g else None)

    def graph_backward(self, v):
        x, g = self.inputs
        need_x, need_g = self.needs_input_grad
        return (ConvInputGrad.apply(g, v, geometry=self.geometry) if need_x else None,
                Conv.apply(x, v, **_conv_params(self.geometry)) if need_g else None)


def _conv_transpose_numpy(x, kernel, geometry):
    """ConvTranspose's forward with the crops of ``geometry`` (those of a recorded forward)."""
    x_shape, ks, strides, dilation, full, crops, channels_first = geometry
    x = _to_last(x, channels_first)
    taps, cout, cin = math.prod(ks), kernel.shape[-2], kernel.shape[-1]
    cols = blas.matmul(x.reshape(-1, cin), kernel.reshape(taps * cout, cin).T).reshape(*x.shape[:-1], *ks, cout)
    out = col2im(cols, (x.shape[0], *full, cout), ks, strides, dilation, x.shape[1:-1])
    return _to_first(_crop(out, crops), channels_first)


def _conv_transpose_grads(geometry, x, kernel, g, needs):
    """ConvTranspose.backward's (dX, dK); ``x`` may be None when only dX is wanted, ``kernel`` a
    stand-in of the right shape when only dK is."""
    fn = ConvTranspose()
    x2 = None if x is None else _to_last(x, geometry[-1]).reshape(-1, kernel.shape[-1])
    fn.geometry, fn.saved, fn.needs_input_grad = geometry, (x2, kernel), needs
    return fn.backward(g)


class ConvTransposeInputGrad(Function):
    """dX of ``ConvTranspose`` for the output gradient dY and the kernel K (a convolution of dY)."""

    def forward(self, g, kernel, geometry=None):
        self.geometry = geometry
        self.save_for_backward(g, kernel)
        return _conv_transpose_grads(geometry, None, kernel, g, (True, False))[0]

    def backward(self, u):
        # <u, InputGrad(dY, K)> = T'(dY, u, K): d/d(dY) = conv_transpose(u, K), d/dK = KernelGrad(u, dY)
        g, kernel = self.saved
        need_g, need_k = self.needs_input_grad
        return (_conv_transpose_numpy(u, kernel, self.geometry) if need_g else None,
                _conv_transpose_grads(self.geometry, u, kernel, g, (False, True))[1] if need_k else None)

    def graph_backward(self, u):
        g, kernel = self.inputs
        need_g, need_k = self.needs_input_grad
        return (ConvTransposeAgain.apply(u, kernel, geometry=self.geometry) if need_g else None,
                ConvTransposeKernelGrad.apply(u, g, geometry=self.geometry, kernel_shape=kernel.shape)
                if need_k else None)


class ConvTransposeKernelGrad(Function):
    """dK of ``ConvTranspose`` for the input X and the output gradient dY."""

    def forward(self, x, g, geometry=None, kernel_shape=None):
        self.geometry = geometry
        self.save_for_backward(x, g)
        kernel = np.broadcast_to(np.zeros((), g.dtype), kernel_shape)  # backward reads only its shape here
        return _conv_transpose_grads(geometry, x, kernel, g, (False, True))[1]

    def backward(self, v):
        # <v, KernelGrad(X, dY)> = T'(dY, X, v): d/dX = InputGrad(dY, v), d/d(dY) = conv_transpose(X, v)
        x, g = self.saved
        need_x, need_g = self.needs_input_grad
        return (_conv_transpose_grads(self.geometry, None, v, g, (True, False))[0] if need_x else None,
                _conv_transpose_numpy(x, v, self.geometry) if need_g else None)

    def graph_backward(self, v):
        x, g = self.inputs
        need_x, need_g = self.needs_input_grad
        return (ConvTransposeInputGrad.apply(g, v, geometry=self.geometry) if need_x else None,
                ConvTransposeAgain.apply(x, v, geometry=self.geometry) if need_g else None)


class ConvTransposeAgain(Function):
    """conv_transpose with the crops of a recorded forward's ``geometry``."""

    def forward(self, x, kernel, geometry=None):
        self.geometry = geometry
        self.save_for_backward(x, kernel)
        return _conv_transpose_numpy(x, kernel, geometry)

    def backward(self, g):
        x, kernel = self.saved
        return _conv_transpose_grads(self.geometry, x, kernel, g, self.needs_input_grad)

    def graph_backward(self, g):
        return _graph_backward(self, g, ConvTransposeInputGrad, ConvTransposeKernelGrad)


__all__ = ["conv", "conv_transpose", "depthwise_conv", "separable_conv"]
