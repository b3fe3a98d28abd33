"""Activation functions, softmax, the fused softmax cross-entropy and dropout."""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .. import backend, runtime
from ..autograd import FloatMath, Function, Tensor
from ..autograd.higher_order import recomputed_backward
from . import workspace
from .halves import over_rows, ufunc_halves
from .reduce import LogSumExp
from .dtypes import real_number


def _scalar(x, like):
    return np.asarray(x, like.dtype)


class Sigmoid(FloatMath):
    def forward(self, a):
        # 1 / (1 + e^-a), computed from e^-|a| so it never overflows
        e = np.exp(-np.abs(a))
        out = np.where(a >= 0, 1 / (1 + e), e / (1 + e))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        s = self.saved[0]
        return g * s * (1 - s)

    def graph_backward(self, g):
        s = Sigmoid.apply(self.inputs[0])
        return g * s * (1 - s)


class Tanh(FloatMath):
    def forward(self, a):
        out = np.tanh(a)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        t = self.saved[0]
        return g * (1 - t * t)

    def graph_backward(self, g):
        t = Tanh.apply(self.inputs[0])
        return g * (1 - t * t)


class ReLU(Function):
    keeps_integers = True
    def forward(self, a):
        out = np.maximum(a, 0)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        return g * (self.saved[0] > 0)

    def graph_backward(self, g):
        return g * (self.saved[0] > 0)


class LeakyReLU(FloatMath):
    """``a`` where ``a > 0``, else ``slope * a``.

    For a slope in (0, 1] both passes avoid ``np.where`` (several times slower on large maps):
    forward is ``max(a, slope a)``, the same numbers; backward is ``g (slope + (1 - slope) [a > 0])``,
    taken only when ``slope + (1 - slope)`` rounds to exactly 1, so it too gives the same numbers.
    Both run over the two halves of a large input's leading axis in two threads.
    """

    def forward(self, a, negative_slope=0.2):
        self.slope = real_number("leaky_relu", "negative_slope", negative_slope)
        # the mask and the output in pooled arrays (workspace): a training step faults in no fresh pages
        positive = workspace.empty(a.shape, np.bool_)
        self.save_for_backward(positive)
        slope = _scalar(negative_slope, a)
        if 0 < self.slope <= 1:  # (slope 0 would turn inf into 0 * inf = nan)
            out = workspace.empty(a.shape, a.dtype)

            def run(rows):
                np.greater(a[rows], 0, out=positive[rows])
                part = np.multiply(a[rows], slope, out=out[rows])
                np.maximum(a[rows], part, out=part)

            over_rows(run, a.shape)
            return out
        np.greater(a, 0, out=positive)
        return np.where(positive, a, a * slope)

    def backward(self, g):
        positive = self.saved[0]
        slope = _scalar(self.slope, g)
        rest = (1 - slope).astype(g.dtype)
        if 0 < self.slope <= 1 and rest + slope == 1:
            # (a masked np.copyto ran 5x slower than these three passes)
            factor = workspace.empty(g.shape, g.dtype)

            def run(rows):
                part = np.multiply(positive[rows], rest, out=factor[rows])
                part += slope
                part *= g[rows]

            over_rows(run, g.shape)
            return factor
        return np.where(positive, g, g * slope)

    def graph_backward(self, g):
        # slope 1 or negative_slope: a constant mask, so the second derivative is 0
        return g * np.where(self.saved[0], _scalar(1.0, g.data), _scalar(self.slope, g.data))


class ELU(FloatMath):
    def forward(self, a, alpha=1.0, scale=1.0):
        # scale * (a if a > 0 else alpha (e^a - 1));  SELU is ELU with fixed alpha and scale
        self.alpha, self.scale = real_number("elu", "alpha", alpha), real_number("elu", "scale", scale)
        neg = _scalar(alpha, a) * np.expm1(np.minimum(a, 0))
        positive = a > 0
        self.save_for_backward(positive, neg)
        return _scalar(scale, a) * np.where(positive, a, neg)

    def backward(self, g):
        # d/da = scale * (1 if a > 0 else alpha e^a),  alpha e^a = neg + alpha
        positive, neg = self.saved
        slope = np.where(positive, 1, neg + _scalar(self.alpha, g)).astype(g.dtype)
        return g * _scalar(self.scale, g) * slope

    def graph_backward(self, g):
        # alpha e^a where a <= 0 (the exponent masked to 0 elsewhere, where it is unused), 1 where a > 0
        positive = self.saved[0]
        a = self.inputs[0]
        slope = (a * ~positive).exp() * (~positive * self.alpha) + positive
        return g * self.scale * slope


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class GELU(FloatMath):
    def forward(self, a, approximate=False):
        self.approximate = approximate
        if approximate:
            # 0.5 a (1 + tanh(sqrt(2/pi) (a + 0.044715 a^3)))
            t = np.tanh(_scalar(math.sqrt(2 / math.pi), a) * (a + _scalar(0.044715, a) * a ** 3))
            self.save_for_backward(a, t)
            return 0.5 * a * (1 + t)
        self.save_for_backward(a)
        return 0.5 * a * (1 + _erf(a / _scalar(math.sqrt(2), a)))

    def backward(self, g):
        a = self.saved[0]
        if self.approximate:
            t = self.saved[1]
            k = _scalar(math.sqrt(2 / math.pi), a)
            dt = (1 - t * t) * k * (1 + _scalar(3 * 0.044715, a) * a * a)
            return g * (0.5 * (1 + t) + 0.5 * a * dt)
        # d/da [a Phi(a)] = Phi(a) + a phi(a)
        cdf = 0.5 * (1 + _erf(a / _scalar(math.sqrt(2), a)))
        pdf = np.exp(-0.5 * a * a) / _scalar(math.sqrt(2 * math.pi), a)
        return g * (cdf + a * pdf)

    def graph_backward(self, g):
        a = self.inputs[0]
        if self.approximate:
            k = math.sqrt(2 / math.pi)
            t = (k * (a + 0.044715 * a * a * a)).tanh()
            return g * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * k * (1 + 3 * 0.044715 * a * a))
        from .math_extra import Erf

        cdf = 0.5 * (1 + Erf.apply(a / math.sqrt(2)))
        pdf = (-0.5 * a * a).exp() / math.sqrt(2 * math.pi)
        return g * (cdf + a * pdf)


def _erf(x):
    """erf elementwise to float64 accuracy (``math.erf`` vectorised over the array)."""
    try:
        from scipy.special import erf  # fast path when SciPy is present
        return erf(x).astype(x.dtype, copy=False)
    except ImportError:
        return np.vectorize(math.erf, otypes=[x.dtype])(x)


class Softplus(FloatMath):
    def forward(self, a):
        # log(1 + e^a) = max(a, 0) + log1p(e^-|a|)
        self.save_for_backward(a)
        return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))

    def backward(self, g):
        a = self.saved[0]
        e = np.exp(-np.abs(a))
        return g * np.where(a >= 0, 1 / (1 + e), e / (1 + e))

    def graph_backward(self, g):
        return g * self.inputs[0].sigmoid()  # softplus' = sigmoid


def _half(dtype) -> bool:
    """A 16-bit float (float16, bfloat16): softmax and log-softmax compute in float32 and round
    once, as Keras's CPU backends do, so the probabilities sum to 1 to the dtype's rounding."""
    return np.dtype(dtype).itemsize == 2 and np.dtype(dtype).name in ("float16", "bfloat16")


def _softmax_and_logsumexp(a, axis):
    """softmax(a) (C-ordered) and logsumexp(a) (axis kept) along ``axis``; every exponent is at most 0."""
    if _half(a.dtype):
        out, lse = _softmax_and_logsumexp(a.astype(np.float32), axis)
        return out.astype(a.dtype), lse.astype(a.dtype)
    peak = a.max(axis=axis, keepdims=True, initial=-np.inf)  # an empty tensor gives an empty softmax
    out = np.asarray(np.subtract(a, peak, order="C"))  # asarray: a 0-d input gives a NumPy scalar
    np.exp(out, out=out)
    total = out.sum(axis=axis, keepdims=True)
    out /= total
    return out, np.log(total) + peak


class Logits(NamedTuple):
    """The marker a ``softmax`` or ``sigmoid`` output carries as ``Tensor._keras_logits``
    (Keras's name): the tensor of logits it was computed from and, for a softmax, its axis
    (non-negative; ``None`` for a sigmoid). A cross-entropy on those probabilities can then
    be computed from the logits themselves."""

    tensor: Tensor
    axis: int | None


def _check_axis(op: str, axis, ndim: int) -> None:
    """An int axis in [-ndim, ndim) (a 0-d tensor takes 0 or -1), else a clear error naming ``op``."""
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"{op}: axis {axis} is out of bounds for a tensor of rank {ndim}")


class Softmax(FloatMath):
    def forward(self, a, axis=-1):
        _check_axis("softmax", axis, a.ndim)
        self.axis = axis
        out = _softmax_and_logsumexp(a, axis)[0]
        self.save_for_backward(out)
        return out

    def backward(self, g):
        # dx = s * (g - sum(g * s))
        s = self.saved[0]
        return s * (g - (g * s).sum(axis=self.axis, keepdims=True))

    def graph_backward(self, g):
        s = Softmax.apply(self.inputs[0], axis=self.axis)
        return s * (g - (g * s).sum(axis=self.axis, keepdims=True))


class LogSoftmax(FloatMath):
    def forward(self, a, axis=-1):
        _check_axis("log_softmax", axis, a.ndim)
        self.axis = axis
        wide = a.astype(np.float32) if _half(a.dtype) else a
        shifted = wide - wide.max(axis=axis, keepdims=True, initial=-np.inf)
        out = (shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))).astype(a.dtype, copy=False)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        # dx = g - softmax * sum(g)
        return g - np.exp(self.saved[0]) * g.sum(axis=self.axis, keepdims=True)

    def graph_backward(self, g):
        return g - Softmax.apply(self.inputs[0], axis=self.axis) * g.sum(axis=self.axis, keepdims=True)


class SoftmaxCrossEntropy(Function):
    """Per-sample cross-entropy of logits against integer labels or a target distribution.

    loss_i = logsumexp(z_i) - sum_k y_ik z_ik; its gradient is softmax(z_i) sum_k y_ik - y_i.
    Stable for logits of any magnitude (every exponent is at most 0). ``probs``, when given,
    is softmax(logits) on the same axis, already computed: it is reused, and the logsumexp
    read from it as max_k z_k - log(max_k softmax(z)_k) (the largest probability is at
    least 1 / classes, so its log is exact to rounding).
    """

    def forward(self, logits, labels, axis=-1, probs=None):
        self.axis = axis
        z = _classes_last(logits, axis)  # views
        if probs is not None:
            probs = _classes_last(probs, axis)
            log_normalizer = z.max(axis=-1, keepdims=True) - np.log(probs.max(axis=-1, keepdims=True))
        else:
            probs, log_normalizer = _softmax_and_logsumexp(z, -1)
        if labels.ndim == logits.ndim - 1:  # sparse integer labels
            classes = z.shape[-1]
            labels = labels.astype(np.intp, copy=False)
            if labels.size and (labels.min() < 0 or labels.max() >= classes):
                raise ValueError(f"cross-entropy: labels must lie in [0, {classes}), "
                                 f"got values from {labels.min()} to {labels.max()}")
            # each sample's own logit, picked from a (samples, classes) view
            rows = np.arange(labels.size)
            picked = labels.reshape(-1)
            own = z.reshape(-1, classes)[rows, picked].reshape(labels.shape)
            self.sparse = True
            self.save_for_backward(probs, rows, picked)
            return log_normalizer[..., 0] - own
        if labels.shape != logits.shape:
            raise ValueError(f"cross-entropy: labels of shape {labels.shape} do not match logits of "
                             f"shape {logits.shape} (one-hot) or {logits.shape[:-1]} (integer labels)")
        self.sparse = False
        labels = _classes_last(labels.astype(logits.dtype, copy=False), axis)  # never promotes float32 logits
        log_probs = z - log_normalizer
        self.save_for_backward(probs, labels, log_probs if self.needs_input_grad[1] else None)
        return -(labels * log_probs).sum(axis=-1)

    def backward(self, g):
        g = g[..., None]
        glabels = None
        probs = self.saved[0]
        grad = np.multiply(probs, g, order="C")  # a new array; its (samples, classes) reshape below is a view
        if self.sparse:  # (softmax - one_hot(label)) g
            _, rows, picked = self.saved
            grad.reshape(-1, grad.shape[-1])[rows, picked] -= g.reshape(-1)
        else:  # with soft labels that need not sum to one: (softmax sum(y) - y) g
            _, labels, log_probs = self.saved
            grad *= labels.sum(axis=-1, keepdims=True)
            grad -= labels * g
            if log_probs is not None:
                glabels = _classes_back(-log_probs * g, self.axis)
        return _classes_back(grad, self.axis), glabels

    def graph_backward(self, g):
        # the loss recomputed from recorded ops: logsumexp(z) - z[label], or -sum(y (z - logsumexp(z)))
        axis = self.axis
        picked = self.saved[2] if self.sparse else None

        def cross_entropy(logits, labels):
            if picked is not None:
                z = logits if axis in (-1, logits.ndim - 1) else logits.transpose(_moved_last(logits.ndim, axis))
                own = z.reshape((-1, z.shape[-1]))[np.arange(picked.size), picked].reshape(labels.shape)
                return LogSumExp.apply(z, axis=-1) - own
            lse = LogSumExp.apply(logits, axis=axis, keepdims=True)
            return -(labels * (logits - lse)).sum(axis=axis)

        return recomputed_backward(self, g, cross_entropy)


def _moved_last(ndim, axis):
    """The axes' order that moves ``axis`` last."""
    axis %= ndim
    return tuple(i for i in range(ndim) if i != axis) + (axis,)


def _classes_last(a, axis):
    return a if axis == -1 or axis == a.ndim - 1 else np.moveaxis(a, axis, -1)


def _classes_back(a, axis):
    return a if axis == -1 or axis == a.ndim - 1 else np.moveaxis(a, -1, axis)


def dropout_mask(shape, rate, like_dtype, seed=None) -> np.ndarray:
    """Inverted dropout's factors for an input of dtype ``like_dtype``: ``(u >= rate) / (1 - rate)``
    with ``u`` uniform draws in ``shape`` (float32, float64 for a float64 input) from the seeded
    generator of ``seed`` or the global one, in one stream.

    The draws and their order are those of ``Dropout``, so an op that applies dropout inside
    (the attention op's probabilities) drops the same positions as a ``Dropout`` op would.
    """
    gen = np.random.default_rng(seed) if seed is not None else backend.rng()
    dtype = np.float32 if like_dtype != np.float64 else np.float64
    # the mask is written over the draws when their dtypes agree (pooled arrays, workspace);
    # the draws and the passes after them run over the two halves of the leading axis in two
    # threads, the second half's draws from a copy of the generator moved past the first's
    draws = workspace.empty(shape, dtype)
    keep = workspace.empty(shape, np.bool_)
    scale = np.asarray(1.0 / (1.0 - rate), like_dtype)
    mask = draws if draws.dtype == np.result_type(keep, scale) else np.empty(shape, np.result_type(keep, scale))
    later = _later_draws(gen, shape, dtype)

    def run(rows):
        if later is not None:
            second = isinstance(rows, slice) and bool(rows.start)
            (later[0] if second else gen).random(dtype=dtype, out=draws[rows])
            later[1] = later[1] or second
        np.greater_equal(draws[rows], rate, out=keep[rows])
        np.multiply(keep[rows], scale, out=mask[rows])

    if later is None:  # the draws in one stream here, the passes after them over the halves
        gen.random(dtype=dtype, out=draws)
    over_rows(run, shape)
    if later is not None and later[1]:
        # the stream's state after all the draws is the copy's, which made the last of them
        gen.bit_generator.state = later[0].bit_generator.state
    return mask


def _later_draws(gen, shape, dtype):
    """``[generator, False]``: a generator whose next draws of ``dtype`` are those ``gen`` would make
    after the first half (the leading axis's first ``shape[0] // 2`` rows) of ``shape``'s uniform
    draws, for the second half to draw in the second thread; None when ``for_batch_halves`` would
    not split ``shape`` or ``gen`` is not a PCG64 stream (whose outputs can be skipped).

    NumPy draws a float64 from one 64-bit output of PCG64, a float32 from 32 bits: the low half of
    an output, its high half kept for the next float32 (``has_uint32``, ``uinteger`` of the state).
    So after d float32 draws from a state holding h (0 or 1) kept halves, the generator has moved
    on by (d - h + 1) // 2 outputs and keeps the high half of the last one when d - h is odd."""
    if len(shape) < 1 or shape[0] < 2 or not _splits(shape) or type(gen.bit_generator) is not np.random.PCG64:
        return None
    draws = (shape[0] // 2) * math.prod(shape[1:])
    state = gen.bit_generator.state
    bits = np.random.PCG64()
    bits.state = state
    if dtype == np.float64:
        bits.advance(draws)
        moved = bits.state
        moved["has_uint32"], moved["uinteger"] = state["has_uint32"], state["uinteger"]
    else:
        left = draws - state["has_uint32"]
        bits.advance(left // 2)
        moved = bits.state
        if left % 2:
            high = int(bits.random_raw()) >> 32
            moved = bits.state
            moved["has_uint32"], moved["uinteger"] = 1, high
        else:
            moved["has_uint32"], moved["uinteger"] = 0, 0
    bits.state = moved
    return [np.random.Generator(bits), False]


def _splits(shape) -> bool:
    """Whether ``over_rows`` runs an output of ``shape`` over two halves in two threads."""
    return math.prod(shape) >= runtime._PARALLEL_MIN_SIZE and runtime.two_threads()


class Dropout(Function):
    def forward(self, a, rate=0.5, noise_shape=None, seed=None):
        # inverted dropout: keep with probability 1 - rate and scale by 1 / (1 - rate)
        shape = a.shape if noise_shape is None else tuple(n if n is not None else s for n, s in zip(noise_shape, a.shape))
        mask = dropout_mask(shape, rate, a.dtype, seed)
        self.save_for_backward(mask)
        return ufunc_halves(np.multiply, a, mask, out=workspace.empty(np.broadcast_shapes(a.shape, mask.shape),
                                                                      np.result_type(a, mask)))

    def backward(self, g):
        mask = self.saved[0]
        return ufunc_halves(np.multiply, g, mask, out=workspace.empty(np.broadcast_shapes(g.shape, mask.shape),
                                                                      np.result_type(g, mask)))

    def graph_backward(self, g):
        return g * self.saved[0]


def sigmoid(x):
    x = x if isinstance(x, Tensor) else Tensor(x)
    out = Sigmoid.apply(x)
    out._keras_logits = Logits(x, None)
    return out


def tanh(x):
    return Tanh.apply(x)


def relu(x):
    return ReLU.apply(x)


def leaky_relu(x, negative_slope=0.2):
    return LeakyReLU.apply(x, negative_slope=negative_slope)


def elu(x, alpha=1.0):
    return ELU.apply(x, alpha=alpha)


def selu(x):
    return ELU.apply(x, alpha=SELU_ALPHA, scale=SELU_SCALE)


def gelu(x, approximate=True):
    """Gaussian error linear unit; by default the tanh approximation, as Keras's ``ops.gelu``.

    ``x * Phi(x)`` exactly, or ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.
    """
    return GELU.apply(x, approximate=bool(approximate))


def softplus(x):
    return Softplus.apply(x)


def softmax(x, axis=-1):
    x = x if isinstance(x, Tensor) else Tensor(x)
    out = Softmax.apply(x, axis=axis)
    out._keras_logits = Logits(x, axis % out.ndim if out.ndim else None)
    return out


def log_softmax(x, axis=-1):
    return LogSoftmax.apply(x, axis=axis)


def softmax_cross_entropy(logits, labels, axis=-1, softmax_output=None):
    """Per-sample cross-entropy from logits; ``labels`` integer class ids or a distribution.

    ``softmax_output`` may be the Tensor ``softmax(logits, axis)`` when it was already
    computed: its probabilities are then reused (a tensor whose ``_keras_logits`` marker
    names other logits or another axis is ignored).
    """
    if not isinstance(labels, Tensor):
        labels = np.asarray(labels)
        labels = Tensor(labels, dtype=labels.dtype if labels.dtype.kind in "iub" else None)
    marker = getattr(softmax_output, "_keras_logits", None)
    reusable = (marker is not None and marker.tensor is logits and marker.axis is not None
                and marker.axis == axis % logits.ndim)
    return SoftmaxCrossEntropy.apply(logits, labels, axis=axis, probs=softmax_output.data if reusable else None)


def dropout(x, rate=0.5, training=True, noise_shape=None, seed=None):
    """Inverted dropout; the identity when not ``training`` or ``rate == 0``."""
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    if not training or rate == 0:
        return x if isinstance(x, Tensor) else Tensor(x)
    return Dropout.apply(x, rate=rate, noise_shape=noise_shape, seed=seed)
