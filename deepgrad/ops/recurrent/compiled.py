"""The LSTM's per-step element-wise chain work and its derivative factors as compiled loops (numba;
optional, off unless asked for).

Each time step of the fused LSTM makes several NumPy passes besides its GEMM and its ``tanh``
calls: forward, the sigmoid affine over the three sigmoid gates and the cell ``f c_{t-1} + i c̃``
(five passes); backward, ``dc += dh dc/dh``, the four gate gradients and ``dc f`` (five passes).
Off the chain, the forward's derivative factors of a chunk of steps take eleven passes over
arrays larger than the L2 cache (LSTM(64), batch 128, five steps: 1.8 MB): one loop instead,
which reads each gate once.
Each loop below does the same operations per element, in the same order, each rounded to the
arrays' dtype as NumPy rounds it (numba compiles without fast-math: no fused multiply-add, no
reassociation; the scalar 1/2 comes in the arrays' dtype), in one pass that keeps an element's
values in registers: the same bits as the NumPy passes, in about half the time (the ``tanh``
calls stay NumPy's, whose SIMD ``tanh`` a scalar loop would not match, in time or in bits).

As ``optimizers/compiled.py`` (Adam's loop), it is used when ``DEEPGRAD_NUMBA=1`` is in the
environment (read at the first call) and numba is installed (``pip install deepgrad[fast]``);
otherwise the NumPy passes run. The loops release the GIL, so a scan's second thread goes on
while one runs.
"""
from __future__ import annotations

from ... import runtime

loaded: dict = {}  # name -> compiled function, or None when numba is missing or turned off


def _lstm_cell_loop(g, c_prev, c, half):
    # on the gate block [c̃; tanh(a_i/2); tanh(a_f/2); tanh(a_o/2)], in place: σ = tanh(a/2) 1/2 + 1/2;
    # then c_t = f c_{t-1} + i c̃
    units, batch = c.shape
    for u in range(units):
        for j in range(batch):
            i = g[units + u, j] * half + half
            f = g[2 * units + u, j] * half + half
            g[units + u, j] = i
            g[2 * units + u, j] = f
            g[3 * units + u, j] = g[3 * units + u, j] * half + half
            c[u, j] = f * c_prev[u, j] + i * g[u, j]


def _lstm_backward_loop(m, dc_dh, forget, dh, dc, da):
    # dc_t += dh_t dc_t/dh_t;  da_{c,i,f} = m_{c,i,f} dc_t;  da_o = m_o dh_t;  dc_{t-1} = dc_t f_t
    units, batch = dh.shape
    for u in range(units):
        for j in range(batch):
            d = dc[u, j] + dh[u, j] * dc_dh[u, j]
            da[u, j] = m[u, j] * d
            da[units + u, j] = m[units + u, j] * d
            da[2 * units + u, j] = m[2 * units + u, j] * d
            da[3 * units + u, j] = m[3 * units + u, j] * dh[u, j]
            dc[u, j] = d * forget[u, j]


def _lstm_backward_in_place_loop(m, dc_dh, forget, dh, dc):
    # as _lstm_backward_loop with da written over m: one array for both, as LLVM vectorises a
    # loop only where it can tell its arrays apart (two views of one array take the scalar
    # path: 18 against 5.6 us a step at LSTM(64), batch 128)
    units, batch = dh.shape
    for u in range(units):
        for j in range(batch):
            d = dc[u, j] + dh[u, j] * dc_dh[u, j]
            m[u, j] = m[u, j] * d
            m[units + u, j] = m[units + u, j] * d
            m[2 * units + u, j] = m[2 * units + u, j] * d
            m[3 * units + u, j] = m[3 * units + u, j] * dh[u, j]
            dc[u, j] = d * forget[u, j]


def _lstm_gate_factors_loop(g, c_prev, tanh_c, m, d, one):
    # over a chunk of steps (step, row, sample): m = [(1 - c̃^2) i; (1 - σ_i) σ_i c̃;
    # (1 - σ_f) σ_f c_{t-1}; (1 - σ_o) σ_o tanh(c_t)] and d = (1 - tanh(c_t)^2) o, from the gates
    # g = [c̃; σ_i; σ_f; σ_o]
    steps, units, batch = d.shape
    for s in range(steps):
        for u in range(units):
            for j in range(batch):
                cand = g[s, u, j]
                i = g[s, units + u, j]
                f = g[s, 2 * units + u, j]
                o = g[s, 3 * units + u, j]
                tc = tanh_c[s, u, j]
                m[s, u, j] = (one - cand * cand) * i
                m[s, units + u, j] = ((one - i) * i) * cand
                m[s, 2 * units + u, j] = ((one - f) * f) * c_prev[s, u, j]
                m[s, 3 * units + u, j] = ((one - o) * o) * tc
                d[s, u, j] = (one - tc * tc) * o


_LOOPS = {"lstm_cell": _lstm_cell_loop, "lstm_gate_factors": _lstm_gate_factors_loop,
          "lstm_backward": _lstm_backward_loop, "lstm_backward_in_place": _lstm_backward_in_place_loop}


def kernel(name: str):
    """The compiled loop ``name`` (a key of ``_LOOPS``), compiled on first use; None unless
    ``DEEPGRAD_NUMBA=1`` and numba imports (``runtime.numba_loop``)."""
    if name not in loaded:
        loaded[name] = runtime.numba_loop(_LOOPS[name])
    return loaded[name]
