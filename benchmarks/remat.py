"""Rematerialization (gradient checkpointing): peak memory and CPU time of one training step.

Each configuration runs in its own process (so the convolution workspace pool and malloc's
heap start empty): the model is built, compiled and trained for two warm-up steps; then the
peak of the memory NumPy and Python hold (``tracemalloc``, which NumPy reports its arrays to)
is read over one ``train_on_batch``, and the CPU time per step (``time.process_time``, one
BLAS thread) over ``--steps`` more steps without tracing.

    OPENBLAS_NUM_THREADS=1 python benchmarks/remat.py [--steps 10]

Models, whose saved activations are most of a step's memory (where checkpointing pays): an MLP
784 -> 8 x (Dense 1024 relu, Dropout 0.1) -> 10 at batch 1024; a CNN of four Conv2D(32, 3x3,
"same", relu) on 28x28x1, max pooling, Dense 10, at batch 64. Modes: plain; every layer made
inside ``RematScope("full")`` (each call one segment); ``blocks``: the hidden layers as two
``keras.remat`` segments (only each segment's input and output kept between the passes).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's deepgrad


def _stack(model: str) -> tuple:
    """(input shape, the hidden layers in segments, the head)."""
    from deepgrad import layers

    if model == "mlp":
        segments = [[layer for _ in range(4) for layer in (layers.Dense(1024, activation="relu"), layers.Dropout(0.1))]
                    for _ in range(2)]
        return (784,), segments, [layers.Dense(10, activation="softmax")]
    segments = [[layers.Conv2D(32, 3, padding="same", activation="relu") for _ in range(2)] for _ in range(2)]
    return (28, 28, 1), segments, [layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(10, activation="softmax")]


def build(model: str, mode: str):
    import deepgrad as dg
    from deepgrad import layers

    dg.utils.set_random_seed(0)
    if mode == "scope_full":  # every layer made in the scope: each call is its own segment
        with dg.RematScope(mode="full"):
            shape, segments, head = _stack(model)
    else:
        shape, segments, head = _stack(model)
    if mode == "blocks":  # each segment of layers one ``keras.remat`` function: its input and output kept
        blocks = []
        for segment in segments:
            block = dg.Sequential(segment)
            blocks.append(RematBlock(block, dg.remat(block)))
        return dg.Sequential([layers.Input(shape), *blocks, *head])
    return dg.Sequential([layers.Input(shape), *[layer for segment in segments for layer in segment], *head])


def _remat_block_class():
    from deepgrad import layers

    class RematBlock(layers.Layer):
        """A layer that calls ``block`` through ``keras.remat``."""

        def __init__(self, block, rematerialized, **kwargs):
            super().__init__(**kwargs)
            self.block = block
            self.rematerialized = rematerialized

        def call(self, x, training=None):
            return self.rematerialized(x, training=training)

    return RematBlock


def measure(model: str, mode: str, steps: int, pool: bool = True) -> dict:
    import deepgrad as dg
    from deepgrad.ops import workspace

    global RematBlock
    RematBlock = _remat_block_class()

    if not pool:  # every array from malloc, freed when its last reference goes
        workspace.MIN_BYTES = 1 << 62

    rng = np.random.default_rng(0)
    batch = 1024 if model == "mlp" else 64
    shape = (784,) if model == "mlp" else (28, 28, 1)
    x = rng.normal(size=(batch, *shape)).astype("float32")
    y = rng.integers(0, 10, batch)
    net = build(model, mode)
    net.compile(optimizer=dg.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    tracemalloc.start()
    for _ in range(2):
        net.train_on_batch(x, y)
    resident = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    loss = float(net.train_on_batch(x, y))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    start = time.process_time()
    for _ in range(steps):
        net.train_on_batch(x, y)
    cpu = (time.process_time() - start) / steps
    return {"model": model, "mode": mode, "peak_mb": peak / 2**20, "resident_mb": resident / 2**20,
            "step_mb": (peak - resident) / 2**20, "cpu_ms": cpu * 1e3, "loss": loss}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "MODE"))
    parser.add_argument("--no-pool", action="store_true", help="no reuse of large temporaries between steps")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(*args.one, args.steps, pool=not args.no_pool)))
        return
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(f"{'model':5} {'mode':11} {'peak MB':>8} {'step MB':>8} {'CPU ms/step':>12}  loss")
    for model in ("mlp", "cnn"):
        for mode in ("plain", "scope_full", "blocks"):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", model, mode,
                                  "--steps", str(args.steps)] + (["--no-pool"] if args.no_pool else []), capture_output=True, text=True, env=env, cwd=root,
                                 check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"{model:5} {mode:11} {r['peak_mb']:8.1f} {r['step_mb']:8.1f} {r['cpu_ms']:12.1f}  {r['loss']:.6f}")


if __name__ == "__main__":
    main()
