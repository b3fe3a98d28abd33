"""Layer normalisation's forward and backward as one compiled loop each (numba; NumPy's path without it).

The NumPy path (``normalization.LayerNorm``) makes some ten passes over a (rows, features)
array in each direction: row sums by matrix-vector products, the centring, the squares, the
scalings, the affine. These loops take each row once into the cache and do all of it there:

    forward:  mean, the centred row, its mean square, xhat = (x - mean) / sqrt(var + eps), xhat gamma + beta
    backward: dxhat = g gamma, its row sum and row dot with xhat,
              dx = inv_std dxhat - xhat (inv_std mean(dxhat xhat)) - inv_std mean(dxhat),
              and the column sums of g xhat (dgamma) and g (dbeta)

The row sums are two small helpers compiled with reassociation allowed (``runtime.numba_loop(...,
reassociate=True)``: additions alone may be reordered, so the compiler sums in vector lanes of the
machine's width; a sum in order would cost four times as much); everything else is compiled
without fast-math. NumPy's path sums a row by BLAS's matrix-vector product, in BLAS's own order,
so the two agree to a few units in the last place, not bit for bit
(``tests/ops/test_normalization_compiled.py`` states the tolerance). The column sums of the
parameter gradients accumulate in float64 over the rows (more exact than NumPy's float32 sums).

Used by default when numba is installed (``runtime.numba_loop(..., default=True)``;
``DEEPGRAD_NUMBA=0`` turns it off), for float32 and float64 layer normalisation over trailing
axes; each half of the rows runs in its own thread on a large input (``runtime.for_batch_halves``).
The column sums are those of the two halves added, in one thread or two: the same numbers.
"""
from __future__ import annotations

import numpy as np

from .. import runtime

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

loaded: dict = {}  # name -> compiled loop, or None without numba / turned off


def _row_sum(a, i):
    # the sum over j of a[i, j] (compiled with reassociation: in vector lanes)
    total = a.dtype.type(0)
    for j in range(a.shape[1]):
        total += a[i, j]
    return total


def _row_dot(a, b, i):
    # the sum over j of a[i, j] b[i, j] (compiled with reassociation: in vector lanes)
    total = a.dtype.type(0)
    for j in range(a.shape[1]):
        total += a[i, j] * b[i, j]
    return total


_plain_row_sum, _plain_row_dot = _row_sum, _row_dot


def _forward_loop(x, gamma, beta, out, xhat, inv_std, epsilon, has_gamma, has_beta):
    # x, out, xhat: (rows, features); gamma, beta: (features,) (ignored unless has_*); inv_std: (rows,)
    rows, features = x.shape
    dt = x.dtype.type
    inv_f = dt(1.0 / features)
    eps = dt(epsilon)
    one = dt(1.0)
    for i in range(rows):
        mean = _row_sum(x, i) * inv_f
        for j in range(features):
            xhat[i, j] = x[i, j] - mean
        inv = one / np.sqrt(_row_dot(xhat, xhat, i) * inv_f + eps)
        inv_std[i] = inv
        for j in range(features):
            h = xhat[i, j] * inv
            xhat[i, j] = h
            if has_gamma:
                h = h * gamma[j]
            if has_beta:
                h = h + beta[j]
            out[i, j] = h


def _backward_loop(g, xhat, inv_std, gamma, dx, dgamma, dbeta, has_gamma, want_dx):
    # g, xhat, dx: (rows, features); inv_std: (rows,); gamma: (features,) (ignored unless has_gamma);
    # dgamma, dbeta: (features,) float64 column sums, added to
    rows, features = g.shape
    dt = g.dtype.type
    inv_f = dt(1.0 / features)
    for i in range(rows):
        for j in range(features):
            gj = g[i, j]
            dgamma[j] += gj * xhat[i, j]
            dbeta[j] += gj
        if not want_dx:
            continue
        for j in range(features):  # dxhat, in dx until the row's sums are known
            dx[i, j] = g[i, j] * gamma[j] if has_gamma else g[i, j]
        inv = inv_std[i]
        scale = inv * inv_f
        m1 = _row_sum(dx, i) * scale
        m2 = _row_dot(dx, xhat, i) * scale
        for j in range(features):
            dx[i, j] = (dx[i, j] * inv - xhat[i, j] * m2) - m1


def kernel(name: str):
    """The compiled loop (``"forward"``, ``"backward"``), compiled on first use; None without numba
    or with ``DEEPGRAD_NUMBA=0``."""
    if name not in loaded:
        global _row_sum, _row_dot
        if "row_sum" not in loaded:
            loaded["row_sum"] = runtime.numba_loop(_plain_row_sum, default=True, reassociate=True)
            loaded["row_dot"] = runtime.numba_loop(_plain_row_dot, default=True, reassociate=True)
        if loaded["row_sum"] is None:
            loaded[name] = None
        else:  # the loops (compiled at their first call) call them compiled
            _row_sum, _row_dot = loaded["row_sum"], loaded["row_dot"]
            loaded[name] = runtime.numba_loop({"forward": _forward_loop, "backward": _backward_loop}[name], default=True)
    return loaded[name]


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
    dummy = np.zeros(features, x2.dtype)
    g_ = dummy if gamma is None else np.ascontiguousarray(gamma, x2.dtype)
    b_ = dummy if beta is None else np.ascontiguousarray(beta, x2.dtype)

    def run(part):
        loop(x2[part], g_, b_, out[part], xhat[part], inv_std[part], float(epsilon),
             gamma is not None, beta is not None)

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
        loop(g2[part], xhat[part], inv_std[part], gm, dx[part], dgamma, dbeta, gamma is not None, want_dx)
        sums[part.stop is None] = (dgamma, dbeta)  # False: the first half, True: the second

    runtime.for_batch_halves(run, rows, g2.size * 8)
    (dgamma, dbeta), (dgamma2, dbeta2) = sums[False], sums[True]
    return (dx if want_dx else None), dgamma + dgamma2, dbeta + dbeta2
