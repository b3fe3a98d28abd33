"""CPU time of a WGAN-GP critic step with its gradient penalty, deepgrad against PyTorch.

The critic (Conv2D, BatchNormalization in training, max and average pooling,
LayerNormalization, LSTM, Dense) is the one the second-order tests check against PyTorch.
Measured with one BLAS thread in CPU time (``time.process_time``), so that a loaded machine
changes the figures little: a plain step (the critic's loss, one backward) and a penalty step
(the input gradient with ``create_graph=True``, then the penalty's gradient for every weight).

    OPENBLAS_NUM_THREADS=1 python benchmarks/second_order_speed.py [--batch 32] [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import layers  # noqa: E402
from deepgrad.autograd import grad  # noqa: E402


def deepgrad_critic(batch):
    conv, bn = layers.Conv2D(8, 3, padding="same"), layers.BatchNormalization()
    max_pool, avg_pool = layers.MaxPooling2D(2), layers.AveragePooling2D(2, 1)
    ln, lstm, dense = layers.LayerNormalization(), layers.LSTM(16), layers.Dense(1)

    def critic(x):
        h = dg.tanh(bn(conv(x), training=True))                    # (B, 12, 12, 8)
        h = avg_pool(max_pool(h))                                   # (B, 5, 5, 8)
        return dense(lstm(ln(dg.ops.reshape(h, (batch, 5, 40)))))  # 5 steps of 40 features

    critic(dg.Tensor(np.zeros((batch, 12, 12, 2), np.float32)))
    weights = [conv.kernel, conv.bias, bn.gamma, bn.beta, ln.gamma, ln.beta, *lstm.trainable_weights,
               dense.kernel, dense.bias]
    return critic, weights


def torch_critic(weights):
    ck, cb, bg, bb, lg, lb, lk, lr, lbias, dk, db = weights

    def lstm(h):
        state = c = torch.zeros(h.shape[0], lr.shape[0])
        for t in range(h.shape[1]):
            i, f, g, o = (h[:, t] @ lk + state @ lr + lbias).chunk(4, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            state = torch.sigmoid(o) * torch.tanh(c)
        return state

    def critic(x):
        h = F.conv2d(F.pad(x.permute(0, 3, 1, 2), (1, 1, 1, 1)), ck.permute(3, 2, 0, 1), cb)
        h = torch.tanh(F.batch_norm(h, None, None, bg, bb, training=True, eps=1e-3))
        h = F.avg_pool2d(F.max_pool2d(h, 2), 2, 1).permute(0, 2, 3, 1).reshape(x.shape[0], 5, 40)
        return lstm(F.layer_norm(h, (40,), lg, lb, eps=1e-3)) @ dk + db

    return critic


def cpu_seconds(step, repeats):
    step()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        step()
        best = min(best, time.process_time() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, 12, 12, 2)).astype(np.float32)
    critic, weights = deepgrad_critic(args.batch)
    tw = [torch.tensor(w.numpy(), requires_grad=True) for w in weights]
    critic_t = torch_critic(tw)

    def ours_plain():
        grad(critic(dg.Tensor(x)).mean(), weights)

    def ours_penalty():
        xi = dg.Tensor(x, requires_grad=True)
        g = grad(critic(xi).sum(), xi, create_graph=True)
        gp = dg.ops.mean((dg.ops.sqrt(dg.ops.sum(g * g, axis=[1, 2, 3])) - 1.0) ** 2)
        grad(gp, weights)

    def theirs_plain():
        torch.autograd.grad(critic_t(torch.tensor(x)).mean(), tw)

    def theirs_penalty():
        xt = torch.tensor(x, requires_grad=True)
        (g,) = torch.autograd.grad(critic_t(xt).sum(), xt, create_graph=True)
        torch.autograd.grad(((g.pow(2).sum((1, 2, 3)).sqrt() - 1) ** 2).mean(), tw, allow_unused=True)

    rows = [("plain step", cpu_seconds(ours_plain, args.repeats), cpu_seconds(theirs_plain, args.repeats)),
            ("penalty step", cpu_seconds(ours_penalty, args.repeats), cpu_seconds(theirs_penalty, args.repeats))]
    print(f"batch {args.batch}, one thread, best of {args.repeats}, CPU ms")
    print("| step | deepgrad | PyTorch | deepgrad / PyTorch |")
    print("|---|---|---|---|")
    for name, ours, theirs in rows:
        print(f"| {name} | {ours * 1e3:.1f} | {theirs * 1e3:.1f} | {ours / theirs:.2f} |")


if __name__ == "__main__":
    main()
