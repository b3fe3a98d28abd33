"""CPU time per training step of backward plus the gradient all-reduce's own work, with the
gradients written into the buckets by backward (``grad(out=)``, as ``fit`` does now) against
the packing path (gradients as separate arrays, each copied times 1/N into its bucket by the
reducer's hook), in one process, alternating, so the machine's load hits both alike.

The reducer runs on a one-rank communicator (MPI's ``COMM_SELF``), so there is no transfer:
what is left is what a rank spends besides the exchange itself, which is the reducer's cost
over a raw ``Allreduce`` of the same bytes. Its scale is 1/2, as on two ranks. Times are
``time.process_time`` (one BLAS thread), medians over the steps, of the loss's backward and
the reducer's calls (``start``, the hooks, ``reduce``), the forward pass left out.

    OPENBLAS_NUM_THREADS=1 python benchmarks/distributed_reducer_cpu.py --steps 300

On a loaded machine process time still moves with the neighbours' cache traffic; instruction
counts do not. ``--only views`` (or ``packing``) runs that path alone for ``--steps`` steps after
``--warmup``, to count under valgrind; the difference of two step counts is the steps' cost:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python \
        benchmarks/distributed_reducer_cpu.py --models mlp --only views --steps 20
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))   # this checkout's deepgrad


def build(name: str):
    import deepgrad as dg
    from deepgrad import layers
    rng = np.random.default_rng(0)
    if name == "mlp":
        stack = [layers.Input((784,)), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")]
        x = rng.random((128, 784), dtype=np.float32)
    else:
        stack = [layers.Input((28, 28, 1)), layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                 layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")]
        x = rng.random((32, 28, 28, 1), dtype=np.float32)
    model = dg.Sequential(stack)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model, x, rng.integers(0, 10, len(x))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn"])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--only", choices=["views", "packing"], default=None)
    args = p.parse_args()
    from deepgrad import runtime
    from deepgrad.autograd import grad
    from deepgrad.distributed.collectives import GradientReducer
    from deepgrad.distributed.mpi import mpi

    runtime.keep_freed_memory()
    for name in args.models:
        model, x, y = build(name)
        variables = model.trainable_weights
        reducer = GradientReducer(mpi().COMM_SELF, wait="spin")
        scale = 0.5

        def step(views: bool) -> float:
            loss = model.compute_loss(x, y, model(x, training=True))
            start = time.process_time()
            hook = reducer.start(variables, scale)
            if views:
                grads = grad(loss, variables, on_final=hook if reducer.overlaps else None, prune=False,
                             out=reducer.out)
            else:
                grads = grad(loss, variables, on_final=hook, prune=False)
            reducer.reduce(grads)
            return time.process_time() - start

        if args.only:
            for _ in range(args.warmup + args.steps):
                step(args.only == "views")
            continue
        for _ in range(args.warmup):
            step(True), step(False)
        times = {True: [], False: []}
        for k in range(args.steps):
            for views in ((True, False) if k % 2 else (False, True)):
                times[views].append(step(views))
        packed, viewed = statistics.median(times[False]), statistics.median(times[True])
        print(f"{name}: backward + reducer, CPU ms per step: packing {1e3 * packed:.3f}, "
              f"views {1e3 * viewed:.3f}, saved {1e3 * (packed - viewed):.3f} ({1 - viewed / packed:.1%})")


if __name__ == "__main__":
    main()
