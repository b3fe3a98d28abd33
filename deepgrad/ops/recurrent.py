"""Fused recurrent ops: a whole LSTM, GRU or simple RNN sequence as one graph node.

Sequences are batch-major ``(batch, time, features)`` and weights use Keras's layouts
(LSTM gates i, f, c, o; GRU gates z, r, h), so Keras weights load as they are.

Every op works in place in preallocated buffers, because with NumPy the per-step Python
overhead dominates (GEMMs go through ``np.dot``: NumPy's ``matmul`` takes a slow path when
features == 1):

* simple RNN: the inputs of all time steps are projected by one GEMM into a time-major
  ``(time, batch, units)`` buffer; the time loop adds one ``h @ recurrent_kernel`` GEMM per
  step. Backward (BPTT) fills the gradients of the pre-activations of every step in one
  reverse loop; the weight gradients and ``dx`` are then one GEMM each over all rows.
* LSTM and GRU (several element-wise passes per step): the same plan, but every per-step
  array is feature-major, ``(features, batch)``, so that a gate is a contiguous block of rows
  and each pass is one flat loop (on ``(batch, units)`` column slices NumPy pays its inner-loop
  overhead once per row, which costs more than the arithmetic); the input projection and its
  bias are part of each step's GEMM on ``[.., x_t, 1]``, and the weight gradients are one GEMM
  per step. See ``LSTM``.

Sigmoid gates are computed as ``1 / (1 + exp(-a))``, the ``-1`` folded into private copies of
the weights (scaling by a power of two is exact). The LSTM also folds the ``-2`` of
``tanh(a) = 2 sigmoid(2a) - 1`` into its candidate's weights, so one ``exp`` serves all four
gates of a step (``np.tanh`` costs about twice ``np.exp`` per element in float32, so
``sigmoid(x) = (1 + tanh(x / 2)) / 2`` would be slower).

Masks follow Keras: where ``mask[b, t]`` is False the state carries over unchanged and the
output of that step repeats the previous state. With ``go_backwards`` the sequence is read
from the last step to the first and the output sequence is in that (reversed) order.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor, is_grad_enabled


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


def _masks(mask, go_backwards: bool, dtype, batch_last: bool = False):
    """A (batch, time) mask as time-major ``keep`` (float 0/1) and ``drop`` (bool), (T, B, 1)
    or, with ``batch_last``, (T, 1, B)."""
    if mask is None:
        return None, None
    keep = _time_major(np.asarray(mask, dtype=bool), go_backwards)
    keep = keep[:, None, :] if batch_last else keep[:, :, None]
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
    """``(h_seq, h_last, c_last)`` of a tanh/sigmoid LSTM over the whole sequence.

    Feature-major steps (see the module docstring). Each step is one GEMM
    ``[R; W; b]^T @ [h; x_t; 1]`` on a time-major buffer ``A`` whose row t holds
    ``[h_{t-1}; x_t; 1]``, and backward accumulates ``A[t] @ dPre[t]^T``, the recurrent kernel,
    kernel and bias gradients at once, while ``dPre[t]`` is in cache. When a gradient will be
    needed, the forward loop also forms each step's derivative factors while its gates are in
    cache, instead of in passes over the whole sequence afterwards.
    """

    def forward(self, x, kernel, recurrent_kernel, bias, h0, c0, mask=None, go_backwards=False):
        dtype = x.dtype
        batch, steps, features = x.shape
        U = recurrent_kernel.shape[0]
        kernel, recurrent_kernel, bias, h0, c0 = (a.astype(dtype, copy=False)
                                                  for a in (kernel, recurrent_kernel, bias, h0, c0))
        # the GEMM yields -a for the sigmoid gates i, f, o and -2a for the candidate c
        scale = np.repeat(np.array([-1, -1, -2, -1], dtype), U)
        KT = np.ascontiguousarray((np.concatenate([recurrent_kernel, kernel, bias[None]]) * scale).T)
        A = np.empty((steps + 1, U + features + 1, batch), dtype)   # A[t] = [h_{t-1}; x_t; 1]
        A[0, :U] = h0.T
        A[:steps, U:U + features] = (x[:, ::-1] if go_backwards else x).transpose(1, 2, 0)
        A[steps, U:] = 0
        A[:, -1] = 1
        G = np.empty((steps, 4 * U, batch), dtype)  # gates of each step: i, f, sigmoid(2a_c), o
        # Z[t % 2] = [cand; c_prev; 4 i; tanh(c)] of step t; c_t goes to the other buffer
        Z = np.empty((2, 4 * U, batch), dtype)
        Z[0, U:2 * U] = c0.T
        train = is_grad_enabled() and any(self.needs_input_grad)
        if train:
            M = np.empty((steps, 4 * U, batch), dtype)  # d gate / d a times the gate's partner
            E = np.empty((steps, U, batch), dtype)      # dc / dh = o (1 - tanh(c)^2)
        keep, drop = _masks(mask, go_backwards, dtype, batch_last=True)
        ig = np.empty((U, batch), dtype)
        with np.errstate(over="ignore"):  # exp overflows to inf for saturated gates: sigmoid -> 0
            for t in range(steps):
                g, z, h = G[t], Z[t % 2], A[t + 1, :U]
                cand, c_prev, tc = z[:U], z[U:2 * U], z[3 * U:]
                c = Z[(t + 1) % 2, U:2 * U]
                np.dot(KT, A[t], out=g)
                _sigmoid_of_negated(g)                   # sigmoid(a); sigmoid(2a) for the candidate
                if train:
                    m = M[t]
                    np.subtract(1, g, out=m)             # sigmoid' = s (1 - s);  tanh'(a) = 4 s (1 - s)
                    np.multiply(m, g, out=m)
                np.multiply(g[2 * U:3 * U], 2, out=cand)   # tanh(a) = 2 sigmoid(2a) - 1
                np.subtract(cand, 1, out=cand)
                np.multiply(g[U:2 * U], c_prev, out=c)     # c = f * c_prev + i * cand
                np.multiply(g[:U], cand, out=ig)
                np.add(c, ig, out=c)
                np.tanh(c, out=tc)
                np.multiply(g[3 * U:], tc, out=h)          # h = o * tanh(c)
                if train:
                    # M = [i' cand; f' c_prev; 4 cand' i; o' tanh(c)], later times dc, dc, dc, dh
                    np.multiply(g[:U], 4, out=z[2 * U:3 * U])
                    np.multiply(m, z, out=m)
                    np.multiply(h, tc, out=E[t])
                    np.subtract(g[3 * U:], E[t], out=E[t])
                if drop is not None:
                    np.copyto(c, c_prev, where=drop[t])
                    np.copyto(h, A[t, :U], where=drop[t])

        if train:
            self.go_backwards, self.keep = go_backwards, keep
            self.A, self.G, self.M, self.E = A, G, M, E
            self.W, self.R = kernel, recurrent_kernel
        # h_seq is a view of A, which holds the states anyway: no copy of the whole sequence
        return A[1:, :U].transpose(2, 0, 1), A[steps, :U].T.copy(), Z[steps % 2, U:2 * U].T.copy()

    def backward(self, grads):
        g_seq, g_h, g_c = grads
        A, M, E, keep, R = self.A, self.M, self.E, self.keep, self.R
        steps, four_u, batch = M.shape
        U = four_u // 4
        F = self.G[:, U:2 * U]          # dc_prev = dc * f
        if keep is not None:            # a masked step passes dh, dc straight to the previous one
            M *= keep
            E *= keep
            F = F * keep + (1 - keep)
        # dH[t]: gradient of step t's output; an unused h_seq (return_sequences=False) gets zeros,
        # and checking for them is cheaper than the transposing copy
        dH = np.ascontiguousarray(g_seq.transpose(1, 2, 0)) if g_seq.any() else None
        dh = np.array(g_h.T, dtype=M.dtype, order="C")
        dc = np.array(g_c.T, dtype=M.dtype, order="C")
        tmp = np.empty((U, batch), M.dtype)
        need = self.needs_input_grad
        dK = np.zeros((A.shape[1], four_u), M.dtype) if any(need[1:4]) else None
        dK_t = np.empty_like(dK) if dK is not None else None
        drop = None if keep is None else 1 - keep
        for t in range(steps - 1, -1, -1):
            m = M[t]
            if dH is not None:
                np.add(dh, dH[t], out=dh)
            np.multiply(dh, E[t], out=tmp)              # dc += dh o (1 - tanh(c)^2)
            np.add(dc, tmp, out=dc)
            m3 = m[:3 * U].reshape(3, U, batch)         # M[t] becomes dPre[t]: da_i, da_f, da_c
            np.multiply(m3, dc, out=m3)
            np.multiply(m[3 * U:], dh, out=m[3 * U:])   # da_o
            np.multiply(dc, F[t], out=dc)
            if dK is not None:                          # [dR; dW; db] += [h_prev; x_t; 1] @ dPre^T
                np.dot(A[t], m.T, out=dK_t)
                np.add(dK, dK_t, out=dK)
            if drop is not None:
                np.multiply(dh, drop[t], out=tmp)
            np.dot(R, m, out=dh)                        # dh_prev = dPre @ R^T
            if drop is not None:
                np.add(dh, tmp, out=dh)

        dx = dk = dr = db = None
        if need[0]:                                     # dx_t = dPre_t @ W^T
            dx = np.matmul(self.W, M).transpose(2, 0, 1)
            dx = np.ascontiguousarray(dx[:, ::-1] if self.go_backwards else dx)
        if dK is not None:
            dr, dk, db = dK[:U], dK[U:-1], dK[-1]
        return dx, dk, dr, db, np.ascontiguousarray(dh.T), np.ascontiguousarray(dc.T)


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
def _sum_over_steps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum_t a[t] @ b[t]^T`` for feature-major ``(time, m, batch)`` and ``(time, n, batch)``:
    a weight gradient, one GEMM per step (faster here than a stacked matmul and a sum)."""
    out = np.dot(a[0], b[0].T)
    step = np.empty_like(out)
    for t in range(1, len(a)):
        np.dot(a[t], b[t].T, out=step)
        np.add(out, step, out=out)
    return out


class GRU(Function):
    """``(h_seq, h_last)`` of Keras's GRU (gates z, r, h; tanh, sigmoid) over the whole sequence.

    reset_after=True:  hh = tanh(x_h + r * (h @ R_h + b_rh)), bias (2, 3U) = (input, recurrent)
    reset_after=False: hh = tanh(x_h + (r * h) @ R_h),        bias (3U,)
    h_new = z * h + (1 - z) * hh

    Per-step arrays are feature-major, ``(features, batch)``, as in ``LSTM``, so each gate is a
    contiguous block of rows.
    """

    def forward(self, x, kernel, recurrent_kernel, bias, h0, mask=None, go_backwards=False, reset_after=True):
        dtype = x.dtype
        batch, steps, features = x.shape
        U = recurrent_kernel.shape[0]
        kernel, recurrent_kernel, bias, h0 = (a.astype(dtype, copy=False)
                                              for a in (kernel, recurrent_kernel, bias, h0))
        scale = np.repeat(np.array([-1, -1, 1], dtype), U)[:, None]  # z and r computed as sigmoid(-(-a))
        if reset_after:
            b_in = bias[0].copy()
            b_in[:2 * U] += bias[1, :2 * U]  # the recurrent biases of z and r simply add
            b_rh = bias[1, 2 * U:, None]
        else:
            b_in = bias

        # each step starts with [W; b_in]^T @ [x_t; 1] (a stacked matmul over all steps at once
        # is slow when features == 1, and this GEMM also gives dk and the input bias gradient)
        X = np.empty((steps, features + 1, batch), dtype)
        X[:, :features] = (x[:, ::-1] if go_backwards else x).transpose(1, 2, 0)
        X[:, features] = 1
        WT = np.ascontiguousarray((np.concatenate([kernel, b_in[None]]) * scale.T).T)
        G = np.empty((steps, 3 * U, batch), dtype)
        H = np.empty((steps + 1, U, batch), dtype)
        H[0] = h0.T
        # per step, what backward needs besides the gates: h @ R_h + b_rh, or r * h
        S = np.empty((steps, U, batch), dtype)
        keep, drop = _masks(mask, go_backwards, dtype, batch_last=True)
        RsT = np.ascontiguousarray(recurrent_kernel.T * scale)
        R_zrT, R_hT = RsT[:2 * U], RsT[2 * U:]
        rec = np.empty((3 * U if reset_after else 2 * U, batch), dtype)
        tmp = np.empty((U, batch), dtype)
        with np.errstate(over="ignore"):
            for t in range(steps):
                g = G[t]
                zr, hh, h = g[:2 * U], g[2 * U:], H[t]
                np.dot(WT, X[t], out=g)
                if reset_after:
                    np.dot(RsT, h, out=rec)
                    np.add(zr, rec[:2 * U], out=zr)
                    _sigmoid_of_negated(zr)
                    np.add(rec[2 * U:], b_rh, out=S[t])
                    np.multiply(g[U:2 * U], S[t], out=tmp)
                else:
                    np.dot(R_zrT, h, out=rec)
                    np.add(zr, rec, out=zr)
                    _sigmoid_of_negated(zr)
                    np.multiply(g[U:2 * U], h, out=S[t])
                    np.dot(R_hT, S[t], out=tmp)
                np.add(hh, tmp, out=hh)
                np.tanh(hh, out=hh)
                np.subtract(h, hh, out=tmp)          # h_new = hh + z (h - hh)
                np.multiply(tmp, g[:U], out=tmp)
                np.add(hh, tmp, out=H[t + 1])
                if drop is not None:
                    np.copyto(H[t + 1], h, where=drop[t])

        self.reset_after, self.go_backwards = reset_after, go_backwards
        self.X, self.G, self.H, self.S, self.keep = X, G, H, S, keep
        self.W, self.R = kernel, recurrent_kernel
        return H[1:].transpose(2, 0, 1), H[steps].T.copy()

    def backward(self, grads):
        g_seq, g_h = grads
        G, H, S, keep, R = self.G, self.H, self.S, self.keep, self.R
        steps, three_u, batch = G.shape
        U = three_u // 3
        z, r, hh, h_prev = G[:, :U], G[:, U:2 * U], G[:, 2 * U:], H[:-1]
        # da_z = dh (h_prev - hh) z (1-z);  da_h = dh (1-z) (1-hh^2);  dh_prev = dh z + ...
        A = (h_prev - hh) * z * (1 - z)
        B = (1 - z) * (1 - hh * hh)
        Z = z
        Q = r * (1 - r) * (S if self.reset_after else h_prev)  # da_r = (da_h * rec_h or d(r h) * h_prev) ...
        if keep is not None:          # a masked step passes dh straight to the previous one
            A *= keep
            B *= keep
            Z = z * keep + (1 - keep)

        dH = np.ascontiguousarray(g_seq.transpose(1, 2, 0)) if g_seq.any() else None  # see LSTM
        dh = np.array(g_h.T, dtype=G.dtype, order="C")
        tmp = np.empty((U, batch), G.dtype)
        if self.reset_after:
            # dPre: gradient of h @ R + b_r: [da_z, da_r, da_h * r];  dHH: da_h (of x_h)
            dPre, dHH = np.empty_like(G), np.empty((steps, U, batch), G.dtype)
            for t in range(steps - 1, -1, -1):
                if dH is not None:
                    np.add(dh, dH[t], out=dh)
                p = dPre[t]
                np.multiply(dh, A[t], out=p[:U])
                np.multiply(dh, B[t], out=dHH[t])
                np.multiply(dHH[t], Q[t], out=p[U:2 * U])   # da_r = da_h rec_h r (1-r)
                np.multiply(dHH[t], r[t], out=p[2 * U:])
                np.multiply(dh, Z[t], out=tmp)
                np.dot(R, p, out=dh)                        # dh_prev = dPre @ R^T + dh z
                np.add(dh, tmp, out=dh)
            dX = dPre.copy()
            dX[:, 2 * U:] = dHH
        else:
            # dX = [da_z, da_r, da_h];  d(r h) = da_h @ R_h^T;  da_r = d(r h) h_prev r (1-r)
            dX = np.empty_like(G)
            R_h, R_zr = np.ascontiguousarray(R[:, 2 * U:]), np.ascontiguousarray(R[:, :2 * U])
            drh = np.empty((U, batch), G.dtype)
            for t in range(steps - 1, -1, -1):
                if dH is not None:
                    np.add(dh, dH[t], out=dh)
                p = dX[t]
                np.multiply(dh, A[t], out=p[:U])
                np.multiply(dh, B[t], out=p[2 * U:])
                np.dot(R_h, p[2 * U:], out=drh)
                np.multiply(drh, Q[t], out=p[U:2 * U])
                np.multiply(dh, Z[t], out=tmp)
                np.multiply(drh, r[t], out=drh)
                np.add(tmp, drh, out=tmp)
                np.dot(R_zr, p[:2 * U], out=dh)
                np.add(dh, tmp, out=dh)
            dPre = dX

        need = self.needs_input_grad
        dx = dk = dr = db = None
        if need[0]:                                     # dx_t = dX_t @ W^T
            dx = np.matmul(self.W, dX).transpose(2, 0, 1)
            dx = np.ascontiguousarray(dx[:, ::-1] if self.go_backwards else dx)
        if need[1] or need[3]:
            dK = _sum_over_steps(self.X, dX)            # [dk; db_in] = [x; 1] @ dX^T
            dk, db = (dK[:-1] if need[1] else None), (dK[-1] if need[3] else None)
        if need[2]:
            if self.reset_after:
                dr = _sum_over_steps(h_prev, dPre)
            else:
                dr = np.concatenate([_sum_over_steps(h_prev, dX[:, :2 * U]),
                                     _sum_over_steps(self.S, dX[:, 2 * U:])], axis=1)
        if need[3] and self.reset_after:
            db = np.stack([db, dPre.sum(axis=(0, 2))])
        return dx, dk, dr, db, np.ascontiguousarray(dh.T)


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
