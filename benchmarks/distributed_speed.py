"""Data-parallel training throughput: deepgrad over MPI against PyTorch DDP (gloo), 1, 2 and
4 ranks on this machine, and deepgrad's gradient all-reduce against a raw mpi4py Allreduce
of the same bytes.

Weak scaling: every rank trains on its own batch of ``--batch`` samples per step (the global
batch grows with the ranks), float32, Adam, the MLP of seed 003 and the CNN of seed 004 on
synthetic 28x28 images. deepgrad runs under ``mpiexec -n N`` with ``DistributedOptimizer``
(the gradients' all-reduce in buckets started during backward, 25 MB each, so one bucket for
these models); PyTorch runs ``DistributedDataParallel`` on the gloo backend,
its ranks started with ``torch.multiprocessing.spawn`` on localhost. Both run one thread per
rank: with more ranks than cores the ranks share cores (oversubscribed), which the table says. Rounds alternate deepgrad and PyTorch, so machine
noise hits both alike; the table gives the median throughput over rounds.

All-reduce: after training, every rank runs deepgrad's whole gradient all-reduce as the
trainer does it: ``start`` gives the gradients' views of the buckets (backward writes the
gradients there through ``grad(out=)``, so they stand in the buffer, as here), the hook
``ready`` is called with each in backward's order when there are several buckets, then the
optimiser's ``reduce`` scales each bucket by 1/N in place, all-reduces it and gives the views
back; with each wait (``yield`` and ``spin``; training uses the default, ``spin`` when the ranks are no
more than the cores), and a raw in-place blocking
``comm.Allreduce`` of a buffer of the same bytes, 400 of each, alternating, each call after a
barrier (so that none waits for a late rank); the ratio is median(deepgrad) / median(raw).
"In training" is the time a step spends in the reducer (its hooks during backward and the
final wait). The pieces, timed the same way: the scale pass (1/N times the flat buffer, in
place: the reducer's one pass over the gradients), the reducer's Python (the whole path on a
one-rank communicator, so no transfer, minus the scale pass), and the yielding wait's arrival
barrier alone. (Before the gradients were written into the buckets by backward, the pass was a
pack: 1/N times each gradient copied into its place; older runs report it as ``pack_ms``.)

    python benchmarks/distributed_speed.py                  # everything, writes distributed_speed.json
    python benchmarks/distributed_speed.py --models mlp --ranks 1 2 --rounds 1
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
STEPS = {"mlp": (20, 150), "cnn": (5, 30)}    # (warm-up steps, timed steps)
BREAKDOWN = ("fused_allreduce_ms", "spin_allreduce_ms", "raw_allreduce_ms", "reduce_ms_in_training",
             "scale_ms", "python_ms", "barrier_ms")


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def threads_per_rank(n: int) -> int:
    """One thread per rank for both frameworks: on a machine that other work loads, BLAS
    threads that share cores make the timings swing; ranks, not threads, use the cores."""
    return 1


def data(model: str, n: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    return (x.reshape(n, 784) if model == "mlp" else x), rng.integers(0, 10, n)


# --------------------------------------------------------------------------- deepgrad rank
def deepgrad_rank(args) -> None:
    import deepgrad as dg
    import deepgrad.distributed as hvd
    from deepgrad import layers, optimizers, runtime
    from deepgrad.distributed.collectives import GradientReducer, _wait_yielding
    from deepgrad.distributed.mpi import mpi

    runtime.keep_freed_memory()
    runtime.short_blas_spin()
    comm = hvd.init()
    MPI = mpi()
    r, n = hvd.rank(), hvd.size()
    if args.model == "mlp":
        stack = [layers.Input((784,)), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")]
    else:
        stack = [layers.Input((28, 28, 1)), layers.Conv2D(32, (3, 3), activation="relu"),
                 layers.MaxPooling2D((2, 2)), layers.Flatten(), layers.Dense(128, activation="relu"),
                 layers.Dense(10, activation="softmax")]
    model = dg.Sequential(stack)
    opt = hvd.DistributedOptimizer(optimizers.Adam(1e-3))
    model.compile(opt, "sparse_categorical_crossentropy")
    x, y = data(args.model, args.batch, seed=r)
    reduce_seconds = [0.0]
    if n > 1:
        def timed(inner):
            def call(*a):
                t = time.perf_counter()
                out = inner(*a)
                reduce_seconds[0] += time.perf_counter() - t
                return out
            return call
        opt._reducer.reduce = timed(opt._reducer.reduce)   # the wait after backward
        opt._reducer.ready = timed(opt._reducer.ready)     # the hook inside backward
    warm, steps = STEPS[args.model]
    for _ in range(warm):
        model.train_on_batch(x, y)
    comm.Barrier()
    reduce_seconds[0] = 0.0
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    comm.Barrier()
    elapsed = time.perf_counter() - start
    result = {"samples_per_second": n * args.batch * steps / elapsed, "step_ms": 1e3 * elapsed / steps,
              "reduce_ms_in_training": 1e3 * reduce_seconds[0] / steps}
    variables = model.trainable_weights
    grads = [np.random.default_rng(r).random(w.shape, dtype=np.float32) for w in variables]
    nbytes = sum(g.nbytes for g in grads)
    result["gradient_bytes"] = nbytes
    if n > 1:
        reducers = {"yield": GradientReducer(comm, wait="yield"), "spin": GradientReducer(comm, wait="spin"),
                    "alone": GradientReducer(MPI.COMM_SELF, wait="spin")}
        raw = np.empty(nbytes // 4, np.float32)
        flat = np.random.default_rng(r).random(raw.size, dtype=np.float32)
        barrier_comm = comm.Dup()
        for reducer in reducers.values():   # the gradients where backward leaves them: in their views
            reducer.start(variables)
            for view, g in zip(reducer.out, grads):
                view[...] = g
            reducer.reduce(reducer.out)

        def scale():   # the one pass over the gradients: the flat buffer times 1/N, in place
            np.multiply(flat, 1.0 / n, out=flat)

        def ours(reducer, scale=None):   # a training step's calls into the reducer
            reducer.start(variables, scale)
            views = reducer.out
            if reducer.overlaps:
                for v, g in zip(reversed(variables), reversed(views)):   # backward's order
                    reducer.ready(v, g)
            reducer.reduce(views)

        # the pieces: "alone" is the whole reducer path on a one-rank communicator (its Python and
        # the scale pass by 1/N, as on N ranks, no transfer); "barrier" is the yielding wait's
        # arrival barrier alone
        calls = {"yield": lambda: ours(reducers["yield"]), "spin": lambda: ours(reducers["spin"]),
                 "raw": lambda: comm.Allreduce(MPI.IN_PLACE, raw, op=MPI.SUM),
                 "alone": lambda: ours(reducers["alone"], 1.0 / n), "scale": scale,
                 "barrier": lambda: _wait_yielding(barrier_comm.Ibarrier())}
        times = {k: [] for k in calls}
        for call in range(args.reduce_calls):  # in alternating order, each call after a barrier
            for which in (list(calls) if call % 2 else list(calls)[::-1]):
                comm.Barrier()
                t = time.perf_counter()
                calls[which]()
                times[which].append(time.perf_counter() - t)
        result["fused_allreduce_ms"] = 1e3 * statistics.median(times["yield"])
        result["spin_allreduce_ms"] = 1e3 * statistics.median(times["spin"])
        result["raw_allreduce_ms"] = 1e3 * statistics.median(times["raw"])
        result["scale_ms"] = 1e3 * statistics.median(times["scale"])
        result["python_ms"] = 1e3 * (statistics.median(times["alone"]) - statistics.median(times["scale"]))
        result["barrier_ms"] = 1e3 * statistics.median(times["barrier"])
    results = comm.gather(result, root=0)
    if r == 0:
        merged = dict(results[0])
        merged["step_ms"] = max(res["step_ms"] for res in results)
        for key in BREAKDOWN:
            if key in merged:
                merged[key] = statistics.median(res[key] for res in results)
        pathlib.Path(args.out).write_text(json.dumps(merged))


# --------------------------------------------------------------------------- PyTorch DDP rank
def torch_rank(rank: int, n: int, model_name: str, batch: int, port: int, out: str) -> None:
    import torch
    import torch.distributed as td
    from torch import nn

    torch.set_num_threads(threads_per_rank(n))
    td.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=n)
    torch.manual_seed(0)
    if model_name == "mlp":
        net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    else:
        net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(32 * 13 * 13, 128), nn.ReLU(), nn.Linear(128, 10))
    model = nn.parallel.DistributedDataParallel(net)
    opt = torch.optim.Adam(model.parameters(), 1e-3, eps=1e-7)
    x, y = data(model_name, batch, seed=rank)
    x = torch.from_numpy(x if model_name == "mlp" else np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    y = torch.from_numpy(y)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
    warm, steps = STEPS[model_name]
    for _ in range(warm):
        step()
    td.barrier()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    td.barrier()
    elapsed = time.perf_counter() - start
    if rank == 0:
        pathlib.Path(out).write_text(json.dumps({"samples_per_second": n * batch * steps / elapsed,
                                                 "step_ms": 1e3 * elapsed / steps}))
    td.destroy_process_group()


def run_torch(n: int, model: str, batch: int, out: str) -> dict:
    import socket

    import torch.multiprocessing as tmp
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp.spawn(torch_rank, args=(n, model, batch, port, out), nprocs=n, join=True)
    return json.loads(pathlib.Path(out).read_text())


def run_deepgrad(n: int, model: str, batch: int, out: str, reduce_calls: int = 400) -> dict:
    sys.path.insert(0, str(ROOT))
    from deepgrad.distributed.launch import mpiexec_command
    threads = str(threads_per_rank(n))
    env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads,
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = mpiexec_command([sys.executable, str(HERE / "distributed_speed.py"), "--rank-of", "deepgrad",
                           "--models", model, "--batch", str(batch), "--out", out,
                           "--reduce-calls", str(reduce_calls)], n)
    subprocess.run(cmd, env=env, check=True, timeout=900)
    return json.loads(pathlib.Path(out).read_text())


# --------------------------------------------------------------------------- report
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn"])
    p.add_argument("--ranks", nargs="+", type=int, default=[1, 2, 4])
    p.add_argument("--batch", type=int, default=None, help="per-rank batch (default: mlp 128, cnn 32)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--reduce-calls", type=int, default=400, help="all-reduce calls of each kind timed per rank")
    p.add_argument("--rank-of", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(HERE / "distributed_speed.json"))
    args = p.parse_args()
    if args.rank_of == "deepgrad":
        args.model = args.models[0]
        deepgrad_rank(args)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        for model in args.models:
            batch = args.batch or {"mlp": 128, "cnn": 32}[model]
            for n in args.ranks:
                ours, theirs = [], []
                for k in range(args.rounds):
                    ours.append(run_deepgrad(n, model, batch, os.path.join(tmpdir, f"dg{k}.json"), args.reduce_calls))
                    theirs.append(run_torch(n, model, batch, os.path.join(tmpdir, f"pt{k}.json")))
                row = {"model": model, "ranks": n, "per_rank_batch": batch, "threads_per_rank": threads_per_rank(n),
                       "oversubscribed": n > cores(),
                       "deepgrad_samples_per_second": statistics.median(o["samples_per_second"] for o in ours),
                       "torch_ddp_samples_per_second": statistics.median(t["samples_per_second"] for t in theirs),
                       "deepgrad_step_ms": statistics.median(o["step_ms"] for o in ours),
                       "torch_step_ms": statistics.median(t["step_ms"] for t in theirs),
                       "gradient_bytes": ours[0]["gradient_bytes"]}
                if n > 1:
                    for key in BREAKDOWN:
                        row[key] = statistics.median(o[key] for o in ours)
                rows.append(row)
                print(json.dumps(row), flush=True)
    report = {"cores": cores(), "rounds": args.rounds, "load_average": os.getloadavg(), "rows": rows}
    pathlib.Path(args.out).write_text(json.dumps(report, indent=1))
    print(table(report))


def table(report: dict) -> str:
    base = {(r["model"]): r for r in report["rows"] if r["ranks"] == 1}
    lines = ["| model | ranks | per-rank batch | deepgrad samples/s | PyTorch DDP samples/s | deepgrad / DDP | "
             "deepgrad scaling efficiency | deepgrad all-reduce ms (yield) | ratio | (spin) | ratio | "
             "raw Allreduce ms | reducer ms per training step |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        one = base.get(r["model"])
        eff = (r["deepgrad_samples_per_second"] / (r["ranks"] * one["deepgrad_samples_per_second"])
               if one else float("nan"))
        ranks = f"{r['ranks']}{' (oversubscribed)' if r['oversubscribed'] else ''}"
        def ms(key):
            return f"{r[key]:.3f}" if key in r else "-"

        def ratio(key):
            return f"{r[key] / r['raw_allreduce_ms']:.2f}" if key in r else "-"
        lines.append(f"| {r['model']} | {ranks} | {r['per_rank_batch']} | {r['deepgrad_samples_per_second']:.0f} | "
                     f"{r['torch_ddp_samples_per_second']:.0f} | "
                     f"{r['deepgrad_samples_per_second'] / r['torch_ddp_samples_per_second']:.2f} | "
                     f"{eff:.0%} | {ms('fused_allreduce_ms')} | {ratio('fused_allreduce_ms')} | "
                     f"{ms('spin_allreduce_ms')} | {ratio('spin_allreduce_ms')} | {ms('raw_allreduce_ms')} | "
                     f"{ms('reduce_ms_in_training')} |")
    lines += ["", "| model | ranks | gradient bytes | raw Allreduce ms | reducer ms (yield) | (spin) | "
              "scale pass ms | reducer's Python ms | arrival barrier ms |", "|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        if "scale_ms" in r:
            lines.append(f"| {r['model']} | {r['ranks']} | {r['gradient_bytes']:,} | {r['raw_allreduce_ms']:.4f} | "
                         f"{r['fused_allreduce_ms']:.4f} | {r['spin_allreduce_ms']:.4f} | {r['scale_ms']:.4f} | "
                         f"{r['python_ms']:.4f} | {r['barrier_ms']:.4f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
