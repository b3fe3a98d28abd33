"""Element-wise passes over the two halves of the leading axis, in two threads.

``runtime.for_batch_halves`` runs a function over the two halves of an axis at once. These
helpers apply it to passes that write into an output array of the full shape: the operands
that span the leading axis are cut in the same halves, the ones that broadcast along it (a
per-channel scale, a scalar, a lower-rank array) are passed whole. An element of the output
is computed by the same operation on the same inputs either way, so the result is the same,
bit for bit.
"""
from __future__ import annotations

import math

import numpy as np

from ..runtime import for_batch_halves, one_blas_thread, two_threads
from . import blas, workspace


def rows_of(a, rows, shape: tuple):
    """``a[rows]`` when ``a`` spans the leading axis of an output of ``shape``, else ``a`` (it broadcasts)."""
    if isinstance(a, np.ndarray) and shape and a.ndim == len(shape) and a.shape[0] != 1:
        return a[rows]
    return a


def over_rows(fn, shape: tuple) -> None:
    """``fn(rows)`` over the two halves of the leading axis of an output of ``shape`` (``fn(...)``
    once for a scalar)."""
    if shape:
        for_batch_halves(fn, shape[0], math.prod(shape))
    else:
        fn(Ellipsis)


def ufunc_halves(ufunc, *operands, out: np.ndarray) -> np.ndarray:
    """``ufunc(*operands, out=out)`` with ``out`` split in two halves of its leading axis."""
    shape = out.shape
    over_rows(lambda rows: ufunc(*(rows_of(a, rows, shape) for a in operands), out=out[rows]), shape)
    return out


def contiguous_halves(a: np.ndarray, out: np.ndarray = None) -> np.ndarray:
    """``a`` if it is C-contiguous, else a C-contiguous copy of it (into ``out`` if given, else a
    pooled array), copied over the two halves of the leading axis."""
    if out is None:
        if a.flags.c_contiguous:
            return a
        out = workspace.empty(a.shape, a.dtype)
    over_rows(lambda rows: np.copyto(out[rows], a[rows]), a.shape)
    return out


def over_batch(fn, shape: tuple) -> None:
    """``fn(rows)`` over the two halves of the leading axis of an output of ``shape`` in two
    threads, each on one BLAS thread, when the work is large enough to pay for the hand-off
    (else ``fn(slice(None))`` here, BLAS threaded as it chooses): for batched products, whose
    items are independent GEMMs."""
    def run(rows):
        if rows == slice(None):
            fn(rows)
            return
        with one_blas_thread():
            fn(rows)

    if shape:
        for_batch_halves(run, shape[0], math.prod(shape))
    else:
        fn(Ellipsis)


def relu_masked(g, y, out: np.ndarray) -> np.ndarray:
    """``out`` <- ``g * [y > 0]``, relu'(y) for a ReLU's output y, with the mask read as bytes
    (uint8): a product with a bool array runs through a casting loop (3.4 against 2.3 ms for 3.2 M
    float32 values, one thread, in blocks of 64 K). The same bits."""
    return np.multiply(g, np.greater(y, 0).view(np.uint8), out=out)


# values per folded row of ``row_sums``: (100352, 64) float32 rows summed 4.9 ms as they are (an
# inner loop of 64 values per row), 1.0 ms folded into rows of 2048-4096 values
FOLD_VALUES = 2048


def folded_sum(a: np.ndarray) -> np.ndarray:
    """``a.sum(axis=0)`` of a C-contiguous (rows, C) array in this thread, its rows folded k at a
    time into rows of k*C values (``row_sums``' sum of one part)."""
    rows, c = a.shape
    k = max(1, FOLD_VALUES // max(1, c))
    folds = rows // k
    if folds < 2 or not a.flags.c_contiguous:
        return a.sum(axis=0)
    total = np.add.reduce(a[:folds * k].reshape(folds, k * c), axis=0).reshape(k, c).sum(axis=0)
    if folds * k < rows:
        total += a[folds * k:].sum(axis=0)
    return total


def add_to_rows(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``a += v`` for a C-contiguous (rows, C) array and a (C,) vector (a bias), the rows folded k
    at a time into rows of k*C values against v tiled k times: broadcast along rows of C values the
    add's inner loop is C long (100352 x 64 float32: 2.6 against 2.1 ms, one thread). The same bits."""
    rows, c = a.shape
    k = max(1, FOLD_VALUES // max(1, c))
    folds = rows // k
    if k == 1 or folds < 2 or not a.flags.c_contiguous:
        return np.add(a, v, out=a)
    head = a[:folds * k].reshape(folds, k * c)
    np.add(head, np.tile(v, k), out=head)
    if folds * k < rows:
        np.add(a[folds * k:], v, out=a[folds * k:])
    return a


def row_sums(a: np.ndarray) -> np.ndarray:
    """``a.sum(axis=0)`` of a (rows, C) array (a bias's gradient): the rows folded k at a time into
    rows of k*C values, so that the adds run along long rows, summed over the two halves of the
    folded rows in two threads, then the two partial sums added and the k slots summed. The same
    numbers on one thread and two; within float rounding of the plain sum (which, for more than
    one column, adds row after row: the folded partial sums are shorter and closer to exact)."""
    rows, c = a.shape
    k = max(1, FOLD_VALUES // max(1, c))
    folds = rows // k
    if folds < 4 or not a.flags.c_contiguous:
        return a.sum(axis=0)
    half = folds // 2 * k
    bounds = ((0, half), (half, folds * k))
    partial = np.empty((2, k * c), a.dtype)

    def part(s):
        for i in range(2)[s]:
            lo, hi = bounds[i]
            np.add.reduce(a[lo:hi].reshape(-1, k * c), axis=0, out=partial[i])

    for_batch_halves(part, 2, a.size)
    total = np.add(partial[0], partial[1]).reshape(k, c).sum(axis=0)
    if folds * k < rows:
        total += a[folds * k:].sum(axis=0)
    return total


def channel_sums(a: np.ndarray, axes: tuple, keepdims: bool = False) -> np.ndarray:
    """``a.sum(axis=axes, keepdims=keepdims)``: by ``row_sums`` when ``axes`` are all but the last
    of a C-contiguous ``a`` (a per-channel gradient of channels-last maps: (64, 28, 28, 64) float32
    summed in 0.6 ms instead of 2.5, within rounding of the plain sum and closer to the exact one),
    else the plain sum."""
    if a.ndim < 2 or tuple(axes) != tuple(range(a.ndim - 1)) or not a.flags.c_contiguous:
        return a.sum(axis=axes, keepdims=keepdims)
    total = row_sums(a.reshape(-1, a.shape[-1]))
    return total.reshape((1,) * (a.ndim - 1) + total.shape) if keepdims else total


# GEMMs of at least GEMM_OWN_MIN multiply-adds run on this process's own threads, each on one
# BLAS thread: OpenBLAS would use its own thread pool from 2**18 (its SMP threshold, 65536 * 4),
# whose worker then spins for about 0.1 s after every call, taking the second core from the
# step's two-thread element-wise passes (and, on a loaded machine, from everything: a CNN step
# measured at 55-107 ms with the pool, 27-42 ms without, CIFAR 460-930 ms against 100-130 ms).
# From GEMM_HALVES_MIN the rows are split over two threads (below, one thread does it all).
# Both were 2**24 until 2026-12-01, leaving the MLP's 12.8 M GEMMs ((128, 784) x (784, 128)) on
# OpenBLAS's pool, 5-8% faster on two free cores (1.02-1.04 ms a step against 1.08-1.12) but
# ruinous beside other work: with the machine's load at 12, the MLP step took 23-31 ms of CPU
# and 81-107 ms wall on the pool against 2.0-2.2 ms and 6.1-7.6 ms on these threads (alternated
# processes, 200 steps each). A training step never wakes OpenBLAS's pool now.
GEMM_OWN_MIN = 1 << 22
GEMM_HALVES_MIN = 1 << 22
# With MKL as the engine (ops/blas.py, Intel CPUs) a plain product (Dense, ``ops.matmul``) is split
# from 2**25 multiply-adds only: the MLP's 12.8 M GEMMs cost 1.62 ms of CPU a step split against
# 1.33 whole on an Intel AVX-512 host, and 0.91 against 0.68 ms (the two GEMMs) on an AMD EPYC
# with MKL forced (benchmarks/RESULTS.md). The convolutions' products keep GEMM_HALVES_MIN.
GEMM_HALVES_MIN_MKL = 1 << 25
# Below GEMM_OWN_MIN, from OpenBLAS's own threading threshold (2**18 multiply-adds: 65536 times
# its GEMM_MULTITHREAD_THRESHOLD of 4) up to GEMM_POOL_MIN, ``matmul`` runs the product on one
# BLAS thread: it takes tens of microseconds either way, and one call on OpenBLAS's pool leaves
# the pool's worker spinning on the other core for about 0.1 s, where the step's two-thread
# passes run (a DCGAN step's Dense(6272 -> 1), 0.8 M multiply-adds, cost 60-70 ms of spinning
# CPU per step).
BLAS_THREADS_MIN = 1 << 18
GEMM_POOL_MIN = 1 << 22


def matmul_row_halves(a: np.ndarray, b: np.ndarray, after=None, out: np.ndarray = None, own_min: int = None,
                      halves_min: int = None):
    """``a @ b`` of two matrices on this process's threads, each on one BLAS thread: with the rows
    of ``a`` in two halves in two threads from GEMM_HALVES_MIN multiply-adds (else in this
    thread), then ``after(out_rows)`` on each half of the output while it is in cache (a bias, a
    relu); ``None`` (nothing done) below GEMM_OWN_MIN or when one thread is asked.

    Why: OpenBLAS's own two threads speed up a GEMM of few rows (a batch) and a long inner axis
    little or not at all (1.0-1.1x for Dense(5408 -> 128) at batch 128), and its pool spins
    after each call (see GEMM_OWN_MIN); a step whose GEMMs all run here never wakes that pool.
    Where OpenBLAS's kernel computes each row of the product the same way in any row split (its
    AVX-512 kernels, above its small-matrix bound of m*k*n about 100**3; GEMM_HALVES_MIN keeps
    each half at 2**22), the result is that of the whole GEMM on one BLAS thread, bit for bit. Its
    AVX2 kernels (AMD Zen 3, OpenBLAS 0.3.31) sum a float32 row by where it falls in their blocks
    of rows, so there the halves agree with the whole to rounding; the split depends only on the
    sizes, so a run repeats exactly on one machine. OpenBLAS on two threads may itself sum some
    inner lengths (e.g. 784) differently from one thread.

    ``own_min`` and ``halves_min`` replace GEMM_OWN_MIN and GEMM_HALVES_MIN (GEMM_HALVES_MIN_MKL when MKL
    multiplies; ``matmul_off_pool`` gives both)."""
    if a.dtype == np.float16 or b.dtype == np.float16:
        return _half_matmul(a, b, after, out)
    own_min = GEMM_OWN_MIN if own_min is None else own_min
    if halves_min is None:
        halves_min = GEMM_HALVES_MIN_MKL if blas.on_mkl() else GEMM_HALVES_MIN
    m, k = a.shape
    work = m * k * b.shape[1]
    if work < own_min or not two_threads():
        return None
    if out is None:
        out = np.empty((m, b.shape[1]), np.result_type(a.dtype, b.dtype))
    if work < halves_min or m < 16:
        with one_blas_thread():
            blas.matmul(a, b, out=out)
        if after is not None:
            after(out)
        return out

    def run(rows):
        with one_blas_thread():
            blas.matmul(a[rows], b, out=out[rows])
        if after is not None:
            after(out[rows])

    for_batch_halves(run, m, m * b.shape[1] + (1 << 18))  # always above the element threshold
    return out


def _half_matmul(a: np.ndarray, b: np.ndarray, after=None, out: np.ndarray = None) -> np.ndarray:
    """``a @ b`` with a float16 operand (mixed precision): BLAS has no float16 GEMM and NumPy's own
    loop is about 100x slower than float32's, so the product is one float32 GEMM (float32
    accumulation, as PyTorch's and cuBLAS's half-precision products) rounded to the result dtype."""
    dtype = np.result_type(a.dtype, b.dtype)
    single = blas.matmul(a.astype(np.float32), b.astype(np.float32))
    if out is None:
        out = single.astype(dtype, copy=False)
    else:
        out[...] = single
    if after is not None:
        after(out)
    return out


# OpenBLAS threads a matrix-vector product from m*n of 2304 times its GEMM_MULTITHREAD_THRESHOLD (4)
GEMV_THREADS_MIN = 2304 * 4


def matvec(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` of a matrix and a vector (either way round), on one BLAS thread from OpenBLAS's own
    threading threshold on two cores: a row sum of a layer normalisation (4096 x 128) takes
    microseconds, and on OpenBLAS's pool it left the pool's worker spinning on the other core
    (an encoder block's step: 65 ms of CPU). Each element is the same dot product either way."""
    if a.dtype == np.float16 or b.dtype == np.float16:
        return _half_matmul(a, b)
    if max(a.size, b.size) < GEMV_THREADS_MIN or not two_threads():
        return a @ b
    with one_blas_thread():
        return a @ b


def matmul_off_pool(a: np.ndarray, b: np.ndarray, after=None, out: np.ndarray = None):
    """``matmul_row_halves`` from BLAS_THREADS_MIN multiply-adds, in row halves from GEMM_POOL_MIN
    (each half then at least 2**21, above OpenBLAS's small-matrix bound): for the convolutions,
    whose training steps run two-thread passes between their GEMMs, so that no product of theirs
    that OpenBLAS would thread wakes its pool (a DCGAN discriminator's first Conv2D at batch 64,
    13.6 M multiply-adds, left it spinning 10-40 ms of CPU a step). None below, or with one thread."""
    return matmul_row_halves(a, b, after, out, own_min=BLAS_THREADS_MIN, halves_min=GEMM_POOL_MIN)


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray = None) -> np.ndarray:
    """``a @ b`` (into ``out`` if given): over the rows' halves when large enough, else one call
    (on one BLAS thread from BLAS_THREADS_MIN to GEMM_POOL_MIN multiply-adds on two cores)."""
    res = matmul_row_halves(a, b, out=out)
    if res is not None:
        return res
    if BLAS_THREADS_MIN <= a.shape[0] * a.shape[1] * b.shape[1] < GEMM_POOL_MIN and two_threads():
        with one_blas_thread():
            return blas.matmul(a, b, out=out)
    return blas.matmul(a, b, out=out)


def conv_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray = None) -> np.ndarray:
    """``a @ b`` (into ``out`` if given) for the convolutions: ``matmul_off_pool`` when it takes the
    product, else one call."""
    res = matmul_off_pool(a, b, out=out)
    if res is not None:
        return res
    return blas.matmul(a, b, out=out)
