"""CPU time of a deepgrad training step per thread: the main thread, deepgrad's second thread
(``runtime.for_batch_halves``' worker) and every other thread of the process (OpenBLAS's own
thread pool; this script never imports PyTorch).

A count from ``/proc/self/task/*/stat``, so it holds on a loaded machine where wall-clock rates
do not: an OpenBLAS thread that spins after its GEMMs shows up as CPU time of its own. With
``--ab`` each round is run twice, with the GEMM row halves and the per-sample kernel gradient
on and off (``off`` is the plain path: OpenBLAS's threads for every GEMM), interleaved. (Once
a process has run the fast paths, its ``off`` rounds were seen not to wake OpenBLAS's pool again:
compare trees in fresh processes for the pool's cost.)

    python benchmarks/thread_cpu.py --models cnn cifar --ab
"""
from __future__ import annotations

import argparse
import os
import threading
import time

from train_speed import deepgrad_stepper

TICK = os.sysconf("SC_CLK_TCK")


def per_thread_cpu() -> dict:
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    return out


def fast_paths(on: bool, _saved={}) -> None:
    """The GEMM row halves and the narrow kernel gradient on (as shipped) or off."""
    from deepgrad.ops import halves, im2col

    switches = [(halves, "GEMM_OWN_MIN", 1 << 62), (im2col, "GEMM_OWN_MIN", 1 << 62),
                (halves, "GEMM_HALVES_MIN", 1 << 62), (im2col, "GEMM_HALVES_MIN", 1 << 62), (im2col, "NARROW_COLS", -1)]
    for module, name, off in switches:
        _saved.setdefault((module, name), getattr(module, name))
        setattr(module, name, _saved[(module, name)] if on else off)


def measure(step, steps: int) -> tuple:
    workers = {t.native_id for t in threading.enumerate() if t.name.startswith("deepgrad-halves")}
    before, start = per_thread_cpu(), time.perf_counter()
    for _ in range(steps):
        step()
    wall = time.perf_counter() - start
    after = per_thread_cpu()
    spent = {t: after[t] - before.get(t, 0.0) for t in after}
    main = spent.get(os.getpid(), 0.0)
    worker = sum(v for t, v in spent.items() if t in workers)
    other = sum(spent.values()) - main - worker
    return tuple(1e3 * v / steps for v in (main, worker, other, wall))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["cnn", "cifar"])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--steps", type=int, default=0, help="steps per round (default: about 0.5 s of work)")
    p.add_argument("--ab", action="store_true", help="also run each round with the fast paths off")
    args = p.parse_args()
    print(f"{'model':6s} {'paths':5s} {'main ms':>8s} {'2nd ms':>7s} {'other ms':>8s} {'wall ms':>8s}   (per step)")
    for name in args.models:
        step = deepgrad_stepper(name)[0]
        steps = args.steps or {"mlp": 300, "cnn": 20, "cifar": 8}.get(name, 10)
        for _ in range(args.rounds):
            for on in ((True, False) if args.ab else (True,)):
                fast_paths(on)
                step()
                step()
                main_ms, worker_ms, other_ms, wall_ms = measure(step, steps)
                print(f"{name:6s} {'on' if on else 'off':5s} {main_ms:8.2f} {worker_ms:7.2f} {other_ms:8.2f} {wall_ms:8.2f}",
                      flush=True)
        fast_paths(True)


if __name__ == "__main__":
    main()
