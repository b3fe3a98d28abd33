"""The MLP step's large GEMMs three ways, on each engine: whole (one call, the BLAS threads as the
engine chooses), one BLAS thread, and split in row halves over deepgrad's two threads.

    python benchmarks/mlp_gemms.py [--rounds 7] [--engines numpy mkl]

The products are those of train_speed.py's MLP at batch 128 that reach ``halves.matmul``: the
first Dense layer's forward (128x784 @ 784x128) and its kernel's gradient (784x128 @ 128x128).
The ways and engines are alternated call loop by call loop; for each the median over rounds of
the wall time and the process CPU time per pair of products (us) is printed. ``whole`` on NumPy
lets OpenBLAS use its own thread pool (with ``runtime.short_blas_spin``, as train_speed.py); MKL
runs on its sequential layer, so ``whole`` and ``one`` are the same call there.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from deepgrad import runtime
from deepgrad.ops import blas, halves

SHAPES = [(128, 784, 128), (784, 128, 128)]


def _per_call(fn, seconds=0.05):
    """(wall, process CPU) seconds per call of fn, over a loop of about ``seconds``."""
    fn()
    reps = 1
    while True:
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(reps):
            fn()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        if wall >= seconds or reps >= 1 << 14:
            return wall / reps, cpu / reps
        reps = reps * 2 if wall < seconds / 8 else int(reps * seconds / max(wall, 1e-9)) + 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--engines", nargs="+", default=["numpy", "mkl"])
    args = parser.parse_args()
    runtime.short_blas_spin()
    blas.engine()
    mkl = dict(blas._gemm)
    if "mkl" in args.engines and not mkl:
        reason = blas._load_mkl()
        if reason:
            raise SystemExit(f"MKL: {reason}")
        mkl = dict(blas._gemm)
    rng = np.random.default_rng(0)
    pairs = []
    for m, k, n in SHAPES:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        pairs.append((a, b, np.empty((m, n), np.float32)))

    def whole():
        for a, b, out in pairs:
            blas.matmul(a, b, out=out)

    def one():
        with runtime.one_blas_thread():
            whole()

    def split():
        for a, b, out in pairs:
            halves.matmul_row_halves(a, b, out=out, own_min=0, halves_min=0)

    ways = {"whole": whole, "one": one, "split": split}
    times = {(e, w): [] for e in args.engines for w in ways}
    for r in range(args.rounds):
        for engine in args.engines if r % 2 == 0 else args.engines[::-1]:
            blas._gemm.clear()
            if engine == "mkl":
                blas._gemm.update(mkl)
            for name, fn in ways.items():
                time.sleep(0.05)  # OpenBLAS's pool asleep again
                times[engine, name].append(_per_call(fn))
    print(f"load average {open('/proc/loadavg').read().split()[:3]}")
    print(f"{'engine':>6} {'way':>6} {'wall us':>8} {'cpu us':>8}  (the two products)")
    for (engine, name), v in times.items():
        wall = statistics.median(t[0] for t in v) * 1e6
        cpu = statistics.median(t[1] for t in v) * 1e6
        print(f"{engine:>6} {name:>6} {wall:8.1f} {cpu:8.1f}")


if __name__ == "__main__":
    main()
