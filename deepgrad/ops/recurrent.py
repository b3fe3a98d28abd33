"""Fused recurrent ops: a whole LSTM, GRU or simple RNN sequence as one graph node.

Sequences are batch-major ``(batch, time, features)`` and weights use Keras's layouts
(LSTM gates i, f, c, o; GRU gates z, r, h), so Keras weights load as they are.

Each op runs the same plan, because with NumPy the per-step Python overhead dominates
(GEMMs go through ``np.dot``: NumPy's ``matmul`` takes a slow path when features == 1):

* forward: the inputs of all time steps are projected by one GEMM into a time-major
  ``(time, batch, gates * units)`` buffer; the time loop then adds one ``h @ recurrent_kernel``
  GEMM per step and works in place in preallocated buffers;
* backward (BPTT): one reverse loop fills the gradients of the pre-activations of every
  step; the weight gradients and ``dx`` are then one GEMM each over all ``time * batch`` rows.

Sigmoid gates are computed as ``1 / (1 + exp(-a))``, the ``-1`` folded into private copies of
the weights (scaling by a power of two is exact). The LSTM also folds the ``-2`` of
``tanh(a) = 2 sigmoid(2a) - 1`` into its candidate's weights, so one ``exp`` serves all four
gates of a step.

Masks follow Keras: where ``mask[b, t]`` is False the state carries over unchanged and the
output of that step repeats the previous state. With ``go_backwards`` the sequence is read
from the last step to the first and the output sequence is in that (reversed) order.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor


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


def _as_array(a) -> np.ndarray:
    return a.data if isinstance(a, Tensor) else np.asarray(a)


def _prepare(op: str, x, kernel, recurrent_kernel, bias, bias_shape, states: dict, mask):
    """Fill default bias and zero states, check every shape, and return the mask as a bool array."""
    xa = _as_array(x)
    dtype = xa.dtype if xa.dtype.kind == "f" else np.dtype(np.float32)
    units = _as_array(recurrent_kernel).shape[0]
    bias = np.zeros(bias_shape, dtype) if bias is None else bias
    states = {name: np.zeros((xa.shape[0], units), dtype) if s is None else s for name, s in states.items()}
    _check(op, xa, _as_array(kernel), _as_array(recurrent_kernel), _as_array(bias), bias_shape,
           {name: _as_array(s) for name, s in states.items()})
    if mask is not None:
        mask = _as_array(mask).astype(bool)
        if mask.shape != xa.shape[:2]:
            raise ValueError(f"{op}: mask has shape {mask.shape}, expected (batch, time) = {xa.shape[:2]}")
    return bias, list(states.values()), mask


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
        G = np.dot(X, Ws).reshape(steps, batch, 4 * U)
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
        S, M3 = G[..., :3 * U], M[..., :3 * U]
        np.subtract(1, S, out=M3)
        np.multiply(M3, S, out=M3)
        np.multiply(M[..., :U], cand, out=M[..., :U])
        np.multiply(M[..., U:2 * U], C[:-1], out=M[..., U:2 * U])
        np.multiply(M[..., 2 * U:3 * U], TC, out=M[..., 2 * U:3 * U])
        Mc = M[..., 3 * U:]
        np.multiply(cand, cand, out=Mc)
        np.subtract(1, Mc, out=Mc)
        np.multiply(Mc, i, out=Mc)
        E = np.multiply(TC, TC)         # dc += dh * o (1 - tanh(c)^2)
        np.subtract(1, E, out=E)
        np.multiply(E, o, out=E)
        F = f
        if keep is not None:            # a masked step passes dh, dc straight to the previous one
            M *= keep
            E *= keep
            F = f * keep + (1 - keep)

        dH = g_seq.swapaxes(0, 1)       # dH[t]: gradient of the output of step t
        dPre = M                        # step t's row of M becomes dPre in place once used
        M4 = M.reshape(steps, batch, 4, U)
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
            p = dPre[t]
            i_f = M4[t, :, :2]
            np.multiply(i_f, dc_b, out=i_f)
            np.multiply(p[:, 2 * U:3 * U], dh, out=p[:, 2 * U:3 * U])
            np.multiply(p[:, 3 * U:], dc, out=p[:, 3 * U:])
            np.multiply(dc, F[t], out=dc)               # dc_prev = dc * f
            if drop is not None:
                np.multiply(dh, drop[t], out=tmp)
            np.dot(p, RT, out=dh)                       # dh_prev = dPre @ R^T
            if drop is not None:
                np.add(dh, tmp, out=dh)
        return self._weight_grads(dPre.reshape(steps * batch, four_u), H, dh, dc)

    def _weight_grads(self, dPre, H, dh0, dc0):
        inverse = np.argsort(self.order)
        need = self.needs_input_grad
        steps, batch, U = H.shape[0] - 1, H.shape[1], H.shape[2]
        dx = dk = dr = db = None
        if need[0]:
            dx = _batch_major(np.dot(dPre, self.W.T).reshape(steps, batch, -1), self.go_backwards)
        if need[1]:
            dk = np.dot(self.X.T, dPre)[:, inverse]
        if need[2]:
            dr = np.dot(H[:-1].reshape(steps * batch, U).T, dPre)[:, inverse]
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
    bias, (h0, c0), mask = _prepare("lstm", x, kernel, recurrent_kernel, bias, (4 * units,),
                                    {"h0": h0, "c0": c0}, mask)
    return LSTM.apply(x, kernel, recurrent_kernel, bias, h0, c0, mask=mask, go_backwards=bool(go_backwards))


# --------------------------------------------------------------------------- GRU
class GRU(Function):
    """``(h_seq, h_last)`` of Keras's GRU (gates z, r, h; tanh, sigmoid) over the whole sequence.

    reset_after=True:  hh = tanh(x_h + r * (h @ R_h + b_rh)), bias (2, 3U) = (input, recurrent)
    reset_after=False: hh = tanh(x_h + (r * h) @ R_h),        bias (3U,)
    h_new = z * h + (1 - z) * hh
    """

    def forward(self, x, kernel, recurrent_kernel, bias, h0, mask=None, go_backwards=False, reset_after=True):
        dtype = x.dtype
        batch, steps, features = x.shape
        U = recurrent_kernel.shape[0]
        kernel, recurrent_kernel, bias, h0 = (a.astype(dtype, copy=False)
                                              for a in (kernel, recurrent_kernel, bias, h0))
        scale = np.repeat(np.array([-1, -1, 1], dtype), U)  # z and r computed as sigmoid(-(-a))
        if reset_after:
            b_in = bias[0].copy()
            b_in[:2 * U] += bias[1, :2 * U]  # the recurrent biases of z and r simply add
            b_rh = bias[1, 2 * U:]
        else:
            b_in = bias

        X = _time_major(x, go_backwards).reshape(steps * batch, features)
        G = np.dot(X, kernel * scale).reshape(steps, batch, 3 * U)
        G += b_in * scale
        H = np.empty((steps + 1, batch, U), dtype)
        H[0] = h0
        # per step, what backward needs besides the gates: h @ R_h + b_rh, or r * h
        S = np.empty((steps, batch, U), dtype)
        keep, drop = _masks(mask, go_backwards, dtype)
        Rs = recurrent_kernel * scale
        R_zr, R_h = np.ascontiguousarray(Rs[:, :2 * U]), np.ascontiguousarray(Rs[:, 2 * U:])
        rec = np.empty((batch, 3 * U if reset_after else 2 * U), dtype)
        tmp = np.empty((batch, U), dtype)
        with np.errstate(over="ignore"):
            for t in range(steps):
                g = G[t]
                zr, hh, h = g[:, :2 * U], g[:, 2 * U:], H[t]
                if reset_after:
                    np.dot(h, Rs, out=rec)
                    np.add(zr, rec[:, :2 * U], out=zr)
                    _sigmoid_of_negated(zr)
                    np.add(rec[:, 2 * U:], b_rh, out=S[t])
                    np.multiply(g[:, U:2 * U], S[t], out=tmp)
                else:
                    np.dot(h, R_zr, out=rec)
                    np.add(zr, rec, out=zr)
                    _sigmoid_of_negated(zr)
                    np.multiply(g[:, U:2 * U], h, out=S[t])
                    np.dot(S[t], R_h, out=tmp)
                np.add(hh, tmp, out=hh)
                np.tanh(hh, out=hh)
                np.subtract(h, hh, out=tmp)          # h_new = hh + z (h - hh)
                np.multiply(tmp, g[:, :U], out=tmp)
                np.add(hh, tmp, out=H[t + 1])
                if drop is not None:
                    np.copyto(H[t + 1], h, where=drop[t])

        self.reset_after, self.go_backwards = reset_after, go_backwards
        self.X, self.G, self.H, self.S, self.keep = X, G, H, S, keep
        self.W, self.R = kernel, recurrent_kernel
        return np.ascontiguousarray(H[1:].swapaxes(0, 1)), H[steps].copy()

    def backward(self, grads):
        g_seq, g_h = grads
        G, H, S, keep, R = self.G, self.H, self.S, self.keep, self.R
        steps, batch, three_u = G.shape
        U = three_u // 3
        z, r, hh, h_prev = G[..., :U], G[..., U:2 * U], G[..., 2 * U:], H[:-1]
        # da_z = dh (h_prev - hh) z (1-z);  da_h = dh (1-z) (1-hh^2);  dh_prev = dh z + ...
        A = (h_prev - hh) * z * (1 - z)
        B = (1 - z) * (1 - hh * hh)
        Z = z
        Q = r * (1 - r) * (S if self.reset_after else h_prev)  # da_r = (da_h * rec_h or d(r h) * h_prev) ...
        if keep is not None:          # a masked step passes dh straight to the previous one
            A *= keep
            B *= keep
            Z = z * keep + (1 - keep)

        dH = g_seq.swapaxes(0, 1)
        dh = np.array(g_h, dtype=G.dtype)
        tmp = np.empty((batch, U), G.dtype)
        if self.reset_after:
            # dPre: gradient of h @ R + b_r: [da_z, da_r, da_h * r];  dHH: da_h (of x_h)
            dPre, dHH = np.empty_like(G), np.empty_like(hh)
            RT = np.ascontiguousarray(R.T)
            for t in range(steps - 1, -1, -1):
                np.add(dh, dH[t], out=dh)
                p = dPre[t]
                np.multiply(dh, A[t], out=p[:, :U])
                np.multiply(dh, B[t], out=dHH[t])
                np.multiply(dHH[t], Q[t], out=p[:, U:2 * U])   # da_r = da_h rec_h r (1-r)
                np.multiply(dHH[t], r[t], out=p[:, 2 * U:])
                np.multiply(dh, Z[t], out=tmp)
                np.dot(p, RT, out=dh)
                np.add(dh, tmp, out=dh)
            dX = dPre.copy()
            dX[..., 2 * U:] = dHH
        else:
            # dX = [da_z, da_r, da_h];  d(r h) = da_h @ R_h^T;  da_r = d(r h) h_prev r (1-r)
            dX = np.empty_like(G)
            R_hT, R_zrT = np.ascontiguousarray(R[:, 2 * U:].T), np.ascontiguousarray(R[:, :2 * U].T)
            drh = np.empty((batch, U), G.dtype)
            for t in range(steps - 1, -1, -1):
                np.add(dh, dH[t], out=dh)
                p = dX[t]
                np.multiply(dh, A[t], out=p[:, :U])
                np.multiply(dh, B[t], out=p[:, 2 * U:])
                np.dot(p[:, 2 * U:], R_hT, out=drh)
                np.multiply(drh, Q[t], out=p[:, U:2 * U])
                np.multiply(dh, Z[t], out=tmp)
                np.multiply(drh, r[t], out=drh)
                np.add(tmp, drh, out=tmp)
                np.dot(p[:, :2 * U], R_zrT, out=dh)
                np.add(dh, tmp, out=dh)
            dPre = dX

        need = self.needs_input_grad
        rows = steps * batch
        dX2, dPre2, H2 = dX.reshape(rows, three_u), dPre.reshape(rows, three_u), h_prev.reshape(rows, U)
        dx = dk = dr = db = None
        if need[0]:
            dx = _batch_major(np.dot(dX2, self.W.T).reshape(steps, batch, -1), self.go_backwards)
        if need[1]:
            dk = np.dot(self.X.T, dX2)
        if need[2]:
            if self.reset_after:
                dr = np.dot(H2.T, dPre2)
            else:
                dr = np.concatenate([np.dot(H2.T, dX2[:, :2 * U]), np.dot(self.S.reshape(rows, U).T, dX2[:, 2 * U:])],
                                    axis=1)
        if need[3]:
            db = np.stack([dX2.sum(axis=0), dPre2.sum(axis=0)]) if self.reset_after else dX2.sum(axis=0)
        return dx, dk, dr, db, dh


def gru(x, kernel, recurrent_kernel, bias=None, h0=None, mask=None, go_backwards=False, reset_after=True):
    """Keras's GRU (tanh, sigmoid) over a whole sequence: ``(h_seq, h_last)``.

    ``kernel`` (features, 3 units), ``recurrent_kernel`` (units, 3 units), gate order z, r, h;
    ``bias`` (2, 3 units) with ``reset_after=True`` (input and recurrent bias), else (3 units,).
    """
    units = _as_array(recurrent_kernel).shape[0]
    bias_shape = (2, 3 * units) if reset_after else (3 * units,)
    bias, (h0,), mask = _prepare("gru", x, kernel, recurrent_kernel, bias, bias_shape, {"h0": h0}, mask)
    return GRU.apply(x, kernel, recurrent_kernel, bias, h0, mask=mask, go_backwards=bool(go_backwards),
                     reset_after=bool(reset_after))


# --------------------------------------------------------------------------- simple RNN
def _relu(a, out):
    return np.maximum(a, 0, out=out)


def _sigmoid(a, out):
    np.negative(a, out=out)
    _sigmoid_of_negated(out)


def _linear(a, out):
    np.copyto(out, a)


# in place h = act(a), and act'(a) written with the output h
SIMPLE_RNN_ACTIVATIONS = {
    "tanh": (np.tanh, lambda h: 1 - h * h),
    "relu": (_relu, lambda h: (h > 0).astype(h.dtype)),
    "sigmoid": (_sigmoid, lambda h: h * (1 - h)),
    "linear": (_linear, np.ones_like),
}


class SimpleRNN(Function):
    """``(h_seq, h_last)`` of ``h_t = act(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``."""

    def forward(self, x, kernel, recurrent_kernel, bias, h0, mask=None, go_backwards=False, activation="tanh"):
        dtype = x.dtype
        batch, steps, features = x.shape
        U = recurrent_kernel.shape[0]
        kernel, recurrent_kernel, bias, h0 = (a.astype(dtype, copy=False)
                                              for a in (kernel, recurrent_kernel, bias, h0))
        act = SIMPLE_RNN_ACTIVATIONS[activation][0]
        X = _time_major(x, go_backwards).reshape(steps * batch, features)
        G = np.dot(X, kernel).reshape(steps, batch, U)
        G += bias
        H = np.empty((steps + 1, batch, U), dtype)
        H[0] = h0
        keep, drop = _masks(mask, go_backwards, dtype)
        rec = np.empty((batch, U), dtype)
        with np.errstate(over="ignore"):
            for t in range(steps):
                np.dot(H[t], recurrent_kernel, out=rec)
                np.add(G[t], rec, out=G[t])
                act(G[t], out=H[t + 1])
                if drop is not None:
                    np.copyto(H[t + 1], H[t], where=drop[t])

        self.activation, self.go_backwards = activation, go_backwards
        self.X, self.H, self.keep, self.W, self.R = X, H, keep, kernel, recurrent_kernel
        return np.ascontiguousarray(H[1:].swapaxes(0, 1)), H[steps].copy()

    def backward(self, grads):
        g_seq, g_h = grads
        H, keep = self.H, self.keep
        steps, batch, U = H.shape[0] - 1, H.shape[1], H.shape[2]
        D = SIMPLE_RNN_ACTIVATIONS[self.activation][1](H[1:])   # da = dh act'(a)
        if keep is not None:
            D *= keep
        drop = None if keep is None else 1 - keep
        dH = g_seq.swapaxes(0, 1)
        dPre = np.empty((steps, batch, U), H.dtype)
        dh = np.array(g_h, dtype=H.dtype)
        tmp = np.empty((batch, U), H.dtype)
        RT = np.ascontiguousarray(self.R.T)
        for t in range(steps - 1, -1, -1):
            np.add(dh, dH[t], out=dh)
            np.multiply(dh, D[t], out=dPre[t])
            if drop is not None:
                np.multiply(dh, drop[t], out=tmp)
            np.dot(dPre[t], RT, out=dh)                 # dh_prev = da @ R^T
            if drop is not None:
                np.add(dh, tmp, out=dh)

        need = self.needs_input_grad
        dPre = dPre.reshape(steps * batch, U)
        dx = dk = dr = db = None
        if need[0]:
            dx = _batch_major(np.dot(dPre, self.W.T).reshape(steps, batch, -1), self.go_backwards)
        if need[1]:
            dk = np.dot(self.X.T, dPre)
        if need[2]:
            dr = np.dot(H[:-1].reshape(steps * batch, U).T, dPre)
        if need[3]:
            db = dPre.sum(axis=0)
        return dx, dk, dr, db, dh


def simple_rnn(x, kernel, recurrent_kernel, bias=None, h0=None, mask=None, go_backwards=False, activation="tanh"):
    """A fully connected RNN over a whole sequence: ``(h_seq, h_last)``.

    ``kernel`` (features, units), ``recurrent_kernel`` (units, units), ``bias`` (units,);
    ``activation`` is one of "tanh", "relu", "sigmoid", "linear".
    """
    if activation not in SIMPLE_RNN_ACTIVATIONS:
        raise ValueError(f"simple_rnn: activation must be one of {sorted(SIMPLE_RNN_ACTIVATIONS)}, got {activation!r}")
    units = _as_array(recurrent_kernel).shape[0]
    bias, (h0,), mask = _prepare("simple_rnn", x, kernel, recurrent_kernel, bias, (units,), {"h0": h0}, mask)
    return SimpleRNN.apply(x, kernel, recurrent_kernel, bias, h0, mask=mask, go_backwards=bool(go_backwards),
                           activation=activation)
