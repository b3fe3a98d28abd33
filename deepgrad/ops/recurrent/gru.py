"""Keras's GRU: a plain reference cell, then the fused sequence op.

Gates z (update), r (reset), h (candidate), in that order along the last axis of ``kernel``
W (features, 3 units) and ``recurrent_kernel`` U (units, 3 units).

reset_after=True (Keras's default; ``bias`` (2, 3 units) = input bias b, recurrent bias b'):

    z_t  = σ(x_t W_z + b_z + h_{t-1} U_z + b'_z)
    r_t  = σ(x_t W_r + b_r + h_{t-1} U_r + b'_r)
    h̃_t  = tanh(x_t W_h + b_h + r_t ⊙ (h_{t-1} U_h + b'_h))
    h_t  = z_t ⊙ h_{t-1} + (1 - z_t) ⊙ h̃_t

reset_after=False (``bias`` (3 units,)): as above without b', and

    h̃_t  = tanh(x_t W_h + (r_t ⊙ h_{t-1}) U_h + b_h)
"""
from __future__ import annotations

import numpy as np

from ...autograd import Function, is_grad_enabled
from ...autograd.higher_order import recomputed_backward
from ..activation import sigmoid, tanh
from ..product import matmul
from .. import blas, workspace
from .common import as_array, feature_major, masks, over_batch, prepare, scan, splits, sum_over_steps


# --------------------------------------------------------------------------- reference
def gru_cell(x_t, h_prev, kernel, recurrent_kernel, bias, reset_after=True):
    """One step, as the formulas in the module docstring read: ``h_t``."""
    units = recurrent_kernel.shape[0]
    z, r, h = (slice(g * units, (g + 1) * units) for g in range(3))
    W, U = kernel, recurrent_kernel
    if reset_after:
        b, b_rec = bias[0], bias[1]
        z_t = sigmoid(matmul(x_t, W[:, z]) + b[z] + matmul(h_prev, U[:, z]) + b_rec[z])
        r_t = sigmoid(matmul(x_t, W[:, r]) + b[r] + matmul(h_prev, U[:, r]) + b_rec[r])
        h_cand = tanh(matmul(x_t, W[:, h]) + b[h] + r_t * (matmul(h_prev, U[:, h]) + b_rec[h]))
    else:
        b = bias
        z_t = sigmoid(matmul(x_t, W[:, z]) + matmul(h_prev, U[:, z]) + b[z])
        r_t = sigmoid(matmul(x_t, W[:, r]) + matmul(h_prev, U[:, r]) + b[r])
        h_cand = tanh(matmul(x_t, W[:, h]) + matmul(r_t * h_prev, U[:, h]) + b[h])
    return z_t * h_prev + (1 - z_t) * h_cand


def gru_reference(x, kernel, recurrent_kernel, bias=None, h0=None, mask=None, go_backwards=False,
                  reset_after=True):
    """``gru`` computed by ``gru_cell`` one step at a time: ``(h_seq, h_last)``."""
    units = as_array(recurrent_kernel).shape[0]
    bias_shape = (2, 3 * units) if reset_after else (3 * units,)
    bias, (h0,), mask = prepare("gru", x, kernel, recurrent_kernel, bias, bias_shape, {"h0": h0}, mask)
    cell = lambda x_t, h: (gru_cell(x_t, h, kernel, recurrent_kernel, bias, reset_after),)  # noqa: E731
    return scan(cell, x, (h0,), mask, go_backwards)


# --------------------------------------------------------------------------- fused
def sigmoid_of_halved(a: np.ndarray) -> None:
    """In place: ``a <- σ(2 a) = (1 + tanh(a)) / 2``; no exp, no reciprocal, no overflow."""
    np.tanh(a, out=a)
    np.multiply(a, 0.5, out=a)
    np.add(a, 0.5, out=a)


class GRU(Function):
    """``(h_seq, h_last)`` of Keras's GRU over the whole sequence.

    Every per-step array is feature-major, ``(features, batch)``, so that a gate is a
    contiguous block of rows and each element-wise pass is one flat loop (see ``LSTM``). Each
    step starts with one GEMM ``[W; b]^T [x_t; 1]`` (a stacked matmul over all steps at once is
    slow when features == 1, and this layout also gives dW and db as one GEMM per step).
    The sigmoid gates z and r take one ``tanh`` over their block and no division, as the
    LSTM's do: the GEMMs yield ``a_z / 2`` and ``a_r / 2`` (the halves folded into private
    copies of the weights; scaling by a power of two is exact) and ``σ(a) = (1 + tanh(a/2)) / 2``.
    On float32 NumPy's ``tanh`` costs less than ``exp``, and a multiply less than a reciprocal.

    Besides the gates, backward needs one more array per step,
    ``s_t = h_{t-1} U_h + b'_h`` (reset_after) or ``s_t = r_t ⊙ h_{t-1}`` (reset_after=False).
    A large batch runs both loops (``_forward_scan``, ``_backward_scan``) as two halves in two
    threads, each half in its own buffers (``common.over_batch``); the halves' weight gradients
    are added.
    """

    def forward(self, x, kernel, recurrent_kernel, bias, h0, mask=None, go_backwards=False, reset_after=True):
        self.options = (mask, go_backwards, reset_after)  # for graph_backward, which runs the reference cell
        dtype = x.dtype
        batch, steps, features = x.shape
        units = recurrent_kernel.shape[0]
        kernel, recurrent_kernel, bias, h0 = (a.astype(dtype, copy=False)
                                              for a in (kernel, recurrent_kernel, bias, h0))
        halve_zr = np.repeat(np.array([0.5, 0.5, 1], dtype), units)  # the GEMMs yield a_z/2, a_r/2, a_h
        if reset_after:
            b_in = bias[0].copy()
            b_in[:2 * units] += bias[1, :2 * units]      # b'_z and b'_r simply add to b_z and b_r
            b_rec_h = bias[1, 2 * units:, None]
        else:
            b_in, b_rec_h = bias, None
        input_weights_T = np.ascontiguousarray((np.concatenate([kernel, b_in[None]]) * halve_zr).T)
        recurrent_T = np.ascontiguousarray(recurrent_kernel.T * halve_zr[:, None])
        keep, drop = masks(mask, go_backwards, dtype, batch_last=True)
        split = splits(batch, 3 * units * batch)
        h_seq = np.empty((batch, steps, units), dtype) if split else None  # each half writes its rows
        # a training step's buffers from the workspace pool, reused from one step to the next
        # (decided here: the scan may run in another thread)
        alloc = workspace.empty if is_grad_enabled() and any(self.needs_input_grad) else np.empty

        def scan(part):
            return _forward_scan(input_weights_T, recurrent_T, b_rec_h, x[part], h0[part],
                                 None if drop is None else drop[..., part], go_backwards, reset_after,
                                 None if h_seq is None else h_seq[part], alloc)

        parts = over_batch(scan, batch, split, "gru", (steps, 3 * units, batch), reset_after)
        self.reset_after, self.go_backwards = reset_after, go_backwards
        self.save_for_backward(kernel, recurrent_kernel, keep, *(a for p in parts for a in p))
        if not split:
            h = parts[0][2]
            return h[1:].transpose(2, 0, 1), h[steps].T.copy()
        return h_seq, np.concatenate([p[2][steps].T for p in parts])

    def backward(self, grads):
        g_seq, g_h = grads  # None for an unused output (h_seq with return_sequences=False)
        kernel, recurrent_kernel, keep, *saved = self.saved
        split = len(saved) == 8  # the forward ran two halves of the batch: so does the backward
        units = recurrent_kernel.shape[0]
        steps, features = saved[1].shape[0], kernel.shape[0]
        batch = sum(gates.shape[2] for gates in saved[1::4])  # saved per part: x_ones, gates, h, s
        dtype = saved[1].dtype
        need = self.needs_input_grad
        if g_h is None:
            g_h = np.zeros((batch, units), dtype)
        dx = np.empty((batch, steps, features), dtype) if need[0] else None
        dh0 = np.empty((batch, units), dtype)

        def scan(part):
            first = 4 if part.start else 0  # saved: the first half's four arrays, then the second's
            return _backward_scan(*saved[first:first + 4], kernel, recurrent_kernel,
                                  None if keep is None else keep[..., part], None if g_seq is None else g_seq[part],
                                  g_h[part], need, self.reset_after, self.go_backwards,
                                  None if dx is None else dx[part], dh0[part])

        parts = over_batch(scan, batch, split, "gru backward", saved[1].shape, self.reset_after)
        # the halves' sums over their samples, added
        d_input, dr, db_rec = (None if p[0] is None else sum(p[1:], p[0]) for p in zip(*parts))
        dk = db = None
        if d_input is not None:                          # [dW; db] = sum_t [x_t; 1] d_input_t^T
            dk, db = (d_input[:-1] if need[1] else None), (d_input[-1] if need[3] else None)
        if need[3] and self.reset_after:                 # db' = sum_t d_recurrent_t
            db = np.stack([db, db_rec])
        return dx, dk, dr, db, dh0

    def graph_backward(self, grads):
        """The gradients through ``gru_cell`` scanned over the sequence, all recorded ops."""
        mask, go_backwards, reset_after = self.options

        def reference(x, kernel, recurrent_kernel, bias, h0):
            cell = lambda x_t, h: (gru_cell(x_t, h, kernel, recurrent_kernel, bias, reset_after),)  # noqa: E731
            return scan(cell, x, (h0,), mask, go_backwards)

        return recomputed_backward(self, grads, reference)


def _forward_scan(input_weights_T, recurrent_T, b_rec_h, x, h0, drop, go_backwards, reset_after, h_seq, alloc):
    """The forward loop of ``GRU`` over one part of the batch (all of it, or one half) in its own
    buffers: ``(x_ones, gates, h, s)`` (see the class), feature-major. With ``h_seq``
    (batch, time, units) it also writes the part's output sequence there."""
    dtype = x.dtype
    batch, steps, features = x.shape
    units = recurrent_T.shape[1]
    x_ones = alloc((steps, features + 1, batch), dtype)           # x_ones[t] = [x_t; 1]
    x_ones[:, :features] = feature_major(x, go_backwards)
    x_ones[:, features] = 1
    recurrent_zr_T, recurrent_h_T = recurrent_T[:2 * units], recurrent_T[2 * units:]
    gates = alloc((steps, 3 * units, batch), dtype)              # z_t, r_t, h̃_t
    h = alloc((steps + 1, units, batch), dtype)                  # h[t + 1] = h_t, h[0] = h0
    h[0] = h0.T
    s = alloc((steps, units, batch), dtype)                      # s_t (class docstring)
    recurrent = np.empty((3 * units if reset_after else 2 * units, batch), dtype)
    scratch = np.empty((units, batch), dtype)
    for t in range(steps):
        g, h_prev = gates[t], h[t]
        zr, z, r, h_cand = g[:2 * units], g[:units], g[units:2 * units], g[2 * units:]
        blas.dot(input_weights_T, x_ones[t], out=g)
        if reset_after:
            blas.dot(recurrent_T, h_prev, out=recurrent)
            np.add(zr, recurrent[:2 * units], out=zr)
            sigmoid_of_halved(zr)
            np.add(recurrent[2 * units:], b_rec_h, out=s[t])    # s = h_{t-1} U_h + b'_h
            np.multiply(r, s[t], out=scratch)                   # r ⊙ s
        else:
            blas.dot(recurrent_zr_T, h_prev, out=recurrent)
            np.add(zr, recurrent, out=zr)
            sigmoid_of_halved(zr)
            np.multiply(r, h_prev, out=s[t])                    # s = r ⊙ h_{t-1}
            blas.dot(recurrent_h_T, s[t], out=scratch)            # s U_h
        np.add(h_cand, scratch, out=h_cand)
        np.tanh(h_cand, out=h_cand)
        np.subtract(h_prev, h_cand, out=scratch)                # h_t = h̃ + z (h_{t-1} - h̃)
        np.multiply(scratch, z, out=scratch)
        np.add(h_cand, scratch, out=h[t + 1])
        if drop is not None:                                    # a masked step keeps h_{t-1}
            np.copyto(h[t + 1], h_prev, where=drop[t])
    if h_seq is not None:
        h_seq[...] = h[1:].transpose(2, 0, 1)
    return x_ones, gates, h, s


def _backward_scan(x_ones, gates, h, s, kernel, recurrent_kernel, keep, g_seq, g_h, need, reset_after,
                   go_backwards, dx, dh0):
    """The backward loop of ``GRU`` (BPTT) over one part of the batch, with that part's saved
    arrays and gradients: writes ``dx`` and ``dh0`` (the part's rows) and returns the part's
    ``([dW; db], dU, db')``, each None when not needed. ``g_seq`` is None when the output
    sequence was not used."""
    steps, three_u, batch = gates.shape
    units = three_u // 3
    z, r, h_cand, h_prev = gates[:, :units], gates[:, units:2 * units], gates[:, 2 * units:], h[:-1]
    # per-step factors, each in a pooled array (a training step faults in no fresh pages):
    # with a = pre-activation, da_z = dh (h_{t-1} - h̃) z (1 - z);  da_h = dh (1 - z) (1 - h̃^2);
    # da_r = ds r (1 - r) (s or h_{t-1});  dh_{t-1} gets dh z
    dtype, shape = gates.dtype, (steps, units, batch)
    one_minus_z, dz_factor = workspace.empty(shape, dtype), workspace.empty(shape, dtype)
    dh_cand_factor, dr_factor = workspace.empty(shape, dtype), workspace.empty(shape, dtype)
    np.subtract(1, z, out=one_minus_z)
    np.subtract(h_prev, h_cand, out=dz_factor)
    np.multiply(dz_factor, z, out=dz_factor)
    np.multiply(dz_factor, one_minus_z, out=dz_factor)
    np.multiply(h_cand, h_cand, out=dh_cand_factor)
    np.subtract(1, dh_cand_factor, out=dh_cand_factor)
    np.multiply(one_minus_z, dh_cand_factor, out=dh_cand_factor)
    carry = z
    np.subtract(1, r, out=dr_factor)
    np.multiply(r, dr_factor, out=dr_factor)
    np.multiply(dr_factor, s if reset_after else h_prev, out=dr_factor)
    if keep is not None:          # a masked step passes dh straight to the previous one
        dz_factor *= keep
        dh_cand_factor *= keep
        carry = z * keep + (1 - keep)

    d_h_seq = None if g_seq is None else workspace.contiguous(g_seq.transpose(1, 2, 0))
    dh = np.array(g_h.T, dtype=gates.dtype, order="C")
    scratch = np.empty((units, batch), gates.dtype)
    if reset_after:
        # d_recurrent: gradient of h_{t-1} U + b', [da_z, da_r, da_h ⊙ r]; d_cand: da_h
        d_recurrent, d_cand = workspace.empty(gates.shape, dtype), workspace.empty(shape, dtype)
        for t in range(steps - 1, -1, -1):
            if d_h_seq is not None:
                np.add(dh, d_h_seq[t], out=dh)
            d_rec = d_recurrent[t]
            np.multiply(dh, dz_factor[t], out=d_rec[:units])              # da_z
            np.multiply(dh, dh_cand_factor[t], out=d_cand[t])             # da_h
            np.multiply(d_cand[t], dr_factor[t], out=d_rec[units:2 * units])  # da_r = da_h s r (1 - r)
            np.multiply(d_cand[t], r[t], out=d_rec[2 * units:])           # ds = da_h r
            np.multiply(dh, carry[t], out=scratch)
            blas.dot(recurrent_kernel, d_rec, out=dh)                       # dh_{t-1} = d_rec U^T + dh z
            np.add(dh, scratch, out=dh)
        d_input = workspace.empty(gates.shape, dtype)  # gradient of x_t W + b: [da_z, da_r, da_h]
        d_input[:, :2 * units] = d_recurrent[:, :2 * units]
        d_input[:, 2 * units:] = d_cand
    else:
        recurrent_h = np.ascontiguousarray(recurrent_kernel[:, 2 * units:])
        recurrent_zr = np.ascontiguousarray(recurrent_kernel[:, :2 * units])
        ds = np.empty((units, batch), gates.dtype)
        d_input = workspace.empty(gates.shape, dtype)  # gradient of x_t W + b: [da_z, da_r, da_h]
        for t in range(steps - 1, -1, -1):
            if d_h_seq is not None:
                np.add(dh, d_h_seq[t], out=dh)
            d_in = d_input[t]
            np.multiply(dh, dz_factor[t], out=d_in[:units])              # da_z
            np.multiply(dh, dh_cand_factor[t], out=d_in[2 * units:])     # da_h
            blas.dot(recurrent_h, d_in[2 * units:], out=ds)                # ds = da_h U_h^T, s = r h_{t-1}
            np.multiply(ds, dr_factor[t], out=d_in[units:2 * units])     # da_r = ds h_{t-1} r (1 - r)
            np.multiply(dh, carry[t], out=scratch)
            np.multiply(ds, r[t], out=ds)
            np.add(scratch, ds, out=scratch)
            blas.dot(recurrent_zr, d_in[:2 * units], out=dh)               # dh_{t-1} = [da_z, da_r] U_zr^T
            np.add(dh, scratch, out=dh)                                  #   + dh z + ds r
        d_recurrent = d_input

    if dx is not None:                                  # dx_t = d_input_t W^T
        dx_t = np.matmul(kernel, d_input).transpose(2, 0, 1)
        dx[...] = dx_t[:, ::-1] if go_backwards else dx_t
    dh0[...] = dh.T
    d_weights = dr = db_rec = None
    if need[1] or need[3]:
        d_weights = sum_over_steps(x_ones, d_input)  # [dW; db] = sum_t [x_t; 1] d_input_t^T
    if need[2]:
        if reset_after:                              # dU = sum_t h_{t-1}^T d_recurrent_t
            dr = sum_over_steps(h_prev, d_recurrent)
        else:                                        # dU_zr from h_{t-1}, dU_h from s_t = r h_{t-1}
            dr = np.concatenate([sum_over_steps(h_prev, d_input[:, :2 * units]),
                                 sum_over_steps(s, d_input[:, 2 * units:])], axis=1)
    if need[3] and reset_after:                      # db' = sum_t d_recurrent_t
        db_rec = d_recurrent.sum(axis=(0, 2))
    return d_weights, dr, db_rec


def gru(x, kernel, recurrent_kernel, bias=None, h0=None, mask=None, go_backwards=False, reset_after=True):
    """Keras's GRU (tanh, sigmoid) over a whole sequence: ``(h_seq, h_last)``.

    ``kernel`` (features, 3 units), ``recurrent_kernel`` (units, 3 units), gate order z, r, h;
    ``bias`` (2, 3 units) with ``reset_after=True`` (input and recurrent bias), else (3 units,).
    """
    units = as_array(recurrent_kernel).shape[0]
    bias_shape = (2, 3 * units) if reset_after else (3 * units,)
    bias, (h0,), mask = prepare("gru", x, kernel, recurrent_kernel, bias, bias_shape, {"h0": h0}, mask)
    return GRU.apply(x, kernel, recurrent_kernel, bias, h0, mask=mask, go_backwards=bool(go_backwards),
                     reset_after=bool(reset_after))
