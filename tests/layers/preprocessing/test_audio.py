"""MelSpectrogram and STFTSpectrogram: the formulas against NumPy/SciPy, gradients, configs."""
import os
import sys

import numpy as np
import pytest
import scipy.signal

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # layer_test

import deepgrad as dg  # noqa: E402
from deepgrad import layers  # noqa: E402
from deepgrad.layers.preprocessing.audio import linear_to_mel_weight_matrix  # noqa: E402
from layer_test import run_layer_test  # noqa: E402


def test_mel_spectrogram_against_numpy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1000)).astype("float64")
    layer = layers.MelSpectrogram(fft_length=128, sequence_stride=32, num_mel_bins=10, sampling_rate=8000,
                                  power_to_db=False, dtype="float64")
    out = layer(x).data
    # centred frames (reflect padding), periodic Hann window, |rfft|^2, mel matrix
    padded = np.pad(x, [(0, 0), (64, 64)], mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, 128, axis=-1)[:, ::32]
    power = np.abs(np.fft.rfft(frames * scipy.signal.get_window("hann", 128), axis=-1)) ** 2
    mel = power @ linear_to_mel_weight_matrix(10, 65, 8000, 20.0, 4000, dtype="float64")
    np.testing.assert_allclose(out, np.swapaxes(mel, -1, -2), rtol=1e-8, atol=1e-8)
    assert layer.compute_output_shape((None, 1000)) == (None, 10, out.shape[-1])


def test_mel_matrix_triangles_peak_at_one():
    m = linear_to_mel_weight_matrix(8, 257, 16000, 20.0, 8000.0)
    assert m.shape == (257, 8) and (m[0] == 0).all()
    assert np.all(m <= 1.0 + 1e-6) and np.all(m.max(0) > 0.5)


def test_mel_db_floor_and_run_layer_test():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 600)).astype("float32")
    layer, out = run_layer_test(layers.MelSpectrogram, {"fft_length": 64, "sequence_stride": 16, "num_mel_bins": 8,
                                                       "top_db": 20.0}, input_data=x)
    assert out.data.max() - out.data.min() <= 20.0 + 1e-4


def test_stft_spectrogram_magnitude_against_scipy_and_gradient():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 256, 1)).astype("float64")
    layer = layers.STFTSpectrogram(mode="magnitude", frame_length=32, frame_step=16, scaling=None, window=None,
                                   dtype="float64")
    out = layer(x).data[0]
    frames = np.lib.stride_tricks.sliding_window_view(x[0, :, 0], 32)[::16]
    np.testing.assert_allclose(out, np.abs(np.fft.rfft(frames, axis=-1)), rtol=1e-6, atol=1e-6)
    run_layer_test(layers.STFTSpectrogram, {"mode": "log", "frame_length": 16}, input_shape=(2, 64, 1),
                   expected_num_trainable_weights=2, expected_weight_shapes=[(16, 1, 9), (16, 1, 9)])
    t = dg.Tensor(x, requires_grad=True)
    dg.sum(layer(t)).backward()
    assert t.grad is not None and np.isfinite(t.grad).all() and np.abs(t.grad).sum() > 0


def test_stft_spectrogram_errors():
    with pytest.raises(ValueError, match="mode"):
        layers.STFTSpectrogram(mode="db")
    with pytest.raises(ValueError, match="fft_length"):
        layers.STFTSpectrogram(frame_length=64, fft_length=32)
