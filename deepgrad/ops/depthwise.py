"""Depthwise convolution (one filter per input channel) computed tap by tap.

With C groups of one channel each, the grouped-GEMM form of a convolution is C matrix-vector
products over an unfolded input ``taps`` times the size of the input. By its taps it is
element-wise instead, channels last:

    out[n, p, c]   = sum_t  xp[n, p*s + t*d, c] * K[t, c]
    dK[t, c]       = sum_{n,p} xp[n, p*s + t*d, c] * dY[n, p, c]
    dxp[n, p*s + t*d, c] += dY[n, p, c] * K[t, c]          (for every tap t)

two passes per tap over the output and one reduction per tap for the kernel, with no unfold.
Where the last spatial stride is 1, a window's (width, channels) block is one contiguous run of
memory, so the passes run over rows of ``width * channels`` values against the tap's weights
tiled along the width (NumPy's inner loop is otherwise only ``channels`` long). A depth
multiplier ``m`` > 1 is the same with each input channel repeated ``m`` times.

The element-wise passes run over the two halves of the batch in two threads (the same
arithmetic per element, so the same bits); the kernel's per-tap reductions split over the taps.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import runtime
from . import workspace


def is_depthwise(cin: int, kernel_shape: tuple) -> bool:
    """Whether a grouped convolution's kernel ``(*k, cin / G, cout)`` has one input channel per group."""
    return kernel_shape[-2] == 1 and cin > 1


def _windows(ks, strides, dilation, out_shape) -> list:
    """Per tap (in the kernel's C order), the slices of the padded input it reads."""
    return [tuple(slice(o * d, o * d + s * (n - 1) + 1, s) for o, s, d, n in zip(offset, strides, dilation, out_shape))
            for offset in itertools.product(*(range(k) for k in ks))]


def _merge(view: np.ndarray, merge: bool) -> np.ndarray:
    """(..., W, C) -> (..., W*C) as a view (never a copy: writes go through), when ``merge``."""
    if not merge:
        return view
    merged = view.view()
    merged.shape = (*view.shape[:-2], view.shape[-2] * view.shape[-1])  # raises rather than copy
    return merged


class Geometry:
    """The taps' windows of one depthwise convolution and how its passes are laid out."""

    def __init__(self, ks, strides, dilation, out_shape, channels: int):
        self.windows = _windows(ks, strides, dilation, out_shape)
        self.merge = strides[-1] == 1   # a window's last two axes are one contiguous run
        self.width = out_shape[-1]
        self.channels = channels

    def weights(self, kernel: np.ndarray) -> np.ndarray:
        """(taps, C) kernel -> each tap's weights as the passes broadcast them."""
        return np.tile(kernel, (1, self.width)) if self.merge else kernel


def _channels_last_rows(x: np.ndarray, m: int) -> np.ndarray:
    """x with each channel repeated ``m`` times, its (width, channels) rows contiguous."""
    if m > 1:
        return np.repeat(x, m, axis=-1)
    item = x.itemsize
    if x.strides[-1] != item or x.strides[-2] != x.shape[-1] * item:   # e.g. a channels-first input's view
        return np.ascontiguousarray(x)
    return x


def forward(xp: np.ndarray, kernel: np.ndarray, ks, strides, dilation, out_shape) -> np.ndarray:
    """xp (N, *padded, C), kernel (*k, 1, C*m) -> (N, *out, C*m)."""
    m = kernel.shape[-1] // xp.shape[-1]
    xp = _channels_last_rows(xp, m)
    c = xp.shape[-1]
    geo = Geometry(ks, strides, dilation, out_shape, c)
    weights = geo.weights(kernel.reshape(-1, c))
    out = workspace.empty((xp.shape[0], *out_shape, c), xp.dtype)
    step = _samples_per_block(out)

    def part(b):
        tmp = np.empty((step, *out.shape[1:]), out.dtype)
        for s in _blocks(b, len(out), step):
            o, t = _merge(out[s], geo.merge), _merge(tmp[:s.stop - s.start], geo.merge)
            for i, window in enumerate(geo.windows):
                x = _merge(xp[(s, *window)], geo.merge)
                if i == 0:
                    np.multiply(x, weights[i], out=o)
                else:
                    np.multiply(x, weights[i], out=t)
                    o += t

    runtime.for_batch_halves(part, len(out), out.size)
    return out


# the passes run over a few samples at a time, so that the block's output, its product with a
# tap and the input rows they read stay in the core's L2 cache (the whole arrays stream from L3
# or memory 2 x taps times): about 1.6x on the forward of a 32x56x56x32 map
BLOCK_BYTES = 512 << 10


def _samples_per_block(out: np.ndarray) -> int:
    return max(1, BLOCK_BYTES // max(1, out[0].nbytes))


def _blocks(part: slice, length: int, step: int):
    """``part`` of a batch of ``length`` as slices of ``step`` samples."""
    start, stop, _ = part.indices(length)
    for first in range(start, stop, step):
        yield slice(first, min(first + step, stop))


def kernel_grad(xp: np.ndarray, g: np.ndarray, kernel_shape, ks, strides, dilation, out_shape) -> np.ndarray:
    """dK (*k, 1, C*m) for the padded input xp (N, *padded, C) and dY g (N, *out, C*m).

    Per tap, the products summed over a few samples at a time (the block's gradient is read by
    every tap while it is in cache), over the merged (width * channels) rows where the last
    stride is 1, the width summed last."""
    m = kernel_shape[-1] // xp.shape[-1]
    xp = _channels_last_rows(xp, m)
    g = np.ascontiguousarray(g)
    c = xp.shape[-1]
    geo = Geometry(ks, strides, dilation, out_shape, c)
    sums = np.zeros((len(geo.windows), geo.width * c if geo.merge else c), g.dtype)
    axes = "abcdefgh"[:g.ndim - (2 if geo.merge else 1)]   # batch and spatial axes, summed
    spec = f"{axes}z,{axes}z->z"
    step = _samples_per_block(g)

    def taps(part):
        chosen = range(len(geo.windows))[part]
        for s in _blocks(slice(None), len(g), step):
            gb = _merge(g[s], geo.merge)
            for i in chosen:
                sums[i] += np.einsum(spec, _merge(xp[(s, *geo.windows[i])], geo.merge), gb)

    if g.size >= (1 << 18) and len(geo.windows) > 1 and runtime.two_threads():
        runtime.for_both_halves(taps, len(geo.windows))
    else:
        taps(slice(None))
    dk = sums.reshape(len(geo.windows), geo.width, c).sum(axis=1) if geo.merge else sums
    return dk.reshape(kernel_shape)


def input_grad(g: np.ndarray, kernel: np.ndarray, xp_shape, ks, strides, dilation, out_shape) -> np.ndarray:
    """d(padded input) (N, *padded, C) for dY g (N, *out, C*m) and the kernel (*k, 1, C*m)."""
    cin = xp_shape[-1]
    c = kernel.shape[-1]
    m = c // cin
    geo = Geometry(ks, strides, dilation, out_shape, c)
    weights = geo.weights(kernel.reshape(-1, c))
    dxp = workspace.empty((*xp_shape[:-1], c), g.dtype)
    step = _samples_per_block(g)

    def part(b):
        tmp = np.empty((step, *g.shape[1:]), g.dtype)
        for s in _blocks(b, len(g), step):
            d, t = dxp[s], _merge(tmp[:s.stop - s.start], geo.merge)
            d.fill(0)
            gb = _merge(g[s], geo.merge)
            for i, window in enumerate(geo.windows):
                np.multiply(gb, weights[i], out=t)
                target = _merge(d[(slice(None), *window)], geo.merge)
                target += t

    runtime.for_batch_halves(part, len(g), g.size)
    if m > 1:   # the repeated channels' gradients add up on their input channel
        return dxp.reshape(*xp_shape, m).sum(axis=-1)
    return dxp
