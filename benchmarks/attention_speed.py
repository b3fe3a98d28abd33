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
    python benchmarks/attention_speed.py --dropout 0.1 --explicit --cpu

``--dropout RATE`` gives both attention layers dropout on their probabilities (Keras's
``MultiHeadAttention(dropout=RATE)``, PyTorch's ``nn.MultiheadAttention(dropout=RATE)``).
``--explicit`` adds a third step to the rounds: deepgrad with its fused attention op for dropout
and returned scores turned off (the explicit softmax, dropout and matmul ops), for an A/B in the
same process. ``--cpu`` times the process's CPU time instead of wall clock (a loaded machine).

On a machine whose cores are busy with other work, a two-thread GEMM with a long inner
dimension (the weight gradients, ``X^T dY`` over 4096 rows) can wait hundreds of times its
own length for a descheduled thread; one BLAS thread then runs the step several times faster.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from interleaved import rates, rates_of

BATCH, SEQ, WIDTH, HEADS, KEY_DIM, HIDDEN = 32, 128, 128, 4, 32, 256


def data(seed: int = 0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((BATCH, SEQ, WIDTH), dtype=np.float32),
            rng.standard_normal((BATCH, SEQ, WIDTH), dtype=np.float32))


def deepgrad_stepper(dropout: float = 0.0):
    import deepgrad as dg
    from deepgrad import layers

    inputs = layers.Input((SEQ, WIDTH))
    attended = layers.MultiHeadAttention(HEADS, KEY_DIM, dropout=dropout)(inputs, inputs)
    h = layers.LayerNormalization()(layers.Add()([inputs, attended]))
    ff = layers.Dense(WIDTH)(layers.Dense(HIDDEN, activation="relu")(h))
    outputs = layers.LayerNormalization()(layers.Add()([h, ff]))
    model = dg.Model(inputs, outputs)
    model.compile(optimizer=dg.optimizers.Adam(1e-3), loss="mse")
    x, y = data()

    def step():
        model.train_on_batch(x, y)

    return step


def torch_stepper(dropout: float = 0.0):
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = nn.MultiheadAttention(WIDTH, HEADS, batch_first=True, dropout=dropout)
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
    p.add_argument("--dropout", type=float, default=0.0, help="dropout rate of the attention probabilities")
    p.add_argument("--explicit", action="store_true",
                   help="also time deepgrad with the fused attention op for dropout/scores off, in the same rounds")
    p.add_argument("--cpu", action="store_true", help="time CPU time of the process instead of wall clock")
    args = p.parse_args()
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP", "MKL"))}  # as given
    from deepgrad import runtime

    runtime.keep_freed_memory()
    runtime.short_blas_spin()
    import torch

    torch.set_num_threads(1 if os.environ.get("OMP_NUM_THREADS") == "1" else 2)
    dg_step, th_step = deepgrad_stepper(args.dropout), torch_stepper(args.dropout)
    clock = time.process_time if args.cpu else time.perf_counter
    print(f"numpy {np.__version__}, torch {torch.__version__}, encoder block: batch {BATCH}, sequence {SEQ}, "
          f"width {WIDTH}, {HEADS} heads of {KEY_DIM}, feed-forward {HIDDEN}, attention dropout {args.dropout}, "
          f"{'CPU time' if args.cpu else 'wall clock'}, env {env or '{}'}")
    if args.explicit:
        fused_on_off(dg_step, th_step, args.rounds, args.steps, clock)
        return
    dg_rates, th_rates, ratios = rates(dg_step, th_step, args.rounds, args.steps, BATCH, clock)
    print(f"deepgrad {statistics.median(dg_rates):.0f} samples/s, torch {statistics.median(th_rates):.0f} samples/s, "
          f"ratio {statistics.median(ratios):.2f} (spread {min(ratios):.2f}-{max(ratios):.2f})")


def fused_on_off(dg_step, th_step, rounds: int, steps: int, clock) -> None:
    """deepgrad with the fused attention op for dropout/scores, without it, and PyTorch, interleaved."""
    from deepgrad.layers.attention import _HeadsAttention

    fused = _HeadsAttention._fused_attend

    def explicit():
        _HeadsAttention._fused_attend = lambda *args: None
        try:
            dg_step()
        finally:
            _HeadsAttention._fused_attend = fused

    steppers = {"deepgrad": dg_step, "deepgrad, explicit": explicit, "PyTorch": th_step}
    samples = rates_of(steppers, rounds, steps, BATCH, clock)
    for name, values in samples.items():
        print(f"  {name:20s} {statistics.median(values):8.1f} samples/s ({min(values):.1f}-{max(values):.1f})")
    for a, b in (("deepgrad", "PyTorch"), ("deepgrad, explicit", "PyTorch"), ("deepgrad", "deepgrad, explicit")):
        ratios = [x / y for x, y in zip(samples[a], samples[b])]
        print(f"  {a} / {b}: {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
