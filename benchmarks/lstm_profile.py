"""CPU time of one LSTM training step, deepgrad against PyTorch, on one BLAS thread each.

The model of the speed benchmark: sequences of 50 steps and 1 feature -> LSTM(64) ->
Dense(1, sigmoid), binary cross-entropy, Adam, batch 128, float32. Wall clock on a shared
machine says more about the neighbours than about the code, so this measures process CPU
time (``time.process_time``) with BLAS and PyTorch limited to one thread, the two
frameworks interleaved, and reports the minimum and median over many repetitions.

``--part op`` times only the recurrent layer (forward + backward of the fused op against
``torch.nn.LSTM``), ``--part step`` the whole training step, ``--part both`` (default) both.

    python benchmarks/lstm_profile.py --reps 30
    python benchmarks/lstm_profile.py --part op --profile   # pyinstrument profile of our op
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy or PyTorch load their BLAS

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

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


def cpu_seconds(step, n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        step()
    return (time.process_time() - start) / n


def compare(label: str, ours, theirs, reps: int, inner: int) -> None:
    for f in (ours, theirs):   # warm up caches, allocators and lazy state
        cpu_seconds(f, 3)
    a, b = [], []
    for _ in range(reps):
        a.append(cpu_seconds(ours, inner))
        b.append(cpu_seconds(theirs, inner))
    ratios = [y / x for x, y in zip(a, b)]
    print(f"{label}: deepgrad min {min(a) * 1e3:.2f} ms, median {statistics.median(a) * 1e3:.2f} ms | "
          f"torch min {min(b) * 1e3:.2f} ms, median {statistics.median(b) * 1e3:.2f} ms | "
          f"throughput ratio (torch time / ours) min-based {min(b) / min(a):.2f}, "
          f"median of pairs {statistics.median(ratios):.2f}")


def main() -> None:
    import torch

    torch.set_num_threads(1)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["op", "step", "both"], default="both")
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--inner", type=int, default=5, help="steps per timed sample")
    p.add_argument("--profile", action="store_true", help="pyinstrument profile of deepgrad instead of timing")
    args = p.parse_args()
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
