"""The MLP's training step (train_speed.py's: 784 -> 128 relu -> 10 softmax, Adam, batch 128):
deepgrad's process CPU time and wall time per step in a process that never imports PyTorch
(PyTorch's idle OpenMP threads would be charged to it), or its wall-clock throughput against
PyTorch's, interleaved in one process (train_speed.py's measurement, without the memory probes).

    python benchmarks/mlp_step.py cpu [--rounds 9] [--steps 50]
    python benchmarks/mlp_step.py ratio [--rounds 9] [--steps 20]
    python benchmarks/mlp_step.py variants [--rounds 9] [--steps 20] [--against main]

``variants`` times, alternated round by round in one process, the step with: the hand-off of
deepgrad/runtime.py as of ``--against`` (a ThreadPoolExecutor before 2026-12-02) or of this tree,
each engine (NumPy's OpenBLAS, MKL), and the large GEMMs split in row halves or whole on one
thread: process CPU and wall time per step (ms), medians.

With train_speed.py's process settings (freed memory kept, OpenBLAS's idle threads sleeping soon).
"""
from __future__ import annotations

import argparse
import statistics
import time

from interleaved import settle


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=("cpu", "ratio", "variants"))
    p.add_argument("--against", default="main")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--steps", type=int, default=None)
    args = p.parse_args()
    from deepgrad import runtime
    from deepgrad.ops import blas

    runtime.keep_freed_memory()
    runtime.short_blas_spin()
    from train_speed import BATCH, deepgrad_stepper

    step = deepgrad_stepper("mlp")[0]
    load = open("/proc/loadavg").read().split()[:3]
    if args.what == "cpu":
        n = args.steps or 50
        for _ in range(5):
            step()
        cpu, wall = [], []
        for _ in range(args.rounds):
            settle(0.05)
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(n):
                step()
            cpu.append((time.process_time() - c0) / n * 1e3)
            wall.append((time.perf_counter() - w0) / n * 1e3)
        print(f"engine {blas.engine()}, load {load}: cpu {statistics.median(cpu):.3f} ms/step "
              f"(min {min(cpu):.3f}), wall {statistics.median(wall):.3f} ms/step (min {min(wall):.3f})")
        return
    if args.what == "variants":
        variants(step, args)
        return
    import torch

    from interleaved import rates
    from train_speed import torch_stepper

    torch.set_num_threads(2)
    th_step = torch_stepper("mlp")[0]
    ours, theirs, ratios = rates(step, th_step, args.rounds, args.steps or 20, BATCH)
    print(f"engine {blas.engine()}, load {load}: deepgrad {statistics.median(ours):.0f}/s, torch "
          f"{statistics.median(theirs):.0f}/s, ratio {statistics.median(ratios):.2f} "
          f"({min(ratios):.2f}-{max(ratios):.2f})")


def variants(step, args) -> None:
    from deepgrad import runtime
    from deepgrad.ops import blas, halves
    from handoff import _load

    before = _load(args.against)
    ours = runtime._in_two_threads
    blas.engine()
    mkl = dict(blas._gemm)
    if not mkl and blas._load_mkl() is None:
        mkl = dict(blas._gemm)

    def use(handoff, engine, split):
        runtime._in_two_threads = ours if handoff == "queue" else before._in_two_threads
        blas._gemm.clear()
        if engine == "mkl":
            blas._gemm.update(mkl)
        blas._state["engine"] = engine
        halves.GEMM_HALVES_MIN = 1 << 22 if split else 1 << 62
        halves.GEMM_HALVES_MIN_MKL = halves.GEMM_HALVES_MIN

    names = [("executor", "numpy", True), ("queue", "numpy", True), ("queue", "numpy", False)]
    if mkl:
        names += [("executor", "mkl", True), ("queue", "mkl", True), ("queue", "mkl", False)]
    n = args.steps or 20
    cpu = {v: [] for v in names}
    wall = {v: [] for v in names}
    for v in names:
        use(*v)
        for _ in range(3):
            step()
    for r in range(args.rounds):
        for v in (names if r % 2 == 0 else names[::-1]):
            use(*v)
            settle(0.05)
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(n):
                step()
            cpu[v].append((time.process_time() - c0) / n * 1e3)
            wall[v].append((time.perf_counter() - w0) / n * 1e3)
    print(f"load {open('/proc/loadavg').read().split()[:3]}")
    print(f"{'hand-off':>9} {'engine':>6} {'GEMMs':>6} {'cpu ms':>7} {'wall ms':>8}")
    for v in names:
        print(f"{v[0]:>9} {v[1]:>6} {'split' if v[2] else 'whole':>6} {statistics.median(cpu[v]):7.3f} "
              f"{statistics.median(wall[v]):8.3f}")


if __name__ == "__main__":
    main()
