"""XOR with a 2-4-1 sigmoid network, forward and back-propagation written out in NumPy.

    h = sigmoid(X W1 + b1)          X: (4, 2)  W1: (2, 4)  b1: (1, 4)
    p = sigmoid(h W2 + b2)          h: (4, 4)  W2: (4, 1)  b2: (1, 1)
    L = mean((p - y)^2)

The classic first network: the program this is based on had shape bugs, fixed here:
  * W2 was (1, 4) and b2 was (1, 4); a layer from 4 units to 1 output needs W2 (4, 1), b2 (1, 1).
  * Backward took the output error without the activation's derivative, applied the
    derivative to the activation of the activation (1 - tanh(a1)^2 where a1 was already
    tanh'd), formed the weight gradients as d2 a1^T and d1 a2^T (shapes (4, 4) that do not
    match W2 or W1, and the wrong layer's input for W1) and never updated the biases.
    The gradient of a weight is (layer input)^T (error at the layer's pre-activation):
    dW2 = h^T d2, dW1 = X^T d1.
It also used tanh; the sigmoid is the network the text describes and gives outputs in (0, 1).
Run: ``python examples/xor_numpy.py``.
"""
from __future__ import annotations

import numpy as np

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
Y = np.array([[0], [1], [1], [0]], dtype=np.float64)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def init_params(seed: int) -> dict:
    """W ~ N(0, 1), b = 0, the same draws as ``xor_autograd`` so the two runs can be compared."""
    rng = np.random.default_rng(seed)
    return {"W1": rng.standard_normal((2, 4)), "b1": np.zeros((1, 4)),
            "W2": rng.standard_normal((4, 1)), "b2": np.zeros((1, 1))}


def main(epochs: int = 5000, seed: int = 0, learning_rate: float = 2.0, verbose: bool = True) -> float:
    """Train by full-batch gradient descent; return the accuracy on the four XOR points."""
    p = init_params(seed)
    W1, b1, W2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
    n = len(X)
    for epoch in range(epochs):
        # forward
        h = sigmoid(X @ W1 + b1)
        out = sigmoid(h @ W2 + b2)
        loss = np.mean((out - Y) ** 2)

        # backward: d = dL/d(pre-activation); sigmoid'(z) = s (1 - s)
        d2 = 2 * (out - Y) / n * out * (1 - out)      # (4, 1)
        d1 = (d2 @ W2.T) * h * (1 - h)                 # (4, 4)
        grads = {"W2": h.T @ d2, "b2": d2.sum(axis=0, keepdims=True),
                 "W1": X.T @ d1, "b1": d1.sum(axis=0, keepdims=True)}

        # gradient descent, in place: W <- W - lr dL/dW
        for name, param in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
            param -= learning_rate * grads[name]

        if verbose and (epoch % 1000 == 0 or epoch == epochs - 1):
            print(f"epoch {epoch:5d}  loss {loss:.6f}")

    out = sigmoid(sigmoid(X @ W1 + b1) @ W2 + b2)
    accuracy = float(np.mean((out > 0.5) == (Y > 0.5)))
    if verbose:
        for x, o in zip(X, out[:, 0]):
            print(f"{int(x[0])} xor {int(x[1])} -> {o:.4f}")
        print(f"accuracy {accuracy:.2f}")
    return accuracy


if __name__ == "__main__":
    main()
