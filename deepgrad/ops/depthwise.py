"""Depthwise convolution (one filter per input channel) computed by taps, one ``einsum`` a pass.

With C groups of one channel each, the grouped-GEMM form of a convolution is C matrix-vector
products over an unfolded input ``taps`` times the size of the input. By its taps it is
element-wise instead, channels last:

    out[n, p, c]   = b[c] + sum_t  xp[n, p*s + t*d, c] * K[t, c]
    dK[t, c]       = sum_{n,p} xp[n, p*s + t*d, c] * dY[n, p, c]
    dxp[n, p*s + t*d, c] += dY[n, p, c] * K[t, c]          (for every tap t)

The forward is one ``einsum`` over a strided view (N, *out, *taps, C) of the padded input: NumPy's
sum-of-products loop adds each tap's ``x * K[t]`` into the output in one pass (a multiply into a
buffer and an add were two, 1.7-2.6x slower). Where the last stride is 1, a window's (width,
channels) block is one contiguous run of memory, so the view's last axis is ``width * channels``
long against the taps' weights tiled along the width (NumPy's inner loop is otherwise only
``channels`` long). The input gradient is made of such correlations too, instead of a zeroed array
and a scatter-add per tap: at stride 1 one, of dY padded by ``(k - 1) d - pad`` on each side with
the kernel flipped,

    dx[n, q, c] = sum_t dYp[n, q + t*d, c] * K[k-1-t, c],

and at stride s one per phase of the positions (``InputGrad``), each with the taps that reach it.
The kernel gradient sums a row of taps' products per einsum. A bias and a ReLU fuse into the forward, and ``relu'(y) = [y > 0]`` into the backward, both on
blocks still in cache. A depth multiplier ``m`` > 1 is the same with each input channel repeated
``m`` times.

Every pass runs over a few samples at a time (the block's output, its products and the input rows
they read stay in the core's L2 cache), over the two halves of the batch in two threads. The
kernel and bias gradients are summed per block, then over the blocks in order: the same bits on
one thread and two.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import runtime
from . import workspace
from .conv_phases import fill_outside


def is_depthwise(cin: int, kernel_shape: tuple) -> bool:
    """Whether a grouped convolution's kernel ``(*k, cin / G, cout)`` has one input channel per group."""
    return kernel_shape[-2] == 1 and cin > 1


def _merge(view: np.ndarray, merge: bool) -> np.ndarray:
    """(..., W, C) -> (..., W*C) as a view (never a copy: writes go through), when ``merge``."""
    if not merge:
        return view
    merged = view.view()
    merged.shape = (*view.shape[:-2], view.shape[-2] * view.shape[-1])  # raises rather than copy
    return merged


class Geometry:
    """How the passes of one depthwise convolution read its input and write its output."""

    def __init__(self, ks, strides, dilation, out_shape, channels: int):
        self.ks, self.strides, self.dilation, self.out_shape = tuple(ks), strides, dilation, tuple(out_shape)
        self.merge = strides[-1] == 1   # a window's last two axes are one contiguous run
        self.width = out_shape[-1]
        self.channels = channels
        nd = len(ks)
        outer, taps = "abcdefgh"[:nd - self.merge], "ijklmnop"[:nd]
        # the output's axes the view keeps (the last merged into z where ``merge``), the taps', z
        self.spec = f"y{outer}{taps}z,{taps}z->y{outer}z"
        # a row of taps (the last kernel axis): their products with dY summed over the samples and rows
        self.row_spec = f"y{outer}jz,y{outer}z->jz"

    def view(self, xp: np.ndarray) -> np.ndarray:
        """The read-only windows (N, *out, *k, C) of the padded input xp (N, *padded, C), as
        (N, *out[:-1], *k, out[-1] * C) where ``merge`` (xp's rows must be contiguous)."""
        spatial = xp.strides[1:-1]
        outs = [t * s for t, s in zip(spatial, self.strides)]
        taps = [t * d for t, d in zip(spatial, self.dilation)]
        if self.merge:
            return as_strided(xp, shape=(len(xp), *self.out_shape[:-1], *self.ks, self.width * xp.shape[-1]),
                              strides=(xp.strides[0], *outs[:-1], *taps, xp.strides[-1]), writeable=False)
        return as_strided(xp, shape=(len(xp), *self.out_shape, *self.ks, xp.shape[-1]),
                          strides=(xp.strides[0], *outs, *taps, xp.strides[-1]), writeable=False)

    def weights(self, kernel: np.ndarray) -> np.ndarray:
        """(taps, C) kernel -> (*k, C), tiled along the width where ``merge``: as the passes read it."""
        kernel = kernel.reshape(*self.ks, kernel.shape[-1])
        return np.tile(kernel, (1,) * len(self.ks) + (self.width,)) if self.merge else kernel

    def per_channel(self, values):
        """A (C,) vector as the passes broadcast it (None stays None)."""
        return values if values is None or not self.merge else np.tile(values, self.width)

    def rows(self, a: np.ndarray) -> np.ndarray:
        """An (N, *out, C) array as the passes write it."""
        return _merge(a, self.merge)

    def channel_sums(self, sums: np.ndarray) -> np.ndarray:
        """(..., z) sums of products -> (..., C): the width summed last where ``merge``."""
        return sums.reshape(*sums.shape[:-1], self.width, self.channels).sum(axis=-2) if self.merge else sums


def _channels_last_rows(x: np.ndarray, m: int) -> np.ndarray:
    """x with each channel repeated ``m`` times, its (width, channels) rows contiguous."""
    if m > 1:
        return np.repeat(x, m, axis=-1)
    item = x.itemsize
    if x.strides[-1] != item or x.strides[-2] != x.shape[-1] * item:   # e.g. a channels-first input's view
        return np.ascontiguousarray(x)
    return x


# the passes run over a few samples at a time, so that the block's output, its products and the
# input rows they read stay in the core's L2 cache (the whole arrays stream from L3 or memory once
# per tap): about 1.6x on the forward of a 32x56x56x32 map when each tap was two passes
BLOCK_BYTES = 512 << 10


def _samples_per_block(out: np.ndarray) -> int:
    return max(1, BLOCK_BYTES // max(1, out[0].nbytes))


def _blocks(length: int, step: int) -> list:
    """A batch of ``length`` as slices of ``step`` samples, the same however the batch is split."""
    return [slice(first, min(first + step, length)) for first in range(0, length, step)]


def _over_blocks(fn, blocks: list, size: int) -> None:
    """``fn(i, block)`` for every block, those of the two halves of the list in two threads."""
    def part(s):
        for i in range(len(blocks))[s]:
            fn(i, blocks[i])

    runtime.for_batch_halves(part, len(blocks), size)


def _correlate(geo: Geometry, xp: np.ndarray, weights: np.ndarray, out: np.ndarray, bias=None,
               relu: bool = False) -> None:
    """out (N, *out, C) = relu(bias + sum_t window_t(xp) * weights[t]), a block at a time."""
    view, rows = geo.view(xp), geo.rows(out)
    bias = geo.per_channel(bias)

    def block(_, s):
        o = rows[s]
        np.einsum(geo.spec, view[s], weights, out=o)
        if bias is not None:
            np.add(o, bias, out=o)
        if relu:
            np.maximum(o, 0, out=o)

    _over_blocks(block, _blocks(len(out), _samples_per_block(out)), out.size)


def forward(xp: np.ndarray, kernel: np.ndarray, ks, strides, dilation, out_shape, bias=None,
            relu: bool = False) -> np.ndarray:
    """xp (N, *padded, C), kernel (*k, 1, C*m), bias (C*m,) or None -> (N, *out, C*m), with the
    ReLU applied when ``relu``."""
    m = kernel.shape[-1] // xp.shape[-1]
    xp = _channels_last_rows(xp, m)
    c = xp.shape[-1]
    geo = Geometry(ks, strides, dilation, out_shape, c)
    out = workspace.empty((xp.shape[0], *out_shape, c), xp.dtype)
    _correlate(geo, xp, geo.weights(kernel.reshape(-1, c)), out, bias, relu)
    return out


def _axis_phases(length: int, out_len: int, k: int, s: int, d: int, before: int) -> list:
    """One spatial axis of dx by its phases: the positions q = s u + r of phase r get

        dx[s u + r] = sum_t dY[u + e_t] K[t],   e_t = (r + before - t d) / s,

    over the taps t with t d = r + before (mod s). Per phase: (r, its length, its taps in the
    order that puts e_t ascending, those e_t)."""
    phases = []
    for r in range(s):
        taps = [t for t in range(k) if (r + before - t * d) % s == 0][::-1]
        phases.append((r, len(range(r, length, s)), taps, [(r + before - t * d) // s for t in taps]))
    return phases


class InputGrad:
    """dx of a depthwise convolution as correlations of dY, padded, with parts of the flipped kernel:
    one per phase of the strides (one in all at stride 1, written straight into dx; s1 x s2 ... of
    them otherwise, each made in a buffer and copied to its positions of dx)."""

    def __init__(self, kernel: np.ndarray, x_shape, pads, ks, strides, dilation, out_shape):
        c = kernel.shape[-1]
        axes = [_axis_phases(n, o, k, s, d, b) for n, o, k, s, d, (b, _) in
                zip(x_shape[1:-1], out_shape, ks, strides, dilation, pads)]
        # dY's padding: every phase's first and last rows inside it
        self.before = [max([0] + [-e[0] for _, _, _, e in axis if e]) for axis in axes]
        after = [max([0] + [u - 1 + e[-1] - (o - 1) for _, u, _, e in axis if e and u]) for axis, o in
                 zip(axes, out_shape)]
        self.padded_shape = (x_shape[0], *[o + b + a for o, b, a in zip(out_shape, self.before, after)], c)
        self.box = [(b, b + o) for b, o in zip(self.before, out_shape)]
        self.direct = all(s == 1 for s in strides)
        kernel = kernel.reshape(*ks, c)
        self.phases = []   # (index into dx, Geometry, dY's start, weights); Geometry None: no taps, zeros
        for combo in itertools.product(*axes):
            shape = tuple(u for _, u, _, _ in combo)
            if 0 in shape:
                continue
            index = (slice(None), *[slice(r, None, s) for (r, _, _, _), s in zip(combo, strides)])
            if any(not taps for _, _, taps, _ in combo):
                self.phases.append((index, None, None, None))
                continue
            geo = Geometry([len(taps) for _, _, taps, _ in combo], (1,) * len(ks),
                           [e[1] - e[0] if len(e) > 1 else 1 for _, _, _, e in combo], shape, c)
            start = (slice(None), *[slice(e[0] + b, None) for (_, _, _, e), b in zip(combo, self.before)])
            part = kernel[np.ix_(*[taps for _, _, taps, _ in combo], range(c))]
            self.phases.append((index, geo, start, geo.weights(part.reshape(-1, c))))

    def block(self, gp: np.ndarray, dx: np.ndarray, s: slice) -> None:
        """dx[s] from the padded dY gp[s]."""
        for index, geo, start, weights in self.phases:
            if geo is None:
                dx[s][index] = 0
            elif self.direct:
                np.einsum(geo.spec, geo.view(gp[start])[s], weights, out=geo.rows(dx[s]))
            else:
                part = np.empty((s.stop - s.start, *geo.out_shape, geo.channels), dx.dtype)
                np.einsum(geo.spec, geo.view(gp[start])[s], weights, out=geo.rows(part))
                dx[s][index] = part


def backward(g: np.ndarray, xp, kernel: np.ndarray, relu_out, x_shape, pads, ks, strides, dilation, out_shape,
             needs) -> tuple:
    """(dx, dK, db) for dY g (N, *out, C*m): dx (N, *x_shape[1:-1], C) from the kernel (*k, 1, C*m),
    dK (*k, 1, C*m) from the padded input xp (N, *padded, C), db (C*m,); each None unless its entry
    of ``needs`` (three bools) is set. ``relu_out``: the output y of a fused ReLU (dY is then
    masked by y > 0), or None. One pass over blocks of samples: mask dY (into the padded copy the
    input gradient reads), then the bias's, the kernel's and the input's gradients of the block."""
    need_x, need_k, need_b = needs
    c = kernel.shape[-1]
    m = c // x_shape[-1]
    n, nd = len(g), len(ks)
    if relu_out is None and not need_x:
        g = np.ascontiguousarray(g)   # read as it is (else only the masking pass reads it, in any layout)
    geo = Geometry(ks, strides, dilation, out_shape, c)
    dx = dk = db = None
    if need_x:
        back = InputGrad(kernel, x_shape, pads, ks, strides, dilation, out_shape)
        gp = workspace.empty(back.padded_shape, g.dtype)
        masked = gp[(slice(None), *[slice(lo, hi) for lo, hi in back.box])]
        dx = workspace.empty((*x_shape[:-1], c), g.dtype)
    else:
        masked = workspace.empty(g.shape, g.dtype) if relu_out is not None else g
    blocks = _blocks(n, _samples_per_block(g))
    if need_k:
        x_view = geo.view(_channels_last_rows(xp, m))
        # a row of taps at a time (10-20% faster than one tap at a time, the rows of dY read once
        # for the row's taps), the block's dY still in cache for every row
        row_views = [x_view[(slice(None),) * (x_view.ndim - nd - 1) + row] for row in np.ndindex(*ks[:-1])]
        dk_parts = np.empty((len(blocks), len(row_views), ks[-1], geo.width * c if geo.merge else c), g.dtype)
    if need_b:
        db_parts = np.empty((len(blocks), geo.width * c if geo.merge else c), g.dtype)
    masked_rows = geo.rows(masked)
    summed = tuple(range(masked_rows.ndim - 1))   # the batch and spatial axes (all but z)

    def block(i, s):
        gb = masked_rows[s]
        if need_x:
            fill_outside(gp[s], back.box)
        if relu_out is not None:   # relu'(y) = [y > 0]
            np.multiply(g[s], relu_out[s] > 0, out=masked[s])
        elif need_x:
            masked[s] = g[s]
        if need_b:
            np.sum(gb, axis=summed, out=db_parts[i])
        if need_k:
            for r, view in enumerate(row_views):
                np.einsum(geo.row_spec, view[s], gb, out=dk_parts[i, r])
        if need_x:
            back.block(gp, dx, s)

    _over_blocks(block, blocks, g.size)
    if need_x and m > 1:   # the repeated channels' gradients add up on their input channel
        dx = dx.reshape(*x_shape, m).sum(axis=-1)
    if need_k:
        dk = geo.channel_sums(dk_parts.sum(axis=0).reshape(math.prod(ks), -1)).reshape(*ks, 1, c)
    if need_b:
        db = geo.channel_sums(db_parts.sum(axis=0))
    return dx, dk, db
