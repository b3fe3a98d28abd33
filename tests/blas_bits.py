"""What this machine's BLAS keeps bit for bit: some of OpenBLAS's builds take other kernels for a
product's column blocks, or for one thread, than for the whole product on its default threads
(on an AMD Zen 3, NumPy's OpenBLAS 0.3.31 sums a float32 256x81 @ 81x128 product's halves in
another order), so tests that compare a split product with the whole compare bits only where the
BLAS keeps them, and within rounding elsewhere."""
import functools

import numpy as np

from deepgrad import runtime


@functools.lru_cache(maxsize=None)
def column_halves_keep_bits(dtype=np.float32, m: int = 256, k: int = 81, n: int = 128) -> bool:
    """Whether ``a @ b`` on one BLAS thread equals its two column halves computed apart."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    with runtime.one_blas_thread():
        whole = a @ b
        halves = np.concatenate([a @ np.ascontiguousarray(b[:, :n // 2]), a @ np.ascontiguousarray(b[:, n // 2:])], 1)
    return bool(np.array_equal(whole, halves))
