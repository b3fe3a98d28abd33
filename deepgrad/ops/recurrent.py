"""Fused recurrent ops: a whole LSTM, GRU or simple RNN sequence as one graph node.

Sequences are batch-major ``(batch, time, features)`` and weights use Keras's layouts
(LSTM gates i, f, c, o; GRU gates z, r, h), so Keras weights load as they are.

Each op runs the same plan, because with NumPy the per-step Python overhead dominates:

* forward: the inputs of all time steps are projected by one GEMM into a time-major
  ``(time, batch, gates * units)`` buffer; the time loop then adds one ``h @ recurrent_kernel``
  GEMM per step and works in place in preallocated buffers;
* backward (BPTT): one reverse loop fills the gradients of the pre-activations of every
  step; the weight gradients and ``dx`` are then one GEMM each over all ``time * batch`` rows.

Sigmoid gates are computed as ``1 / (1 + exp(-a))``. The ``-1`` (and the ``-2`` of
``tanh(a) = 2 sigmoid(2a) - 1`` for the candidate) is folded into private copies of the
weights, so one ``exp`` serves every gate of a step; scaling by a power of two is exact.

Masks follow Keras: where ``mask[b, t]`` is False the state carries over unchanged and the
output of that step repeats the previous state. With ``go_backwards`` the sequence is read
from the last step to the first and the output sequence is in that (reversed) order.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor

_SIMPLE_RNN_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


# --------------------------------------------------------------------------- helpers
def _time_major(x: np.ndarray, go_backwards: bool) -> np.ndarray:
    """(batch, time, ...) -> contiguous (time, batch, ...), time reversed if ``go_backwards``."""
    if go_backwards:
        x = x[:, ::-1]
    return np.ascontiguousarray(x.swapaxes(0, 1))


def _batch_major(x: np.ndarray, go_backwards: bool) -> np.ndarray:
    """The inverse of ``_time_major``."""
    x = x.swapaxes(0, 1)
    if go_backwards:
        x = x[:, ::-1]
    return np.ascontiguousarray(x)


def _masks(mask, go_backwards: bool, dtype):
    """A (batch, time) mask as time-major ``keep`` (float 0/1) and ``drop`` (bool), (T, B, 1)."""
    if mask is None:
        return None, None
    keep = _time_major(np.asarray(mask, dtype=bool), go_backwards)[:, :, None]
    return keep.astype(dtype), ~keep


def _sigmoid_of_negated(a: np.ndarray) -> None:
    """In place: ``a <- 1 / (1 + exp(a))``, i.e. the sigmoid of ``-a``."""
    np.exp(a, out=a)
    np.add(a, 1, out=a)
    np.reciprocal(a, out=a)


def _check(op: str, x, kernel, recurrent_kernel, bias, bias_shape, states):
    """Reject bad shapes with a message that names the op and both shapes."""
    if x.ndim != 3:
        raise ValueError(f"{op}: inputs must be (batch, time, features), got shape {x.shape}")
    batch, _, features = x.shape
    units = recurrent_kernel.shape[0]
    gates = bias_shape[-1] // units
    expected = {"kernel": (kernel.shape, (features, gates * units)),
                "recurrent_kernel": (recurrent_kernel.shape, (units, gates * units)),
                "bias": (bias.shape, bias_shape)}
    expected.update({name: (s.shape, (batch, units)) for name, s in states.items()})
    for name, (got, want) in expected.items():
        if tuple(got) != tuple(want):
            raise ValueError(f"{op}: {name} has shape {tuple(got)}, expected {want} for inputs of "
                             f"shape {x.shape} and {units} units")


def _as_array(t):
    return t.data if isinstance(t, Tensor) else t


def _mask_array(mask, x):
    if mask is None:
        return None
    mask = np.asarray(_as_array(mask)).astype(bool)
    if mask.shape != tuple(x.shape[:2]):
        raise ValueError(f"mask has shape {mask.shape}, expected (batch, time) = {tuple(x.shape[:2])}")
    return mask


def _zeros_state(x, units, value):
    if value is not None:
        return value
    x = _as_array(x)
    return np.zeros((x.shape[0], units), dtype=x.dtype if x.dtype.kind == "f" else np.float32)


# --------------------------------------------------------------------------- LSTM
class LSTM(Function):
    """``(h_seq, h_last, c_last)`` of a tanh/sigmoid LSTM over the whole sequence."""

    def forward(self, x, kernel, recurrent_kernel, bias, h0, c0, mask=None, go_backwards=False):
        dtype = x.dtype
        batch, steps, features = x.shape
        U = recurrent_kernel.shape[0]
        kernel, recurrent_kernel, bias, h0, c0 = (a.astype(dtype, copy=False)
                                                  for a in (kernel, recurrent_kernel, bias, h0, c0))
        # private gate order i, f, o, c: the three sigmoids side by side, then the candidate
        order = np.r_[0:2 * U, 3 * U:4 * U, 2 * U:3 * U]
        scale = np.repeat(np.array([-1, -1, -1, -2], dtype), U)
        W, R = kernel[:, order], recurrent_kernel[:, order]
        Ws, Rs, bs = W * scale, R * scale, bias[order] * scale

        X = _time_major(x, go_backwards).reshape(steps * batch, features)
        G = (X @ Ws).reshape(steps, batch, 4 * U)
        G += bs
        H = np.empty((steps + 1, batch, U), dtype)  # H[t + 1] is the state after step t
        C = np.empty((steps + 1, batch, U), dtype)
        H[0], C[0] = h0, c0
        TC = np.empty((steps, batch, U), dtype)     # tanh(c) of each step
        keep, drop = _masks(mask, go_backwards, dtype)
        rec = np.empty((batch, 4 * U), dtype)
        ig = np.empty((batch, U), dtype)
        with np.errstate(over="ignore"):  # exp overflows to inf for saturated gates: sigmoid -> 0
            for t in range(steps):
                g = G[t]
                np.dot(H[t], Rs, out=rec)
                np.add(g, rec, out=g)
                _sigmoid_of_negated(g)
                cand = g[:, 3 * U:]
                np.multiply(cand, 2, out=cand)   # tanh(a) = 2 sigmoid(2a) - 1
                np.subtract(cand, 1, out=cand)
                c = C[t + 1]
                np.multiply(g[:, U:2 * U], C[t], out=c)          # c = f * c_prev + i * cand
                np.multiply(g[:, :U], cand, out=ig)
                np.add(c, ig, out=c)
                np.tanh(c, out=TC[t])
                np.multiply(g[:, 2 * U:3 * U], TC[t], out=H[t + 1])  # h = o * tanh(c)
                if drop is not None:
                    np.copyto(c, C[t], where=drop[t])
                    np.copyto(H[t + 1], H[t], where=drop[t])

        self.order, self.go_backwards = order, go_backwards
        self.x_shape = x.shape
        self.X, self.G, self.H, self.C, self.TC, self.keep = X, G, H, C, TC, keep
        self.W, self.R = W, R
        return np.ascontiguousarray(H[1:].swapaxes(0, 1)), H[steps].copy(), C[steps].copy()

    def backward(self, grads):
        g_seq, g_h, g_c = grads
        G, H, C, TC, keep = self.G, self.H, self.C, self.TC, self.keep
        steps, batch, four_u = G.shape
        U = four_u // 4
        i, f, o, cand = G[..., :U], G[..., U:2 * U], G[..., 2 * U:3 * U], G[..., 3 * U:]

        # dPre = [dc * M_i, dc * M_f, dh * M_o, dc * M_c]  with
        # M_i = cand i (1-i), M_f = c_prev f (1-f), M_o = tanh(c) o (1-o), M_c = i (1-cand^2)
        M = np.empty_like(G)
        np.multiply(G[..., :3 * U], 1 - G[..., :3 * U], out=M[..., :3 * U])
        M[..., :U] *= cand
        M[..., U:2 * U] *= C[:-1]
        M[..., 2 * U:3 * U] *= TC
        np.multiply(cand, cand, out=M[..., 3 * U:])
        np.subtract(1, M[..., 3 * U:], out=M[..., 3 * U:])
        M[..., 3 * U:] *= i
        E = (1 - TC * TC) * o           # dc += dh * o (1 - tanh(c)^2)
        F = f
        if keep is not None:            # a masked step passes dh, dc straight to the previous one
            M *= keep
            E *= keep
            F = f * keep + (1 - keep)

        dH = g_seq.swapaxes(0, 1)       # dH[t]: gradient of the output of step t
        dPre = np.empty_like(G)
        M4, P4 = M.reshape(steps, batch, 4, U), dPre.reshape(steps, batch, 4, U)
        dh = np.array(g_h, dtype=G.dtype)
        dc = np.array(g_c, dtype=G.dtype)
        dc_b = dc.reshape(batch, 1, U)
        tmp = np.empty((batch, U), G.dtype)
        RT = np.ascontiguousarray(self.R.T)
        drop = None if keep is None else 1 - keep
        for t in range(steps - 1, -1, -1):
            np.add(dh, dH[t], out=dh)
            np.multiply(dh, E[t], out=tmp)
            np.add(dc, tmp, out=dc)
            np.multiply(M4[t], dc_b, out=P4[t])
            np.multiply(dh, M[t, :, 2 * U:3 * U], out=dPre[t, :, 2 * U:3 * U])
            np.multiply(dc, F[t], out=dc)               # dc_prev = dc * f
            if drop is not None:
                np.multiply(dh, drop[t], out=tmp)
            np.dot(dPre[t], RT, out=dh)                 # dh_prev = dPre @ R^T
            if drop is not None:
                np.add(dh, tmp, out=dh)
        return self._weight_grads(dPre.reshape(steps * batch, four_u), H, dh, dc)

    def _weight_grads(self, dPre, H, dh0, dc0):
        inverse = np.argsort(self.order)
        need = self.needs_input_grad
        steps, batch, U = H.shape[0] - 1, H.shape[1], H.shape[2]
        dx = dk = dr = db = None
        if need[0]:
            dx = _batch_major((dPre @ self.W.T).reshape(steps, batch, -1), self.go_backwards)
        if need[1]:
            dk = (self.X.T @ dPre)[:, inverse]
        if need[2]:
            dr = (H[:-1].reshape(steps * batch, U).T @ dPre)[:, inverse]
        if need[3]:
            db = dPre.sum(axis=0)[inverse]
        return dx, dk, dr, db, dh0, dc0


def lstm(x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, mask=None, go_backwards=False):
    """Keras's LSTM (tanh, sigmoid) over a whole sequence: ``(h_seq, h_last, c_last)``.

    ``x`` (batch, time, features); ``kernel`` (features, 4 units); ``recurrent_kernel``
    (units, 4 units); ``bias`` (4 units,); gate order i, f, c, o. ``h0``, ``c0`` (batch, units)
    default to zeros, ``mask`` (batch, time) bool.
    """
    units = _as_array(recurrent_kernel).shape[0]
    bias = np.zeros(4 * units, _as_array(kernel).dtype) if bias is None else bias
    h0, c0 = _zeros_state(x, units, h0), _zeros_state(x, units, c0)
    arrays = [_as_array(a) if isinstance(a, Tensor) else np.asarray(a) for a in (x, kernel, recurrent_kernel, bias)]
    _check("lstm", *arrays, (4 * units,), {"h0": np.asarray(_as_array(h0)), "c0": np.asarray(_as_array(c0))})
    return LSTM.apply(x, kernel, recurrent_kernel, bias, h0, c0,
                      mask=_mask_array(mask, arrays[0]), go_backwards=bool(go_backwards))
