"""Where the DCGAN step's time goes, per op, deepgrad against PyTorch, in one process.

The steps of ``dcgan_speed.py`` (the example's ``GAN.train_step``; PyTorch's same step by hand).
deepgrad: CPU time around every ``Function``'s ``forward`` / ``backward`` (inclusive; the class
name tells the op), Adam's update passes and the two optimizers' ``apply_gradients``, all
threads of the process (``time.process_time``) and the main thread alone
(``time.thread_time``). PyTorch: ``torch.profiler`` (aten ops by self CPU time, autograd's
backward nodes inclusive). Medians over the profiled steps, ms per step; the two frameworks
alternate step by step. The unprofiled steps' process CPU is timed too.

    cd benchmarks && PYTHONPATH=.. python dcgan_profile.py --threads 1
    cd benchmarks && PYTHONPATH=.. python dcgan_profile.py --threads 2
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

if "--threads" in sys.argv and sys.argv[sys.argv.index("--threads") + 1] == "1":  # before NumPy loads
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")

from dcgan_speed import deepgrad_stepper, torch_stepper  # noqa: E402
from step_profile import Probe as StepProbe  # noqa: E402
from step_profile import median_dict, step_cpu  # noqa: E402


class Probe(StepProbe):
    """``step_profile.Probe`` for a GAN's own ``train_step``: every op and Adam's passes, the
    optimizer's ``apply_gradients`` as the one part, and the whole step."""

    PARTS = {"Optimizer.apply_gradients": ("Optimizer", "apply_gradients")}

    def profile(self, step, clock) -> dict:
        start = clock()
        times = super().profile(step, clock)
        times["step"] = (clock() - start) * 1e3
        return times


def torch_profile(step) -> dict:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    out = {}
    for ev in prof.key_averages():
        if "Backward" in ev.key and "evaluate_function" in ev.key:
            out[ev.key.split(": ")[-1]] = ev.cpu_time_total / 1e3
        elif ev.key.startswith("aten::") or ev.key.startswith("Optimizer"):
            out[ev.key] = ev.self_cpu_time_total / 1e3
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="PyTorch threads; 1 also sets OPENBLAS_NUM_THREADS=1")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--top", type=int, default=30)
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    dg_step, th_step = deepgrad_stepper(), torch_stepper()
    probe = Probe()
    for _ in range(3):
        dg_step()
        th_step()
    dg_tot, th_tot, dg_prof, dg_main, th_prof = [], [], [], [], []
    for _ in range(args.reps):
        dg_tot.append(step_cpu(dg_step, 2))
        th_tot.append(step_cpu(th_step, 2))
        dg_prof.append(probe.profile(dg_step, time.process_time))
        dg_main.append(probe.profile(dg_step, time.thread_time))
        th_prof.append(torch_profile(th_step))
    dg, main_thread, th = median_dict(dg_prof), median_dict(dg_main), median_dict(th_prof)
    dg_total, th_total = statistics.median(dg_tot), statistics.median(th_tot)
    print(f"DCGAN step, {torch.get_num_threads()} torch thread(s), OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}; CPU ms per step, median of {args.reps}")
    print(f"unprofiled step (process CPU): deepgrad {dg_total:.1f}  PyTorch {th_total:.1f}  "
          f"PyTorch/deepgrad {th_total / dg_total:.2f}")
    print(f"profiled step: deepgrad {dg['step']:.1f} (main thread {main_thread['step']:.1f})")
    print("deepgrad ops (inclusive; CPU of all threads, of the main thread):")
    ops = {k: v for k, v in dg.items() if k != "step"}
    for k, v in sorted(ops.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"  {k:45s} {v:8.2f} {main_thread.get(k, 0.0):8.2f}")
    print(f"  {'sum of the listed ops':45s} {sum(ops.values()):8.2f}")
    print("PyTorch ops (aten self CPU; autograd's backward nodes inclusive):")
    for k, v in sorted(th.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"  {k:45s} {v:8.2f}")


if __name__ == "__main__":
    main()
