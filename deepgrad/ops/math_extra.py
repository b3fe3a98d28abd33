"""The rest of Keras's ``keras.ops`` math: special functions (erf, erfc, erfinv, rsqrt),
logdet, segment reductions, in_top_k, framing, and Fourier transforms (FFTs, STFT).

Complex numbers travel as ``(real, imag)`` pairs of real tensors, as in Keras, so the
transforms are differentiable with the real autograd: each FFT's backward is its adjoint
transform, written beside it.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import Function, Tensor
from ..autograd.higher_order import frozen, linear_backward
from . import manipulation
from . import math as _math
from .dtypes import to_array
from .linear_algebra import inverse_transpose_times


def _tensor(x) -> Tensor:
    if isinstance(x, Tensor):
        return x
    a = to_array(x)
    return Tensor(a, dtype=a.dtype)


def _float(x, op: str) -> Tensor:
    """``x`` as a float Tensor: integers and bools become floatx, as Keras's math ops return."""
    t = _tensor(x)
    if t.dtype.kind in "iub":
        a = t.data.astype(backend.floatx())
        return Tensor(a, dtype=a.dtype)
    if t.dtype.kind == "c":
        raise TypeError(f"{op}: complex input is not supported; pass (real, imag) where the op allows")
    return t


# ================================================================= special functions
# erfc(z) = t exp(-z^2 + P(t)), t = 2 / (2 + z), for z >= 0, with P a Chebyshev series in
# 4t - 2 (Numerical Recipes, 3rd ed., 6.2.2): relative error below 1.2e-16 everywhere.
_ERFC_COF = np.array([
    -1.3026537197817094, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.561514786808631e-3,
    -9.46595344482036e-4, 3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5,
    -1.624290004647e-6, 1.303655835580e-6, 1.5626441722e-8, -8.5238095915e-8, 6.529054439e-9,
    5.059343495e-9, -9.91364156e-10, -2.27365122e-10, 9.6467911e-11, 2.394038e-12, -6.886027e-12,
    8.94487e-13, 3.13092e-13, -1.12708e-13, 3.81e-16, 7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17,
])


def _erfc_positive(z):
    t = 2.0 / (2.0 + z)
    ty = 4.0 * t - 2.0
    d = dd = np.zeros_like(z)
    for c in _ERFC_COF[:0:-1]:  # Clenshaw's recurrence, 27 steps over whole arrays
        d, dd = ty * d - dd + c, d
    return t * np.exp(-z * z + 0.5 * (_ERFC_COF[0] + ty * d) - dd)


def _erfc(x):
    x = np.asarray(x, np.float64)
    r = _erfc_positive(np.abs(x))
    return np.where(x >= 0, r, 2.0 - r)


def _erf(x):
    x = np.asarray(x, np.float64)
    r = 1.0 - _erfc_positive(np.abs(x))
    return np.where(x >= 0, r, -r)


def _erfinv(y):
    """Giles's approximation ("Approximating the erfinv function", 2010), then two Newton
    steps on erf(x) = y, which take it to float64 accuracy."""
    y = np.asarray(y, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = -np.log((1.0 - y) * (1.0 + y))
        central = w - 2.5
        p1 = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                  -0.00417768164, 0.246640727, 1.50140941):
            p1 = c + p1 * central
        tail = np.sqrt(w) - 3.0
        p2 = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                  0.00943887047, 1.00167406, 2.83297682):
            p2 = c + p2 * tail
        x = np.where(w < 5.0, p1, p2) * y
        for _ in range(2):  # Newton: x -= (erf(x) - y) / erf'(x)
            step = (_erf(x) - y) / (2.0 / math.sqrt(math.pi) * np.exp(-x * x))
            x = np.where(np.isfinite(step), x - step, x)
    x = np.where(np.abs(y) == 1, np.copysign(np.inf, y), x)
    return np.where(np.abs(y) > 1, np.nan, x)


def _special(name):
    try:  # SciPy's are faster when it is installed; the NumPy versions above otherwise
        import scipy.special

        return getattr(scipy.special, name)
    except ImportError:
        return {"erf": _erf, "erfc": _erfc, "erfinv": _erfinv}[name]


class Erf(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return _special("erf")(x).astype(x.dtype)

    def backward(self, g):
        # d erf(x) = 2 / sqrt(pi) exp(-x^2)
        (x,) = self.saved
        return (g * (2.0 / math.sqrt(math.pi)) * np.exp(-x * x)).astype(x.dtype)

    def graph_backward(self, g):
        x = self.inputs[0]
        return g * (2.0 / math.sqrt(math.pi)) * (-x * x).exp()


class Erfc(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return _special("erfc")(x).astype(x.dtype)

    def backward(self, g):
        # d erfc(x) = -2 / sqrt(pi) exp(-x^2)
        (x,) = self.saved
        return (g * (-2.0 / math.sqrt(math.pi)) * np.exp(-x * x)).astype(x.dtype)

    def graph_backward(self, g):
        x = self.inputs[0]
        return g * (-2.0 / math.sqrt(math.pi)) * _math.exp(-(x * x))


class Erfinv(Function):
    def forward(self, x):
        y = _special("erfinv")(x).astype(x.dtype)
        self.save_for_backward(y)
        return y

    def backward(self, g):
        # y = erfinv(x)  =>  dy/dx = sqrt(pi) / 2 exp(y^2)
        (y,) = self.saved
        return (g * (math.sqrt(math.pi) / 2.0) * np.exp(y * y)).astype(y.dtype)

    def graph_backward(self, g):
        y = Erfinv.apply(self.inputs[0])
        return g * (math.sqrt(math.pi) / 2.0) * _math.exp(y * y)


class Rsqrt(Function):
    def forward(self, x):
        with np.errstate(divide="ignore", invalid="ignore"):
            y = (1.0 / np.sqrt(x)).astype(x.dtype)
        self.save_for_backward(y)
        return y

    def backward(self, g):
        # y = x^{-1/2}  =>  dy/dx = -y^3 / 2
        (y,) = self.saved
        return g * (-0.5) * y * y * y

    def graph_backward(self, g):
        y = Rsqrt.apply(self.inputs[0])
        return g * (-0.5) * y * y * y


def erf(x):
    """The error function, 2 / sqrt(pi) * integral of exp(-t^2) from 0 to x."""
    return Erf.apply(_float(x, "erf"))


def erfc(x):
    """1 - erf(x), accurate where erf(x) is close to 1."""
    return Erfc.apply(_float(x, "erfc"))


def erfinv(x):
    """The inverse of erf on (-1, 1) (+-inf at +-1, nan outside)."""
    return Erfinv.apply(_float(x, "erfinv"))


def rsqrt(x):
    """1 / sqrt(x)."""
    return Rsqrt.apply(_float(x, "rsqrt"))


class LogDet(Function):
    def forward(self, a):
        sign, logabs = np.linalg.slogdet(a.astype(np.float32) if a.dtype == np.float16 else a)
        self.save_for_backward(a)
        # as torch.logdet: log of a negative determinant is nan, of zero -inf
        return np.where(sign < 0, np.nan, np.where(sign == 0, -np.inf, logabs)).astype(a.dtype)

    def backward(self, g):
        # d log det(A) / dA = A^{-T}
        (a,) = self.saved
        return (g[..., None, None] * np.swapaxes(np.linalg.inv(a), -1, -2)).astype(a.dtype)

    def graph_backward(self, g):
        return inverse_transpose_times(g, self.inputs[0])


def logdet(x):
    """log det(x) of square matrices (meant for symmetric positive definite ones)."""
    t = _float(x, "logdet")
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"logdet: expected square matrices, got shape {t.shape}")
    return LogDet.apply(t)


# ================================================================= segment reductions
def _segments(data, segment_ids, num_segments, op: str):
    t = _tensor(data)
    ids = np.asarray(to_array(segment_ids))
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{op}: segment_ids must be integers, got dtype {ids.dtype}")
    if t.ndim == 0 or ids.shape != t.shape[:1]:
        raise ValueError(f"{op}: segment_ids of shape {ids.shape} must match the first axis of data {t.shape}")
    n = int(ids.max()) + 1 if num_segments is None and ids.size else int(num_segments or 0)
    ids = ids.astype(np.int64)
    ids = np.where((ids >= 0) & (ids < n), ids, n)  # out-of-range ids go to an extra row, dropped
    return t, ids, n


class SegmentSum(Function):
    def forward(self, data, ids=None, n=None):
        self.ids = ids
        out = np.zeros((n + 1,) + data.shape[1:], data.dtype)
        np.add.at(out, ids, data)
        return out[:n]

    def backward(self, g):
        # out_s = sum_{i: id_i = s} d_i  =>  dd_i = g_{id_i} (0 for dropped ids)
        g = np.concatenate([g, np.zeros((1,) + g.shape[1:], g.dtype)])
        return g[self.ids]

    def graph_backward(self, g):  # linear in g; the adjoint is the forward's segment sums
        twin = frozen(self)
        n = g.shape[0]
        return linear_backward(self, g, lambda u: twin.forward(u, ids=twin.ids, n=n))


class SegmentExtreme(Function):
    def forward(self, data, ids=None, n=None, mode="max"):
        self.ids = ids
        fill = -np.inf if mode == "max" else np.inf
        work = data if data.dtype.kind == "f" else data.astype(np.float64)
        out = np.full((n + 1,) + data.shape[1:], fill, work.dtype)
        (np.maximum if mode == "max" else np.minimum).at(out, ids, work)
        self.save_for_backward(work, out)
        return out[:n].astype(data.dtype) if data.dtype.kind == "f" else out[:n]

    def backward(self, g):
        # the gradient goes to the entries equal to their segment's extreme, split evenly among ties
        data, out = self.saved
        hit = data == out[self.ids]
        count = np.zeros(out.shape, data.dtype)
        np.add.at(count, self.ids, hit.astype(data.dtype))
        g = np.concatenate([g, np.zeros((1,) + g.shape[1:], g.dtype)])
        return np.where(hit, g[self.ids] / np.maximum(count[self.ids], 1), 0).astype(data.dtype)

    def graph_backward(self, g):
        # the share of each extreme is a constant: g read at the segment, times hit / count
        data, out = self.saved
        hit = data == out[self.ids]
        count = np.zeros(out.shape, data.dtype)
        np.add.at(count, self.ids, hit.astype(data.dtype))
        share = np.where(hit, 1 / np.maximum(count[self.ids], 1), 0).astype(g.dtype)
        padded = manipulation.concatenate([g, Tensor(np.zeros((1,) + g.shape[1:], g.dtype))])
        return padded[self.ids] * share


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """Sums of the rows of ``data`` sharing a segment id (ids outside [0, num_segments) dropped)."""
    t, ids, n = _segments(data, segment_ids, num_segments, "segment_sum")
    return SegmentSum.apply(t, ids=ids, n=n)


def _extreme(data, segment_ids, num_segments, mode, op):
    t, ids, n = _segments(data, segment_ids, num_segments, op)
    out = SegmentExtreme.apply(t, ids=ids, n=n, mode=mode)
    if t.dtype.kind != "f":  # Keras casts back to an integer type: empty segments wrap around
        a = out.data.astype(t.dtype) if np.all(np.isfinite(out.data)) else _saturate(out.data, t.dtype)
        return Tensor(a, dtype=a.dtype)
    return out


def _saturate(a, dtype):
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    if info is None:
        return a.astype(dtype)
    return np.clip(np.nan_to_num(a, posinf=info.max, neginf=info.min), info.min, info.max).astype(dtype)


def segment_max(data, segment_ids, num_segments=None, sorted=False):
    """Maxima per segment (-inf for an empty segment of floats); differentiable."""
    return _extreme(data, segment_ids, num_segments, "max", "segment_max")


def segment_min(data, segment_ids, num_segments=None, sorted=False):
    """Minima per segment (+inf for an empty segment of floats); differentiable."""
    return _extreme(data, segment_ids, num_segments, "min", "segment_min")


def segment_prod(data, segment_ids, num_segments=None, sorted=False):
    """Products per segment (1 for an empty segment); no gradient."""
    t, ids, n = _segments(data, segment_ids, num_segments, "segment_prod")
    out = np.ones((n + 1,) + t.shape[1:], t.dtype)
    np.multiply.at(out, ids, t.data)
    out = out[:n]
    return Tensor(out, dtype=out.dtype)


# ================================================================= in_top_k and framing
def in_top_k(targets, predictions, k):
    """Whether each row's target class scores at least the row's k-th largest prediction (bool)."""
    p = np.asarray(to_array(predictions))
    t = np.asarray(to_array(targets))
    if t.dtype.kind not in "iu":
        raise TypeError(f"in_top_k: targets must be integer class ids, got dtype {t.dtype}")
    if p.ndim != 2 or t.shape != p.shape[:1]:
        raise ValueError(f"in_top_k: predictions must be (batch, classes) and targets (batch,), "
                         f"got {p.shape} and {t.shape}")
    k = int(k)
    if not 1 <= k <= p.shape[1]:
        raise ValueError(f"in_top_k: k={k} must be in [1, {p.shape[1]}]")
    kth = np.partition(p, -k, axis=1)[:, -k]
    out = p[np.arange(len(t)), t] >= kth
    return Tensor(out, dtype=bool)


def _frame_index(samples: int, length: int, stride: int) -> np.ndarray:
    n = 1 + (samples - length) // stride
    return np.arange(n)[:, None] * stride + np.arange(length)[None, :]


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of ``sequence_length`` samples every ``sequence_stride`` along the last axis:
    (..., T) -> (..., frames, sequence_length). Differentiable (overlaps add up in backward)."""
    t = _tensor(x)
    length, stride = int(sequence_length), int(sequence_stride)
    if length < 1 or stride < 1 or t.ndim == 0 or t.shape[-1] < length:
        raise ValueError(f"extract_sequences: need sequence_length ({length}) and sequence_stride ({stride}) "
                         f">= 1 and a last axis of at least sequence_length, got shape {t.shape}")
    return manipulation.getitem(t, (Ellipsis, _frame_index(t.shape[-1], length, stride)))


# ================================================================= Fourier transforms
def _complex_pair(x, op: str):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"{op}: expected a tuple (real, imag) of two tensors, got {type(x).__name__}")
    re, im = _float(x[0], op), _float(x[1], op)
    if re.shape != im.shape:
        raise ValueError(f"{op}: real and imaginary parts differ in shape: {re.shape} and {im.shape}")
    dtype = np.result_type(re.dtype, im.dtype)
    if re.dtype != dtype:
        re = manipulation.astype(re, dtype)
    if im.dtype != dtype:
        im = manipulation.astype(im, dtype)
    return re, im


class FFT(Function):
    """The DFT over ``axes`` of ``re + i im`` (``inverse``: 1/N times the conjugate transform)."""

    def forward(self, re, im, axes=(-1,), inverse=False):
        self.axes, self.inverse, self.dtype = axes, inverse, re.dtype
        z = re + 1j * im
        y = np.fft.ifftn(z, axes=axes) if inverse else np.fft.fftn(z, axes=axes)
        return y.real.astype(re.dtype), y.imag.astype(re.dtype)

    def backward(self, grads):
        # y = F z (F unitary up to scale)  =>  dz = F^H dy:  F^H = N ifft for the forward
        # transform, and (1/N) F^H's adjoint = fft / N for the inverse one
        g_re, g_im = self.filled(grads)
        gy = g_re + 1j * g_im
        n = int(np.prod([gy.shape[a] for a in self.axes]))
        gz = np.fft.fftn(gy, axes=self.axes) / n if self.inverse else np.fft.ifftn(gy, axes=self.axes) * n
        return gz.real.astype(self.dtype), gz.imag.astype(self.dtype)

    def graph_backward(self, grads):
        # the adjoint transform as DFT matrices on each axis (recorded products):
        # F^H for the forward transform, F / N for the inverse one
        re, im = grads
        for axis in self.axes:
            n = re.shape[axis]
            c, s = _dft_matrices(n, n, re.dtype)
            sign = -1.0 if self.inverse else 1.0  # F^H = C + i S, F / N = (C - i S) / N
            scale = 1.0 / n if self.inverse else 1.0
            re, im = (_along_axis(re, c, axis) * scale - _along_axis(im, s, axis) * (sign * scale),
                      _along_axis(im, c, axis) * scale + _along_axis(re, s, axis) * (sign * scale))
        return re, im


def _dft_matrices(rows: int, cols: int, dtype):
    """cos and sin of 2 pi j k / cols for j < rows, k < cols: the DFT's real and imaginary parts."""
    jk = np.outer(np.arange(rows), np.arange(cols)) % cols
    angle = 2 * np.pi * jk / cols
    return np.cos(angle).astype(dtype), np.sin(angle).astype(dtype)


def _along_axis(t, matrix, axis):
    """``t`` times ``matrix`` (in, out) along ``axis``, recorded."""
    moved = manipulation.swapaxes(t, axis, -1)
    return manipulation.swapaxes(moved @ Tensor(matrix, dtype=matrix.dtype), axis, -1)


def fft(x):
    """The FFT over the last axis of ``x = (real, imag)``; returns ``(real, imag)``."""
    re, im = _complex_pair(x, "fft")
    if re.ndim < 1:
        raise ValueError(f"fft: input must have at least one axis, got shape {re.shape}")
    return FFT.apply(re, im, axes=(-1,))


def fft2(x):
    """The 2-D FFT over the last two axes of ``x = (real, imag)``."""
    re, im = _complex_pair(x, "fft2")
    if re.ndim < 2:
        raise ValueError(f"fft2: input must have at least two axes, got shape {re.shape}")
    return FFT.apply(re, im, axes=(-2, -1))


def ifft2(x):
    """The inverse 2-D FFT over the last two axes of ``x = (real, imag)``."""
    re, im = _complex_pair(x, "ifft2")
    if re.ndim < 2:
        raise ValueError(f"ifft2: input must have at least two axes, got shape {re.shape}")
    return FFT.apply(re, im, axes=(-2, -1), inverse=True)


class RFFT(Function):
    def forward(self, x, n=None):
        self.length, self.n = x.shape[-1], n
        y = np.fft.rfft(x, n=n, axis=-1)
        return y.real.astype(x.dtype), y.imag.astype(x.dtype)

    def backward(self, grads):
        # y_k = sum_j x_j e^{-2 pi i jk / n}, k <= n/2  =>  dx_j = Re(sum_k conj(e^{...}) dy_k)
        #     = Re(n * ifft(dy zero-padded to n)) on the first min(length, n) samples
        g_re, g_im = self.filled(grads)
        gy = g_re + 1j * g_im
        gx = (np.fft.ifft(gy, n=self.n, axis=-1) * self.n).real
        if self.length > self.n:
            gx = np.concatenate([gx, np.zeros(gx.shape[:-1] + (self.length - self.n,))], axis=-1)
        return gx[..., :self.length].astype(g_re.dtype)

    def graph_backward(self, grads):
        # y_k = sum_j x_j (cos - i sin)(2 pi j k / n), j < min(length, n)  =>  dx = C g_re - S g_im
        g_re, g_im = grads
        m = min(self.length, self.n)
        c, s = _dft_matrices(m, self.n, g_re.dtype)
        c, s = c[:, :g_re.shape[-1]], s[:, :g_re.shape[-1]]
        gx = g_re @ Tensor(c.T.copy(), dtype=c.dtype) - g_im @ Tensor(s.T.copy(), dtype=s.dtype)
        if m < self.length:
            gx = manipulation.concatenate([gx, Tensor(np.zeros(gx.shape[:-1] + (self.length - m,), gx.dtype))],
                                          axis=-1)
        return gx


class IRFFT(Function):
    def forward(self, re, im, n=None):
        self.bins, self.n, self.dtype = re.shape[-1], n, re.dtype
        return np.fft.irfft(re + 1j * im, n=n, axis=-1).astype(re.dtype)

    def backward(self, g):
        # y = irfft(z): bin k enters y with weight c_k / n (c = 1 for DC and Nyquist, else 2),
        # so dz = c * rfft(g) / n on the bins used (the imaginary parts of DC/Nyquist drop out)
        gz = np.fft.rfft(g, axis=-1) / self.n
        c = np.full(gz.shape[-1], 2.0)
        c[0] = 1.0
        if self.n % 2 == 0:
            c[-1] = 1.0
        gz = gz * c
        m = gz.shape[-1]
        if self.bins > m:
            gz = np.concatenate([gz, np.zeros(gz.shape[:-1] + (self.bins - m,))], axis=-1)
        gz = gz[..., :self.bins]
        return gz.real.astype(self.dtype), gz.imag.astype(self.dtype)

    def graph_backward(self, g):
        # y_t = sum_k c_k (re_k cos - im_k sin)(2 pi k t / n) / n over the bins k < min(bins, n // 2 + 1)
        n, m = self.n, min(self.bins, self.n // 2 + 1)
        c, s = _dft_matrices(m, n, g.dtype)
        weight = np.full((m, 1), 2.0, g.dtype)
        weight[0] = 1.0
        if n % 2 == 0 and m == n // 2 + 1:
            weight[-1] = 1.0
        a, b = c * weight / n, s * weight / n
        g_re, g_im = g @ Tensor(a.T.copy(), dtype=g.dtype), -(g @ Tensor(b.T.copy(), dtype=g.dtype))
        if m < self.bins:
            pad = Tensor(np.zeros(g.shape[:-1] + (self.bins - m,), g.dtype))
            g_re, g_im = (manipulation.concatenate([t, pad], axis=-1) for t in (g_re, g_im))
        return g_re, g_im


def rfft(x, fft_length=None):
    """The FFT of real ``x`` over its last axis, non-negative frequencies only: ``(real, imag)``
    with ``fft_length // 2 + 1`` bins (``x`` cut or zero-padded to ``fft_length``)."""
    t = _float(x, "rfft")
    if t.ndim < 1:
        raise ValueError(f"rfft: input must have at least one axis, got shape {t.shape}")
    n = t.shape[-1] if fft_length is None else int(fft_length)
    if n < 1:
        raise ValueError(f"rfft: fft_length must be positive, got {fft_length}")
    return RFFT.apply(t, n=n)


def irfft(x, fft_length=None):
    """The inverse of ``rfft``: a real signal of ``fft_length`` samples (default 2 (bins - 1))."""
    re, im = _complex_pair(x, "irfft")
    if re.ndim < 1:
        raise ValueError(f"irfft: input must have at least one axis, got shape {re.shape}")
    n = 2 * (re.shape[-1] - 1) if fft_length is None else int(fft_length)
    if n < 1:
        raise ValueError(f"irfft: fft_length must be positive, got {fft_length}")
    return IRFFT.apply(re, im, n=n)


def _window(window, length: int, dtype, op: str):
    """The periodic Hann or Hamming window, an array given, or ones for None."""
    if window is None:
        return np.ones(length, dtype)
    if isinstance(window, str):
        if window not in ("hann", "hamming"):
            raise ValueError(f"{op}: window must be 'hann', 'hamming', an array or None, got {window!r}")
        phase = np.cos(2 * np.pi * np.arange(length) / length)
        w = 0.5 - 0.5 * phase if window == "hann" else 0.54 - 0.46 * phase
        return w.astype(dtype)
    w = np.asarray(to_array(window), dtype)
    if w.shape != (length,):
        raise ValueError(f"{op}: the window must have shape ({length},), got {w.shape}")
    return w


def _centered(w, fft_length: int):
    left = (fft_length - len(w)) // 2
    return np.pad(w, (left, fft_length - len(w) - left))


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """Short-time Fourier transform of the last axis: ``(real, imag)`` of shape
    (..., frames, fft_length // 2 + 1), as ``torch.stft`` (a window of ``sequence_length``
    centred in each ``fft_length`` frame; ``center`` pads fft_length // 2 by reflection).
    Differentiable: framing is indexing, then a window product and ``rfft``."""
    t = _tensor(x)
    if t.dtype not in (np.float32, np.float64):
        raise TypeError(f"stft: input must be float32 or float64, got {t.dtype}")
    length, stride, n = int(sequence_length), int(sequence_stride), int(fft_length)
    if n < length:
        raise ValueError(f"stft: fft_length ({n}) must be at least sequence_length ({length})")
    win = _centered(_window(window, length, t.dtype, "stft"), n)
    samples = t.shape[-1]
    pos = np.arange(samples)
    if center:
        pad = n // 2
        if samples <= pad:
            raise ValueError(f"stft: with center=True the signal ({samples} samples) must be longer than fft_length // 2")
        pos = np.arange(-pad, samples + pad)
        pos = np.abs(pos)  # reflect at the start
        pos = np.where(pos >= samples, 2 * (samples - 1) - pos, pos)  # and at the end
    if len(pos) < n:
        raise ValueError(f"stft: the signal ({samples} samples) is shorter than fft_length ({n})")
    frames = manipulation.getitem(t, (Ellipsis, pos[_frame_index(len(pos), n, stride)]))
    frames = _math.multiply(frames, Tensor(win, dtype=win.dtype))
    return rfft(frames)


class OverlapAdd(Function):
    def forward(self, frames, stride=None):
        self.index = _frame_index((frames.shape[-2] - 1) * stride + frames.shape[-1], frames.shape[-1], stride)
        lead = frames.shape[:-2]
        out = np.zeros(((frames.shape[-2] - 1) * stride + frames.shape[-1],) + lead, frames.dtype)
        np.add.at(out, self.index.reshape(-1), np.moveaxis(frames.reshape(lead + (-1,)), -1, 0))
        return np.moveaxis(out, 0, -1)

    def backward(self, g):
        # out_t = sum of the frame samples that land on t  =>  each sample gets g at its position
        return g[..., self.index]

    def graph_backward(self, g):
        return g[..., self.index]  # a gather, recorded


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann", center=True):
    """Inverse of ``stft``: irfft of each frame, windowed overlap-add divided by the summed
    squared window, ``center`` padding removed. Differentiable."""
    re, im = _complex_pair(x, "istft")
    if re.ndim < 2:
        raise ValueError(f"istft: input must be (..., frames, bins), got shape {re.shape}")
    seq, stride, n = int(sequence_length), int(sequence_stride), int(fft_length)
    dtype = re.dtype
    frames = irfft((re, im), n)
    num = frames.shape[-2]
    expected = n + stride * (num - 1)
    w = _window(window, seq, dtype, "istft") if window is not None else None
    if seq == n and center and w is not None:
        # as torch.istft: divide by the overlap-added squared window, sample by sample
        y = OverlapAdd.apply(_math.multiply(frames, Tensor(w, dtype=dtype)), stride=stride)
        env = np.zeros(expected, dtype)
        np.add.at(env, _frame_index(expected, n, stride).reshape(-1), np.tile(w * w, num))
        start, end = n // 2, expected - n // 2 if length is None else n // 2 + int(length)
        y = manipulation.getitem(y, (Ellipsis, slice(start, min(end, expected))))
        env = env[start:min(end, expected)]
        y = _math.multiply(y, Tensor(np.where(env > 1e-11, 1.0 / np.where(env > 1e-11, env, 1.0), 0.0).astype(dtype),
                                     dtype=dtype))
        if length is not None and end > expected:
            y = manipulation.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, end - expected)])
        return y
    if w is not None:
        # as Keras: the window divided by the periodic sum of its squares at the stride
        wpad = _centered(w, n)
        overlaps = -(-n // stride)
        denom = np.pad(wpad * wpad, (0, overlaps * stride - n)).reshape(overlaps, stride).sum(0)
        wpad = wpad / np.tile(denom, overlaps)[:n]
        frames = _math.multiply(frames, Tensor(wpad.astype(dtype), dtype=dtype))
    y = OverlapAdd.apply(frames, stride=stride)
    start = n // 2 if center else 0
    if length is not None:
        end = start + int(length)
    elif center:
        end = expected - n // 2
    else:
        end = expected
    return manipulation.getitem(y, (Ellipsis, slice(start, end)))
