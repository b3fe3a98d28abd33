"""What this machine's BLAS keeps bit for bit: some of OpenBLAS's builds take other kernels for a
product's row or column blocks, or for one thread, than for the whole product on its default
threads (on an AMD Zen 3, NumPy's OpenBLAS 0.3.31 sums a float32 256x81 @ 81x128 product's halves
in another order, and a row's sum depends on its place in the kernel's blocks of rows), so tests
that compare a split product with the whole compare bits only where the BLAS keeps them, and
within rounding elsewhere. Each probe multiplies random operands of the shape it is given once
and remembers the answer."""
import functools

import numpy as np

from deepgrad import runtime


def _operands(dtype, m: int, k: int, n: int) -> tuple:
    rng = np.random.default_rng(0)
    return rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)


@functools.lru_cache(maxsize=None)
def column_halves_keep_bits(dtype=np.float32, m: int = 256, k: int = 81, n: int = 128, split: int = None) -> bool:
    """Whether ``a @ b`` on one BLAS thread equals its columns before and after ``split`` (``n // 2``)
    computed apart: a product of weights and a batch's columns, split with the batch."""
    a, b = _operands(dtype, m, k, n)
    split = n // 2 if split is None else split
    with runtime.one_blas_thread():
        whole = a @ b
        halves = np.concatenate([a @ np.ascontiguousarray(b[:, :split]), a @ np.ascontiguousarray(b[:, split:])], 1)
    return bool(np.array_equal(whole, halves))


@functools.lru_cache(maxsize=None)
def row_halves_keep_bits(dtype=np.float32, m: int = 128, k: int = 784, n: int = 128, split: int = None) -> bool:
    """Whether ``a @ b`` on one BLAS thread equals its rows before and after ``split`` (``m // 2``,
    where ``runtime.for_batch_halves`` cuts) computed apart: deepgrad's row halves of a GEMM, a
    batch's halves, and a model's output for some rows of a batch against the rows alone."""
    a, b = _operands(dtype, m, k, n)
    split = m // 2 if split is None else split
    with runtime.one_blas_thread():
        whole = a @ b
        halves = np.concatenate([a[:split] @ b, a[split:] @ b])
    return bool(np.array_equal(whole, halves))


@functools.lru_cache(maxsize=None)
def threads_keep_bits(dtype=np.float32, m: int = 128, k: int = 784, n: int = 128) -> bool:
    """Whether ``a @ b`` on OpenBLAS's own threads (as many as it was started with) equals the
    product on one BLAS thread."""
    a, b = _operands(dtype, m, k, n)
    threaded = a @ b
    with runtime.one_blas_thread():
        return bool(np.array_equal(threaded, a @ b))


def assert_bits_or_close(actual, desired, same_bits: bool, rtol: float, atol_share: float = 0.0,
                         atol: float = 0.0) -> None:
    """``actual`` equals ``desired`` bit for bit where ``same_bits`` (a probe above said the BLAS
    keeps them), else within ``rtol`` and an absolute ``atol`` plus ``atol_share`` of ``desired``'s
    largest magnitude (entries near zero are differences of large terms, rounded at the terms' scale)."""
    if same_bits:
        np.testing.assert_array_equal(actual, desired)
    else:
        atol = atol + atol_share * np.abs(desired).max()
        np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol)
