"""The fully connected RNN: a plain reference cell, then the fused sequence op.

    h_t = act(x_t W + h_{t-1} U + b)

``W`` is Keras's ``kernel`` (features, units), ``U`` its ``recurrent_kernel`` (units, units),
``b`` its ``bias`` (units,); ``act`` is tanh, relu, sigmoid or linear.
"""
from __future__ import annotations

import numpy as np

from ...autograd import Function, is_grad_enabled
from ...autograd.higher_order import recomputed_backward
from ..activation import relu, sigmoid, tanh
from ..product import matmul
from .. import blas, workspace
from .common import as_array, batch_major, masks, over_batch, prepare, scan, sigmoid_of_negated, splits, time_major


# --------------------------------------------------------------------------- reference
def _linear(a):
    return a


REFERENCE_ACTIVATIONS = {"tanh": tanh, "relu": relu, "sigmoid": sigmoid, "linear": _linear}


def simple_rnn_cell(x_t, h_prev, kernel, recurrent_kernel, bias, activation="tanh"):
    """One step, as the formula reads: ``h_t = act(x_t W + h_{t-1} U + b)``."""
    act = REFERENCE_ACTIVATIONS[activation]
    return act(matmul(x_t, kernel) + matmul(h_prev, recurrent_kernel) + bias)


def simple_rnn_reference(x, kernel, recurrent_kernel, bias=None, h0=None, mask=None, go_backwards=False,
                         activation="tanh"):
    """``simple_rnn`` computed by ``simple_rnn_cell`` one step at a time: ``(h_seq, h_last)``."""
    units = as_array(recurrent_kernel).shape[0]
    bias, (h0,), mask = prepare("simple_rnn", x, kernel, recurrent_kernel, bias, (units,), {"h0": h0}, mask)
    cell = lambda x_t, h: (simple_rnn_cell(x_t, h, kernel, recurrent_kernel, bias, activation),)  # noqa: E731
    return scan(cell, x, (h0,), mask, go_backwards)


# --------------------------------------------------------------------------- fused
def _relu(a, out):
    return np.maximum(a, 0, out=out)


def _sigmoid(a, out):
    np.negative(a, out=out)
    sigmoid_of_negated(out)


def _copy(a, out):
    np.copyto(out, a)


def _tanh_grad(h, out):      # 1 - h^2
    np.multiply(h, h, out=out)
    np.subtract(1, out, out=out)


def _relu_grad(h, out):      # 1 where h > 0
    np.copyto(out, h > 0)


def _sigmoid_grad(h, out):   # h (1 - h)
    np.subtract(1, h, out=out)
    np.multiply(h, out, out=out)


def _ones(h, out):
    out.fill(1)


# activation name -> (in place h = act(a), in place act'(a) from the output h)
SIMPLE_RNN_ACTIVATIONS = {
    "tanh": (np.tanh, _tanh_grad),
    "relu": (_relu, _relu_grad),
    "sigmoid": (_sigmoid, _sigmoid_grad),
    "linear": (_copy, _ones),
}


class SimpleRNN(Function):
    """``(h_seq, h_last)`` of ``h_t = act(x_t W + h_{t-1} U + b)`` over the whole sequence.

    The inputs of all steps are projected by one GEMM into a time-major ``(time, batch, units)``
    buffer; the time loop adds one ``h_{t-1} U`` GEMM per step. Backward (BPTT) fills the
    gradients of every step's pre-activation in one reverse loop; ``dW``, ``dU``, ``db`` and
    ``dx`` are then one GEMM (or sum) each over all steps. A large batch runs both loops as two
    halves in two threads (``common.over_batch``) on the halves' rows of the same buffers.
    """

    def forward(self, x, kernel, recurrent_kernel, bias, h0, mask=None, go_backwards=False, activation="tanh"):
        self.options = (mask, go_backwards, activation)  # for graph_backward, which runs the reference cell
        dtype = x.dtype
        batch, steps, features = x.shape
        units = recurrent_kernel.shape[0]
        kernel, recurrent_kernel, bias, h0 = (a.astype(dtype, copy=False)
                                              for a in (kernel, recurrent_kernel, bias, h0))
        act = SIMPLE_RNN_ACTIVATIONS[activation][0]
        # a training step's buffers from the workspace pool, reused from one step to the next
        alloc = workspace.empty if is_grad_enabled() and any(self.needs_input_grad) else np.empty
        x_rows = time_major(x, go_backwards).reshape(steps * batch, features)
        preact = alloc((steps, batch, units), dtype)                    # a_t = x_t W + b, then + h_{t-1} U
        blas.dot(x_rows, kernel, out=preact.reshape(steps * batch, units))
        preact += bias
        h = alloc((steps + 1, batch, units), dtype)                     # h[t + 1] = h_t, h[0] = h0
        h[0] = h0
        keep, drop = masks(mask, go_backwards, dtype)
        recurrent = np.empty((batch, units), dtype)

        def scan(part):  # the samples of `part`: rows of every (batch, units) step, contiguous
            hp, pre, rec = h[:, part], preact[:, part], recurrent[part]
            dp = None if drop is None else drop[:, part]
            with np.errstate(over="ignore"):
                for t in range(steps):
                    blas.dot(hp[t], recurrent_kernel, out=rec)
                    np.add(pre[t], rec, out=pre[t])
                    act(pre[t], out=hp[t + 1])
                    if dp is not None:                                  # a masked step keeps h_{t-1}
                        np.copyto(hp[t + 1], hp[t], where=dp[t])

        over_batch(scan, batch, splits(batch, units * batch), "simple_rnn", preact.shape)

        self.activation, self.go_backwards, self.masked = activation, go_backwards, keep is not None
        self.save_for_backward(x_rows, h, kernel, recurrent_kernel, *([keep] if self.masked else []))
        h_seq = alloc((batch, steps, units), dtype)
        np.copyto(h_seq, h[1:].swapaxes(0, 1))
        return h_seq, h[steps].copy()

    def backward(self, grads):
        g_seq, g_h = grads
        x_rows, h, kernel, recurrent_kernel, *keep = self.saved
        keep = keep[0] if keep else None
        steps, batch, units = h.shape[0] - 1, h.shape[1], h.shape[2]
        act_grad = workspace.empty((steps, batch, units), h.dtype)      # act'(a_t)
        SIMPLE_RNN_ACTIVATIONS[self.activation][1](h[1:], act_grad)
        if keep is not None:
            act_grad *= keep
        drop = None if keep is None else 1 - keep
        d_h_seq = None if g_seq is None else g_seq.swapaxes(0, 1)  # None: h_seq unused
        d_preact = workspace.empty((steps, batch, units), h.dtype)
        dh = np.zeros((batch, units), h.dtype) if g_h is None else np.array(g_h, dtype=h.dtype)
        carried = np.empty((batch, units), h.dtype)
        recurrent_kernel_T = np.ascontiguousarray(recurrent_kernel.T)

        def scan(part):  # the samples of `part`, as in forward; dW, dU, db follow over all of them
            dhp, grad, da, kept = dh[part], act_grad[:, part], d_preact[:, part], carried[part]
            dseq = None if d_h_seq is None else d_h_seq[:, part]
            dp = None if drop is None else drop[:, part]
            for t in range(steps - 1, -1, -1):
                if dseq is not None:
                    np.add(dhp, dseq[t], out=dhp)                           # dh_t += dL/dh_t of the output
                np.multiply(dhp, grad[t], out=da[t])                        # da_t = dh_t act'(a_t)
                if dp is not None:                                          # a masked step passes dh_t on
                    np.multiply(dhp, dp[t], out=kept)
                blas.dot(da[t], recurrent_kernel_T, out=dhp)                  # dh_{t-1} = da_t U^T
                if dp is not None:
                    np.add(dhp, kept, out=dhp)

        over_batch(scan, batch, splits(batch, units * batch), "simple_rnn backward", d_preact.shape)

        need = self.needs_input_grad
        d_preact = d_preact.reshape(steps * batch, units)
        dx = dk = dr = db = None
        if need[0]:                                                     # dx_t = da_t W^T
            dx = batch_major(blas.dot(d_preact, kernel.T).reshape(steps, batch, -1), self.go_backwards)
        if need[1]:                                                     # dW = sum_t x_t^T da_t
            dk = blas.dot(x_rows.T, d_preact)
        if need[2]:                                                     # dU = sum_t h_{t-1}^T da_t
            dr = blas.dot(h[:-1].reshape(steps * batch, units).T, d_preact)
        if need[3]:                                                     # db = sum_t da_t
            db = d_preact.sum(axis=0)
        return dx, dk, dr, db, dh

    def graph_backward(self, grads):
        """The gradients through ``simple_rnn_cell`` scanned over the sequence, all recorded ops."""
        mask, go_backwards, activation = self.options

        def reference(x, kernel, recurrent_kernel, bias, h0):
            cell = lambda x_t, h: (simple_rnn_cell(x_t, h, kernel, recurrent_kernel, bias, activation),)  # noqa: E731
            return scan(cell, x, (h0,), mask, go_backwards)

        return recomputed_backward(self, grads, reference)


def simple_rnn(x, kernel, recurrent_kernel, bias=None, h0=None, mask=None, go_backwards=False, activation="tanh"):
    """A fully connected RNN over a whole sequence: ``(h_seq, h_last)``.

    ``kernel`` (features, units), ``recurrent_kernel`` (units, units), ``bias`` (units,);
    ``activation`` is one of "tanh", "relu", "sigmoid", "linear".
    """
    if activation not in SIMPLE_RNN_ACTIVATIONS:
        raise ValueError(f"simple_rnn: activation must be one of {sorted(SIMPLE_RNN_ACTIVATIONS)}, got {activation!r}")
    units = as_array(recurrent_kernel).shape[0]
    bias, (h0,), mask = prepare("simple_rnn", x, kernel, recurrent_kernel, bias, (units,), {"h0": h0}, mask)
    return SimpleRNN.apply(x, kernel, recurrent_kernel, bias, h0, mask=mask, go_backwards=bool(go_backwards),
                           activation=activation)
