"""One-thread GEMM times of NumPy (OpenBLAS), deepgrad's MKL path (deepgrad.ops.blas) and PyTorch.

    python benchmarks/blas_gemm.py [--rounds 7] [--dtype float32]

For each shape (the products of the Dense, Conv2D and LSTM layers of train_speed.py's models,
and some small ones around blas.MIN_WORK) the three are alternated call by call, each timed in
thread CPU time over a loop, and the median per call over the rounds is printed (us), with
NumPy's time over MKL's. The MKL column is ``blas.matmul`` itself, its Python overhead included.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from deepgrad.ops import blas
from deepgrad.runtime import one_blas_thread

SHAPES = [  # (m, k, n): (m, k) @ (k, n)
    (128, 128, 10), (128, 64, 64), (128, 128, 32), (128, 128, 64), (64, 256, 64), (128, 128, 128),
    (128, 784, 128), (784, 128, 128), (128, 128, 784), (128, 5408, 128), (5408, 128, 128),
    (6272, 288, 64), (64, 6272, 288), (6272, 64, 288), (21632, 9, 32), (128, 512, 32), (32, 512, 128),
    (8192, 27, 32), (8192, 32, 27), (2048, 288, 64), (2048, 576, 64),
]


def _per_call(fn, seconds=0.05):
    """Thread CPU time per call of fn, over a loop of about ``seconds``."""
    fn()
    reps = 1
    while True:
        start = time.thread_time()
        for _ in range(reps):
            fn()
        spent = time.thread_time() - start
        if spent >= seconds or reps >= 1 << 16:
            return spent / reps
        reps = reps * 2 if spent < seconds / 8 else int(reps * seconds / max(spent, 1e-9)) + 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    import torch
    torch.set_num_threads(1)
    dtype = np.dtype(args.dtype)
    print(f"engine: {blas.info()}")
    print(f"{'shape':>22} {'numpy':>8} {'mkl':>8} {'torch':>8} {'np/mkl':>7}")
    rng = np.random.default_rng(0)
    for m, k, n in SHAPES:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        out = np.empty((m, n), dtype)
        ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
        saved_min, blas.MIN_WORK = blas.MIN_WORK, 1  # the MKL column times MKL at every size
        times = {"numpy": [], "mkl": [], "torch": []}
        try:
            with one_blas_thread():
                for _ in range(args.rounds):
                    times["numpy"].append(_per_call(lambda: np.matmul(a, b, out=out)))
                    times["mkl"].append(_per_call(lambda: blas.matmul(a, b, out=out)))
                    times["torch"].append(_per_call(lambda: torch.matmul(ta, tb, out=tout)))
        finally:
            blas.MIN_WORK = saved_min
        med = {key: statistics.median(v) * 1e6 for key, v in times.items()}
        print(f"{f'{m}x{k}@{k}x{n}':>22} {med['numpy']:8.1f} {med['mkl']:8.1f} {med['torch']:8.1f} "
              f"{med['numpy'] / med['mkl']:7.2f}", flush=True)


if __name__ == "__main__":
    main()
