"""Whole training steps of train_speed.py's models with the GEMMs on NumPy (OpenBLAS) and on MKL,
alternated in one process (ops/blas.py's engine switched between rounds), then peak RSS and
import time of each engine in fresh processes.

    python benchmarks/blas_steps.py [--models mlp cnn cifar lstm] [--rounds 7] [--steps 20]

Prints per model the median process CPU time and wall time per step of each engine, and
NumPy's over MKL's (above 1: MKL faster); with train_speed.py's process settings (freed memory
kept, OpenBLAS's idle threads sleeping soon).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from interleaved import settle
from train_speed import deepgrad_stepper

HERE = os.path.dirname(os.path.abspath(__file__))


def _use(engine: str, saved: dict) -> None:
    from deepgrad.ops import blas

    blas._gemm.clear()
    if engine == "mkl":
        blas._gemm.update(saved)
    blas._state["engine"] = engine


def steps(models, rounds: int, n: int) -> None:
    from deepgrad import runtime
    from deepgrad.ops import blas

    runtime.keep_freed_memory()  # as train_speed.py and the deepgrad command run
    runtime.short_blas_spin()
    if blas.engine() != "mkl":  # not an Intel CPU, or DEEPGRAD_BLAS=numpy: load MKL all the same
        reason = blas._load_mkl()
        if reason:
            raise SystemExit(f"MKL cannot be used here: {reason}")
    saved = dict(blas._gemm)
    print(f"{'model':>6} {'cpu numpy':>10} {'cpu mkl':>8} {'ratio':>6} {'wall numpy':>11} {'wall mkl':>9} {'ratio':>6}  (ms/step)")
    for name in models:
        step = deepgrad_stepper(name)[0]
        for engine in ("numpy", "mkl"):  # warm-up: builds, pools
            _use(engine, saved)
            for _ in range(3):
                step()
        cpu = {"numpy": [], "mkl": []}
        wall = {"numpy": [], "mkl": []}
        for r in range(rounds):
            order = ("numpy", "mkl") if r % 2 == 0 else ("mkl", "numpy")
            for engine in order:
                _use(engine, saved)
                settle()
                c0, w0 = time.process_time(), time.perf_counter()
                for _ in range(n):
                    step()
                cpu[engine].append((time.process_time() - c0) / n * 1e3)
                wall[engine].append((time.perf_counter() - w0) / n * 1e3)
        _use("mkl", saved)
        c = {k: statistics.median(v) for k, v in cpu.items()}
        w = {k: statistics.median(v) for k, v in wall.items()}
        print(f"{name:>6} {c['numpy']:10.2f} {c['mkl']:8.2f} {c['numpy'] / c['mkl']:6.2f} "
              f"{w['numpy']:11.2f} {w['mkl']:9.2f} {w['numpy'] / w['mkl']:6.2f}", flush=True)


def memory(models, n: int) -> None:
    """Peak RSS (VmHWM) after n steps in a fresh process, each engine, and PyTorch's."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(1 << 30), MALLOC_TRIM_THRESHOLD_=str(1 << 30))
    print(f"{'model':>6} {'numpy MB':>9} {'mkl MB':>7} {'torch MB':>9}")
    for name in models:
        peaks = {}
        for label, framework, blas_env in (("numpy", "deepgrad", "numpy"), ("mkl", "deepgrad", "mkl"), ("torch", "torch", "")):
            res = subprocess.run([sys.executable, os.path.join(HERE, "train_speed.py"), "--memory-probe", framework,
                                  name, "--steps", str(n)], capture_output=True, text=True, check=True,
                                 env=dict(env, DEEPGRAD_BLAS=blas_env))
            peaks[label] = json.loads(res.stdout.strip().splitlines()[-1])["peak_rss_mb"]
        print(f"{name:>6} {peaks['numpy']:9.0f} {peaks['mkl']:7.0f} {peaks['torch']:9.0f}", flush=True)


def import_time(rounds: int) -> None:
    """CPU seconds of ``import deepgrad`` plus the first product (which loads MKL), per engine."""
    code = ("import time; t = time.process_time(); import deepgrad; import numpy as np; "
            "from deepgrad.ops import blas; blas.matmul(np.ones((128, 128), np.float32), np.ones((128, 128), np.float32)); "
            "print(time.process_time() - t)")
    times = {"numpy": [], "mkl": []}
    for _ in range(rounds):
        for engine in ("numpy", "mkl"):
            env = dict(os.environ, DEEPGRAD_BLAS=engine)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
            times[engine].append(float(out.stdout.strip().splitlines()[-1]))
    print("import deepgrad + first GEMM, CPU s (median):",
          {k: round(statistics.median(v), 3) for k, v in times.items()})


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", nargs="+", default=["mlp", "cnn", "cifar", "lstm"])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--memory-steps", type=int, default=100)
    p.add_argument("--skip", nargs="*", default=[], choices=("steps", "memory", "import"))
    args = p.parse_args()
    if "steps" not in args.skip:
        steps(args.models, args.rounds, args.steps)
    if "memory" not in args.skip:
        memory(args.models, args.memory_steps)
    if "import" not in args.skip:
        import_time(args.rounds)


if __name__ == "__main__":
    main()
