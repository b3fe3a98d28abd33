"""A strided transposed convolution as one small correlation per output phase, no col2im.

Output cell ``o = p s + r`` (``r`` its phase, ``0 <= r < s``, per axis) of a transposed
convolution without dilation gets ``x[i] K[t]^T`` from the taps ``t`` with
``o + crop_left = i s + t``: the taps ``t = r + crop_left (mod s)``, each from input cell
``i = p + (r + crop_left - t) / s``. So the cells of one phase are a stride-1 correlation of
the input with the ``ceil(k / s)``-ish taps of that phase (their input offsets are consecutive
integers), and the whole output is ``s^d`` such correlations, each an unfold of a few taps and
one GEMM whose rows are the phase's own output cells. Against col2im (``x K^T`` for every
input cell and tap, then scatter-adds of the tap groups, then the crop) this does the same
multiply-adds, never makes the full uncropped output, and writes each output cell once (with
the bias). The unfolds are of the (small) input, a few samples at a time so that they stay in
cache with the GEMM that reads them.

Sums: a cell's taps are summed inside one dot product of length ``taps * cin`` instead of tap
by tap, so the results agree with col2im's to float rounding, not bit for bit.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..runtime import for_batch_halves, one_blas_thread
from . import workspace
from .conv_phases import fill_outside

# bytes of one phase's unfolded rows made and multiplied at once: on a DCGAN generator's
# transposed convolutions (batch 64, 7x7 and 14x14 inputs) parts of about 1 MB were fastest
PART_BYTES = 1 << 20
MIN_CHANNELS = 32


def applies(kernel, strides, dilation, channels: int) -> bool:
    """Whether the phase path pays for this transposed convolution (``channels`` output channels):
    no dilation, no stride above the kernel (every phase then has a tap) and a kernel above the
    stride on some axis (else col2im's adds are plain copies, measured faster), and at least
    ``MIN_CHANNELS`` output channels (narrower GEMMs and strided writes of a few values per cell
    measured slower than col2im: 1-16 channels 1.1-2.3x slower, 32 and more 1.2-1.8x faster)."""
    return (channels >= MIN_CHANNELS and all(d == 1 for d in dilation)
            and all(s <= k for k, s in zip(kernel, strides)) and any(s < k for k, s in zip(kernel, strides)))


def axis_phases(k: int, s: int, crop_left: int, out_len: int) -> list:
    """Per phase ``r`` of one axis: ``(r, cells, taps, first)``: the phase's output cells
    ``r, r + s, ...`` (their count), its taps in ascending input offset, and the offset of the
    first (the input cell of output cell ``p`` and tap ``taps[j]`` is ``p + first + j``)."""
    out = []
    for r in range(min(s, out_len)):
        taps = [t for t in range(k - 1, -1, -1) if (r + crop_left - t) % s == 0]
        out.append((r, -(-(out_len - r) // s), taps, (r + crop_left - taps[0]) // s))
    return out


def conv_transpose_phases(x: np.ndarray, kernel: np.ndarray, bias, strides, crops, out_len) -> np.ndarray:
    """The transposed convolution of ``x`` (N, *n, cin) by ``kernel`` (*k, cout, cin), cropped by
    ``crops`` ((left, right) per axis, negative: zeros added) to ``out_len``, plus ``bias`` (cout,)
    if given: (N, *out_len, cout), C-contiguous. Dilation 1 and ``applies``."""
    nd = x.ndim - 2
    n, cin = x.shape[0], x.shape[-1]
    ks, cout = kernel.shape[:nd], kernel.shape[-2]
    axes = [axis_phases(k, s, cl, o) for k, s, (cl, _), o in zip(ks, strides, crops, out_len)]
    # zeros around the input wide enough for every phase's windows
    pads = []
    for phases, m in zip(axes, x.shape[1:-1]):
        lo = max(0, -min(first for _, _, _, first in phases))
        hi = max(0, max(cells - 1 + first + len(taps) - 1 for _, cells, taps, first in phases) - (m - 1))
        pads.append((lo, hi))
    # the zeros around the input, filled by each half of the batch for its own samples (run)
    padded = any(lo or hi for lo, hi in pads)
    xp = workspace.empty((n, *[m + lo + hi for m, (lo, hi) in zip(x.shape[1:-1], pads)], cin), x.dtype) if padded else x
    box = [(lo, lo + m) for m, (lo, _) in zip(x.shape[1:-1], pads)]
    inside = tuple(slice(lo, hi) for lo, hi in box)
    dtype = np.result_type(x.dtype, kernel.dtype)
    out_dtype = dtype if bias is None else np.result_type(dtype, bias.dtype)
    out = workspace.empty((n, *out_len, cout), out_dtype)
    plans = []
    for combo in itertools.product(*axes):
        cells = tuple(c for _, c, _, _ in combo)
        window = tuple(len(taps) for _, _, taps, _ in combo)
        start = (slice(None),) + tuple(slice(lo + first, None) for (lo, _), (_, _, _, first) in zip(pads, combo))
        src = xp[start]
        spatial = src.strides[1:-1]
        view = as_strided(src, (n, *cells, *window, cin), (src.strides[0], *spatial, *spatial, src.strides[-1]),
                          writeable=False)
        # (*window, cout, cin) -> (window * cin, cout), the taps in the order of the windows
        sub = kernel[np.ix_(*[taps for _, _, taps, _ in combo])]
        sub = np.ascontiguousarray(np.moveaxis(sub, -1, -2).reshape(-1, cout), dtype=dtype)
        dst = out[(slice(None),) + tuple(slice(r, None, s) for (r, _, _, _), s in zip(combo, strides))]
        plans.append((view, sub, dst, math.prod(cells)))
    widest = max(p[3] * p[1].shape[0] for p in plans)
    part = max(1, min(n, PART_BYTES // max(1, widest * dtype.itemsize)))
    halves = 2 if n >= 2 else 1
    buffers = [(workspace.empty((part * widest,), dtype),
                workspace.empty((part * max(p[3] for p in plans) * cout,), dtype)) for _ in range(halves)]

    def run(samples):
        lo, hi, _ = samples.indices(n)
        cols_buf, prod_buf = buffers[0 if lo == 0 else 1]
        if padded:
            fill_outside(xp[lo:hi], box)
            xp[(slice(lo, hi), *inside)] = x[lo:hi]
        for begin in range(lo, hi, part):
            m = min(part, hi - begin)
            rows = slice(begin, begin + m)
            for view, sub, dst, cells in plans:
                cols = cols_buf[:m * cells * sub.shape[0]].reshape(view[rows].shape)
                np.copyto(cols, view[rows])
                prod = prod_buf[:m * cells * cout].reshape(m * cells, cout)
                np.matmul(cols.reshape(m * cells, -1), sub, out=prod)
                prod = prod.reshape(dst[rows].shape)
                if bias is None:
                    np.copyto(dst[rows], prod)
                else:
                    np.add(prod, bias, out=dst[rows])

    def half(samples):
        with one_blas_thread():  # the two halves' GEMMs each on one BLAS thread, OpenBLAS's pool asleep
            run(samples)

    for_batch_halves(half, n, n * widest * len(plans))
    return out
