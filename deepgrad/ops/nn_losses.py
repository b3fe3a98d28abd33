"""Cross-entropies and CTC of ``keras.ops.nn``: per-sample losses, not reduced over the batch.

Probabilities (``from_logits=False``) are clipped to ``[epsilon, 1 - epsilon]`` before the
log, as Keras does, so the gradient is zero where the clip is active.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function, Tensor
from ..autograd.higher_order import recomputed_backward
from .activation import softplus
from .elementwise import log1p
from .indexing import take_along_axis
from .math import clip, log
from .activation import softmax_cross_entropy
from .dtypes import result_type
from .nn_activations import as_op_input


def _floats(target, output, op):
    t, o = as_op_input(target), as_op_input(output)
    dtype = result_type(t.dtype.name, o.dtype.name)
    t = t if t.dtype == dtype else t.astype(dtype)
    o = o if o.dtype == dtype else o.astype(dtype)
    if t.shape != o.shape:
        raise ValueError(f"{op}: target and output must have the same shape, got {t.shape} and {o.shape}")
    return t, o


class BinaryCrossentropy(Function):
    """Elementwise binary cross-entropy of targets t and probabilities p (or logits z).

    logits:        max(z, 0) - z t + log(1 + e^-|z|);  dz = s(z) - t,  dt = -z
    probabilities: -(t log p + (1 - t) log(1 - p)), p clipped;  dp = (p - t) / (p (1 - p)),
                   dt = log(1 - p) - log p
    """

    def forward(self, target, output, from_logits=False):
        self.from_logits = from_logits
        self.epsilon = backend.epsilon()  # for graph_backward, which recomputes the loss
        if from_logits:
            z = output
            self.save_for_backward(target, z)
            return np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))
        eps = output.dtype.type(backend.epsilon())
        inside = (output >= eps) & (output <= 1 - eps)
        p = np.clip(output, eps, 1 - eps)
        self.save_for_backward(target, p, inside)
        return -(target * np.log(p) + (1 - target) * np.log1p(-p))

    def backward(self, g):
        if self.from_logits:
            t, z = self.saved
            e = np.exp(-np.abs(z))
            s = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
            return (-g * z if self.needs_input_grad[0] else None), g * (s - t)
        t, p, inside = self.saved
        dt = g * (np.log1p(-p) - np.log(p)) if self.needs_input_grad[0] else None
        return dt, g * inside * (p - t) / (p * (1 - p))

    def graph_backward(self, g):
        eps = self.epsilon

        def binary_cross_entropy(t, output):
            if self.from_logits:  # max(z, 0) - z t + log(1 + e^-|z|) = softplus(z) - z t
                return softplus(output) - output * t
            p = clip(output, eps, 1 - eps)
            return -(t * log(p) + (1 - t) * log1p(-p))

        return recomputed_backward(self, g, binary_cross_entropy)


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise ``-(t log p + (1 - t) log(1 - p))``; ``output`` probabilities or logits."""
    t, o = _floats(target, output, "binary_crossentropy")
    return BinaryCrossentropy.apply(t, o, from_logits=bool(from_logits))


class ProbabilityCrossentropy(Function):
    """-sum_k t_k log c_k with q = p / sum(p) and c = clip(q, eps, 1 - eps) along ``axis``.

    ``sparse``: t holds class ids (one term per sample). Backward: dc = -t / c (zero where
    clipped), dq = dc, dp = (dq - sum(dq q)) / sum(p);  dt = -log c.
    """

    def forward(self, target, output, axis=-1, sparse=False):
        self.epsilon = backend.epsilon()  # for graph_backward, which recomputes the loss
        total = output.sum(axis=axis, keepdims=True)
        q = output / total
        eps = output.dtype.type(backend.epsilon())
        c = np.clip(q, eps, 1 - eps)
        inside = (q >= eps) & (q <= 1 - eps)
        log_c = np.log(c)
        if sparse:
            ids = np.expand_dims(target, axis)
            weights = None
            loss = -np.take_along_axis(log_c, ids, axis=axis).squeeze(axis)
        else:
            ids, weights = None, target
            loss = -(target * log_c).sum(axis=axis)
        self.axis = axis
        self.save_for_backward(ids, weights, q, c, inside, total, log_c)
        return loss

    def backward(self, g):
        ids, weights, q, c, inside, total, log_c = self.saved
        g = np.expand_dims(g, self.axis)
        if ids is not None:
            dq = np.zeros_like(q)
            np.put_along_axis(dq, ids, -g / np.take_along_axis(c, ids, axis=self.axis), axis=self.axis)
            dt = None
        else:
            dq = -g * weights / c
            dt = -g * log_c if self.needs_input_grad[0] else None
        dq = dq * inside
        dp = (dq - (dq * q).sum(axis=self.axis, keepdims=True)) / total
        return dt, dp

    def graph_backward(self, g):
        axis, eps, ids = self.axis, self.epsilon, self.saved[0]

        def cross_entropy(target, output):
            log_c = log(clip(output / output.sum(axis=axis, keepdims=True), eps, 1 - eps))
            if ids is not None:
                return -take_along_axis(log_c, ids, axis=axis).squeeze(axis)
            return -(target * log_c).sum(axis=axis)

        return recomputed_backward(self, g, cross_entropy)


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``-sum(target * log(softmax(output)))`` along ``axis`` (``output`` logits or probabilities)."""
    t, o = _floats(target, output, "categorical_crossentropy")
    if o.ndim < 1:
        raise ValueError(f"categorical_crossentropy: target and output must be at least rank 1, got {o.shape}")
    axis = _axis(axis, o.ndim, "categorical_crossentropy")
    if from_logits:
        return softmax_cross_entropy(o, t, axis=axis)
    return ProbabilityCrossentropy.apply(t, o, axis=axis, sparse=False)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``-log(softmax(output)[target])`` along ``axis``; ``target`` integer class ids."""
    o = as_op_input(output)
    if o.ndim < 1:
        raise ValueError(f"sparse_categorical_crossentropy: output must be at least rank 1, got {o.shape}")
    axis = _axis(axis, o.ndim, "sparse_categorical_crossentropy")
    ids = as_op_input(target, floating=False).data
    if ids.ndim == o.ndim and ids.shape[axis] == 1:
        ids = ids.squeeze(axis)
    if ids.dtype.kind not in "iub":
        if ids.dtype.kind != "f" or not np.all(ids == np.round(ids)):
            raise TypeError(f"sparse_categorical_crossentropy: target must hold integer class ids, got {ids.dtype}")
    ids = ids.astype(np.int64)
    expected = o.shape[:axis] + o.shape[axis + 1:]
    if ids.shape != expected:
        raise ValueError(f"sparse_categorical_crossentropy: target of shape {ids.shape} does not match output "
                         f"of shape {o.shape} without its class axis {axis} ({expected})")
    classes = o.shape[axis]
    if ids.size and (ids.min() < 0 or ids.max() >= classes):
        raise ValueError(f"sparse_categorical_crossentropy: class ids must lie in [0, {classes}), "
                         f"got {ids.min()}..{ids.max()}")
    if from_logits:
        return softmax_cross_entropy(o, Tensor(ids, dtype=ids.dtype), axis=axis)
    return ProbabilityCrossentropy.apply(Tensor(ids, dtype=ids.dtype), o, axis=axis, sparse=True)


def _axis(axis, ndim, op):
    if not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis!r} is out of range for an output of rank {ndim}")
    return int(axis) % ndim


# ------------------------------------------------------------------------ CTC
def _logaddexp(*terms):
    out = terms[0]
    for t in terms[1:]:
        out = np.logaddexp(out, t)
    return out


class CTCLoss(Function):
    """-log p(target | output) summed over every alignment, by the forward-backward recursion.

    Over the target with blanks interleaved, l' = (b, l_1, b, l_2, ..., b) of length S = 2L + 1,
    in log space, with y_t = log_softmax(output_t):
        alpha_t(s) = y_t(l'_s) + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), [skip] alpha_{t-1}(s-2))
        beta_t(s)  = y_t(l'_s) + logsumexp(beta_{t+1}(s), beta_{t+1}(s+1), [skip] beta_{t+1}(s+2))
    (skip: l'_s is not blank and differs from l'_{s-2}), log p = logsumexp of alpha at the
    last frame over the last two states. The gradient with respect to the logits is
    softmax(output_t) - sum_{s: l'_s = k} exp(alpha_t(s) + beta_t(s) - y_t(k) - log p).
    The loops run over time (and the batch is vectorized), never over elements.
    """

    def forward(self, output, target=None, target_length=None, output_length=None, blank=0):
        b, t_max, classes = output.shape
        shifted = output - output.max(axis=-1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        s_max = 2 * target.shape[1] + 1
        ext = np.full((b, s_max), blank, dtype=np.int64)
        ext[:, 1::2] = target
        pos = np.arange(s_max)
        valid = pos[None] < (2 * target_length[:, None] + 1)
        skip = np.zeros((b, s_max), dtype=bool)
        skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
        emit = np.take_along_axis(logp, np.broadcast_to(ext[:, None, :], (b, t_max, s_max)), axis=2)  # (B, T, S)
        emit = np.where(valid[:, None, :], emit, -np.inf)
        neg = np.full((b, s_max), -np.inf, dtype=output.dtype)

        def shift(a, k):
            out = neg.copy()
            out[:, k:] = a[:, :-k]
            return out

        alpha = np.empty((t_max, b, s_max), dtype=output.dtype)
        a = neg.copy()
        a[:, :2] = emit[:, 0, :2]
        alpha[0] = a
        for t in range(1, t_max):
            a = emit[:, t] + _logaddexp(a, shift(a, 1), np.where(skip, shift(a, 2), -np.inf))
            alpha[t] = a
        last = np.clip(output_length - 1, 0, t_max - 1)
        final = alpha[last, np.arange(b)]  # (B, S)
        end = 2 * target_length  # index of the last blank
        at_end = np.take_along_axis(final, end[:, None], axis=1)[:, 0]
        before_end = np.where(end >= 1, np.take_along_axis(final, np.maximum(end - 1, 0)[:, None], axis=1)[:, 0],
                              -np.inf)
        log_p = np.logaddexp(at_end, before_end)

        beta = np.empty_like(alpha)
        skip_next = np.zeros_like(skip)
        skip_next[:, :-2] = skip[:, 2:]  # may s jump to s + 2

        def ahead(a, k):
            out = neg.copy()
            out[:, :-k] = a[:, k:]
            return out

        init = np.where((pos[None] == end[:, None]) | (pos[None] == end[:, None] - 1), 0.0, -np.inf)
        bt = neg.copy()
        for t in range(t_max - 1, -1, -1):
            rec = _logaddexp(bt, ahead(bt, 1), np.where(skip_next, ahead(bt, 2), -np.inf))
            bt = np.where((t == last)[:, None], init, np.where((t < last)[:, None], rec, -np.inf)) + emit[:, t]
            beta[t] = bt
        self.save_for_backward(logp, alpha, beta, ext, log_p)
        self.meta = (last,)
        return -log_p

    def backward(self, g):
        logp, alpha, beta, ext, log_p = self.saved
        (last,) = self.meta
        b, t_max, classes = logp.shape
        # occupation of each (t, class): sum over the states carrying that class
        occ_state = np.exp(np.transpose(alpha + beta, (1, 0, 2)) - log_p[:, None, None])  # (B, T, S)
        occ_state = np.nan_to_num(occ_state)
        gamma = np.zeros((b, t_max, classes), dtype=logp.dtype)
        rows = np.arange(b)[:, None, None]
        steps = np.arange(t_max)[None, :, None]
        np.add.at(gamma, (rows, steps, np.broadcast_to(ext[:, None, :], occ_state.shape)), occ_state)
        # the emission counted twice in alpha + beta: divide by y_t(k) once
        gamma = gamma / np.exp(logp)
        active = (np.arange(t_max)[None] <= last[:, None])[..., None]
        grad = np.where(active, np.exp(logp) - gamma, 0)
        finite = np.isfinite(log_p)[:, None, None]
        return np.where(finite, grad, 0) * g[:, None, None]


def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """Per-sample CTC loss: ``target`` (batch, max_label) ids, ``output`` (batch, time, classes) logits.

    ``mask_index`` is the blank class. Samples with no valid alignment give ``inf``.
    """
    o = as_op_input(output)
    if o.ndim != 3:
        raise ValueError(f"ctc_loss: output must be (batch, time, classes), got shape {o.shape}")
    dtype = result_type(o.dtype.name, "float32")
    o = o if o.dtype == dtype else o.astype(dtype)
    ids = np.asarray(as_op_input(target, floating=False).data).astype(np.int64)
    tl = np.asarray(as_op_input(target_length, floating=False).data).astype(np.int64).reshape(-1)
    ol = np.asarray(as_op_input(output_length, floating=False).data).astype(np.int64).reshape(-1)
    b, t_max, classes = o.shape
    if ids.ndim != 2 or ids.shape[0] != b or tl.shape != (b,) or ol.shape != (b,):
        raise ValueError(f"ctc_loss: target {ids.shape}, target_length {tl.shape} and output_length {ol.shape} "
                         f"do not match a batch of {b} (output shape {o.shape})")
    if tl.size and (tl.max() > ids.shape[1] or ol.max() > t_max or tl.min() < 0 or ol.min() < 1):
        raise ValueError(f"ctc_loss: lengths out of range (target_length {tl}, output_length {ol}, "
                         f"target shape {ids.shape}, {t_max} frames)")
    ids = np.where(np.arange(ids.shape[1])[None] < tl[:, None], ids, mask_index)
    if ids.size and (ids.min() < 0 or ids.max() >= classes):
        raise ValueError(f"ctc_loss: target ids must lie in [0, {classes})")
    return CTCLoss.apply(o, target=ids, target_length=tl, output_length=ol, blank=int(mask_index))


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1, merge_repeated=True,
               mask_index=0):
    """Best label sequences of (batch, time, classes) scores; returns ``(paths, scores)``.

    "greedy": the best class per frame, repeats merged (``merge_repeated``), blanks removed;
    paths (1, batch, time) padded with -1, scores (batch, 1) the negated sum of the chosen
    inputs. "beam_search": prefix beam search over log-softmax scores keeping ``beam_width``
    prefixes, paths (top_paths, batch, time), scores (batch, top_paths) log-probabilities.
    No gradient (the outputs are label ids and their scores).
    """
    x = as_op_input(inputs)
    if x.ndim != 3:
        raise ValueError(f"ctc_decode: inputs must be (batch, time, classes), got shape {x.shape}")
    dtype = result_type(x.dtype.name, "float32")
    scores_in = x.data.astype(dtype, copy=False)
    lengths = np.asarray(as_op_input(sequence_lengths, floating=False).data).astype(np.int64).reshape(-1)
    b, t_max, classes = scores_in.shape
    if lengths.shape != (b,):
        raise ValueError(f"ctc_decode: sequence_lengths of shape {lengths.shape} do not match a batch of {b}")
    blank = classes - 1 if mask_index is None else int(mask_index)
    if strategy == "greedy":
        return _greedy(scores_in, lengths, merge_repeated, blank)
    if strategy == "beam_search":
        return _beam_search(scores_in, lengths, beam_width, top_paths, blank)
    raise ValueError(f"ctc_decode: strategy must be 'greedy' or 'beam_search', got {strategy!r}")


def _greedy(x, lengths, merge_repeated, blank):
    b, t_max, _ = x.shape
    ids = x.argmax(axis=-1).astype(np.int32)
    best = x.max(axis=-1)
    beyond = np.arange(t_max)[None] >= lengths[:, None]
    ids = np.where(beyond, blank, ids)
    best = np.where(beyond, 0, best)
    if merge_repeated:
        repeat = np.zeros_like(beyond)
        repeat[:, 1:] = ids[:, 1:] == ids[:, :-1]
        ids = np.where(repeat, blank, ids)
    dropped = ids == blank
    # kept labels first, in order, then -1 padding: a stable sort on "dropped"
    order = np.argsort(dropped, axis=1, kind="stable")
    paths = np.where(np.take_along_axis(dropped, order, axis=1), -1, np.take_along_axis(ids, order, axis=1))
    scores = -best.sum(axis=1, keepdims=True)
    return Tensor(paths[None].astype(np.int32), dtype=np.int32), Tensor(scores, dtype=scores.dtype)


def _beam_search(x, lengths, beam_width, top_paths, blank):
    """Prefix beam search, vectorized over the beams and classes of a frame.

    Each prefix keeps two log-probabilities, of its alignments ending in a blank (pb) and
    in its last label (pnb). A frame with scores y turns prefix l into
        l      with pb  += logaddexp(pb, pnb) + y[blank]  and  pnb += pnb + y[last(l)]
        l + k  with pnb += (pb if k == last(l) else logaddexp(pb, pnb)) + y[k]
    then equal prefixes are merged (log-sum) and the ``beam_width`` most probable kept.
    """
    b, t_max, classes = x.shape
    if top_paths > beam_width:
        raise ValueError(f"ctc_decode: top_paths ({top_paths}) must be at most beam_width ({beam_width})")
    shifted = x - x.max(axis=-1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    labels = np.array([k for k in range(classes) if k != blank])
    paths = np.full((top_paths, b, t_max), -1, dtype=np.int32)
    scores = np.full((b, top_paths), -np.inf, dtype=x.dtype)
    neg = -np.inf
    for i in range(b):
        prefixes = np.full((1, t_max), -1, dtype=np.int64)  # padded with -1
        size = np.zeros(1, dtype=np.int64)
        pb, pnb = np.zeros(1, x.dtype), np.full(1, neg, x.dtype)
        for t in range(int(lengths[i])):
            y = logp[i, t]
            total = np.logaddexp(pb, pnb)
            last = np.where(size > 0, prefixes[np.arange(len(size)), np.maximum(size - 1, 0)], -1)
            # the same prefix: a blank, or its last label repeated
            same_pnb = np.where(size > 0, pnb + y[np.maximum(last, 0)], neg)
            # every prefix grown by every label: (beams, labels) flattened
            grown = np.repeat(prefixes, len(labels), axis=0)
            rows = np.arange(len(grown))
            grown_size = np.repeat(size, len(labels))
            ks = np.tile(labels, len(size))
            grown[rows, grown_size] = ks
            grown_pnb = np.where(np.repeat(last, len(labels)) == ks, np.repeat(pb, len(labels)),
                                 np.repeat(total, len(labels))) + y[ks]
            cand = np.concatenate([prefixes, grown])
            cand_pb = np.concatenate([total + y[blank], np.full(len(grown), neg, x.dtype)])
            cand_pnb = np.concatenate([same_pnb, grown_pnb])
            cand_size = np.concatenate([size, grown_size + 1])
            # merge equal prefixes: group rows, log-sum their probabilities
            unique, first, inverse = np.unique(cand, axis=0, return_index=True, return_inverse=True)
            order = np.argsort(inverse.reshape(-1), kind="stable")
            starts = np.flatnonzero(np.r_[True, np.diff(inverse.reshape(-1)[order]) != 0])
            merged_pb = np.logaddexp.reduceat(cand_pb[order], starts)
            merged_pnb = np.logaddexp.reduceat(cand_pnb[order], starts)
            keep = np.argsort(-np.logaddexp(merged_pb, merged_pnb), kind="stable")[:beam_width]
            prefixes, size = unique[keep], cand_size[first[keep]]
            pb, pnb = merged_pb[keep], merged_pnb[keep]
        best = np.argsort(-np.logaddexp(pb, pnb), kind="stable")[:top_paths]
        paths[:len(best), i] = prefixes[best]
        scores[i, :len(best)] = np.logaddexp(pb, pnb)[best]
    return Tensor(paths, dtype=np.int32), Tensor(scores, dtype=scores.dtype)


__all__ = ["binary_crossentropy", "categorical_crossentropy", "ctc_decode", "ctc_loss",
           "sparse_categorical_crossentropy"]
