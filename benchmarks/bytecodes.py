"""Python bytecodes per call, counted deterministically (``sys.settrace`` with
``f_trace_opcodes``), for the small calls whose cost is Python overhead: the actor-critic
network's ``model(x)`` on one state (with and without ``no_grad``), and ``train_on_batch``
of the MLP (784 -> 128 relu -> 10 softmax, batch 128) and of the 4-64-64-2 MLP (batch 32).

    python benchmarks/bytecodes.py            # totals
    python benchmarks/bytecodes.py --top 25   # and the functions that execute the most

Each call is made twice first (to build and warm caches); the third is counted.
"""
from __future__ import annotations

import argparse
import collections
import gc
import sys

import numpy as np

import deepgrad as dg


def count(fn, top: int = 0) -> int:
    per_function: collections.Counter = collections.Counter()

    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        if event == "opcode":
            code = frame.f_code
            per_function[(code.co_filename, code.co_firstlineno, code.co_name)] += 1
        return tracer

    # the collector stays off while counting: a collection run by chance would count the
    # bytecodes of any gc callback installed in the process (hypothesis installs one)
    enabled = gc.isenabled()
    gc.disable()
    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
        if enabled:
            gc.enable()
    total = sum(per_function.values())
    for (path, line, name), n in per_function.most_common(top):
        short = path.split("deepgrad/")[-1] if "deepgrad/" in path else path.rsplit("/", 1)[-1]
        print(f"    {n:6d}  {name} ({short}:{line})")
    return total


def actor_critic():
    inputs = dg.layers.Input(shape=(4,))
    hidden = dg.layers.Dense(128, activation="relu")(inputs)
    return dg.Model(inputs, [dg.layers.Dense(2, activation="softmax")(hidden), dg.layers.Dense(1)(hidden)])


def cases():
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=(1, 4)).astype(np.float32)
    ac = actor_critic()

    def ac_no_grad():
        with dg.no_grad():
            ac(x1)

    mlp = dg.Sequential([dg.layers.Input((784,)), dg.layers.Dense(128, activation="relu"),
                         dg.layers.Dense(10, activation="softmax")])
    mlp.compile(optimizer=dg.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    xm = rng.random((128, 784), dtype=np.float32)
    ym = rng.integers(0, 10, 128)
    small = dg.Sequential([dg.layers.Input(shape=(4,)), dg.layers.Dense(64, activation="relu"),
                           dg.layers.Dense(64, activation="relu"), dg.layers.Dense(2)])
    small.compile(optimizer=dg.optimizers.Adam(1e-3), loss="mse")
    xs = rng.normal(size=(32, 4)).astype(np.float32)
    ys = rng.normal(size=(32, 2)).astype(np.float32)
    seq = dg.Sequential([dg.layers.Input(shape=(4,)), dg.layers.Dense(64, activation="relu"), dg.layers.Dense(2)])
    return {
        "actor-critic model(x), batch 1": lambda: ac(x1),
        "actor-critic model(x), batch 1, no_grad": ac_no_grad,
        "Sequential 4-64-2 model(x), batch 1": lambda: seq(x1),
        "MLP train_on_batch, batch 128": lambda: mlp.train_on_batch(xm, ym),
        "4-64-64-2 train_on_batch, batch 32": lambda: small.train_on_batch(xs, ys),
    }


def main(top: int = 0) -> dict:
    results = {}
    for name, fn in cases().items():
        fn(), fn()
        if top:
            print(name)
        results[name] = count(fn, top)
        print(f"{name:42s} {results[name]:7d} bytecodes")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=0, help="also list the N functions that execute the most")
    main(parser.parse_args().top)
