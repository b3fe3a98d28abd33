"""Small calls, as reinforcement learning makes them: ``model(x)`` on a batch of 1 and
``train_on_batch`` on batches of 32, deepgrad against the same network in PyTorch (an
``nn.Module`` called directly; one ``zero_grad/backward/step`` with Adam and MSE).

The network is the actor-critic example's: 4 -> Dense(128, relu) -> softmax(2) and 1.
Reported: microseconds per call (median of the interleaved rounds) and deepgrad / PyTorch.

    python benchmarks/small_calls.py --rounds 7
    OPENBLAS_NUM_THREADS=1 python benchmarks/small_calls.py --cpu   # CPU time, for a loaded machine
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import deepgrad as dg
from interleaved import rates

torch.set_num_threads(1)


def deepgrad_model():
    inputs = dg.layers.Input(shape=(4,))
    hidden = dg.layers.Dense(128, activation="relu")(inputs)
    return dg.Model(inputs, [dg.layers.Dense(2, activation="softmax")(hidden), dg.layers.Dense(1)(hidden)])


class TorchModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden, self.actor, self.critic = torch.nn.Linear(4, 128), torch.nn.Linear(128, 2), torch.nn.Linear(128, 1)

    def forward(self, x):
        h = torch.relu(self.hidden(x))
        return torch.softmax(self.actor(h), dim=-1), self.critic(h)


def deepgrad_mlp():
    return dg.Sequential([dg.layers.Input(shape=(4,)), dg.layers.Dense(64, activation="relu"),
                          dg.layers.Dense(64, activation="relu"), dg.layers.Dense(2)])


def torch_mlp():
    return torch.nn.Sequential(torch.nn.Linear(4, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
                               torch.nn.Linear(64, 2))


def main(rounds=7, steps=300, cpu=False):
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=(1, 4)).astype(np.float32)
    ours, theirs = deepgrad_model(), TorchModel()
    x1t = torch.from_numpy(x1)
    results = {}

    def with_no_grad(fn, grad_off):
        def run():
            with grad_off():
                fn()
        return run

    cases = {
        "model(x), batch 1": (lambda: ours(x1), lambda: theirs(x1t), 1),
        "model(x), batch 1, no_grad": (with_no_grad(lambda: ours(x1), dg.no_grad),
                                       with_no_grad(lambda: theirs(x1t), torch.no_grad), 1),
    }
    xb = rng.normal(size=(32, 4)).astype(np.float32)
    yb = rng.normal(size=(32, 2)).astype(np.float32)
    mlp = deepgrad_mlp()
    mlp.compile(optimizer=dg.optimizers.Adam(1e-3), loss="mse")
    tmlp = torch_mlp()
    opt = torch.optim.Adam(tmlp.parameters(), lr=1e-3)
    xbt, ybt = torch.from_numpy(xb), torch.from_numpy(yb)

    def torch_train():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(tmlp(xbt), ybt)
        loss.backward()
        opt.step()

    cases["train_on_batch, batch 32"] = (lambda: mlp.train_on_batch(xb, yb), torch_train, 32)
    for name, (a, b, batch) in cases.items():
        our_rates, their_rates, ratios = rates(a, b, rounds, steps, batch,
                                               time.process_time if cpu else time.perf_counter)
        ours_us = 1e6 * batch / statistics.median(our_rates)
        theirs_us = 1e6 * batch / statistics.median(their_rates)
        results[name] = (ours_us, theirs_us, statistics.median(ratios))
        print(f"{name:32s} deepgrad {ours_us:8.1f} us   torch {theirs_us:8.1f} us   "
              f"deepgrad/torch time {1 / statistics.median(ratios):.2f}x")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--cpu", action="store_true", help="time this process's CPU time, not wall time")
    args = parser.parse_args()
    main(args.rounds, args.steps, args.cpu)
