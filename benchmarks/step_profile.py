"""Where a training step's time goes, per op, deepgrad against PyTorch, in one process.

The models and steps of ``train_speed.py`` (Keras ``Sequential``, ``compile`` with Adam,
``train_on_batch`` at batch 128; PyTorch's ``zero_grad``, forward, loss, ``backward``, ``step``).
deepgrad's step is timed in CPU time (``time.process_time``: every thread of the process, so
work handed to deepgrad's second thread or OpenBLAS's pool is charged to the op that waits for
it) around the trainer's parts and every ``Function``'s ``forward`` / ``backward`` (cProfile's
clock around every Python call would triple the MLP's step); PyTorch's by ``torch.profiler`` (CPU activities, with
``record_function`` around forward, backward and the optimizer). Each step is profiled on its
own and every figure is the median over the profiled steps, in ms per step. The two are run
alternately (a deepgrad step, a PyTorch step, ...).

Parts: ``forward`` (model call and loss), ``backward`` (the gradients), ``optimizer``, and
``other`` (data checks, logs); the step's total is also timed unprofiled (process CPU time,
median), since a profiler adds its own cost.

Ops: deepgrad's ``Function`` subclasses by their ``forward`` / ``backward`` methods (inclusive
time), Adam's update passes; PyTorch's aten ops by self CPU time (``aten::`` names; ``*Backward0``
nodes of autograd, inclusive).

    OPENBLAS_NUM_THREADS=1 python benchmarks/step_profile.py --threads 1
    python benchmarks/step_profile.py --threads 2 --models cifar
    OPENBLAS_NUM_THREADS=1 python benchmarks/step_profile.py --threads 1 --models encoder

``encoder`` is the transformer encoder block of ``attention_speed.py`` (batch 32, MSE loss).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict


def _threads_from_argv() -> int:
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return int(sys.argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return 2


if _threads_from_argv() == 1:  # before NumPy loads OpenBLAS
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from train_speed import deepgrad_stepper, torch_stepper  # noqa: E402

class Probe:
    """CPU time (``time.process_time``) of deepgrad's step parts and ops, by wrapping the trainer's
    methods and every ``Function`` subclass's ``forward`` / ``backward`` (a few dozen timed calls
    a step, so unlike cProfile's clock around every Python call it adds little)."""

    PARTS = {"forward": ("Model", "__call__"), "loss": ("Trainer", "compute_loss"),
             "backward": ("Trainer", "_gradients"), "optimizer": ("Trainer", "_apply_gradients"),
             "step": ("Trainer", "train_on_batch")}

    def __init__(self):
        from deepgrad import models, optimizers
        from deepgrad.autograd.function import Function

        self.times = defaultdict(float)
        self.on = False
        self.clock = time.process_time  # time.thread_time: the main thread's share alone
        self.depth = defaultdict(int)
        classes = {"Model": models.Model, "Trainer": models.model.Trainer, "Optimizer": optimizers.Optimizer}
        for part, (cls_name, meth) in self.PARTS.items():
            self._wrap(classes[cls_name], meth, part, outer_only=True)
        seen, todo = set(), [Function]
        while todo:
            cls = todo.pop()
            for sub in cls.__subclasses__():
                if sub not in seen:
                    seen.add(sub)
                    todo.append(sub)
        for cls in seen:
            for meth in ("forward", "backward"):
                if meth in cls.__dict__:
                    self._wrap(cls, meth, f"{cls.__name__}.{meth}")
        self._wrap(optimizers.Adam, "_adam", "Adam._adam (update passes)")

    def _wrap(self, cls, meth, label, outer_only=False):
        inner = cls.__dict__[meth]
        probe = self

        def timed_call(*args, **kwargs):
            if not probe.on or (outer_only and probe.depth[label]):
                return inner(*args, **kwargs)
            probe.depth[label] += 1
            clock = probe.clock
            start = clock()
            try:
                return inner(*args, **kwargs)
            finally:
                probe.times[label] += (clock() - start) * 1e3
                probe.depth[label] -= 1

        setattr(cls, meth, timed_call)

    def profile(self, step, clock=time.process_time) -> dict:
        self.times = defaultdict(float)
        self.clock = clock
        self.on = True
        step()
        self.on = False
        return dict(self.times)


def torch_profile(net, opt, loss_fn, xt, yt) -> dict:
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with record_function("part:zero_grad"):
            opt.zero_grad(set_to_none=True)
        with record_function("part:forward"):
            loss = loss_fn(net(xt), yt)
        with record_function("part:backward"):
            loss.backward()
        with record_function("part:optimizer"):
            opt.step()
    out = {}
    for ev in prof.key_averages():
        if ev.key.startswith("part:"):
            out[ev.key] = ev.cpu_time_total / 1e3
        elif "Backward" in ev.key and "evaluate_function" in ev.key:
            out[ev.key.split(": ")[-1]] = ev.cpu_time_total / 1e3
        elif ev.key.startswith("aten::") or ev.key.startswith("Optimizer"):
            out[ev.key] = ev.self_cpu_time_total / 1e3
    del torch
    return out


def median_dict(samples: list) -> dict:
    keys = set().union(*samples)
    return {k: statistics.median([s.get(k, 0.0) for s in samples]) for k in keys}


def step_cpu(step, n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        step()
    return (time.process_time() - start) / n * 1e3


def run(name: str, reps: int, top: int, probe: Probe) -> None:
    import torch

    if name == "encoder":  # attention_speed.py's transformer encoder block
        import attention_speed

        dg_step, th_step = attention_speed.deepgrad_stepper(), attention_speed.torch_stepper()
    else:
        dg_step = deepgrad_stepper(name)[0]
        th_step = torch_stepper(name)[0]
    # the same PyTorch objects torch_stepper's step closes over
    cells = dict(zip(th_step.__code__.co_freevars, (c.cell_contents for c in th_step.__closure__)))
    net, opt, loss_fn = cells["net"], cells["opt"], cells["loss_fn"]
    xt, yt = (cells["x"], cells["y"]) if name == "encoder" else (cells["xt"], cells["yt"])
    for _ in range(3):
        dg_step()
        th_step()
    n = {"mlp": 100, "cnn": 10, "cifar": 4, "encoder": 4}.get(name, 5)
    dg_tot, th_tot, dg_prof, dg_main, th_prof = [], [], [], [], []
    for _ in range(reps):
        dg_tot.append(step_cpu(dg_step, n))
        th_tot.append(step_cpu(th_step, n))
        dg_prof.append(probe.profile(dg_step))
        dg_main.append(probe.profile(dg_step, time.thread_time))
        th_prof.append(torch_profile(net, opt, loss_fn, xt, yt))
    dg, th, main_thread = median_dict(dg_prof), median_dict(th_prof), median_dict(dg_main)
    dg_total, th_total = statistics.median(dg_tot), statistics.median(th_tot)
    dg_parts = {"forward": dg.get("forward", 0.0) + dg.get("loss", 0.0), "backward": dg.get("backward", 0.0),
                "optimizer": dg.get("optimizer", 0.0)}
    dg_parts["other"] = dg.get("step", 0.0) - sum(dg_parts.values())
    th_parts = {p: th.get("part:" + p, 0.0) for p in ("forward", "backward", "optimizer")}
    th_parts["other"] = th.get("part:zero_grad", 0.0)
    print(f"\n== {name}, {torch.get_num_threads()} torch thread(s), OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}; CPU ms per step, median of {reps}")
    print(f"unprofiled step (process CPU): deepgrad {dg_total:.3f}  PyTorch {th_total:.3f}  "
          f"PyTorch/deepgrad {th_total / dg_total:.2f}")
    main_parts = {"forward": main_thread.get("forward", 0.0) + main_thread.get("loss", 0.0),
                  "backward": main_thread.get("backward", 0.0), "optimizer": main_thread.get("optimizer", 0.0)}
    main_parts["other"] = main_thread.get("step", 0.0) - sum(main_parts.values())
    print(f"{'part':10s} {'deepgrad':>9s} {'(main)':>9s} {'PyTorch':>9s}")
    for part in ("forward", "backward", "optimizer", "other"):
        print(f"{part:10s} {dg_parts[part]:9.3f} {main_parts[part]:9.3f} {th_parts[part]:9.3f}")
    print(f"{'profiled':10s} {dg.get('step', 0.0):9.3f} {main_thread.get('step', 0.0):9.3f} {sum(th_parts.values()):9.3f}")
    print(f"deepgrad ops (inclusive; CPU of all threads, of the main thread):")
    ops = {k: v for k, v in dg.items() if k not in Probe.PARTS}
    for k, v in sorted(ops.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {k:45s} {v:8.3f} {main_thread.get(k, 0.0):8.3f}")
    print("PyTorch ops (aten self CPU; autograd's backward nodes inclusive):")
    for k, v in sorted(((k, v) for k, v in th.items() if not k.startswith("part:")), key=lambda kv: -kv[1])[:top]:
        print(f"  {k:45s} {v:8.3f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["mlp", "cnn", "cifar"])
    p.add_argument("--threads", type=int, default=2, help="PyTorch threads; 1 also sets OPENBLAS_NUM_THREADS=1")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--top", type=int, default=16)
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)  # deepgrad reads OPENBLAS_NUM_THREADS=1 as one thread
    probe = Probe()
    for name in args.models:
        run(name, args.reps, args.top, probe)


if __name__ == "__main__":
    main()
