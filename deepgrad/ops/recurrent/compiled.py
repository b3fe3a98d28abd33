"""The LSTM's per-step element-wise chain work and its derivative factors as compiled loops
(``deepgrad/loops/lstm.pyx``).

Each time step of the fused LSTM makes several NumPy passes besides its GEMM and its ``tanh``
calls: forward, the sigmoid affine over the three sigmoid gates and the cell ``f c_{t-1} + i c̃``
(five passes); backward, ``dc += dh dc/dh``, the four gate gradients and ``dc f`` (five passes).
Off the chain, the forward's derivative factors of a chunk of steps take eleven passes over
arrays larger than the L2 cache (LSTM(64), batch 128, five steps: 1.8 MB): one loop instead,
which reads each gate once.
Each loop does the same operations per element, in the same order, each rounded to the arrays'
dtype as NumPy rounds it (``deepgrad.loops``; the scalar 1/2 comes in the arrays' dtype), in one
pass that keeps an element's values in registers: the same bits as the NumPy passes, in about
half the time (the ``tanh`` calls stay NumPy's, whose SIMD ``tanh`` a scalar loop would not
match, in time or in bits). The loops release the GIL, so a scan's second thread goes on while
one runs; without the extension (``runtime.compiled_loop``) the NumPy passes run.
"""
from __future__ import annotations

from ... import runtime

loaded: dict = {}  # name -> compiled function, or None when the extension is missing or turned off


def kernel(name: str):
    """The compiled loop ``name`` ("lstm_cell", "lstm_gate_factors", "lstm_backward",
    "lstm_backward_in_place"), looked up on first use; None without it (``runtime.compiled_loop``)."""
    return runtime.compiled_loop("lstm", name, loaded)
