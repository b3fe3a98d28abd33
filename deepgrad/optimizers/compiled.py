"""Optimizer updates as one compiled loop with numba (optional, off unless asked for).

Adam's NumPy update makes twelve passes over each variable (``m *= b1``, ``g * (1 - b1)``,
``m += ...``, and so on), each reading and writing whole arrays: for the MNIST CNN's 692k-element
kernel that is 0.9 ms on one thread, where one pass that keeps each element in registers takes
0.25 ms (the MLP's 100k kernel: 0.13 against 0.035 ms; the MLP's whole step 1.10 -> 0.95 ms).

The loop performs, for each element, the very operations of the NumPy path in the same order,
each rounded to the arrays' dtype as NumPy rounds it: numba compiles without fast-math, so no
multiply-add is fused and nothing is reassociated, and the scalars are passed in the arrays'
dtype, as NumPy casts a Python float. The result is therefore the same bits (``Adam._adam`` uses
it only where that holds).

It is used when ``DEEPGRAD_NUMBA=1`` is in the environment (read at the first update) and numba
is installed (``pip install deepgrad[fast]``), or, with ``DEEPGRAD_NUMBA`` unset, when numba is
already imported at the first update (a compiled loop used by default, as max pooling's, or the
application loaded it); otherwise the NumPy path runs. It does not import numba by itself because
of memory: importing numba and loading the compiled loop (LLVM) adds about 115 MB of resident
memory to the process, more than a whole MLP training run of deepgrad uses (peak RSS 54 MB
without it, 168 MB with it, against PyTorch's 310 MB).
"""
from __future__ import annotations

import math

from .. import runtime

loaded: dict = {}  # name -> compiled function, or None when numba is missing or turned off


def _adam_loop(g, w, m, v, b1, one_minus_b1, b2, one_minus_b2, eps, alpha):
    # m_t = b1 m + (1 - b1) g;  v_t = b2 v + (1 - b2) g^2;  w_t = w - (m_t / (sqrt(v_t) + eps)) alpha
    for i in range(g.size):
        gi = g[i]
        mi = m[i] * b1 + gi * one_minus_b1
        vi = v[i] * b2 + (gi * gi) * one_minus_b2
        m[i] = mi
        v[i] = vi
        w[i] = w[i] - (mi / (math.sqrt(vi) + eps)) * alpha


def kernel(name: str):
    """The compiled loop ``name`` ("adam"), compiled on first use; None unless numba imports and
    ``DEEPGRAD_NUMBA=1``, or the switch is unset and numba is imported already
    (``runtime.numba_loop``)."""
    if name not in loaded:
        loaded[name] = runtime.numba_loop({"adam": _adam_loop}[name], once_loaded=True)
    return loaded[name]
