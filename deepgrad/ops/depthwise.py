"""Depthwise convolution (one filter per input channel) computed by taps, one ``einsum`` a pass.

With C groups of one channel each, the grouped-GEMM form of a convolution is C matrix-vector
products over an unfolded input ``taps`` times the size of the input. By its taps it is
element-wise instead, channels last:

    out[n, p, c]   = b[c] + sum_t  xp[n, p*s + t*d, c] * K[t, c]      (xp: x padded)
    dK[t, c]       = sum_{n,p} xp[n, p*s + t*d, c] * dY[n, p, c]
    dxp[n, p*s + t*d, c] += dY[n, p, c] * K[t, c]          (for every tap t)

The forward is an ``einsum`` over a strided view (N, *out, *taps, C) of the padded input: NumPy's
sum-of-products loop adds each tap's ``x * K[t]`` into the output in one pass (a multiply into a
buffer and an add were two, 1.7-2.6x slower). The input is padded a block of samples at a time as
the forward reads it (``Source``), split along the last spatial axis into the phases of its stride,
so that a window's (width, channels) block is one contiguous run of memory whatever the stride: the
view's last axis is ``width * channels`` long against the taps' weights tiled along the width
(NumPy's inner loop is otherwise only ``channels`` long). One ``einsum`` at stride 1, one per phase
otherwise. The training forward keeps the padded phases for the kernel gradient (written block by
block, read while in cache); without it each thread pads into buffers of its own. The input
gradient is made of such correlations too, instead of a zeroed array and a scatter-add per tap: at
stride 1 one, of dY padded by ``(k - 1) d - pad`` on each side with the kernel flipped,

    dx[n, q, c] = sum_t dYp[n, q + t*d, c] * K[k-1-t, c],

and at stride s one per phase of the positions (``InputGrad``), each with the taps that reach it.
The kernel gradient sums a row of taps' products per einsum and phase. A bias and a ReLU fuse into
the forward, and ``relu'(y) = [y > 0]`` into the backward, both on blocks still in cache. A depth
multiplier ``m`` > 1 is the same with each input channel repeated ``m`` times.

Every pass runs over a few samples at a time (the block's output, its products and the input rows
they read stay in the core's L2 cache), the blocks taken in turn by two threads. The kernel and
bias gradients are summed per block, then over the blocks in order: the same bits on one thread
and two, whichever thread makes a block.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import runtime
from . import depthwise_compiled, workspace
from .conv_phases import fill_outside
from .halves import relu_masked


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
    """How a stride-1 correlation (a phase of the input gradient) reads its padded input and writes
    its output: a window's (width, channels) block is one contiguous run, merged into one axis."""

    def __init__(self, ks, dilation, out_shape, channels: int):
        self.ks, self.dilation, self.out_shape = tuple(ks), dilation, tuple(out_shape)
        self.width = out_shape[-1]
        self.channels = channels
        nd = len(ks)
        outer, taps = "abcdefgh"[:nd - 1], "ijklmnop"[:nd]
        # the output's axes the view keeps (the last merged into z), the taps', z
        self.spec = f"y{outer}{taps}z,{taps}z->y{outer}z"

    def view(self, xp: np.ndarray) -> np.ndarray:
        """The read-only windows (N, *out[:-1], *k, out[-1] * C) of the padded input xp (N, *padded, C)
        (its rows contiguous)."""
        spatial = xp.strides[1:-1]
        taps = [t * d for t, d in zip(spatial, self.dilation)]
        return as_strided(xp, shape=(len(xp), *self.out_shape[:-1], *self.ks, self.width * xp.shape[-1]),
                          strides=(xp.strides[0], *spatial[:-1], *taps, xp.strides[-1]), writeable=False)

    def weights(self, kernel: np.ndarray) -> np.ndarray:
        """(taps, C) kernel -> (*k, out[-1] * C), tiled along the width: as the passes read it."""
        kernel = kernel.reshape(*self.ks, kernel.shape[-1])
        return np.tile(kernel, (1,) * len(self.ks) + (self.width,))

    def rows(self, a: np.ndarray) -> np.ndarray:
        """An (N, *out, C) array as the passes write it."""
        return _merge(a, True)


class Source:
    """The padded input of a depthwise convolution, made a few samples at a time from the input
    itself just before a pass reads them (into the whole batch's arrays when the kernel gradient
    will read them again, else into buffers of the thread), split along the last spatial axis into
    the phases of its stride.

    Along the last axis, tap ``j`` of output column ``w`` reads the padded column ``w s + j d``:
    with ``j d = q s + r``, column ``w + q`` of phase ``r`` (the padded columns ``r, r + s, ...``).
    In a phase's buffer the output's columns are consecutive again, so a window's (width,
    channels) block is one contiguous run and the passes' inner loop runs along ``width *
    channels`` whatever the stride (along the channels only, 32-128 values, it ran 2-2.5x
    slower). The taps of one phase are ``j0, j0 + s/g, ...`` (``g = gcd(s, d)``), at columns
    ``q0, q0 + d/g, ...``: one strided view and one ``einsum`` a phase, the phases' sums added.
    At stride 1 there is one phase, the padded input, and one ``einsum`` as before (the same bits).
    A block's padding cells are zeroed as its samples are copied in."""

    def __init__(self, x_shape, pads, ks, strides, dilation, out_shape, channels: int):
        self.ks, self.out_shape, self.channels = tuple(ks), tuple(out_shape), channels
        nd = len(ks)
        # the leading axes: the padded rows the taps read, and where the input's rows go among them
        lead = [((o - 1) * s + (k - 1) * d + 1, b, n) for o, k, s, d, (b, _), n in
                zip(out_shape[:-1], ks[:-1], strides[:-1], dilation[:-1], pads[:-1], x_shape[1:-2])]
        self.lead_strides, self.lead_dilation = strides[:-1], dilation[:-1]
        k, s, d, o, (b, _), n = ks[-1], strides[-1], dilation[-1], out_shape[-1], pads[-1], x_shape[-2]
        g = math.gcd(s, d)
        # per phase: (buffer shape of a sample, the input's box in it, the input's index, first column,
        # its taps (a slice of the last kernel axis), the columns between its taps)
        self.phases = []
        for j0 in range(min(k, s // g)):
            r, q0 = (j0 * d) % s, (j0 * d) // s
            taps = range(j0, k, s // g)
            cols = (j0 * d + (len(taps) - 1) * (s // g) * d) // s + o   # up to the last tap's last column
            lo, hi = max(0, -(-(b - r) // s)), min(cols, -(-(n + b - r) // s))   # columns that hold the input
            rows = [(min(bb, length), min(bb + nn, length)) for length, bb, nn in lead]
            box = [*rows, (lo, max(lo, hi))]
            index = (*[slice(lo_ - bb, hi_ - bb) for (lo_, hi_), (_, bb, _) in zip(rows, lead)],
                     slice(lo * s + r - b, (hi - 1) * s + r - b + 1, s) if hi > lo else slice(0, 0))
            self.phases.append(((*[length for length, _, _ in lead], cols, channels), box, index, q0,
                                slice(j0, taps[-1] + 1, s // g), d // g))
        outer, tap = "abcdefgh"[:nd - 1], "ijklmnop"[:nd]
        self.spec = f"y{outer}{tap}z,{tap}z->y{outer}z"
        self.row_spec = f"y{outer}jz,y{outer}z->jz"
        self.width = o

    def buffers(self, samples: int, dtype, pooled: bool = False) -> list:
        """Uninitialised arrays of the phases of ``samples`` samples (from the workspace pool when
        ``pooled``)."""
        make = workspace.empty if pooled else np.empty
        return [make((samples, *shape), dtype) for shape, *_ in self.phases]

    def fill(self, parts: list, x: np.ndarray) -> None:
        """The phases' arrays ``parts`` of some samples <- those samples x (N_s, *spatial, C), padded."""
        for part, (_, box, index, _, _, _) in zip(parts, self.phases):
            fill_outside(part, box)
            part[(slice(None), *[slice(lo, hi) for lo, hi in box])] = x[(slice(None), *index)]

    def views(self, parts: list) -> list:
        """The phases ``parts`` as the passes read them: (N_s, *out[:-1], *k[:-1], the phase's taps,
        out[-1] * C), read-only."""
        views = []
        for part, (_, _, _, q0, taps, step) in zip(parts, self.phases):
            st = part.strides
            views.append(as_strided(
                part[(slice(None),) * (part.ndim - 2) + (slice(q0, None),)],
                shape=(len(part), *self.out_shape[:-1], *self.ks[:-1], len(range(taps.start, taps.stop, taps.step)),
                       self.width * self.channels),
                strides=(st[0], *[t * v for t, v in zip(st[1:-2], self.lead_strides)],
                         *[t * v for t, v in zip(st[1:-2], self.lead_dilation)], step * st[-2], st[-1]),
                writeable=False))
        return views

    def tap_slices(self) -> list:
        return [taps for _, _, _, _, taps, _ in self.phases]

    def bytes_per_sample(self, itemsize: int) -> int:
        return sum(math.prod(shape) for shape, *_ in self.phases) * itemsize


# the passes run over a few samples at a time, so that the block's output, its products and the
# input rows they read stay in the core's L2 cache (the whole arrays stream from L3 or memory once
# per tap): about 1.6x on the forward of a 32x56x56x32 map when each tap was two passes
BLOCK_BYTES = 512 << 10


def _samples_per_block(nbytes: int) -> int:
    """Samples a block holds when each takes ``nbytes`` of the block's arrays."""
    return max(1, BLOCK_BYTES // max(1, nbytes))


def _blocks(length: int, step: int) -> list:
    """A batch of ``length`` as slices of ``step`` samples, the same however the batch is split."""
    return [slice(first, min(first + step, length)) for first in range(0, length, step)]


def _over_blocks(fn, blocks: list, size: int, scratch=None) -> None:
    """``fn(i, block, buffers)`` for every block, taken in turn by two threads (``runtime.
    for_items_shared``: a thread that starts late takes fewer); ``scratch()`` makes the buffers of
    a thread (once per thread and call, on its first block)."""
    def item(i, mine):
        if "buffers" not in mine:
            mine["buffers"] = scratch() if scratch is not None else None
        fn(i, blocks[i], mine["buffers"])

    runtime.for_items_shared(item, len(blocks), size)


def _phase_weights(source: Source, kernel: np.ndarray) -> list:
    """(taps, C) kernel -> each phase's taps (*k[:-1], its taps, out[-1] * C), tiled along the width."""
    kernel = kernel.reshape(*source.ks, kernel.shape[-1])
    nd = len(source.ks)
    return [np.tile(kernel[(slice(None),) * (nd - 1) + (taps,)], (1,) * nd + (source.width,))
            for taps in source.tap_slices()]


def forward(x: np.ndarray, kernel: np.ndarray, pads, ks, strides, dilation, out_shape, bias=None,
            relu: bool = False, keep: bool = False) -> tuple:
    """x (N, *spatial, C) (any strides), kernel (*k, 1, C*m), bias (C*m,) or None -> (N, *out, C*m),
    with the ReLU applied when ``relu``; and with ``keep`` the padded input's phases (``Source``) of
    the whole batch, for the kernel's gradient (else None, and each thread pads its blocks into
    buffers of its own). Float32 and float64 of one or two spatial axes run the compiled loops
    (``depthwise_compiled``, which keep the input itself instead) when they are built and on."""
    if x.dtype == kernel.dtype and depthwise_compiled.usable(x.dtype, len(ks), "forward"):
        return depthwise_compiled.forward(x, kernel, pads, ks, strides, dilation, out_shape, bias, relu, keep)
    m = kernel.shape[-1] // x.shape[-1]
    if m > 1:
        x = np.repeat(x, m, axis=-1)
    c = x.shape[-1]
    source = Source(x.shape, pads, ks, strides, dilation, out_shape, c)
    out = workspace.empty((x.shape[0], *out_shape, c), x.dtype)
    rows = _merge(out, True)
    weights = _phase_weights(source, kernel.reshape(-1, c))
    bias = None if bias is None else np.tile(bias, source.width)
    step = _samples_per_block(out[0].nbytes + source.bytes_per_sample(x.itemsize))
    kept = source.buffers(len(x), x.dtype, pooled=True) if keep else None

    kept_views = source.views(kept) if keep else None

    def scratch():
        extra = np.empty((step, *rows.shape[1:]), x.dtype) if len(weights) > 1 else None
        bufs = None if keep else source.buffers(step, x.dtype)
        return bufs, (kept_views if keep else source.views(bufs)), extra

    def block(_, s, buffers):
        bufs, all_views, extra = buffers
        o = rows[s]
        at = s if keep else slice(0, len(o))
        source.fill([a[at] for a in (kept if keep else bufs)], x[s])
        views = [v[at] for v in all_views]
        np.einsum(source.spec, views[0], weights[0], out=o)
        for view, w in zip(views[1:], weights[1:]):   # the other phases' taps
            part = extra[:len(o)]
            np.einsum(source.spec, view, w, out=part)
            np.add(o, part, out=o)
        if bias is not None:
            np.add(o, bias, out=o)
        if relu:
            np.maximum(o, 0, out=o)

    _over_blocks(block, _blocks(len(out), step), out.size, scratch)
    return out, kept


def padded_input(x: np.ndarray, channels: int, pads, ks, strides, dilation, out_shape) -> list:
    """The padded input's phases that ``forward`` keeps, for x (N, *spatial, C) and ``channels`` = C*m."""
    m = channels // x.shape[-1]
    if m > 1:
        x = np.repeat(x, m, axis=-1)
    source = Source(x.shape, pads, ks, strides, dilation, out_shape, channels)
    parts = source.buffers(len(x), x.dtype)
    source.fill(parts, x)
    return parts


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


# the input gradient's width phases folded into one correlation (``InputGrad``); False: each
# phase made apart and copied to its positions (kept for comparison)
FOLD_WIDTH = True


class InputGrad:
    """dx of a depthwise convolution as correlations of dY, padded, with parts of the flipped kernel:
    one per phase of the strides (one in all at stride 1, written straight into dx; s1 x s2 ... of
    them otherwise).

    At a last stride s > 1 that divides the input's width (``folded``), the width's s phases are
    not made apart: dY's columns are each repeated s times into a buffer of the thread (a padded
    (..., Wp, s, C) block, merged into (..., Wp, s * C)), and one correlation of it per phase of the
    leading axes writes the rows of dx directly, a row's (width, channels) run in one piece: column
    s v + r of dx is slot r of column v. Its width taps are the union of the phases' offsets
    e_t (consecutive), each phase's absent ones weighted 0, so a phase's terms come in the same
    order as on its own (the same bits, unless dY holds an infinity or a NaN: 0 * inf is a NaN).
    Otherwise each phase is made in a buffer and copied to its positions of dx (their inner run
    only C values long). At 32x56x56x64, stride 2, one thread: 6.3-6.7 ms folded, 7.1-7.8 apart."""

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
        s_last = strides[-1]
        self.folded = (FOLD_WIDTH and s_last > 1 and x_shape[-2] % s_last == 0
                       and any(e for _, _, _, e in axes[-1]))
        self.fold = s_last if self.folded else 1
        kernel = kernel.reshape(*ks, c)
        if self.folded:
            width_axes = [self._width_taps(axes[-1], ks[-1], s_last)]
            axes = axes[:-1]
        else:
            width_axes = []
        self.phases = []   # (index into dx, Geometry, dY's start, weights); Geometry None: no taps, zeros
        for combo in itertools.product(*axes):
            shape = tuple(u for _, u, _, _ in combo)
            if 0 in shape:
                continue
            index = (slice(None), *[slice(r, None, s) for (r, _, _, _), s in zip(combo, strides)])
            if any(not taps for _, _, taps, _ in combo):
                self.phases.append((index, None, None, None))
                continue
            start = (slice(None), *[slice(e[0] + b, None) for (_, _, _, e), b in zip(combo, self.before)])
            part = kernel[np.ix_(*[taps for _, _, taps, _ in combo], *[range(n) for n in ks[len(combo):]],
                                 range(c))]
            lead_ks = [len(taps) for _, _, taps, _ in combo]
            lead_dil = [e[1] - e[0] if len(e) > 1 else 1 for _, _, _, e in combo]
            if self.folded:
                (first, count, table), = width_axes
                # (*lead taps, k) -> (*lead taps, width taps, s, C): tap table[e][r] (or 0) at slot r
                padded = np.concatenate([part, np.zeros((*part.shape[:-2], 1, c), part.dtype)], axis=-2)
                part = padded[..., table, :]
                geo = Geometry([*lead_ks, count], [*lead_dil, 1], (*shape, x_shape[-2] // s_last), s_last * c)
                start = (*start, slice(first + self.before[-1], None))
            else:
                geo = Geometry(lead_ks, lead_dil, shape, c)
            self.phases.append((index, geo, start, geo.weights(part.reshape(-1, geo.channels))))

    @staticmethod
    def _width_taps(phases, k: int, s: int) -> tuple:
        """The folded width's taps: (first offset e, count, table (count, s) of the tap at offset e
        for slot r, or k for none: the zero appended to the kernel)."""
        offsets = [e for _, _, _, es in phases for e in es]
        first, last = min(offsets), max(offsets)
        table = np.full((last - first + 1, s), k, dtype=np.intp)
        for r, _, taps, es in phases:
            for t, e in zip(taps, es):
                table[e - first, r] = t
        return first, last - first + 1, table

    def scratch(self, samples: int, dtype):
        """A thread's buffer for dY's repeated columns (None unless ``folded``)."""
        if not self.folded:
            return None
        return np.empty((samples, *self.padded_shape[1:-1], self.fold * self.padded_shape[-1]), dtype)

    def block(self, gp: np.ndarray, dx: np.ndarray, s: slice, buffer=None) -> None:
        """dx[s] from the padded dY gp[s] (``buffer``: the thread's ``scratch`` when ``folded``)."""
        source = gp
        if self.folded:
            n = s.stop - s.start
            source = buffer[:n]
            np.copyto(source.reshape(*source.shape[:-1], self.fold, -1), gp[s][..., None, :])
        for index, geo, start, weights in self.phases:
            if geo is None:
                dx[s][index] = 0
            elif self.folded:
                np.einsum(geo.spec, geo.view(source[start]), weights, out=_merge(dx[s][index], True))
            elif self.direct:
                np.einsum(geo.spec, geo.view(gp[start])[s], weights, out=geo.rows(dx[s]))
            else:
                part = np.empty((s.stop - s.start, *geo.out_shape, geo.channels), dx.dtype)
                np.einsum(geo.spec, geo.view(gp[start])[s], weights, out=geo.rows(part))
                dx[s][index] = part


def backward(g: np.ndarray, padded, kernel: np.ndarray, relu_out, x_shape, pads, ks, strides, dilation, out_shape,
             needs) -> tuple:
    """(dx, dK, db) for dY g (N, *out, C*m): dx (N, *x_shape[1:-1], C) from the kernel (*k, 1, C*m),
    dK (*k, 1, C*m) from the padded input's phases ``padded`` (``forward``'s, or ``padded_input``),
    db (C*m,); each None unless its entry of ``needs`` (three bools) is set.
    ``relu_out``: the output y of a fused ReLU (dY is then masked by y > 0), or None. One pass over
    blocks of samples: mask dY (into the padded copy the input gradient reads), then the bias's,
    the kernel's and the input's gradients of the block. The compiled loops' (``depthwise_compiled``)
    when the forward ran them (``padded`` their ``Saved``), or when no kernel gradient is asked for
    and they take the case."""
    if isinstance(padded, depthwise_compiled.Saved) or (
            not needs[1] and g.dtype == kernel.dtype and depthwise_compiled.usable(g.dtype, len(ks), "backward")):
        return depthwise_compiled.backward(g, padded, kernel, relu_out, x_shape, pads, ks, strides, dilation,
                                           out_shape, needs)
    need_x, need_k, need_b = needs
    c = kernel.shape[-1]
    m = c // x_shape[-1]
    n, nd = len(g), len(ks)
    width = out_shape[-1]
    if relu_out is None and not need_x:
        g = np.ascontiguousarray(g)   # read as it is (else only the masking pass reads it, in any layout)
    dx = dk = db = None
    if need_x:
        back = InputGrad(kernel, x_shape, pads, ks, strides, dilation, out_shape)
        gp = workspace.empty(back.padded_shape, g.dtype)
        masked = gp[(slice(None), *[slice(lo, hi) for lo, hi in back.box])]
        dx = workspace.empty((*x_shape[:-1], c), g.dtype)
    else:
        masked = workspace.empty(g.shape, g.dtype) if relu_out is not None else g
    source = Source(x_shape, pads, ks, strides, dilation, out_shape, c)
    # the block's dY and padded input in cache (at stride 2, 8.4 against 11.4 ms for dK and db of
    # 32x56x56x64 with the input left out of the block's size)
    blocks = _blocks(n, _samples_per_block(g[0].nbytes + (source.bytes_per_sample(g.itemsize) if need_k else 0)))
    if need_k:
        rows = list(np.ndindex(*ks[:-1]))
        tap_slices = source.tap_slices()
        # per phase, its view of each row of taps (the leading axes' taps)
        row_views = [[view[(slice(None),) * nd + row] for row in rows] for view in source.views(padded)]
        dk_parts = np.empty((len(blocks), len(rows), ks[-1], width * c), g.dtype)
    if need_b:
        db_parts = np.empty((len(blocks), width * c), g.dtype)
    masked_rows = _merge(masked, True)
    summed = tuple(range(masked_rows.ndim - 1))   # the batch and spatial axes (all but z)

    def block(i, s, buffer):
        gb = masked_rows[s]
        if need_x:
            fill_outside(gp[s], back.box)
        if relu_out is not None:   # relu'(y) = [y > 0]
            relu_masked(g[s], relu_out[s], masked[s])
        elif need_x:
            masked[s] = g[s]
        if need_b:
            np.sum(gb, axis=summed, out=db_parts[i])
        if need_k:
            # a row of taps at a time (10-20% faster than one tap at a time, the rows of dY read once
            # for the row's taps), the block's dY and input still in cache for every row
            for r in range(len(rows)):
                for views, taps in zip(row_views, tap_slices):
                    np.einsum(source.row_spec, views[r][s], gb, out=dk_parts[i, r, taps])
        if need_x:
            back.block(gp, dx, s, buffer)

    scratch = (lambda: back.scratch(blocks[0].stop, g.dtype)) if need_x and back.folded else None
    _over_blocks(block, blocks, g.size, scratch)
    if need_x and m > 1:   # the repeated channels' gradients add up on their input channel
        dx = dx.reshape(*x_shape, m).sum(axis=-1)
    if need_k:
        dk = _channel_sums(dk_parts.sum(axis=0).reshape(math.prod(ks), -1), c).reshape(*ks, 1, c)
    if need_b:
        db = _channel_sums(db_parts.sum(axis=0), c)
    return dx, dk, db


def _channel_sums(sums: np.ndarray, channels: int) -> np.ndarray:
    """(..., width * C) sums of products -> (..., C): the width summed last."""
    return sums.reshape(*sums.shape[:-1], -1, channels).sum(axis=-2)
