"""XOR with the 2-4-1 sigmoid network of ``xor_numpy.py``, differentiated by deepgrad.

The forward pass is the same three lines; ``loss.backward()`` replaces the hand-written
back-propagation, and the update is plain gradient descent on each weight's ``.grad``.
Run: ``python examples/xor_autograd.py``.
"""
from __future__ import annotations

import numpy as np

import deepgrad as dg

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([[0], [1], [1], [0]], dtype=np.float32)


def init_params(seed: int) -> list:
    """W ~ N(0, 1), b = 0 (the draws of ``xor_numpy``), as float32 tensors that require grad."""
    rng = np.random.default_rng(seed)
    W1, W2 = rng.standard_normal((2, 4)), rng.standard_normal((4, 1))
    values = [W1, np.zeros((1, 4)), W2, np.zeros((1, 1))]
    return [dg.Tensor(a.astype(np.float32), requires_grad=True) for a in values]


def forward(params, x):
    W1, b1, W2, b2 = params
    h = dg.sigmoid(x @ W1 + b1)
    return dg.sigmoid(h @ W2 + b2)


def main(epochs: int = 5000, seed: int = 0, learning_rate: float = 2.0, verbose: bool = True) -> float:
    """Train by full-batch gradient descent; return the accuracy on the four XOR points."""
    params = init_params(seed)
    x, y = dg.Tensor(X), dg.Tensor(Y)
    for epoch in range(epochs):
        loss = ((forward(params, x) - y) ** 2).mean()
        loss.backward()
        for p in params:
            p.data -= learning_rate * p.grad  # W <- W - lr dL/dW, in place
            p.grad = None                     # gradients accumulate otherwise
        if verbose and (epoch % 1000 == 0 or epoch == epochs - 1):
            print(f"epoch {epoch:5d}  loss {loss.item():.6f}")

    with dg.no_grad():
        out = forward(params, x).data
    accuracy = float(np.mean((out > 0.5) == (Y > 0.5)))
    if verbose:
        for xi, o in zip(X, out[:, 0]):
            print(f"{int(xi[0])} xor {int(xi[1])} -> {o:.4f}")
        print(f"accuracy {accuracy:.2f}")
    return accuracy


if __name__ == "__main__":
    main()
