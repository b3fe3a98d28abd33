"""The encoder block of ``attention_speed.py``: its training step with the compiled layer
normalisation and the CPU's GEMM engine against the NumPy layer normalisation on MKL (the
configuration before them), and PyTorch, interleaved in one process, in CPU time per step.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/encoder_ab.py --rounds 9
    python benchmarks/encoder_ab.py --rounds 9          # two threads

Each round times ``--steps`` steps of each configuration in turn (``time.process_time``, every
thread of the process) and then profiles one step of each by op (``step_profile.Probe``); the
figures are medians over the rounds. The configurations are switched in the process: the layer
normalisation's compiled loops off (``normalization_compiled.loaded``), the GEMM engine
re-resolved under ``DEEPGRAD_BLAS``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import attention_speed
from step_profile import Probe, median_dict


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--top", type=int, default=8)
    args = p.parse_args()
    import torch

    from deepgrad import runtime
    from deepgrad.ops import blas, normalization_compiled

    runtime.keep_freed_memory()
    runtime.short_blas_spin()
    torch.set_num_threads(1 if os.environ.get("OMP_NUM_THREADS") == "1" else 2)
    probe = Probe()
    dg_step, th_step = attention_speed.deepgrad_stepper(), attention_speed.torch_stepper()
    default_engine = os.environ.get("DEEPGRAD_BLAS", "")

    def configure(name):
        os.environ["DEEPGRAD_BLAS"] = "mkl" if name == "before" else default_engine
        blas._state.update(engine=None, reason="")
        blas._gemm.clear()
        blas.engine()
        normalization_compiled.loaded.clear()
        if name == "before":
            normalization_compiled.loaded.update(forward=None, backward=None)

    names = ("before", "after", "PyTorch")
    for name in names[:2]:
        configure(name)
        dg_step()
        dg_step()
    th_step()
    th_step()
    times = {n: [] for n in names}
    profiles = {n: [] for n in names[:2]}
    for _ in range(args.rounds):
        for name in names:
            if name != "PyTorch":
                configure(name)
            step = th_step if name == "PyTorch" else dg_step
            start = time.process_time()
            for _ in range(args.steps):
                step()
            times[name].append((time.process_time() - start) / args.steps * 1e3)
            if name != "PyTorch":
                profiles[name].append(probe.profile(dg_step))
    configure("after")
    print(f"encoder block, torch threads {torch.get_num_threads()}, engine after: {blas.engine()}; "
          f"CPU ms per step, median of {args.rounds} rounds of {args.steps}")
    for name in names:
        print(f"  {name:8s} {statistics.median(times[name]):7.1f}  ({min(times[name]):.1f}-{max(times[name]):.1f})")
    ratios = [a / b for a, b in zip(times["before"], times["after"])]
    print(f"  before/after {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}); "
          f"PyTorch/after {statistics.median([t / a for t, a in zip(times['PyTorch'], times['after'])]):.2f}")
    before, after = median_dict(profiles["before"]), median_dict(profiles["after"])
    ops = sorted((k for k in set(before) | set(after) if k not in Probe.PARTS), key=lambda k: -before.get(k, 0))
    print(f"  {'op (inclusive CPU ms)':40s} {'before':>8s} {'after':>8s}")
    for k in ops[:args.top]:
        print(f"  {k:40s} {before.get(k, 0):8.2f} {after.get(k, 0):8.2f}")


if __name__ == "__main__":
    main()
