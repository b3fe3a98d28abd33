"""Layer normalisation's forward and backward as one compiled loop each (``deepgrad/loops/layer_norm.pyx``;
NumPy's path without it).

The NumPy path (``normalization.LayerNorm``) makes some ten passes over a (rows, features)
array in each direction: row sums by matrix-vector products, the centring, the squares, the
scalings, the affine. These loops take each row once into the cache and do all of it there:

    forward:  mean, the centred row, its mean square, xhat = (x - mean) / sqrt(var + eps), xhat gamma + beta
    backward: dxhat = g gamma, its row sum and row dot with xhat,
              dx = inv_std dxhat - xhat (inv_std mean(dxhat xhat)) - inv_std mean(dxhat),
              and the column sums of g xhat (dgamma) and g (dbeta)

A row is summed in sixteen partial sums, added together at the end in a fixed order, which the
compiler keeps in vector registers (a sum in order would cost four times as much); everything
else is NumPy's operations in NumPy's order. NumPy's path sums a row by BLAS's matrix-vector
product, in BLAS's own order, so the two agree to a few units in the last place, not bit for bit
(``tests/ops/test_normalization_compiled.py`` states the tolerance). The column sums of the
parameter gradients accumulate in float64 over the rows (more exact than NumPy's float32 sums).

Used when the extension is built (``runtime.compiled_loop``; ``DEEPGRAD_LOOPS=0`` turns it off),
for float32 and float64 layer normalisation over trailing axes; each half of the rows runs in its
own thread on a large input (``runtime.for_batch_halves``). The column sums are those of the two
halves added, in one thread or two: the same numbers.
"""
from __future__ import annotations

import numpy as np

from .. import runtime

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

loaded: dict = {}  # name -> compiled loop, or None when the extension is missing or turned off


def kernel(name: str):
    """The compiled loop (``"forward"``, ``"backward"``), looked up on first use; None without the
    extension or with ``DEEPGRAD_LOOPS=0`` (``runtime.compiled_loop``)."""
    return runtime.compiled_loop("layer_norm", name, loaded)


def forward(x: np.ndarray, features: int, gamma, beta, epsilon: float):
    """``(out, xhat, inv_std)`` of layer normalisation over the trailing ``features`` elements of
    ``x``, as (rows, features) arrays and a (rows,) one, or None when the loop is not available
    (or takes no such dtype)."""
    if x.dtype not in _FLOATS:
        return None
    loop = kernel("forward")
    if loop is None:
        return None
    from . import workspace

    x2 = np.ascontiguousarray(x).reshape(-1, features)
    rows, features = x2.shape
    out = workspace.empty(x2.shape, x2.dtype)
    xhat = workspace.empty(x2.shape, x2.dtype)
    inv_std = np.empty(rows, x2.dtype)
    # no gamma: ones; no beta: negative zeros (h 1 and h + -0 are h, every bit, a zero's sign included)
    g_ = np.ones(features, x2.dtype) if gamma is None else np.ascontiguousarray(gamma, x2.dtype)
    b_ = np.full(features, -0.0, x2.dtype) if beta is None else np.ascontiguousarray(beta, x2.dtype)

    def run(part):
        loop(x2[part], g_, b_, out[part], xhat[part], inv_std[part], float(epsilon))

    runtime.for_batch_halves(run, rows, x2.size * 8)
    return out, xhat, inv_std


def backward(g2: np.ndarray, xhat: np.ndarray, inv_std: np.ndarray, gamma, want_dx: bool):
    """``(dx or None, dgamma, dbeta)`` (the column sums as float64 arrays), or None when the loop
    is not available."""
    if g2.dtype not in _FLOATS or g2.dtype != xhat.dtype:
        return None
    loop = kernel("backward")
    if loop is None:
        return None
    from . import workspace

    rows, features = g2.shape
    g2 = np.ascontiguousarray(g2)
    dx = workspace.empty(g2.shape, g2.dtype) if want_dx else np.empty((rows, 0), g2.dtype)
    gm = np.ones(features, g2.dtype) if gamma is None else np.ascontiguousarray(gamma, g2.dtype)
    sums = {}

    def run(part):
        if part == slice(None):  # one thread: the same two halves, one after the other
            run(slice(0, rows // 2))
            run(slice(rows // 2, None))
            return
        dgamma, dbeta = np.zeros(features), np.zeros(features)
        loop(g2[part], xhat[part], inv_std[part], gm, dx[part], dgamma, dbeta, want_dx)
        sums[part.stop is None] = (dgamma, dbeta)  # False: the first half, True: the second

    runtime.for_batch_halves(run, rows, g2.size * 8)
    (dgamma, dbeta), (dgamma2, dbeta2) = sums[False], sums[True]
    return (dx if want_dx else None), dgamma + dgamma2, dbeta + dbeta2
