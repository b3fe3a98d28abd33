"""Audio front ends: ``MelSpectrogram`` (STFT power on the HTK mel scale, in decibels) and
``STFTSpectrogram`` (the STFT as a strided 1-D convolution with DFT kernels, Keras's
weights ``real_kernel`` / ``imag_kernel``). Both run on deepgrad ops, so gradients reach
the input (and the kernels)."""
from __future__ import annotations

import math

import numpy as np

from ... import backend, initializers, ops
from ..base import Layer
from ..input_spec import InputSpec

# HTK mel scale: mel(f) = 1127 ln(1 + f / 700)
_MEL_BREAK_FREQUENCY_HERTZ = 700.0
_MEL_HIGH_FREQUENCY_Q = 1127.0


def _hertz_to_mel(f):
    return _MEL_HIGH_FREQUENCY_Q * np.log(1.0 + f / _MEL_BREAK_FREQUENCY_HERTZ)


def linear_to_mel_weight_matrix(num_mel_bins=20, num_spectrogram_bins=129, sampling_rate=8000,
                                lower_edge_hertz=125.0, upper_edge_hertz=3800.0, dtype="float32"):
    """(num_spectrogram_bins, num_mel_bins) triangles of peak 1 between mel-spaced edges;
    the DC bin maps to nothing."""
    dt = np.dtype(dtype)
    freqs = np.linspace(0.0, sampling_rate / 2.0, num_spectrogram_bins, dtype=dt)[1:]
    bins_mel = _hertz_to_mel(freqs)[:, None]
    edges = np.linspace(_hertz_to_mel(dt.type(lower_edge_hertz)), _hertz_to_mel(dt.type(upper_edge_hertz)),
                        num_mel_bins + 2, dtype=dt)
    lower, center, upper = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]
    weights = np.maximum(0.0, np.minimum((bins_mel - lower) / (center - lower), (upper - bins_mel) / (upper - center)))
    return np.pad(weights, [[1, 0], [0, 0]]).astype(dt)


class MelSpectrogram(Layer):
    """(batch, samples) audio to (batch, num_mel_bins, frames): ``|STFT|^mag_exp`` (centred
    frames), times the mel matrix, then ``10 log10(max(p, min_power) / ref_power)``
    floored at the overall maximum minus ``top_db``."""

    def __init__(self, fft_length=2048, sequence_stride=512, sequence_length=None, window="hann",
                 sampling_rate=16000, num_mel_bins=128, min_freq=20.0, max_freq=None, power_to_db=True, top_db=80.0,
                 mag_exp=2.0, min_power=1e-10, ref_power=1.0, **kwargs):
        self.fft_length, self.sequence_stride = fft_length, sequence_stride
        self.sequence_length = sequence_length or fft_length
        if self.fft_length < self.sequence_length:
            raise ValueError(f"MelSpectrogram: fft_length={fft_length} must be >= sequence_length="
                             f"{self.sequence_length}")
        self.window, self.sampling_rate, self.num_mel_bins = window, sampling_rate, num_mel_bins
        self.min_freq, self.max_freq = min_freq, max_freq or int(sampling_rate / 2)
        self.power_to_db, self.top_db, self.mag_exp = power_to_db, top_db, mag_exp
        self.min_power, self.ref_power = min_power, ref_power
        super().__init__(**kwargs)

    def call(self, inputs):
        real, imag = ops.stft(inputs, self.sequence_length, self.sequence_stride, self.fft_length,
                              window=self.window, center=True)
        spec = ops.power(ops.sqrt(ops.add(ops.square(real), ops.square(imag))), self.mag_exp)
        matrix = linear_to_mel_weight_matrix(self.num_mel_bins, spec.shape[-1], self.sampling_rate, self.min_freq,
                                             self.max_freq, dtype=spec.dtype)
        out = ops.tensordot(spec, matrix, axes=1)
        if self.power_to_db:
            log_spec = ops.multiply(ops.log10(ops.maximum(out, self.min_power)), 10.0)
            log_spec = ops.subtract(log_spec, 10.0 * math.log10(max(abs(self.ref_power), self.min_power)))
            floor = ops.subtract(ops.max(log_spec), self.top_db)
            out = ops.maximum(log_spec, floor)
        return ops.swapaxes(out, -1, -2)

    def compute_output_shape(self, input_shape):
        frames = lambda n: None if n is None else (n + self.sequence_stride + 1) // self.sequence_stride  # noqa: E731
        if len(input_shape) == 1:
            return (self.num_mel_bins, frames(input_shape[0]))
        return (input_shape[0], self.num_mel_bins, frames(input_shape[1]))

    def get_config(self):
        config = super().get_config()
        config.update({"fft_length": self.fft_length, "sequence_stride": self.sequence_stride,
                       "sequence_length": self.sequence_length, "window": self.window,
                       "sampling_rate": self.sampling_rate, "num_mel_bins": self.num_mel_bins,
                       "min_freq": self.min_freq, "max_freq": self.max_freq, "power_to_db": self.power_to_db,
                       "top_db": self.top_db, "mag_exp": self.mag_exp, "min_power": self.min_power,
                       "ref_power": self.ref_power})
        return config


class STFTSpectrogram(Layer):
    """(batch, time, channels) signals to spectrograms by a strided convolution with DFT
    kernels; ``mode`` picks log / magnitude / psd / real / imag / angle / stft (real and
    imaginary parts stacked)."""

    def __init__(self, mode="log", frame_length=256, frame_step=None, fft_length=None, window="hann",
                 periodic=False, scaling="density", padding="valid", expand_dims=False, data_format=None, **kwargs):
        if frame_step is not None and (frame_step > frame_length or frame_step < 1):
            raise ValueError(f"STFTSpectrogram: frame_step={frame_step} must be in [1, frame_length={frame_length}]")
        if fft_length is not None and fft_length < frame_length:
            raise ValueError(f"STFTSpectrogram: fft_length={fft_length} must be >= frame_length={frame_length}")
        if mode not in ("log", "magnitude", "psd", "real", "imag", "angle", "stft"):
            raise ValueError(f"STFTSpectrogram: invalid mode {mode!r}")
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError(f"STFTSpectrogram: invalid scaling {scaling!r}")
        if padding not in ("valid", "same"):
            raise ValueError(f"STFTSpectrogram: invalid padding {padding!r}")
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"STFTSpectrogram: invalid data_format {data_format!r}")
        super().__init__(**kwargs)
        self.mode, self.frame_length, self.frame_step = mode, frame_length, frame_step
        self._frame_step = frame_step or frame_length // 2
        self.fft_length = fft_length
        self._fft_length = fft_length or 2 ** int(math.ceil(math.log2(frame_length)))
        self.window, self.periodic, self.scaling, self.padding = window, periodic, scaling, padding
        self.expand_dims = expand_dims
        self.data_format = data_format or backend.image_data_format()
        self.input_spec = InputSpec(ndim=3)  # (batch, time, channels) or (batch, channels, time)

    def compute_output_shape(self, input_shape):
        """Keras's shapes, worked out without running the layer (the time axis may be None)."""
        last = self.data_format == "channels_last"
        batch, time, channels = (input_shape if last else (input_shape[0], input_shape[2], input_shape[1]))
        freq = (self._fft_length // 2 + 1) * (2 if self.mode == "stft" else 1)
        if time is None:
            frames = None
        elif self.padding == "same":
            frames = -(-int(time) // self._frame_step)
        else:
            frames = max((int(time) - self.frame_length) // self._frame_step + 1, 0)
        if self.expand_dims:
            return (batch, frames, freq, channels) if last else (batch, channels, frames, freq)
        width = None if channels is None else freq * channels
        return (batch, frames, width) if last else (batch, width, frames)

    def build(self, input_shape):
        shape = (self.frame_length, 1, self._fft_length // 2 + 1)
        if self.mode != "imag":
            self.real_kernel = self.add_weight(name="real_kernel", shape=shape,
                                               initializer=initializers.STFT("real", self.window, self.scaling, self.periodic))
        if self.mode != "real":
            self.imag_kernel = self.add_weight(name="imag_kernel", shape=shape,
                                               initializer=initializers.STFT("imag", self.window, self.scaling, self.periodic))
        self.built = True

    def _conv(self, inputs, kernel):
        """Each channel convolved on its own: (batch, channels, freq, frames)."""
        if self.data_format == "channels_last":
            _, time, channels = inputs.shape
            x = ops.reshape(ops.transpose(inputs, (0, 2, 1)), (-1, time, 1))
        else:
            _, channels, time = inputs.shape
            x = ops.reshape(inputs, (-1, 1, time))
        out = ops.conv(x, kernel, strides=self._frame_step, padding=self.padding, data_format=self.data_format)
        if self.data_format == "channels_last":
            out = ops.transpose(out, (0, 2, 1))
        return ops.reshape(out, (-1, channels) + tuple(out.shape[1:]))

    def _adjust(self, out):
        _, channels, freq, frames = out.shape
        if self.data_format == "channels_last":
            if self.expand_dims:
                return ops.transpose(out, (0, 3, 2, 1))
            return ops.transpose(ops.reshape(out, (-1, channels * freq, frames)), (0, 2, 1))
        if self.expand_dims:
            return ops.transpose(out, (0, 1, 3, 2))
        return ops.reshape(out, (-1, channels * freq, frames))

    def call(self, inputs):
        real = self._conv(inputs, self.real_kernel) if self.mode != "imag" else None
        imag = self._conv(inputs, self.imag_kernel) if self.mode != "real" else None
        if self.mode == "real":
            return self._adjust(real)
        if self.mode == "imag":
            return self._adjust(imag)
        if self.mode == "angle":
            return self._adjust(ops.arctan2(imag, real))
        if self.mode == "stft":
            return self._adjust(ops.concatenate([real, imag], axis=2))
        power = ops.add(ops.square(real), ops.square(imag))
        if self.mode == "psd":
            # one-sided PSD: the inner bins count twice (their negative-frequency twins)
            inner = ops.pad(power[:, :, 1:-1, :], [[0, 0], [0, 0], [1, 1], [0, 0]])
            return self._adjust(ops.add(power, inner))
        linear = self._adjust(ops.sqrt(ops.maximum(power, backend.epsilon())))
        if self.mode == "magnitude":
            return linear
        return ops.log(ops.maximum(linear, backend.epsilon()))

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "frame_length": self.frame_length, "frame_step": self.frame_step,
                       "fft_length": self.fft_length, "window": self.window, "periodic": self.periodic,
                       "scaling": self.scaling, "padding": self.padding, "data_format": self.data_format,
                       "expand_dims": self.expand_dims})
        return config
