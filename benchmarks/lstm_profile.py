"""One LSTM training step, deepgrad against PyTorch: CPU time on one core, or on two threads.

The model of the speed benchmark: sequences of 50 steps and 1 feature -> LSTM(64) ->
Dense(1, sigmoid), binary cross-entropy, Adam, batch 128, float32. Wall clock on a shared
machine says more about the neighbours than about the code, so this measures process CPU
time (``time.process_time``) with BLAS and PyTorch limited to one thread, the two
frameworks interleaved, and reports the minimum and median over many repetitions.

``--part op`` times only the recurrent layer (forward + backward of the fused op against
``torch.nn.LSTM``), ``--part step`` the whole training step, ``--part both`` (default) both.
``--part gates`` compares ways to evaluate one step's gate block (4 x 64 x 128 float32
pre-activations -> three sigmoids and a tanh): NumPy's ``1 / (1 + exp(-a))`` in three in-place
passes, NumPy's one ``tanh`` with ``σ(a) = (1 + tanh(a/2)) / 2`` (what the fused op does),
numexpr (one and two threads; VML if its build has it) and numba (a fused loop over the
block; without Intel's SVML runtime its ``exp`` and ``tanh`` are scalar libm calls).

``--part ways`` (with ``--threads 2``) times deepgrad's op and step once in each of the ways its
scans may run on two cores, forced and interleaved, against PyTorch's two threads: OpenBLAS's
own threads for every GEMM (way 0), one thread (way 1), one BLAS thread here and the off-chain
chunks in a second thread (``PIPELINED``), the same with the chain's GEMMs on OpenBLAS's threads
while the second thread is idle (``SPARE``): wall clock per call, the calling thread's CPU and its
voluntary context switches (each a wait: for the GIL, or for the second thread's last chunk).
The loops' own chooser picks among these by timing; this shows what each is worth on the
machine at hand (a quiet one for the two-core ratio).

``--threads 2`` runs both frameworks as they run by default on a two-core machine (PyTorch
on two threads; deepgrad's scans over the two halves of the batch in two threads, its BLAS on
its own default) and reports wall clock beside CPU time; with the default ``--threads 1`` the
process is held to one core, so deepgrad's scans stay on one thread too. With two threads the
process takes ``train_speed.py``'s settings (freed memory kept, OpenBLAS's idle threads asleep
after a short spin) and each timed block of one framework starts after a pause
(``interleaved.settle``): without them OpenBLAS's pool, woken by the ways that thread the chain's
GEMMs, spun on the second core for ~0.1 s into PyTorch's next block (3 ms of its CPU per PyTorch
step, measured) and PyTorch's step took 23.4 ms here against 8.8 ms in ``train_speed.py``.

    python benchmarks/lstm_profile.py --reps 30
    python benchmarks/lstm_profile.py --threads 2 --reps 30
    python benchmarks/lstm_profile.py --part op --profile   # pyinstrument profile of our op
    python benchmarks/lstm_profile.py --part gates
    python benchmarks/lstm_profile.py --threads 2 --part ways --reps 20
"""
from __future__ import annotations

import os
import sys



def _threads_argument() -> int:
    """``--threads``, read before NumPy and PyTorch load their BLAS (which fixes its thread count)."""
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
        if arg == "--threads" and i + 1 < len(args):
            return int(args[i + 1])
    return 1


THREADS = _threads_argument()
if THREADS == 1:
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"  # before NumPy or PyTorch load their BLAS
    if hasattr(os, "sched_setaffinity"):  # one core: deepgrad's batch halves stay on one thread
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from interleaved import settle  # noqa: E402

BATCH, STEPS, FEATURES, UNITS = 128, 50, 1, 64


def data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random((BATCH, STEPS, FEATURES), dtype=np.float32)
    y = (rng.random(BATCH) > 0.5).astype(np.float32)
    return x, y


def deepgrad_step():
    import deepgrad as dg
    from deepgrad import layers

    model = dg.Sequential([layers.Input((STEPS, FEATURES)), layers.LSTM(UNITS), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=dg.optimizers.Adam(1e-3), loss="binary_crossentropy")
    x, y = data()
    return lambda: model.train_on_batch(x, y)


def torch_step():
    import torch
    from torch import nn

    lstm, head = nn.LSTM(FEATURES, UNITS, batch_first=True), nn.Linear(UNITS, 1)
    params = list(lstm.parameters()) + list(head.parameters())
    opt, loss_fn = torch.optim.Adam(params, lr=1e-3, eps=1e-7), nn.BCEWithLogitsLoss()
    x, y = data()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).view(-1, 1)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(head(lstm(xt)[0][:, -1]), yt).backward()
        opt.step()

    return step


def deepgrad_op():
    import deepgrad as dg

    rng = np.random.default_rng(1)
    x = dg.Tensor(data()[0])
    weights = [dg.Tensor(rng.standard_normal(s).astype(np.float32) * 0.1, requires_grad=True)
               for s in ((FEATURES, 4 * UNITS), (UNITS, 4 * UNITS), (4 * UNITS,))]

    def step():
        _, h, _ = dg.lstm(x, *weights)
        h.sum().backward()
        for w in weights:
            w.grad = None

    return step


def torch_op():
    import torch

    lstm = torch.nn.LSTM(FEATURES, UNITS, batch_first=True)
    xt = torch.from_numpy(data()[0])

    def step():
        lstm.zero_grad(set_to_none=True)
        lstm(xt)[0][:, -1].sum().backward()

    return step


def gate_variants() -> dict:
    """One step's gate block evaluated each way, in place on preallocated arrays."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((4 * UNITS, BATCH)).astype(np.float32) * 3   # [a_i; a_f; a_c; a_o]
    out = np.empty_like(a)
    sig = out[UNITS:]

    def numpy_exp():  # the previous fused op: -a and -2 a_c folded into the weights
        np.negative(a, out=out)
        np.exp(out, out=out)
        np.add(out, 1, out=out)
        np.reciprocal(out, out=out)

    def numpy_tanh():  # this fused op: a_c and a/2 folded into the weights
        np.tanh(a, out=out)
        np.multiply(sig, 0.5, out=sig)
        np.add(sig, 0.5, out=sig)

    variants = {"numpy 1/(1+exp(-a))": numpy_exp, "numpy tanh, (1+tanh(a/2))/2": numpy_tanh}
    try:
        import numexpr

        def numexpr_sigmoid(threads):
            def run():
                numexpr.set_num_threads(threads)
                numexpr.evaluate("1 / (1 + exp(-a))", local_dict={"a": a}, out=out)
            return run

        vml = " VML" if numexpr.use_vml else " (no VML)"
        variants[f"numexpr 1/(1+exp(-a)), 1 thread{vml}"] = numexpr_sigmoid(1)
        variants[f"numexpr 1/(1+exp(-a)), 2 threads{vml}"] = numexpr_sigmoid(2)
        variants[f"numexpr tanh(a), 1 thread{vml}"] = lambda: (numexpr.set_num_threads(1),
                                                               numexpr.evaluate("tanh(a)", local_dict={"a": a}, out=out))
    except ImportError:
        pass
    try:
        import numba

        @numba.njit(fastmath=True, cache=False)
        def fused(a, out):  # sigmoid of every gate but the candidate's tanh, one pass
            flat_a, flat_out, n = a.ravel(), out.ravel(), a.size
            for k in range(n):
                flat_out[k] = 1.0 / (1.0 + np.exp(-flat_a[k]))
            for k in range(2 * UNITS * BATCH, 3 * UNITS * BATCH):
                flat_out[k] = np.tanh(flat_a[k])

        fused(a, out)  # compile
        svml = "SVML" if numba.config.USING_SVML else "no SVML"
        variants[f"numba fused loop ({svml})"] = lambda: fused(a, out)
    except ImportError:
        pass
    return variants


def gates(reps: int) -> None:
    print(f"gate block {4 * UNITS} x {BATCH} float32, CPU time per evaluation (min over {reps} samples):")
    base = None
    for name, run in gate_variants().items():
        seconds = min(cpu_seconds(run, 200) for _ in range(reps))
        base = base or seconds
        print(f"  {name:45s} {seconds * 1e6:8.1f} us   {base / seconds:5.2f}x the first")


def cpu_seconds(step, n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        step()
    return (time.process_time() - start) / n


def wall_seconds(step, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - start) / n


def pause() -> None:
    """With two threads, let the other framework's threads fall asleep before a timed block."""
    if THREADS > 1:
        settle()


def compare(label: str, ours, theirs, reps: int, inner: int) -> None:
    clocks = {"CPU": cpu_seconds} if THREADS == 1 else {"CPU": cpu_seconds, "wall": wall_seconds}
    for f in (ours, theirs):   # warm up caches, allocators and lazy state
        cpu_seconds(f, 3)
    for clock_name, clock in clocks.items():
        a, b = [], []
        for _ in range(reps):
            pause()
            a.append(clock(ours, inner))
            pause()
            b.append(clock(theirs, inner))
        ratios = [y / x for x, y in zip(a, b)]
        print(f"{label} ({clock_name}, {THREADS} thread{'s' if THREADS > 1 else ''}): deepgrad min "
              f"{min(a) * 1e3:.2f} ms, median {statistics.median(a) * 1e3:.2f} ms | "
              f"torch min {min(b) * 1e3:.2f} ms, median {statistics.median(b) * 1e3:.2f} ms | "
              f"throughput ratio (torch time / ours) min-based {min(b) / min(a):.2f}, "
              f"median of pairs {statistics.median(ratios):.2f}")


def _thread_clocks():
    """(CPU seconds, voluntary context switches) of the calling thread."""
    import threading

    with open(f"/proc/self/task/{threading.get_native_id()}/status") as f:
        switches = next(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches"))
    return time.thread_time(), switches


def ways(reps: int, inner: int) -> None:
    """deepgrad's op and step in each way of running its scans, forced, against PyTorch."""
    from deepgrad.ops.recurrent import common

    forced = {"way": 0}
    original, original_ways = common.BlasThreads.choice, common.PIPELINE_WAYS
    common.BlasThreads.choice = lambda self: forced["way"] if forced["way"] in self.ways else 0
    common.PIPELINE_WAYS = tuple(sorted(set(original_ways) | {common.PIPELINED, common.SPARE}))
    names = {0: "OpenBLAS threads", 1: "one thread", common.PIPELINED: "pipelined",
             common.SPARE: "pipelined, spare"}
    try:
        for part, (make_ours, make_theirs) in {"op": (deepgrad_op, torch_op), "step": (deepgrad_step, torch_step)}.items():
            ours, theirs = make_ours(), make_theirs()
            for way in names:
                forced["way"] = way
                cpu_seconds(ours, 3)
            cpu_seconds(theirs, 3)
            walls = {way: [] for way in names}
            cpus, waits, torch_walls = {way: [] for way in names}, {way: [] for way in names}, []
            for _ in range(reps):
                for way in names:
                    forced["way"] = way
                    pause()
                    cpu0, switches0 = _thread_clocks()
                    walls[way].append(wall_seconds(ours, inner))
                    cpu1, switches1 = _thread_clocks()
                    cpus[way].append((cpu1 - cpu0) / inner)
                    waits[way].append((switches1 - switches0) / inner)
                pause()
                torch_walls.append(wall_seconds(theirs, inner))
            print(f"{part}: torch wall median {statistics.median(torch_walls) * 1e3:.2f} ms (min {min(torch_walls) * 1e3:.2f})")
            for way, name in names.items():
                ratios = [t / w for t, w in zip(torch_walls, walls[way])]
                print(f"  {name:17s} wall median {statistics.median(walls[way]) * 1e3:6.2f} ms (min {min(walls[way]) * 1e3:6.2f}), "
                      f"calling thread CPU {statistics.median(cpus[way]) * 1e3:6.2f} ms, "
                      f"waits {statistics.median(waits[way]):5.1f} per call | torch time / ours {statistics.median(ratios):.2f}")
    finally:
        common.BlasThreads.choice, common.PIPELINE_WAYS = original, original_ways


def main() -> None:
    if THREADS > 1:  # as train_speed.py runs (see above)
        from deepgrad import runtime

        runtime.keep_freed_memory()
        runtime.short_blas_spin()
    import torch

    torch.set_num_threads(THREADS)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, choices=[1, 2], default=1,
                   help="1: one core for both frameworks (CPU time); 2: their two-core defaults (wall and CPU)")
    p.add_argument("--part", choices=["op", "step", "both", "gates", "ways"], default="both")
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--inner", type=int, default=5, help="steps per timed sample")
    p.add_argument("--profile", action="store_true", help="pyinstrument profile of deepgrad instead of timing")
    args = p.parse_args()
    if args.part == "gates":
        gates(args.reps)
        return
    if args.part == "ways":
        ways(args.reps, args.inner)
        return
    parts = ["op", "step"] if args.part == "both" else [args.part]
    makers = {"op": (deepgrad_op, torch_op), "step": (deepgrad_step, torch_step)}
    for part in parts:
        ours, theirs = (make() for make in makers[part])
        if args.profile:
            from pyinstrument import Profiler

            cpu_seconds(ours, 3)
            with Profiler(interval=0.0005) as prof:
                cpu_seconds(ours, args.reps * args.inner)
            print(prof.output_text(unicode=False, color=False))
        else:
            compare(part, ours, theirs, args.reps, args.inner)


if __name__ == "__main__":
    main()
