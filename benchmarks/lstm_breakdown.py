"""Where the time of ``train_speed.py``'s LSTM step goes, deepgrad and PyTorch, in one process.

The step of ``train_speed.py --models lstm`` (LSTM(64), T = 50, batch 128, one feature, a
Dense(1, sigmoid) head, binary cross-entropy, Adam, ``train_on_batch``), built by that script's
own functions and run with its settings (freed memory kept, OpenBLAS's short spin, PyTorch on
two threads; ``--threads 1`` holds both to one thread). Each round times a block of steps of
each framework in turn, after a pause that lets the other's threads fall asleep, and splits
every step into parts:

- deepgrad: the whole ``train_on_batch``; the LSTM op's forward and backward (``LSTM.forward``,
  ``LSTM.backward``); the backward pass (``_gradients``); Adam (``_apply_gradients``); the rest
  (data checks, the Dense head, the loss, the engine, logs) is the whole less those.
- PyTorch: ``zero_grad``; ``nn.LSTM``'s forward; the head and the loss; ``backward()`` (the
  LSTM's and the head's); ``opt.step()``.

Each part is given as wall time and the calling thread's CPU time (medians over rounds, per
step); the process's threads' CPU per step (the calling thread, deepgrad's scan and
batch-halves threads, NumPy's OpenBLAS pool, the rest: PyTorch's OpenMP pool), counted in
clock ticks, so use blocks of 20 steps or more; the calling thread's wall time off a CPU, split
into waiting for a core (load) and asleep (the GIL, the second thread's last chunk), and its
sleeps; and which way the LSTM loops ran (``common.BlasThreads``: 0 OpenBLAS's threads, 1 one
thread, 2 pipelined, 3 spare), chosen by the loops' chooser or forced with ``--way``.
``--long-spin --no-settle`` reproduce the conditions ``lstm_profile.py`` ran under before.

    python benchmarks/lstm_breakdown.py --rounds 7 --steps 20
    python benchmarks/lstm_breakdown.py --threads 1
    python benchmarks/lstm_breakdown.py --way 2      # the pipelined way only
"""
from __future__ import annotations

import os
import sys

if "--threads" in sys.argv and sys.argv[sys.argv.index("--threads") + 1] == "1":
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"  # before NumPy or PyTorch load their BLAS

import argparse  # noqa: E402
import collections  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from interleaved import settle  # noqa: E402
from thread_cpu import per_thread_cpu  # noqa: E402
from train_speed import data_for, deepgrad_model, torch_model  # noqa: E402


def main_thread_sched() -> tuple:
    """The calling thread's (seconds on a CPU, seconds runnable but waiting for one, voluntary
    context switches): the wall time neither on a CPU nor waiting for one is time asleep (the
    GIL held by another thread, a wait for the second thread's work)."""
    with open("/proc/thread-self/schedstat") as f:
        on_cpu, waiting, _ = (int(v) for v in f.read().split())
    with open("/proc/thread-self/status") as f:
        switches = next(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches"))
    return on_cpu / 1e9, waiting / 1e9, switches


class Parts:
    """Wall and calling-thread CPU seconds accumulated per named part."""

    def __init__(self):
        self.wall = collections.defaultdict(float)
        self.cpu = collections.defaultdict(float)

    def wrap(self, name, fn):
        def timed(*args, **kwargs):
            w, c = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.wall[name] += time.perf_counter() - w
                self.cpu[name] += time.thread_time() - c
        return timed

    def clear(self):
        self.wall.clear()
        self.cpu.clear()


def deepgrad_parts(parts: Parts, ways: collections.Counter, way=None):
    import importlib

    common = importlib.import_module("deepgrad.ops.recurrent.common")
    lstm = importlib.import_module("deepgrad.ops.recurrent.lstm")

    model = deepgrad_model("lstm")
    x, y = data_for("lstm")
    lstm.LSTM.forward = parts.wrap("lstm op forward", lstm.LSTM.forward)
    lstm.LSTM.backward = parts.wrap("lstm op backward", lstm.LSTM.backward)
    model._gradients = parts.wrap("backward (all)", model._gradients)
    model._apply_gradients = parts.wrap("Adam", model._apply_gradients)
    choice = common.BlasThreads.choice

    if way is not None:  # every loop forced to one way (SPARE offered too)
        common.PIPELINE_WAYS = tuple(sorted(set(common.PIPELINE_WAYS) | {common.SPARE}))

    def counted(self):
        chosen = choice(self) if way is None else (way if way in self.ways else 0)
        ways[chosen] += 1
        return chosen
    common.BlasThreads.choice = counted
    step = parts.wrap("step", lambda: model.train_on_batch(x, y))
    return step


def torch_parts(parts: Parts):
    net, opt, loss_fn = torch_model("lstm")
    import torch

    x, y = data_for("lstm")
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).float().view(-1, 1)
    net.train()
    zero = parts.wrap("zero_grad", lambda: opt.zero_grad(set_to_none=True))
    rnn = parts.wrap("lstm op forward", lambda: net.rnn(xt)[0])
    head = parts.wrap("head + loss", lambda seq: loss_fn(net.head(seq[:, -1]), yt))
    back = parts.wrap("backward (all)", lambda loss: loss.backward())
    adam = parts.wrap("Adam", opt.step)

    def whole():
        zero()
        back(head(rnn()))
        adam()
    return parts.wrap("step", whole)


def thread_split(before, after, main, blas) -> tuple:
    """CPU seconds of (the calling thread, deepgrad's own threads, NumPy's OpenBLAS pool (the
    threads there were before PyTorch was imported), every other thread (PyTorch's pool))."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    spent = {t: after[t] - before.get(t, 0.0) for t in after}
    ours = sum(v for t, v in spent.items() if names.get(t, "").startswith("deepgrad"))
    pool = sum(v for t, v in spent.items() if t in blas and t != main and t not in names)
    return spent.get(main, 0.0), ours, pool, sum(spent.values()) - spent.get(main, 0.0) - ours - pool


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, choices=[1, 2], default=2)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--way", choices=["auto", "0", "1", "2", "3"], default="auto",
                   help="the LSTM loops' way: the chooser's (auto), or forced: 0 OpenBLAS's threads, 1 one "
                        "thread, 2 pipelined, 3 pipelined with the chain's GEMMs on OpenBLAS's threads (spare)")
    p.add_argument("--long-spin", action="store_true", help="leave OpenBLAS's idle threads spinning ~0.1 s "
                   "after each GEMM (lstm_profile.py's setting), instead of train_speed.py's short spin")
    p.add_argument("--no-settle", action="store_true", help="no pause between the frameworks' blocks "
                   "(lstm_profile.py's way)")
    args = p.parse_args()
    from deepgrad import runtime
    if not args.long_spin:
        runtime.short_blas_spin()
    runtime.keep_freed_memory()
    blas = set(per_thread_cpu())  # NumPy's OpenBLAS threads (and this one), before PyTorch starts its own
    import torch

    torch.set_num_threads(args.threads)
    steps = {}
    parts = {"deepgrad": Parts(), "torch": Parts()}
    ways = collections.Counter()
    steps["deepgrad"] = deepgrad_parts(parts["deepgrad"], ways, None if args.way == "auto" else int(args.way))
    steps["torch"] = torch_parts(parts["torch"])
    for s in steps.values():
        for _ in range(5):
            s()
    ways.clear()
    main_tid = threading.get_native_id()
    results = {fw: collections.defaultdict(list) for fw in steps}
    for _ in range(args.rounds):
        for fw, s in steps.items():
            if not args.no_settle:
                settle()
            parts[fw].clear()
            before, cpu0, sched0, wall0 = per_thread_cpu(), time.process_time(), main_thread_sched(), time.perf_counter()
            for _ in range(args.steps):
                s()
            wall, sched1 = time.perf_counter() - wall0, main_thread_sched()
            process = time.process_time() - cpu0
            on_cpu, runnable, switches = (b - a for a, b in zip(sched0, sched1))
            r = results[fw]
            r["cpu main: runnable, no CPU"].append(runnable / args.steps)
            r["cpu main: asleep"].append((wall - on_cpu - runnable) / args.steps)
            r["cpu main: sleeps (count)"].append(switches / args.steps)
            main_cpu, ours, pool, other = thread_split(before, per_thread_cpu(), main_tid, blas)
            for name in parts[fw].wall:
                r["wall " + name].append(parts[fw].wall[name] / args.steps)
                r["cpu " + name].append(parts[fw].cpu[name] / args.steps)
            for name, v in (("process", process), ("thread main", main_cpu), ("thread deepgrad", ours),
                            ("thread OpenBLAS", pool), ("thread other", other)):
                r["cpu " + name].append(v / args.steps)
    print(f"LSTM(64), T=50, batch 128, {args.threads} thread(s), {'long' if args.long_spin else 'short'} BLAS spin, "
          f"{'no pause' if args.no_settle else 'pause'} between blocks, {args.rounds} rounds x {args.steps} steps, "
          f"medians in ms per step; ways (way: calls) {dict(sorted(ways.items()))}")
    print(f"{'part':22s} {'dg wall':>8s} {'dg cpu':>8s} {'th wall':>8s} {'th cpu':>8s}")
    names = ["step", "lstm op forward", "head + loss", "backward (all)", "lstm op backward", "Adam", "zero_grad"]
    med = {fw: {k: statistics.median(v) * (1 if k.endswith("(count)") else 1e3) for k, v in r.items()}
           for fw, r in results.items()}
    for fw in med:  # the parts not wrapped: whole step less the wrapped ones
        m = med[fw]
        for clock in ("wall", "cpu"):
            wrapped = [f"{clock} {n}" for n in ("lstm op forward", "backward (all)", "Adam", "zero_grad",
                                                "head + loss") if f"{clock} {n}" in m]
            m[f"{clock} rest"] = m[f"{clock} step"] - sum(m[k] for k in wrapped)
    names.append("rest")
    for name in names:
        cells = []
        for fw in ("deepgrad", "torch"):
            for clock in ("wall", "cpu"):
                v = med[fw].get(f"{clock} {name}")
                cells.append(f"{v:8.2f}" if v is not None else f"{'-':>8s}")
        print(f"{name:22s} {' '.join(cells)}")
    for name in ("process", "thread main", "thread deepgrad", "thread OpenBLAS", "thread other",
                 "main: runnable, no CPU", "main: asleep", "main: sleeps (count)"):
        print(f"{'cpu ' + name:22s} {'':8s} {med['deepgrad']['cpu ' + name]:8.2f} {'':8s} "
              f"{med['torch']['cpu ' + name]:8.2f}")
    ratio = [t / d for d, t in zip(results["deepgrad"]["wall step"], results["torch"]["wall step"])]
    print(f"torch wall / deepgrad wall per round: median {statistics.median(ratio):.2f} "
          f"({min(ratio):.2f}-{max(ratio):.2f})")


if __name__ == "__main__":
    main()
