"""Scaled dot-product attention as one op: ``softmax(q k^T scale + bias) v``, forward and backward.

The softmax is never normalised in place. The forward keeps ``E = exp(S - c)`` and its row
sums ``r = E 1`` (a matrix-vector product, cheaper than a reduction over the last axis) and
divides the small output instead of the large ``E``:

    O = (E V) / r

The shift ``c`` is the row max only when it is needed. By Cauchy-Schwarz
``|q_t . k_s| scale <= scale |q_t| |k_s|``; when that bound is below ``SHIFT_FREE`` for every
(sample, head), ``exp`` of an unshifted logit can neither overflow nor underflow to a row of
zeros, and the max pass and the broadcast subtraction are skipped (``c = 0``). Softmax is
shift-invariant, so both give the same probabilities up to float rounding.

The backward uses FlashAttention's identity ``rowsum(dP P) = rowsum(dO O) = D``, a reduction
over the head size instead of over the keys, and folds ``- D`` into the GEMM for ``dP`` by
one extra column ([dO, -D] [V^T; 1] = dP - D):

    dV = E^T (dO / r),   dS = E ([dO / r, -D / r] [V^T; 1]) = P (dP - D),
    dq = dS k scale,     dk = dS^T q scale

so the (batch, heads, T, S) array is written once by a GEMM and once by the product with E.

Dropout of the probabilities (``P' = P M`` with M the inverted-dropout factors, 0 or
1 / (1 - rate)) keeps E for the backward and multiplies the value product's operand only:

    O = ((E M) V) / r,   dV = (E M)^T (dO / r),   dS = E ((M (dO V^T)) / r - D / r)

where ``D = rowsum(dP' P') = rowsum(dO O)`` still holds. The probabilities themselves, when
asked for (``return_probs``), are a second output ``P = E / r``; a gradient ``G`` reaching them
adds ``P (G - rowsum(G P)) = E (G / r - rowsum(G E) / r^2)`` to dS.
"""
from __future__ import annotations

import numpy as np

from .. import runtime
from ..autograd import Function, unbroadcast
from ..autograd.higher_order import recomputed_backward
from . import manipulation as _shape
from . import blas, workspace
from .activation import dropout_mask, softmax, tanh
from .dtypes import result_type
from .nn_activations import as_op_input
from .product import matmul

# |logit| bound under which exp needs no shift: e^60 ~ 1e26 sums over 1e12 keys within
# float32's range, and e^-60 ~ 1e-26 is a normal float32
SHIFT_FREE = 60.0


def _cast(t, dtype):
    return t if t.dtype == np.dtype(dtype) else t.astype(dtype)


def _row_norms(x: np.ndarray) -> np.ndarray:
    """``|x[b, t, n, :]|`` maximised over t: ``(B, N)``."""
    return np.sqrt(np.einsum("btnh,btnh->bnt", x, x).max(axis=-1))


def _heads_first(x: np.ndarray, groups: int) -> np.ndarray:
    """(B, T, N, H) as a (B, N * groups, T, H) view, each head repeated ``groups`` times."""
    xh = np.swapaxes(x, 1, 2)
    return np.repeat(xh, groups, axis=1) if groups > 1 else xh


def _time_major(a: np.ndarray, b: np.ndarray, groups: int = 1, out: np.ndarray = None) -> np.ndarray:
    """``a @ b`` of (B, N, T, .) stacks as a contiguous (B, T, N', .) array, the layout of the
    op's inputs (written into ``out`` when given); with ``groups`` the products of the heads
    sharing one head are summed (N' = N / groups)."""
    if groups > 1:
        prod = a @ b
        prod = prod.reshape(prod.shape[0], -1, groups, *prod.shape[2:]).sum(axis=2)
        if out is None:
            return np.ascontiguousarray(np.swapaxes(prod, 1, 2))
        out[...] = np.swapaxes(prod, 1, 2)
        return out
    if out is None:
        out = np.empty((a.shape[0], a.shape[2], a.shape[1], b.shape[-1]), np.result_type(a, b))
    blas.batched_matmul(a, b, out=np.swapaxes(out, 1, 2))
    return out


def _over_batch(fn, batch: int, size: int) -> None:
    """``fn(part)`` over the batch: its two halves in two threads, each on one BLAS thread, when
    the (B, N, T, S) arrays (``size`` elements) are large enough to pay for the hand-off."""
    def run(part):
        if part == slice(None):
            fn(part)
            return
        with runtime.one_blas_thread():
            fn(part)

    runtime.for_batch_halves(run, batch, size)


def _batch_rows(a, part, batch: int):
    """The rows of ``part`` of the batch axis of ``a``, an array broadcast against
    (B, N, T, S) logits (an axis of 1, or a missing one, is shared by every row)."""
    if a is None or a.ndim < 4 or a.shape[0] != batch:
        return a
    return a[part]


class DotProductAttention(Function):
    """softmax(q k^T scale + bias) v for (batch, time, heads, head_dim) inputs (see the module).

    The samples of the batch are independent: when the (B, N, T, S) logits are large, each half
    of the batch runs the whole forward (and backward) in its own thread, each on one BLAS
    thread (``runtime.for_batch_halves``), with the same arithmetic per sample.
    """

    def forward(self, q, k, v, bias=None, scale=1.0, additive=None, cap=None, groups=1, rows_open=True,
                drop=None, return_probs=False):
        dt = q.dtype.type
        b, t, n, _ = q.shape
        s_len, hv = k.shape[1], v.shape[-1]
        qs = q * dt(scale)  # scaling q costs a quarter of scaling the (T, S) logits
        kt = np.ascontiguousarray(k.transpose(0, 2, 3, 1))  # (B, Nkv, H, S): BLAS takes it as is
        if groups > 1:  # grouped-query attention: each key/value head serves `groups` query heads
            kt = np.repeat(kt, groups, axis=1)
        shift = bias is not None or q.dtype.itemsize < 4 or not rows_open
        if not shift:
            kn = _row_norms(k)
            qn = _row_norms(qs).reshape(b, -1, groups).max(axis=-1)
            bound = float((qn * kn).max()) if qn.size else 0.0
            shift = min(bound, np.inf if cap is None else cap) >= SHIFT_FREE
        logits_shape = (b, n, t, s_len)
        e = workspace.empty(logits_shape, q.dtype)  # the logits, then E = exp(logits - c) in place
        r = np.empty((b, n, t), q.dtype)            # row sums
        tanh_t = None if cap is None else np.empty(logits_shape, q.dtype)
        vh = _heads_first(v, groups)
        out = np.empty((b, t, n, hv), q.dtype)
        ones = np.ones(s_len, q.dtype)
        dropped = None if drop is None else workspace.empty(logits_shape, q.dtype)  # E M
        probs = np.empty(logits_shape, q.dtype) if return_probs else None

        def run(part):
            logits = blas.batched_matmul(np.swapaxes(qs[part], 1, 2), kt[part], out=e[part])
            if bias is not None:
                np.add(logits, _batch_rows(bias, part, b), out=logits)
            if cap is not None:  # soft cap: S = cap tanh(S / cap)
                th = tanh_t[part]
                np.divide(logits, dt(cap), out=th)
                np.tanh(th, out=th)
                np.multiply(th, dt(cap), out=logits)
            if additive is not None:  # masked logits get -0.7 * max float: exp gives 0
                logits += _batch_rows(additive, part, b)
            if shift:
                logits -= logits.max(axis=-1, keepdims=True)
            np.exp(logits, out=logits)
            np.matmul(logits, ones, out=r[part])
            if probs is not None:
                np.multiply(logits, (1 / r[part])[..., None], out=probs[part])
            weights = logits if drop is None else np.multiply(logits, drop[part], out=dropped[part])
            # O = (E V) / r, written straight into the (B, T, N, Hv) layout the output projection reads
            np.divide(blas.batched_matmul(weights, vh[part]), r[part][..., None], out=np.swapaxes(out[part], 1, 2))

        _over_batch(run, b, e.size)
        self.meta = (scale, groups, None if bias is None else bias.shape)
        self.logit_terms = (additive, cap, drop, return_probs)  # for graph_backward, which recomputes the forward
        self.save_for_backward(qs, k, v, e, r, out, tanh_t, drop, dropped)
        return (out, probs) if return_probs else out

    def backward(self, g):
        qs, k, v, e, r, out, tanh_t, drop, dropped = self.saved
        scale, groups, bias_shape = self.meta
        g_probs = None
        if type(g) is tuple:  # (dO, dP): the probabilities were an output; either may be None (unused)
            g, g_probs = self.filled((g[0], 0))[0], g[1]
            if g_probs is not None and not g_probs.any():
                g_probs = None
        b, t, n, hv = g.shape
        n_kv, s_len, hd = k.shape[2], k.shape[1], k.shape[3]
        dt = e.dtype.type
        dq, dk, dv = np.empty_like(qs), np.empty_like(k), np.empty_like(v)
        ds = workspace.empty(e.shape, e.dtype)
        kh = _heads_first(k, groups)

        def run(part):
            rinv = 1 / r[part]
            bp = rinv.shape[0]
            # [dO / r, -D / r] with D = rowsum(dO O), one (B, N, T, Hv + 1) array
            g_aug = np.empty((bp, n, t, hv + 1), e.dtype)
            np.multiply(np.swapaxes(g[part], 1, 2), rinv[..., None], out=g_aug[..., :hv])
            np.multiply(np.einsum("btnh,btnh->bnt", g[part], out[part]), -rinv, out=g_aug[..., hv])
            v_aug = np.empty((bp, n_kv, hv + 1, s_len), e.dtype)  # [V^T; 1]
            v_aug[:, :, :hv] = v[part].transpose(0, 2, 3, 1)
            v_aug[:, :, hv] = 1
            if groups > 1:
                v_aug = np.repeat(v_aug, groups, axis=1)
            ep = e[part]
            weights = ep if dropped is None else dropped[part]
            _time_major(np.swapaxes(weights, -1, -2), g_aug[..., :hv], groups, dv[part])  # P'^T dO = (E M)^T (dO / r)
            if drop is None and g_probs is None:
                dsp = blas.batched_matmul(g_aug, v_aug, out=ds[part])  # (dP - D) / r
            else:
                dsp = blas.batched_matmul(g_aug[..., :hv], v_aug[..., :hv, :], out=ds[part])  # dP' / r
                if drop is not None:
                    dsp *= drop[part]  # dP / r = M dP' / r
                shift = g_aug[..., hv]  # -D / r
                if g_probs is not None:  # + G / r - rowsum(G E) / r^2
                    gp = g_probs[part]
                    shift = shift - np.matmul(gp * ep, np.ones(s_len, e.dtype)) * rinv * rinv
                    dsp += gp * rinv[..., None]
                dsp += shift[..., None]
            dsp *= ep  # dS = P (dP - D)
            if tanh_t is not None:  # through the soft cap: dS *= 1 - tanh^2
                th = tanh_t[part]
                dsp *= 1 - th * th
            _time_major(dsp, kh[part], out=dq[part])
            dq[part] *= dt(scale)
            _time_major(np.swapaxes(dsp, -1, -2), np.swapaxes(qs[part], 1, 2), groups, dk[part])  # qs carries the scale

        _over_batch(run, b, e.size)
        grads = [dq, dk, dv]
        if bias_shape is not None:
            grads.append(unbroadcast(ds, bias_shape))
        return tuple(grads)

    def graph_backward(self, g):
        """The same gradients as recorded ops (for a gradient of a gradient): the forward is
        recomputed from the plain formula and differentiated."""
        scale, groups, _ = self.meta
        additive, cap, drop, return_probs = self.logit_terms

        def attention(q, k, v, *bias):
            qh, kh, vh = (_shape.swapaxes(t, 1, 2) for t in (q, k, v))  # (B, N, T, H)
            if groups > 1:
                kh, vh = (_shape.concatenate([t[:, :, None]] * groups, axis=2).reshape(
                    (t.shape[0], t.shape[1] * groups) + t.shape[2:]) for t in (kh, vh))
            logits = matmul(qh, _shape.swapaxes(kh, -1, -2)) * scale
            if bias:
                logits = logits + bias[0]
            if cap is not None:
                logits = tanh(logits / cap) * cap
            if additive is not None:
                logits = logits + additive
            probs = softmax(logits, axis=-1)
            out = _shape.swapaxes(matmul(probs if drop is None else probs * drop, vh), 1, 2)
            return (out, probs) if return_probs else out

        return recomputed_backward(self, g, attention)


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """Scaled dot-product attention over (batch, time, heads, head_dim) inputs.

    ``scale`` defaults to ``1 / sqrt(head_dim)``; ``bias`` is added to the logits and
    ``mask`` (True = attend) and ``is_causal`` remove positions, as Keras does, by adding a
    large negative number. ``flash_attention`` only selects a kernel in Keras; here the one
    NumPy path always runs (``True`` is rejected as unavailable).
    """
    if flash_attention:
        raise ValueError("dot_product_attention: flash_attention=True is not available on NumPy")
    inputs, attrs, _ = _prepared("dot_product_attention", query, key, value, bias, mask, scale, is_causal)
    return DotProductAttention.apply(*inputs, cap=attn_logits_soft_cap, **attrs)


def attention_with_dropout(query, key, value, mask=None, scale=None, is_causal=False, rate=0.0, seed=None,
                           return_probs=False):
    """``dot_product_attention`` with dropout on the probabilities and, with ``return_probs``,
    the probabilities ``(batch, heads, T, S)`` as a second output: the attention of Keras's
    ``MultiHeadAttention`` when it drops or returns its scores.

    The dropout factors are ``ops.dropout``'s, drawn from the same generator (``seed``, or the
    global one) in the same order over a (batch, heads, T, S) array, so the positions dropped
    are those a ``dropout`` of the probabilities would drop. Rows whose keys are all masked are
    refused (``ValueError``): Keras's layer gives them zero probabilities, this op a uniform row.
    """
    inputs, attrs, rows_open = _prepared("attention_with_dropout", query, key, value, None, mask, scale, is_causal)
    if not rows_open:
        raise ValueError("attention_with_dropout: a row of the mask allows no key")
    if not 0 <= rate < 1:
        raise ValueError(f"attention_with_dropout: rate must be in [0, 1), got {rate}")
    q, k = inputs[0], inputs[1]
    drop = None
    if rate > 0:
        drop = dropout_mask((q.shape[0], q.shape[2], q.shape[1], k.shape[1]), rate, q.dtype, seed)
    return DotProductAttention.apply(*inputs, drop=drop, return_probs=bool(return_probs), **attrs)


def _prepared(name, query, key, value, bias, mask, scale, is_causal):
    """The attention op's input Tensors and attributes, checked; and whether every row of the
    mask leaves a key open."""
    q, k, v = (as_op_input(t) for t in (query, key, value))
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(f"{name}: query, key and value must be 4-D (batch, time, heads, head_dim), "
                         f"got shapes {q.shape}, {k.shape} and {v.shape}")
    if bias is not None and mask is not None:
        raise ValueError(f"{name}: only one of bias and mask can be given")
    if k.shape[:-1] != v.shape[:-1] or q.shape[0] != k.shape[0] or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{name}: query {q.shape}, key {k.shape} and value {v.shape} do not match")
    heads, kv_heads = q.shape[2], k.shape[2]
    if kv_heads != heads and (kv_heads == 0 or heads % kv_heads):
        raise ValueError(f"{name}: {heads} query heads cannot share {kv_heads} key/value heads")
    dtype = result_type(q.dtype.name, k.dtype.name, v.dtype.name)
    inputs = [_cast(t, dtype) for t in (q, k, v)]
    if bias is not None:
        inputs.append(_cast(as_op_input(bias), dtype))
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else float(scale)
    allowed = None
    if mask is not None:
        allowed = np.asarray(as_op_input(mask, floating=False).data, dtype=bool)
    if is_causal:
        causal = np.tril(np.ones((q.shape[1], k.shape[1]), dtype=bool))
        allowed = causal if allowed is None else allowed & causal
    additive, rows_open = None, True
    if allowed is not None:  # Keras's large negative: -0.7 times the largest float
        big = 65500.0 if dtype == "float16" else 3.38953e38
        additive = np.where(allowed, 0.0, -0.7 * big).astype(dtype)
        # a row with every key masked is uniform after Keras's shift, zeros without one
        rows_open = bool(allowed.any(axis=-1).all())
    attrs = dict(scale=scale, additive=additive, groups=heads // kv_heads, rows_open=rows_open)
    return inputs, attrs, rows_open
