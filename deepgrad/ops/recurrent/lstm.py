"""Keras's LSTM: a plain reference cell, then the fused sequence op.

Gates i (input), f (forget), c (candidate), o (output), in that order along the last axis of
``kernel`` W (features, 4 units), ``recurrent_kernel`` U (units, 4 units) and ``bias`` b:

    i_t = σ(x_t W_i + h_{t-1} U_i + b_i)
    f_t = σ(x_t W_f + h_{t-1} U_f + b_f)
    c̃_t = tanh(x_t W_c + h_{t-1} U_c + b_c)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ c̃_t
    o_t = σ(x_t W_o + h_{t-1} U_o + b_o)
    h_t = o_t ⊙ tanh(c_t)
"""
from __future__ import annotations

import itertools

import numpy as np

from ...autograd import Function, is_grad_enabled
from ...autograd.higher_order import recomputed_backward
from ..activation import sigmoid, tanh
from ..product import matmul
from .. import blas, workspace
from . import compiled
from .common import CHUNK, SideWork, as_array, masks, over_batch, prepare, scan, splits


# --------------------------------------------------------------------------- reference
def lstm_cell(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias):
    """One step, as the formulas in the module docstring read: ``(h_t, c_t)``."""
    units = recurrent_kernel.shape[0]

    def affine(gate):  # x_t W_gate + h_{t-1} U_gate + b_gate
        cols = slice(gate * units, (gate + 1) * units)
        return matmul(x_t, kernel[:, cols]) + matmul(h_prev, recurrent_kernel[:, cols]) + bias[cols]

    i_t = sigmoid(affine(0))
    f_t = sigmoid(affine(1))
    c_cand = tanh(affine(2))
    c_t = f_t * c_prev + i_t * c_cand
    o_t = sigmoid(affine(3))
    h_t = o_t * tanh(c_t)
    return h_t, c_t


def lstm_reference(x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, mask=None, go_backwards=False):
    """``lstm`` computed by ``lstm_cell`` one step at a time: ``(h_seq, h_last, c_last)``."""
    units = as_array(recurrent_kernel).shape[0]
    bias, (h0, c0), mask = prepare("lstm", x, kernel, recurrent_kernel, bias, (4 * units,),
                                   {"h0": h0, "c0": c0}, mask)
    cell = lambda x_t, h, c: lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias)  # noqa: E731
    return scan(cell, x, (h0, c0), mask, go_backwards)


# --------------------------------------------------------------------------- fused
# Inside the fused op the gates are ordered c, i, f, o (Keras: i, f, c, o), so that the three
# sigmoid gates are one block of rows; _HALF scales the columns of c, i, f, o.
_HALF, _ONE = (1, 0.5, 0.5, 0.5), (1, 1, 1, 1)


def _internal(a: np.ndarray, units: int, scale) -> np.ndarray:
    """Columns of a Keras-ordered (i, f, c, o) weight as c, i, f, o, each gate's times its scale."""
    i, f, c, o = (a[:, k * units:(k + 1) * units] for k in range(4))
    return np.concatenate([c * scale[0], i * scale[1], f * scale[2], o * scale[3]], axis=1)


def _keras_order(a: np.ndarray, units: int) -> np.ndarray:
    """The inverse gate order of ``_internal`` (c, i, f, o -> i, f, c, o)."""
    c, i, f, o = (a[:, k * units:(k + 1) * units] for k in range(4))
    return np.concatenate([i, f, c, o], axis=1)


class LSTM(Function):
    """``(h_seq, h_last, c_last)`` of Keras's LSTM over the whole sequence.

    With NumPy the per-step Python overhead dominates, so everything runs in place in
    preallocated buffers, and every per-step array is feature-major, ``(features, batch)``:
    a gate is then a contiguous block of rows and each element-wise pass one flat loop (on
    ``(batch, units)`` column slices NumPy pays its inner-loop overhead once per row, which
    costs more than the arithmetic). The large buffers of a training step come from the
    workspace pool, reused from one step to the next (no fresh pages to fault in).

    * Each step is one GEMM ``[U; W; b]^T [h_{t-1}; x_t; 1]`` on a time-major buffer whose row
      t holds ``[h_{t-1}; x_t; 1]`` (the input projection and its bias come with it), and
      backward accumulates ``da_t [h_{t-1}; x_t; 1]^T``, the gradients of U, W and b at once.
      GEMMs go through ``np.dot``: ``matmul`` takes a slow path when features == 1.
    * The four gates take one ``tanh`` and no division: inside, the gates are ordered c, i, f, o
      and the GEMM yields ``[a_c; a_i/2; a_f/2; a_o/2]`` (the halves folded into a private copy
      of the weights; scaling by a power of two is exact), so one ``np.tanh`` over the block gives
      c̃ and ``tanh(a/2)``, and ``σ(a) = (1 + tanh(a/2)) / 2``. On float32 ``np.tanh`` costs less
      than ``np.exp``, and the ``1 / (1 + exp(-a))`` form also pays a reciprocal over the block.
      The derivatives follow from the same values: ``tanh'(a_c) = 1 - c̃^2``, ``σ'(a) = σ (1 - σ)``.
    * Only the chain ``h_{t-1}, c_{t-1} -> h_t, c_t`` (forward) and ``dh_t, dc_t -> dh_{t-1},
      dc_{t-1}`` (backward) is sequential. The rest, each step's derivative factors (forward,
      from the saved gates, cells and ``tanh(c_t)``) and the weight gradients (backward), is
      done a chunk of ``CHUNK`` steps at a time, either here or, when the loop's timing favours
      it on two cores, by a second thread while this one goes on along the chain
      (``common.SideWork``); the chunks are the same either way, so are the results.
    * With the compiled loops built (``deepgrad.loops``), a step's element-wise chain work besides
      its ``tanh`` calls (forward: the sigmoid affine and the cell; backward: the gate
      gradients and ``dc``) is one compiled loop each (``compiled``), and so is a chunk's
      derivative factors: the same bits, fewer passes.
    * A large batch runs both loops (``_forward_scan``, ``_backward_scan``) as two halves in two
      threads, each half in its own buffers (``common.over_batch``); the halves' weight
      gradients are added.
    """

    def forward(self, x, kernel, recurrent_kernel, bias, h0, c0, mask=None, go_backwards=False):
        self.options = (mask, go_backwards)  # for graph_backward, which runs the reference cell
        dtype = x.dtype
        batch, steps, features = x.shape
        units = recurrent_kernel.shape[0]
        kernel, recurrent_kernel, bias, h0, c0 = (a.astype(dtype, copy=False)
                                                  for a in (kernel, recurrent_kernel, bias, h0, c0))
        # the GEMM yields [a_c; a_i/2; a_f/2; a_o/2] (gates reordered c, i, f, o; see above)
        weights = _internal(np.concatenate([recurrent_kernel, kernel, bias[None]]), units, _HALF)
        weights_T = np.ascontiguousarray(weights.T)
        train = is_grad_enabled() and any(self.needs_input_grad)
        alloc = workspace.empty if train else np.empty  # (decided here: the scan may run in another thread)
        keep, drop = masks(mask, go_backwards, dtype, batch_last=True)
        split = splits(batch, 4 * units * batch)
        h_seq = np.empty((batch, steps, units), dtype) if split else None  # each half writes its rows

        def scan(part, side=None):
            return _forward_scan(weights_T, x[part], h0[part], c0[part], None if drop is None else drop[..., part],
                                 train, go_backwards, None if h_seq is None else h_seq[part], alloc, side)

        parts = over_batch(scan, batch, split, "lstm", train, x.shape, units, pipeline=train)
        if train:
            self.go_backwards = go_backwards
            self.save_for_backward(kernel, recurrent_kernel, keep, *(a for p in parts for a in p[1:5]))
        if not split:  # h_seq is a view of step_inputs, which holds the states anyway: no copy
            step_inputs, c_last = parts[0][0], parts[0][5]
            return step_inputs[1:, :units].transpose(2, 0, 1), step_inputs[steps, :units].T.copy(), c_last.T.copy()
        return (h_seq, np.concatenate([p[0][steps, :units].T for p in parts]),
                np.concatenate([p[5].T for p in parts]))

    def backward(self, grads):
        g_seq, g_h, g_c = grads  # None for an unused output (h_seq with return_sequences=False)
        kernel, recurrent_kernel, keep, *saved = self.saved
        split = len(saved) == 8  # the forward ran two halves of the batch: so does the backward
        units = recurrent_kernel.shape[0]
        steps, features = saved[1].shape[0], kernel.shape[0]
        batch = sum(gates.shape[2] for gates in saved[1::4])  # saved per part: inputs_T, gates, ...
        dtype = saved[1].dtype
        recurrent_kernel, kernel = (_internal(a, units, _ONE) for a in (recurrent_kernel, kernel))
        need = self.needs_input_grad
        g_h, g_c = (np.zeros((batch, units), dtype) if g is None else g for g in (g_h, g_c))
        dx = np.empty((batch, steps, features), dtype) if need[0] else None
        dh0, dc0 = np.empty((batch, units), dtype), np.empty((batch, units), dtype)

        def scan(part, side=None):
            first = 4 if part.start else 0  # saved: the first half's four arrays, then the second's
            return _backward_scan(*saved[first:first + 4], kernel, recurrent_kernel,
                                  None if keep is None else keep[..., part], None if g_seq is None else g_seq[part],
                                  g_h[part], g_c[part], need, self.last_use, self.go_backwards,
                                  None if dx is None else dx[part], dh0[part], dc0[part], side)

        partials = over_batch(scan, batch, split, "lstm backward", saved[1].shape,
                              pipeline=any(need[1:4]))
        dk = dr = db = None
        if partials[0] is not None:  # the chunks' sums, then the halves' sums over their samples, added
            d_weights = [p.sum(axis=0) for p in partials]
            d_weights = _keras_order(sum(d_weights[1:], d_weights[0]).T, units)
            dr, dk, db = d_weights[:units], d_weights[units:-1], d_weights[-1]
        return dx, dk, dr, db, dh0, dc0

    def graph_backward(self, grads):
        """The gradients through ``lstm_cell`` scanned over the sequence, all recorded ops."""
        mask, go_backwards = self.options

        def reference(x, kernel, recurrent_kernel, bias, h0, c0):
            cell = lambda x_t, h, c: lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias)  # noqa: E731
            return scan(cell, x, (h0, c0), mask, go_backwards)

        return recomputed_backward(self, grads, reference)


def _forward_scan(weights_T, x, h0, c0, drop, train, go_backwards, h_seq, alloc, side):
    """The forward loop of ``LSTM`` over one part of the batch (all of it, or one half) in its
    own buffers: ``(step_inputs, inputs_T, gates, gate_factors, dc_dh, c_last)``, the middle four
    for backward (None but the gates unless ``train``), ``c_last`` feature-major. With ``h_seq``
    (batch, time, units) it also writes the part's output sequence there. ``side`` (a
    ``SideWork``, None for an inline one) computes the derivative factors chunk by chunk."""
    dtype = x.dtype
    batch, steps, features = x.shape
    units = weights_T.shape[0] // 4
    step_inputs = alloc((steps + 1, units + features + 1, batch), dtype)  # [h_{t-1}; x_t; 1]
    step_inputs[0, :units] = h0.T
    step_inputs[:steps, units:units + features] = (x[:, ::-1] if go_backwards else x).transpose(1, 2, 0)
    step_inputs[steps, units:] = 0
    step_inputs[:, -1] = 1
    gates = alloc((steps, 4 * units, batch), dtype)               # c̃, i, f, o of each step
    # c_t of every step (c[0] = c_0) and tanh(c_t) for the derivative factors; two and one
    # buffers without a gradient
    cells = alloc((steps + 1 if train else 2, units, batch), dtype)
    tanh_cells = alloc((steps if train else 1, units, batch), dtype)
    cells[0] = c0.T
    gate_factors = dc_dh = inputs_T = None
    if train:
        # [h_{t-1}; x_t; 1] batch-major, (batch, features) per step, for the weight gradients
        inputs_T = alloc((steps, batch, units + features + 1), dtype)
        # per step, each gate's derivative times the factor it multiplies:
        # [tanh'(a_c) i; σ'(a_i) c̃; σ'(a_f) c_{t-1}; σ'(a_o) tanh(c_t)], and dc_t/dh_t
        gate_factors = alloc((steps, 4 * units, batch), dtype)
        dc_dh = alloc((steps, units, batch), dtype)               # o (1 - tanh(c)^2)
        side = SideWork(threaded=False) if side is None else side
    i_cand = np.empty((units, batch), dtype)
    # the GEMM writes a step's pre-activations here, in cache, and the gate block's tanh reads
    # them into the saved gates (out of cache by then): about 5 us less a step at LSTM(64),
    # batch 128, than the GEMM writing into the saved gates and the tanh working in place
    preact = np.empty((4 * units, batch), dtype)
    chunks = _chunks(steps, steps - 1)
    starts = {end: start for start, end in chunks}  # a chunk is handed off after its last step
    spare = side is not None and side.spare
    cell_loop, half = compiled.kernel("lstm_cell"), dtype.type(0.5)  # the sigmoid affine and the cell in one pass
    # A step's own work is a few microseconds a pass, so its Python counts: the per-step views come
    # from iterators over the buffers (made in C), the ufuncs are local names with positional
    # outputs, and NumPy's ``dot`` is called directly when it takes the products anyway.
    dot = blas.dot if blas.engine() == "mkl" else np.dot
    multiply, add, tanh, copyto = np.multiply, np.add, np.tanh, np.copyto
    states = step_inputs[:, :units]                # states[t] = h_{t-1}
    if train:                                      # c_{t-1}, c_t, tanh(c_t)
        cell_views = zip(cells, cells[1:], tanh_cells)
    else:                                          # two cells in turn, one tanh(c_t)
        cell_views = zip(itertools.cycle(cells[:2]), itertools.cycle(cells[1::-1]), itertools.repeat(tanh_cells[0]))
    views = zip(range(steps), step_inputs, gates, gates[:, units:], gates.reshape(steps, 4, units, batch),
                states[1:], cell_views)
    for t, inputs, g, sig, blocks, h, (c_prev, c, tanh_c) in views:
        c_cand, i, f, o = blocks
        if spare:
            side.chain_gemm()
        dot(weights_T, inputs, preact)
        tanh(preact, g)                          # c̃ = tanh(a_c); tanh(a/2) for i, f, o
        if cell_loop is not None:                # the five passes below, the same bits (``compiled``)
            cell_loop(g, c_prev, c, half)
        else:
            multiply(sig, half, sig)             # σ(a) = (1 + tanh(a/2)) / 2
            add(sig, half, sig)
            multiply(f, c_prev, c)               # c_t = f c_{t-1} + i c̃
            multiply(i, c_cand, i_cand)
            add(c, i_cand, c)
        tanh(c, tanh_c)
        multiply(o, tanh_c, h)                   # h_t = o tanh(c_t)
        if drop is not None:                     # a masked step keeps h_{t-1} and c_{t-1}
            copyto(c, c_prev, where=drop[t])
            copyto(h, states[t], where=drop[t])
        if train and t + 1 in starts:
            side(_gate_factors, step_inputs, gates, cells, tanh_cells, inputs_T, gate_factors, dc_dh,
                 starts[t + 1], t + 1)
    if h_seq is not None:
        h_seq[...] = step_inputs[1:, :units].transpose(2, 0, 1)
    return step_inputs, inputs_T, gates, gate_factors, dc_dh, cells[steps if train else steps % 2]


def _chunks(steps: int, single: int) -> list:
    """``[(start, end), ...]``: the steps in chunks of ``CHUNK``, with step ``single`` a chunk of
    its own. That is the last chunk a loop hands off (forward: ``steps - 1``; backward: 0), which
    the calling thread always runs itself: the shorter, the sooner the loop is done."""
    bounds = sorted(set(range(0, steps, CHUNK)) | {single, single + 1, steps})
    bounds = [b for b in bounds if 0 <= b <= steps]
    return list(zip(bounds, bounds[1:]))


def _gate_factors(step_inputs, gates, cells, tanh_cells, inputs_T, gate_factors, dc_dh, t0, t1):
    """The derivative factors of steps ``t0 .. t1 - 1`` (see ``_forward_scan``), from the gates
    ``[c̃; σ(a_i); σ(a_f); σ(a_o)]``, the cells and their tanh, a few passes over the chunk; and
    the chunk's step inputs batch-major (``inputs_T``)."""
    units = cells.shape[1]
    np.copyto(inputs_T[t0:t1], step_inputs[t0:t1].transpose(0, 2, 1))
    g, m, tanh_c, d = gates[t0:t1], gate_factors[t0:t1], tanh_cells[t0:t1], dc_dh[t0:t1]
    factor_loop = compiled.kernel("lstm_gate_factors")
    if factor_loop is not None:  # the passes below in one, the same bits (``compiled``)
        factor_loop(g, cells[t0:t1], tanh_c, m, d, g.dtype.type(1))
        return
    c_cand, sig = g[:, :units], g[:, units:]
    m_c, m_sig = m[:, :units], m[:, units:]
    np.multiply(c_cand, c_cand, out=m_c)                     # tanh'(a_c) i = (1 - c̃^2) i
    np.subtract(1, m_c, out=m_c)
    np.multiply(m_c, g[:, units:2 * units], out=m_c)
    np.subtract(1, sig, out=m_sig)                           # σ'(a) = σ (1 - σ)
    np.multiply(m_sig, sig, out=m_sig)
    np.multiply(m[:, units:2 * units], c_cand, out=m[:, units:2 * units])        # times c̃
    np.multiply(m[:, 2 * units:3 * units], cells[t0:t1], out=m[:, 2 * units:3 * units])  # c_{t-1}
    np.multiply(m[:, 3 * units:], tanh_c, out=m[:, 3 * units:])                  # tanh(c_t)
    np.multiply(tanh_c, tanh_c, out=d)                       # dc_t/dh_t = o (1 - tanh(c_t)^2)
    np.subtract(1, d, out=d)
    np.multiply(d, g[:, 3 * units:], out=d)


def _weight_chunk(inputs_T, d_preact, out, t0, t1):
    """``out = sum_t da_t [h_{t-1}; x_t; 1]^T`` over steps ``t1 - 1`` down to ``t0``: one chunk
    of ``[dU; dW; db]^T``. (With both operands (rows, k) row-major: OpenBLAS's GEMM takes 10-20%
    longer on the transpose of either, more than the transposing copy of the inputs costs.)"""
    dot = blas.dot if blas.engine() == "mkl" else np.dot
    dot(d_preact[t1 - 1], inputs_T[t1 - 1], out)
    step = np.empty_like(out)
    for t in range(t1 - 2, t0 - 1, -1):
        dot(d_preact[t], inputs_T[t], step)
        np.add(out, step, out)


def _backward_scan(inputs_T, gates, gate_factors, dc_dh, kernel, recurrent_kernel, keep, g_seq, g_h, g_c,
                   need, last_use, go_backwards, dx, dh0, dc0, side):
    """The backward loop of ``LSTM`` (BPTT) over one part of the batch, with that part's saved
    arrays and gradients: writes ``dx``, ``dh0`` and ``dc0`` (the part's rows) and returns the
    part's ``[dU; dW; db]^T`` in the internal gate order (None when no weight needs one).
    ``kernel`` and ``recurrent_kernel`` are in the internal order; ``g_seq`` is None when the
    output sequence was not used. ``side`` (a ``SideWork``, None for an inline one) computes the
    weight gradients chunk by chunk."""
    steps, four_u, batch = gates.shape
    units = four_u // 4
    dtype = gates.dtype
    forget = gates[:, 2 * units:3 * units]  # dc_{t-1} = dc_t f_t
    if keep is not None:  # a masked step passes dh, dc straight to the previous one
        gate_factors = gate_factors * keep
        dc_dh = dc_dh * keep
        forget = forget * keep + (1 - keep)
    d_h_seq = None if g_seq is None else workspace.contiguous(g_seq.transpose(1, 2, 0))
    dh = np.array(g_h.T, dtype=dtype, order="C")
    dc = np.array(g_c.T, dtype=dtype, order="C")
    weights = any(need[1:4])
    # da_t = [da_c; da_i; da_f; da_o]: on the saved arrays' last use it overwrites the gate
    # factors it is computed from (no new array to fault in); otherwise a new array (a retained
    # graph must keep them), every step's for dx and the weight gradients, else one step's
    if last_use or keep is not None:  # (masked, gate_factors * keep above is already a copy)
        d_preact = gate_factors
    else:
        d_preact = np.empty_like(gates) if need[0] or weights else np.empty((1, four_u, batch), dtype)
    every_step = d_preact.shape[0] == steps
    scratch = np.empty((units, batch), dtype)
    # one partial sum of [dU; dW; db]^T per chunk of steps, added in a fixed order at the end
    chunks = _chunks(steps, 0)
    ends = {start: (k, end) for k, (start, end) in enumerate(chunks)}  # handed off after step `start`
    partials = np.empty((len(chunks), four_u, inputs_T.shape[2]), dtype) if weights else None
    side = SideWork(threaded=False) if side is None else side
    drop = None if keep is None else 1 - keep
    # the five passes below in one, the same bits; da written over the factors when d_preact is them
    in_place = d_preact is gate_factors
    gate_loop = compiled.kernel("lstm_backward_in_place" if in_place else "lstm_backward")
    # the per-step views from iterators over the buffers, from the last step back (as forward)
    dot = blas.dot if blas.engine() == "mkl" else np.dot
    multiply, add = np.multiply, np.add
    three = (3, units, batch)  # the rows of da_c, da_i, da_f, each times dc
    m_cif = gate_factors[:, :3 * units].reshape((steps,) + three)[::-1]
    if every_step:
        d_all, d_o = d_preact[::-1], d_preact[::-1, 3 * units:]
        d_cif = d_preact[:, :3 * units].reshape((steps,) + three)[::-1]
    else:
        d_all, d_cif, d_o = (itertools.repeat(a) for a in (d_preact[0], d_preact[0, :3 * units].reshape(three),
                                                            d_preact[0, 3 * units:]))
    views = zip(range(steps - 1, -1, -1), gate_factors[::-1], m_cif, gate_factors[::-1, 3 * units:], dc_dh[::-1],
                forget[::-1], d_all, d_cif, d_o)
    for t, m, m_c_i_f, m_o, dc_dh_t, forget_t, da, da_c_i_f, da_o in views:
        if d_h_seq is not None:
            add(dh, d_h_seq[t], dh)                     # dh_t += dL/dh_t of the output
        if gate_loop is not None and in_place:
            gate_loop(m, dc_dh_t, forget_t, dh, dc)
        elif gate_loop is not None:
            gate_loop(m, dc_dh_t, forget_t, dh, dc, da)
        else:
            multiply(dh, dc_dh_t, scratch)              # dc_t += dh_t o (1 - tanh(c_t)^2)
            add(dc, scratch, dc)
            # da_c = dc tanh'(a_c) i;  da_i = dc σ'(a_i) c̃;  da_f = dc σ'(a_f) c_{t-1}
            multiply(m_c_i_f, dc, da_c_i_f)
            multiply(m_o, dh, da_o)                     # da_o = dh σ'(a_o) tanh(c_t)
            multiply(dc, forget_t, dc)                  # dc_{t-1} = dc_t f_t
        if drop is not None:
            multiply(dh, drop[t], scratch)
        if side.spare:
            side.chain_gemm()
        dot(recurrent_kernel, da, dh)                   # dh_{t-1} = da_t U^T
        if drop is not None:
            add(dh, scratch, dh)
        if weights and t in ends:                       # the chunk's steps are done
            k, end = ends[t]
            side(_weight_chunk, inputs_T, d_preact, partials[k], t, end)
    if dx is not None:                                  # dx_t = da_t W^T
        dx_t = np.matmul(kernel, d_preact).transpose(2, 0, 1)
        dx[...] = dx_t[:, ::-1] if go_backwards else dx_t
    dh0[...] = dh.T
    dc0[...] = dc.T
    return partials


def lstm(x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, mask=None, go_backwards=False):
    """Keras's LSTM (tanh, sigmoid) over a whole sequence: ``(h_seq, h_last, c_last)``.

    ``x`` (batch, time, features); ``kernel`` (features, 4 units); ``recurrent_kernel``
    (units, 4 units); ``bias`` (4 units,); gate order i, f, c, o. ``h0``, ``c0`` (batch, units)
    default to zeros, ``mask`` (batch, time) bool.
    """
    units = as_array(recurrent_kernel).shape[0]
    bias, (h0, c0), mask = prepare("lstm", x, kernel, recurrent_kernel, bias, (4 * units,),
                                   {"h0": h0, "c0": c0}, mask)
    return LSTM.apply(x, kernel, recurrent_kernel, bias, h0, c0, mask=mask, go_backwards=bool(go_backwards))
