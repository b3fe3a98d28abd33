"""tf.audio.decode_wav and tf.signal (framing, windows, stft, FFTs), tf.complex and
tf.strings.join of deepgrad.compat.tensorflow, against SciPy, NumPy and the formulas
TensorFlow documents (frames from sample 0, a periodic Hann window, zero padding at the end)."""
import numpy as np
import pytest
import scipy.io.wavfile
import scipy.signal
import torch

import deepgrad as dg
from deepgrad.compat import tensorflow as tf


def _wav(path, rate, samples):
    scipy.io.wavfile.write(path, rate, samples)
    return tf.io.read_file(str(path))


def test_decode_wav_scales_int16_and_reports_the_rate(tmp_path):
    rng = np.random.default_rng(0)
    pcm = rng.integers(-32768, 32767, (500, 2)).astype(np.int16)
    audio, rate = tf.audio.decode_wav(_wav(tmp_path / "a.wav", 16000, pcm))
    assert audio.dtype == np.float32 and audio.shape == (500, 2)
    np.testing.assert_array_equal(audio.numpy(), pcm / 32768.0)
    assert int(rate.numpy()) == 16000 and rate.dtype == np.int32
    first, _ = tf.audio.decode_wav(_wav(tmp_path / "a.wav", 16000, pcm), desired_channels=1)
    np.testing.assert_array_equal(first.numpy(), pcm[:, :1] / 32768.0)
    # desired_samples cuts or pads with zeros; a mono file is repeated into several channels
    mono = pcm[:, 0]
    cut, _ = tf.audio.decode_wav(_wav(tmp_path / "m.wav", 8000, mono), 1, 300)
    padded, _ = tf.audio.decode_wav(_wav(tmp_path / "m.wav", 8000, mono), 2, 600)
    np.testing.assert_array_equal(cut.numpy()[:, 0], mono[:300] / 32768.0)
    assert padded.shape == (600, 2) and not padded.numpy()[500:].any()
    np.testing.assert_array_equal(padded.numpy()[:500, 1], mono / 32768.0)


def test_decode_wav_refuses_other_sample_widths(tmp_path):
    data = _wav(tmp_path / "f.wav", 8000, np.zeros(10, np.float32))
    with pytest.raises(ValueError, match="decode_wav"):
        tf.audio.decode_wav(data)


@pytest.mark.parametrize("length", [1, 4, 7, 256])
def test_windows_are_scipys_periodic_and_symmetric_ones(length):
    np.testing.assert_allclose(tf.signal.hann_window(length).numpy(),
                               scipy.signal.get_window("hann", length, fftbins=True), atol=1e-7)
    np.testing.assert_allclose(tf.signal.hamming_window(length, periodic=False).numpy(),
                               scipy.signal.get_window("hamming", length, fftbins=False), atol=1e-7)
    assert tf.signal.hann_window(length).dtype == np.float32


def test_frame_with_and_without_end_padding():
    x = np.arange(10.0, dtype=np.float32)
    frames = tf.signal.frame(x, 4, 3).numpy()
    np.testing.assert_array_equal(frames, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])
    padded = tf.signal.frame(x, 4, 3, pad_end=True, pad_value=-1).numpy()
    np.testing.assert_array_equal(padded[-1], [9, -1, -1, -1])
    assert padded.shape == (4, 4)
    # along another axis of a batch: (2, 10, 3) framed on axis 1 -> (2, 3, 4, 3)
    batch = np.random.default_rng(1).standard_normal((2, 10, 3)).astype(np.float32)
    out = tf.signal.frame(batch, 4, 3, axis=1).numpy()
    np.testing.assert_array_equal(out[:, 1], batch[:, 3:7])


@pytest.mark.parametrize("frame_length, frame_step, fft_length", [(200, 80, 256), (255, 128, None), (256, 160, 384)])
def test_stft_is_tensorflows_formula(frame_length, frame_step, fft_length):
    # X[t, k] = sum_n x[t * step + n] w[n] exp(-2 pi i k n / N), w periodic Hann, N = fft_length
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 1500)).astype(np.float32)
    out = tf.signal.stft(x, frame_length=frame_length, frame_step=frame_step, fft_length=fft_length)
    n = fft_length or 256
    frames = 1 + (1500 - frame_length) // frame_step
    assert out.shape == (2, frames, n // 2 + 1) and out.dtype == np.complex64
    w = scipy.signal.get_window("hann", frame_length, fftbins=True)
    t, k, m = np.arange(frames)[:, None, None], np.arange(n // 2 + 1)[None, :, None], np.arange(frame_length)
    basis = np.exp(-2j * np.pi * k * m / n)  # (1, bins, frame_length)
    segments = x[:, (t[:, 0] * frame_step + m[None, :])]  # (2, frames, frame_length)
    expected = np.einsum("bfn,kn->bfk", segments * w, basis[0])
    np.testing.assert_allclose(out.numpy(), expected, rtol=2e-4, atol=2e-3)
    # the magnitude pipeline of Keras's speech examples: |X| ** 0.5, float32
    mag = tf.math.pow(tf.abs(out), 0.5)
    assert mag.dtype == np.float32
    np.testing.assert_allclose(mag.numpy(), np.abs(expected) ** 0.5, rtol=1e-3, atol=1e-3)


def test_stft_refuses_a_signal_that_needs_a_gradient():
    x = dg.Tensor(np.zeros(512, np.float32), requires_grad=True)
    with pytest.raises(NotImplementedError, match="tf.signal.stft.*gradient"):
        tf.signal.stft(x, 256, 128)


def test_ffts_and_complex_match_numpy():
    rng = np.random.default_rng(3)
    re, im = rng.standard_normal((2, 3, 8)).astype(np.float32)
    z = tf.complex(real=re, imag=im)
    assert z.dtype == np.complex64
    np.testing.assert_allclose(tf.signal.fft(z).numpy(), np.fft.fft(re + 1j * im), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tf.signal.ifft(z).numpy(), np.fft.ifft(re + 1j * im), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tf.signal.fft2d(z).numpy(), np.fft.fft2(re + 1j * im), rtol=1e-4, atol=1e-4)
    assert tf.signal.fft(z).dtype == np.complex64
    # a cast of a float tensor to complex64 feeds the FFT, as the speaker-recognition example does
    spectrum = tf.math.abs(tf.signal.fft(tf.cast(tf.complex(re, tf.zeros_like(re)), tf.complex64)))
    np.testing.assert_allclose(spectrum.numpy(), np.abs(np.fft.fft(re)), rtol=1e-5, atol=1e-5)
    r = tf.signal.rfft(re, fft_length=[12])
    np.testing.assert_allclose(r.numpy(), np.fft.rfft(re, n=12), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tf.signal.irfft(r, fft_length=[12]).numpy(), np.fft.irfft(np.fft.rfft(re, n=12), n=12),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(tf.math.real(z).numpy(), re)
    np.testing.assert_array_equal(tf.math.imag(z).numpy(), im)
    with pytest.raises(TypeError, match="tf.complex"):
        tf.complex(re, im.astype(np.float64))


def test_strings_join_broadcasts_element_by_element():
    out = tf.strings.join(["[start]", np.array(["a b", "c"]), "[end]"], separator=" ")
    assert out.tolist() == ["[start] a b [end]", "[start] c [end]"]
    assert str(tf.strings.join([np.array("x"), "y"])) == "xy"
    with pytest.raises(TypeError, match="tf.strings.join"):
        tf.strings.join("abc")


def test_tf_pad_reflect_ignores_the_default_constant_value():
    x = np.arange(12.0, dtype=np.float32).reshape(1, 3, 4, 1)
    out = tf.pad(x, [[0, 0], [1, 1], [2, 2], [0, 0]], mode="REFLECT")
    np.testing.assert_array_equal(out.numpy(), np.pad(x, [(0, 0), (1, 1), (2, 2), (0, 0)], mode="reflect"))
    sym = tf.pad(x, [[0, 0], [1, 1], [2, 2], [0, 0]], mode="SYMMETRIC")
    np.testing.assert_array_equal(sym.numpy(), np.pad(x, [(0, 0), (1, 1), (2, 2), (0, 0)], mode="symmetric"))


@pytest.mark.parametrize("transform, torch_fn", [("fft", "fft"), ("ifft", "ifft"), ("fft2d", "fft2"), ("ifft2d", "ifft2")])
def test_complex_ffts_are_differentiable_as_torchs(transform, torch_fn):
    # FNet's token mixing: real(fft2d(cast(x, complex64))), here any transform and both parts
    import torch
    rng = np.random.default_rng(5)
    x, a, b = rng.standard_normal((3, 2, 4, 6))
    t = dg.Tensor(x, requires_grad=True)
    y = getattr(tf.signal, transform)(tf.cast(t, tf.complex128))
    (tf.math.real(y) * dg.Tensor(a) + tf.math.imag(y) * dg.Tensor(b)).sum().backward()
    tt = torch.tensor(x, requires_grad=True)
    ty = getattr(torch.fft, torch_fn)(tt.to(torch.complex128))
    (ty.real * torch.tensor(a) + ty.imag * torch.tensor(b)).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(t.grad, tt.grad.numpy(), rtol=1e-10, atol=1e-10)
    # float32 stays complex64 / float32
    t32 = dg.Tensor(x.astype(np.float32), requires_grad=True)
    y32 = tf.math.real(getattr(tf.signal, transform)(tf.cast(t32, tf.complex64)))
    assert y32.dtype == np.float32
    y32.sum().backward()
    assert t32.grad.dtype == np.float32


@pytest.mark.parametrize("args", [(80, 513, 22050, 125.0, 7600.0), (20, 129, 8000, 125.0, 3800.0), (8, 33, 16000, 0.0, 8000.0)])
def test_linear_to_mel_weight_matrix_matches_keras(args):
    from keras.src.layers.preprocessing.mel_spectrogram import MelSpectrogram
    theirs = np.asarray(MelSpectrogram().linear_to_mel_weight_matrix(*args))
    ours = tf.signal.linear_to_mel_weight_matrix(*args)
    assert ours.shape == theirs.shape == (args[1], args[0]) and ours.dtype == np.float32
    np.testing.assert_allclose(ours.numpy(), theirs, atol=3e-5)  # Keras computes in float32
    assert not ours.numpy()[0].any()  # the DC bin
    with pytest.raises(ValueError, match="upper_edge_hertz"):
        tf.signal.linear_to_mel_weight_matrix(8, 33, 16000, 500.0, 9000.0)


@pytest.mark.parametrize("stride, dilation, groups", [(1, 1, 1), (2, 1, 1), (1, 3, 1), (1, 1, 2)])
def test_nn_conv1d_matches_torch(stride, dilation, groups):
    import torch
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 20, 4))
    w = rng.standard_normal((3, 4 // groups, 6))  # (width, in_channels / groups, out_channels)
    t = dg.Tensor(x, requires_grad=True)
    out = tf.nn.conv1d(t, w, stride=[1, stride, 1], padding="VALID", dilations=dilation)
    g = rng.standard_normal(out.shape)
    (out * dg.Tensor(g)).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.functional.conv1d(tx.permute(0, 2, 1), torch.tensor(w).permute(2, 1, 0), stride=stride,
                                      dilation=dilation, groups=groups).permute(0, 2, 1)
    (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(t.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    same = tf.nn.conv1d(x, w[:, :, :] if groups == 1 else w, stride=1, padding="SAME")
    assert same.shape == (2, 20, 6)
    with pytest.raises(ValueError, match="conv1d"):
        tf.nn.conv1d(x, w, stride=[2, 1, 1], padding="SAME")


def test_fft_differentiates_twice_as_torch():
    from deepgrad import ops
    from deepgrad.compat.tf_signal import signal
    x = np.random.default_rng(5).normal(size=(3, 8))
    weights = np.arange(8.0)
    t = dg.Tensor(x, requires_grad=True)
    y = ops.real(signal.fft(t))
    g, = dg.grad((y * y * weights).sum(), [t], create_graph=True)
    h, = dg.grad((g * g).sum(), [t])
    tt = torch.tensor(x, requires_grad=True)
    yt = torch.fft.fft(tt.to(torch.complex128)).real
    gt, = torch.autograd.grad((yt * yt * torch.tensor(weights)).sum(), tt, create_graph=True)
    ht, = torch.autograd.grad((gt * gt).sum(), tt)
    np.testing.assert_allclose(np.asarray(g.data), gt.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.asarray(h.data if isinstance(h, dg.Tensor) else h), ht.numpy(), rtol=1e-10, atol=1e-9)
