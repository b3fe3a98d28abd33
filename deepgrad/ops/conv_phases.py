"""col2im in wide adds, a part of the batch at a time.

col2im adds each kernel tap's block ``dcols[..., t, :]`` onto the cells ``p s + t d`` of the
padded array (``p`` the output position, ``s`` the stride, ``d`` the dilation, per axis). It is
the backward of a strided convolution's unfold and the forward of a transposed convolution.
Two things make it cheaper than one strided add per tap:

- **Phase blocks.** Without dilation, tap ``t = q s + r`` (``0 <= r < s``) lands on cell
  ``(p + q) s + r``: block ``p + q``, phase ``r``. The ``s`` taps ``q s ... q s + s - 1`` of one
  group ``q`` fill the ``s`` phases of the same blocks, so one add of a view
  ``(N, P, s, ..., C)`` moves all of them: ``ceil(k / s)`` adds per axis instead of ``k``, each
  with a contiguous inner run of ``s * C`` values instead of ``C``. A cell still receives its
  taps in ascending order, so every sum is the same, bit for bit, as tap by tap.
- **Batch parts.** ``col2im_gemm`` makes ``dcols = a @ w`` and scatters it a few samples at a
  time (parts of about ``PART_BYTES``), so the adds read what the GEMM has just written while it
  is still in cache, and the whole unfolded matrix (51 MB for the second transposed convolution
  of a DCGAN generator, batch 64) is never held. Each row of ``a @ w`` is the same dot product
  whichever part it is computed in.
- **No zeroing pass.** The first group (``q = 0`` on every axis) covers the cells ``[0, P s)`` of
  each axis, each once: it is copied in, the other groups are added onto it, and only the cells
  outside that box are zeroed (with a dilation, or a stride above the kernel, the whole array is
  zeroed first and every group added). ``0 + x`` is ``x``, so the sums are the same, bit for bit,
  up to the sign of an exact zero.
- **Two threads.** When the batch is large enough (``runtime.for_batch_halves``), each half of
  it runs its own parts, GEMM and adds, in its own thread on one BLAS thread
  (``runtime.one_blas_thread``): two hand-offs per call, where a split of every part's GEMM over
  BLAS's threads and of its adds over two Python threads took two per part. Each row of the
  GEMM is the same dot product on one BLAS thread or two, and each cell gets its adds in the
  same order, so the numbers are those of one thread, bit for bit.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..runtime import for_batch_halves, one_blas_thread
from . import blas, workspace

# bytes of unfolded rows made and scattered at once: measured on a DCGAN generator's
# transposed convolutions (batch 64), 1-4 MB parts ran 10-25% faster than the whole batch
PART_BYTES = 3 << 20


def tap_groups(kernel, strides, dilation) -> list:
    """The adds of col2im: per group, per axis ``(taps, first cell, phases)``.

    Without dilation a group holds the taps ``q s ... min(q s + s, k) - 1`` of each axis; with
    dilation the taps of a group would not share blocks, so each tap is its own group."""
    if any(d != 1 for d in dilation):
        axes = [[(slice(t, t + 1), t * d, 1) for t in range(k)] for k, d in zip(kernel, dilation)]
    else:
        axes = [[(slice(q * s, min(q * s + s, k)), q * s, min(s, k - q * s)) for q in range(-(-k // s))]
                for k, s in zip(kernel, strides)]
    return list(itertools.product(*axes))


def phase_view(a: np.ndarray, first, phases, out_shape, strides) -> np.ndarray:
    """The view (N, P1, c1, P2, c2, ..., C) of a (N, *spatial, C) whose element (n, p1, r1, ...)
    is the cell ``first + p s + r`` of each axis, for p < P (``out_shape``) and r < c (``phases``)."""
    a = a[(slice(None),) + tuple(slice(f, None) for f in first)]
    shape, steps = [a.shape[0]], [a.strides[0]]
    for n, c, s, step in zip(out_shape, phases, strides, a.strides[1:-1]):
        shape += [n, c]
        steps += [s * step, step]
    return as_strided(a, (*shape, a.shape[-1]), (*steps, a.strides[-1]))


def fill_outside(a: np.ndarray, box, value=0) -> None:
    """Set the cells of ``a`` (N, *spatial, C) outside ``box`` (one ``(lo, hi)`` per spatial axis)
    to ``value``, each once: per axis, the slabs before ``lo`` and from ``hi`` within the box of the
    axes before it."""
    index = [slice(None)] * a.ndim
    for axis, (lo, hi) in enumerate(box, start=1):
        for slab in (slice(0, lo), slice(hi, None)):
            index[axis] = slab
            a[tuple(index)] = value
        index[axis] = slice(lo, hi)


def copies_first_group(kernel, strides, dilation) -> bool:
    """Whether the first tap group covers its box ``[0, P s)`` of every axis (see the module)."""
    return all(d == 1 for d in dilation) and all(s <= k for k, s in zip(kernel, strides))


def scatter_plan(out: np.ndarray, dcols: np.ndarray, kernel, strides, dilation, out_shape) -> list:
    """The adds of ``scatter_add`` as ``(destination view of out, source view of dcols)`` pairs, in
    order. The views keep the batch axis first, so one plan serves any range of samples
    (``dst[samples]``, ``src[samples]``): the strided views are made once per call, not per part."""
    nd = len(kernel)
    # (N, *out, *taps, C) -> (N, out1, taps1, out2, taps2, ..., C), the order of phase_view
    order = (0,) + tuple(a for i in range(nd) for a in (1 + i, 1 + nd + i)) + (1 + 2 * nd,)
    return [(phase_view(out, [f for _, f, _ in group], [c for _, _, c in group], out_shape, strides),
             dcols[(slice(None),) * (1 + nd) + tuple(taps for taps, _, _ in group)].transpose(order))
            for group in tap_groups(kernel, strides, dilation)]


def scatter_add(out: np.ndarray, dcols: np.ndarray, kernel, strides, dilation, out_shape, fresh=False,
                plan=None) -> None:
    """``out`` (N, *padded, C) += col2im of ``dcols`` (N, *out_shape, *kernel, C), in place; with
    ``fresh`` ``out`` holds garbage and gets the col2im itself (as if zeroed first). ``plan``, if
    given, is ``scatter_plan`` of these very arrays (``dcols`` is then not read)."""
    plan = scatter_plan(out, dcols, kernel, strides, dilation, out_shape) if plan is None else plan
    copy_first = fresh and copies_first_group(kernel, strides, dilation)
    if copy_first:
        fill_outside(out, [(0, p * s) for p, s in zip(out_shape, strides)])
    elif fresh:
        out.fill(0)
    for i, (dst, src) in enumerate(plan):
        if copy_first and i == 0:
            np.copyto(dst, src)
        else:
            np.add(dst, src, out=dst)


def col2im_gemm(a: np.ndarray, w: np.ndarray, padded_shape, kernel, strides, dilation, in_shape) -> np.ndarray:
    """col2im of ``a @ w`` onto zeros of ``padded_shape`` (N, *padded, C).

    ``a`` holds ``N * prod(in_shape)`` rows, ``w`` is (K, prod(kernel) * C): row ``(n, p)`` of the
    product is the (taps, C) block that position ``p`` of sample ``n`` scatters."""
    n = padded_shape[0]
    dtype = np.result_type(a.dtype, w.dtype)
    out = workspace.empty(padded_shape, dtype)
    rows = math.prod(in_shape)
    width = w.shape[1]
    part = max(1, min(n, PART_BYTES // max(1, rows * width * dtype.itemsize)))
    # a buffer of parts for each half of the batch, allocated here (not in the threads), with the
    # views of the scatter made once for all of out and the buffer
    buffers = []
    for _ in range(2 if n >= 2 else 1):
        buf = workspace.empty((part * rows, width), dtype)
        buffers.append((buf, scatter_plan(out, buf.reshape(part, *in_shape, *kernel, -1), kernel, strides, dilation,
                                          in_shape)))

    def run(samples):
        lo, hi, _ = samples.indices(n)
        buf, plan = buffers[0 if lo == 0 else 1]
        for start in range(lo, hi, part):
            m = min(part, hi - start)
            blas.matmul(a[start * rows:(start + m) * rows], w, out=buf[:m * rows])
            rows_out = slice(start, start + m)
            scatter_add(out[rows_out], None, kernel, strides, dilation, in_shape, fresh=True,
                        plan=[(dst[rows_out], src[:m]) for dst, src in plan])

    def half(samples):
        # two callers on OpenBLAS's one pool would queue and spin; a batch too small to split keeps
        # the pool asleep too (a DCGAN discriminator's first input gradient, 12.8 M multiply-adds
        # in one part, woke it to spin 10-30 ms of CPU on the other core)
        with one_blas_thread():
            run(samples)

    for_batch_halves(half, n, n * rows * width)
    return out
