"""Training throughput of a transformer encoder block, deepgrad against PyTorch CPU.

The block (post-norm, as in "Attention is all you need"):

    h = LayerNorm(x + MultiHeadAttention(4 heads, key_dim 32)(x, x))
    y = LayerNorm(h + Dense(128)(Dense(256, relu)(h)))

on sequences of 128 steps of width 128, batch 32, float32; one training step = forward +
backward + Adam update of a mean-squared-error loss. PyTorch runs the same block with
``torch.nn.MultiheadAttention`` on 2 threads. The two are timed interleaved (A B A B ...)
on the same data so machine noise hits both alike; the report gives samples/s and the
deepgrad/PyTorch ratio (median and spread over rounds). As ``train_speed.py`` does, the
program keeps freed memory for reuse and shortens OpenBLAS's idle spin (see there).

    python benchmarks/attention_speed.py
    python benchmarks/attention_speed.py --rounds 3 --steps 5
    OPENBLAS_NUM_THREADS=1 python benchmarks/attention_speed.py   # NumPy's BLAS on one thread

On a machine whose cores are busy with other work, a two-thread GEMM with a long inner
dimension (the weight gradients, ``X^T dY`` over 4096 rows) can wait hundreds of times its
own length for a descheduled thread; one BLAS thread then runs the step several times faster.
"""
from __future__ import annotations

import argparse
import os
import statistics

import numpy as np

from interleaved import rates

BATCH, SEQ, WIDTH, HEADS, KEY_DIM, HIDDEN = 32, 128, 128, 4, 32, 256


def data(seed: int = 0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((BATCH, SEQ, WIDTH), dtype=np.float32),
            rng.standard_normal((BATCH, SEQ, WIDTH), dtype=np.float32))


def deepgrad_stepper():
    import deepgrad as dg
    from deepgrad import layers

    inputs = layers.Input((SEQ, WIDTH))
    attended = layers.MultiHeadAttention(HEADS, KEY_DIM)(inputs, inputs)
    h = layers.LayerNormalization()(layers.Add()([inputs, attended]))
    ff = layers.Dense(WIDTH)(layers.Dense(HIDDEN, activation="relu")(h))
    outputs = layers.LayerNormalization()(layers.Add()([h, ff]))
    model = dg.Model(inputs, outputs)
    model.compile(optimizer=dg.optimizers.Adam(1e-3), loss="mse")
    x, y = data()

    def step():
        model.train_on_batch(x, y)

    return step


def torch_stepper():
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = nn.MultiheadAttention(WIDTH, HEADS, batch_first=True)
            self.norm1, self.norm2 = nn.LayerNorm(WIDTH, eps=1e-3), nn.LayerNorm(WIDTH, eps=1e-3)
            self.ff = nn.Sequential(nn.Linear(WIDTH, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, WIDTH))

        def forward(self, x):
            h = self.norm1(x + self.attention(x, x, x, need_weights=False)[0])
            return self.norm2(h + self.ff(h))

    net = Block()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    x, y = (torch.from_numpy(a) for a in data())
    loss_fn = nn.MSELoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        opt.step()

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=5, help="training steps per timed round")
    args = p.parse_args()
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP", "MKL"))}  # as given
    from deepgrad import runtime

    runtime.keep_freed_memory()
    runtime.short_blas_spin()
    import torch

    torch.set_num_threads(2)
    dg_step, th_step = deepgrad_stepper(), torch_stepper()
    dg_rates, th_rates, ratios = rates(dg_step, th_step, args.rounds, args.steps, BATCH)
    print(f"numpy {np.__version__}, torch {torch.__version__}, encoder block: batch {BATCH}, sequence {SEQ}, "
          f"width {WIDTH}, {HEADS} heads of {KEY_DIM}, feed-forward {HIDDEN}, env {env or '{}'}")
    print(f"deepgrad {statistics.median(dg_rates):.0f} samples/s, torch {statistics.median(th_rates):.0f} samples/s, "
          f"ratio {statistics.median(ratios):.2f} (spread {min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
