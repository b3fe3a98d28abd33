"""``tf.audio.decode_wav`` and ``tf.signal``'s framing, windows, FFTs and short-time Fourier
transform, as the input pipelines of Keras's audio examples use them (``tf.io.read_file``,
``tf.audio.decode_wav``, ``tf.signal.stft``, ``tf.abs``). TensorFlow's conventions are kept:
frames start at sample 0 (no centring), each frame is multiplied by a periodic Hann window of
``frame_length`` and zero-padded at its end to ``fft_length``; the result is complex64.
The complex FFTs (``fft``, ``fft2d``, ...) are differentiable, so a model may mix tokens with
``real(fft2d(cast(x, complex64)))`` (FNet); the framing, the STFT and the real FFTs run on data
and refuse, by name, a signal that needs a gradient.
"""
from __future__ import annotations

import io as _io
import wave
from types import SimpleNamespace

import numpy as np

from ..autograd import Function, Tensor
from .tf_io import _scalar


def _array(x, what: str) -> np.ndarray:
    if isinstance(x, Tensor):
        if x.requires_grad:
            raise NotImplementedError(f"{what}: its complex result carries no gradient, and the input requires one; "
                                      "compute it in the input pipeline, or use deepgrad.ops.stft (real and "
                                      "imaginary parts, differentiable) inside a model")
        return x.data
    return np.asarray(x)


def decode_wav(contents, desired_channels=-1, desired_samples=-1, name=None):
    """A 16-bit PCM WAV file's bytes as ``(audio, sample_rate)``: float32 samples in [-1, 1)
    (``int16 / 32768``) of shape ``(samples, channels)`` and an int32 rate. ``desired_channels``
    keeps the first channels or repeats a mono one; ``desired_samples`` cuts or zero-pads."""
    data = _scalar(contents, "tf.audio.decode_wav")
    if isinstance(data, str):
        data = data.encode("latin-1")
    try:
        with wave.open(_io.BytesIO(data), "rb") as f:
            width, channels, rate = f.getsampwidth(), f.getnchannels(), f.getframerate()
            frames = f.readframes(f.getnframes())
    except (wave.Error, EOFError) as e:
        raise ValueError(f"tf.audio.decode_wav: not a PCM WAV file ({e})") from None
    if width != 2:
        raise ValueError(f"tf.audio.decode_wav: only 16-bit PCM samples are supported, the file has {8 * width}-bit")
    audio = np.frombuffer(frames, dtype="<i2").reshape(-1, channels).astype(np.float32) / 32768.0
    desired_channels = int(desired_channels)
    if desired_channels > 0 and desired_channels != channels:
        if channels == 1:
            audio = np.repeat(audio, desired_channels, axis=1)
        elif desired_channels < channels:
            audio = audio[:, :desired_channels]
        else:
            raise ValueError(f"tf.audio.decode_wav: cannot make {desired_channels} channels from a file with {channels}")
    desired_samples = int(desired_samples)
    if desired_samples >= 0:
        audio = np.pad(audio[:desired_samples], [(0, max(0, desired_samples - len(audio))), (0, 0)])
    return Tensor(np.ascontiguousarray(audio), dtype=np.float32), Tensor(np.int32(rate), dtype=np.int32)


def _cosine_window(length: int, periodic: bool, a: float, dtype) -> np.ndarray:
    # w[n] = a - (1 - a) cos(2 pi n / N), N = length (periodic) or length - 1 (symmetric)
    length = int(length)
    if length == 1:
        return np.ones(1, dtype)
    n = np.arange(length)
    denom = length if periodic else length - 1
    return (a - (1 - a) * np.cos(2 * np.pi * n / denom)).astype(dtype)


def hann_window(window_length, periodic=True, dtype=np.float32, name=None) -> Tensor:
    w = _cosine_window(window_length, periodic, 0.5, np.dtype(dtype))
    return Tensor(w, dtype=w.dtype)


def hamming_window(window_length, periodic=True, dtype=np.float32, name=None) -> Tensor:
    w = _cosine_window(window_length, periodic, 0.54, np.dtype(dtype))
    return Tensor(w, dtype=w.dtype)


def _frames(x: np.ndarray, frame_length: int, frame_step: int, pad_end: bool, pad_value, axis: int) -> np.ndarray:
    """``x`` cut along ``axis`` into frames (a new axis of frames, then one of frame samples)."""
    axis = axis % x.ndim
    n = x.shape[axis]
    if pad_end:
        count = -(-n // frame_step)
        need = max(0, (count - 1) * frame_step + frame_length - n)
        width = [(0, 0)] * x.ndim
        width[axis] = (0, need)
        x = np.pad(x, width, constant_values=pad_value)
    else:
        count = 1 + (n - frame_length) // frame_step if n >= frame_length else 0
    index = np.arange(count)[:, None] * frame_step + np.arange(frame_length)[None, :]
    return np.take(x, index, axis=axis)


def frame(signal, frame_length, frame_step, pad_end=False, pad_value=0, axis=-1, name=None) -> Tensor:
    """Overlapping frames of ``signal`` along ``axis``: that axis becomes (frames, frame_length)."""
    x = _array(signal, "tf.signal.frame")
    out = _frames(x, int(frame_length), int(frame_step), pad_end, pad_value, axis)
    return Tensor(out, dtype=out.dtype)


def _fft_length(frame_length: int) -> int:
    return 1 << max(0, int(frame_length - 1).bit_length())  # the smallest power of 2 >= frame_length


def stft(signals, frame_length, frame_step, fft_length=None, window_fn=hann_window, pad_end=False,
         name=None) -> Tensor:
    """``rfft(frame * window, fft_length)`` of each frame of the last axis: complex64 of shape
    ``(..., frames, fft_length // 2 + 1)`` (complex128 for float64 signals)."""
    x = _array(signals, "tf.signal.stft")
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    frame_length, frame_step = int(frame_length), int(frame_step)
    n = _fft_length(frame_length) if fft_length is None else int(fft_length)
    if n < frame_length:
        raise ValueError(f"tf.signal.stft: fft_length ({n}) must be at least frame_length ({frame_length})")
    framed = _frames(x, frame_length, frame_step, pad_end, 0, -1)
    if window_fn is not None:
        window = window_fn(frame_length, dtype=x.dtype)
        framed = framed * np.asarray(window.data if isinstance(window, Tensor) else window, x.dtype)
    ctype = np.complex128 if x.dtype == np.float64 else np.complex64
    out = np.fft.rfft(framed, n=n, axis=-1).astype(ctype)
    return Tensor(out, dtype=ctype)


audio = SimpleNamespace(decode_wav=decode_wav)
signal = SimpleNamespace(stft=stft, frame=frame, hann_window=hann_window, hamming_window=hamming_window)


def _complex_array(x, what: str) -> np.ndarray:
    a = _array(x, what)
    return a if a.dtype.kind == "c" else a.astype(np.complex128 if a.dtype == np.float64 else np.complex64)


class ComplexFFT(Function):
    """``y = fftn(z)`` (or ``ifftn``) over ``axes`` of a complex tensor. The map is linear,
    ``y = F z``, so the gradient is ``F^H g``: ``N ifftn(g)`` for the forward transform and
    ``fftn(g) / N`` for the inverse one (N = the number of points transformed)."""

    def forward(self, z, axes=(-1,), inverse=False):
        self.axes, self.inverse = axes, inverse
        self.n = int(np.prod([z.shape[a] for a in axes]))
        return (np.fft.ifftn if inverse else np.fft.fftn)(z, axes=axes).astype(z.dtype)

    def backward(self, g):
        g = np.asarray(g)
        out = np.fft.fftn(g, axes=self.axes) / self.n if self.inverse else np.fft.ifftn(g, axes=self.axes) * self.n
        return out.astype(np.complex128 if g.dtype in (np.float64, np.complex128) else np.complex64)

    def graph_backward(self, g):
        # the adjoint F^H is itself a (scaled) transform: differentiable again the same way
        if not isinstance(g, Tensor):
            g = Tensor(np.asarray(g))
        if g.dtype.kind != "c":
            g = g.astype(np.complex128 if g.dtype == np.float64 else np.complex64)
        if self.inverse:
            return ComplexFFT.apply(g, axes=self.axes, inverse=False) * (1.0 / self.n)
        return ComplexFFT.apply(g, axes=self.axes, inverse=True) * float(self.n)


def _transform(axes, inverse: bool, what: str):
    """A TF FFT over the innermost ``len(axes)`` axes of a complex tensor, keeping its dtype."""
    def apply(input, name=None):
        if np.ndim(input) < len(axes):
            raise ValueError(f"{what}: the input needs at least {len(axes)} axes, got shape {tuple(np.shape(input))}")
        if isinstance(input, Tensor) and input.requires_grad:
            z = input if input.dtype.kind == "c" else input.astype(np.complex128 if input.dtype == np.float64
                                                                   else np.complex64)
            return ComplexFFT.apply(z, axes=axes, inverse=inverse)
        z = _complex_array(input, what)
        out = (np.fft.ifftn if inverse else np.fft.fftn)(z, axes=axes).astype(z.dtype)
        return Tensor(out, dtype=out.dtype)
    apply.__name__ = what.rpartition(".")[2]
    return apply


def rfft(input_tensor, fft_length=None, name=None) -> Tensor:
    """The FFT of a real signal's last axis, the ``fft_length // 2 + 1`` non-negative frequencies."""
    x = _array(input_tensor, "tf.signal.rfft")
    n = x.shape[-1] if fft_length is None else int(np.ravel(fft_length)[0])
    ctype = np.complex128 if x.dtype == np.float64 else np.complex64
    out = np.fft.rfft(x, n=n, axis=-1).astype(ctype)
    return Tensor(out, dtype=ctype)


def irfft(input_tensor, fft_length=None, name=None) -> Tensor:
    """The real signal of length ``fft_length`` (``2 * (bins - 1)`` by default) whose rfft is the input."""
    z = _complex_array(input_tensor, "tf.signal.irfft")
    n = 2 * (z.shape[-1] - 1) if fft_length is None else int(np.ravel(fft_length)[0])
    out = np.fft.irfft(z, n=n, axis=-1).astype(np.float64 if z.dtype == np.complex128 else np.float32)
    return Tensor(out, dtype=out.dtype)


signal.fft = _transform((-1,), False, "tf.signal.fft")
signal.ifft = _transform((-1,), True, "tf.signal.ifft")
signal.fft2d = _transform((-2, -1), False, "tf.signal.fft2d")
signal.ifft2d = _transform((-2, -1), True, "tf.signal.ifft2d")
signal.fft3d = _transform((-3, -2, -1), False, "tf.signal.fft3d")
signal.ifft3d = _transform((-3, -2, -1), True, "tf.signal.ifft3d")
signal.rfft, signal.irfft = rfft, irfft


def complex(real, imag, name=None) -> Tensor:
    """``real + i imag`` (float32 parts give complex64, float64 ones complex128)."""
    re, im = _array(real, "tf.complex"), _array(imag, "tf.complex")
    if re.dtype.kind != "f" or im.dtype != re.dtype:
        raise TypeError(f"tf.complex: real and imag must be float tensors of one dtype, got {re.dtype} and {im.dtype}")
    ctype = np.complex128 if re.dtype == np.float64 else np.complex64
    out = (re + 1j * im).astype(ctype)
    return Tensor(out, dtype=ctype)


def _hertz_to_mel(hertz):
    # the HTK mel scale TensorFlow uses: m = 1127 ln(1 + f / 700)
    return 1127.0 * np.log1p(np.asarray(hertz, np.float64) / 700.0)


def linear_to_mel_weight_matrix(num_mel_bins=20, num_spectrogram_bins=129, sample_rate=8000,
                                lower_edge_hertz=125.0, upper_edge_hertz=3800.0, dtype=np.float32,
                                name=None) -> Tensor:
    """``(num_spectrogram_bins, num_mel_bins)`` triangular filters on the mel scale: filter ``m``
    rises from mel edge ``m`` to ``m + 1`` and falls to ``m + 2`` (``num_mel_bins + 2`` edges evenly
    spaced in mel between the edge frequencies); the DC bin gets no weight. A magnitude
    spectrogram times it is a mel spectrogram, as in TensorFlow."""
    if num_mel_bins <= 0 or num_spectrogram_bins <= 1:
        raise ValueError(f"tf.signal.linear_to_mel_weight_matrix: num_mel_bins ({num_mel_bins}) must be positive "
                         f"and num_spectrogram_bins ({num_spectrogram_bins}) above 1")
    if not 0.0 <= lower_edge_hertz < upper_edge_hertz <= sample_rate / 2.0:
        raise ValueError(f"tf.signal.linear_to_mel_weight_matrix: need 0 <= lower_edge_hertz ({lower_edge_hertz}) "
                         f"< upper_edge_hertz ({upper_edge_hertz}) <= sample_rate / 2 ({sample_rate / 2.0})")
    linear_hz = np.linspace(0.0, sample_rate / 2.0, int(num_spectrogram_bins))[1:]  # without the DC bin
    bins_mel = _hertz_to_mel(linear_hz)[:, None]
    edges = np.linspace(_hertz_to_mel(lower_edge_hertz), _hertz_to_mel(upper_edge_hertz), int(num_mel_bins) + 2)
    lower, center, upper = edges[:-2][None, :], edges[1:-1][None, :], edges[2:][None, :]
    rising = (bins_mel - lower) / (center - lower)
    falling = (upper - bins_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    out = np.concatenate([np.zeros((1, int(num_mel_bins))), weights], axis=0).astype(dtype)
    return Tensor(out, dtype=out.dtype)


signal.linear_to_mel_weight_matrix = linear_to_mel_weight_matrix
