"""keras.ops math extras: special functions, logdet, segment reductions, in_top_k, framing and
FFTs, against Keras (values, dtypes), PyTorch (gradients) and float64 central differences."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from oracle import check_gradients, compare_with_torch  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import ops  # noqa: E402
from deepgrad.ops import math_extra  # noqa: E402

K = keras.ops
rng = np.random.default_rng(0)


def T(a):
    return K.convert_to_tensor(a)


def same(out, ref, rtol=1e-5, atol=1e-5):
    ref = K.convert_to_numpy(ref)
    out = out.data if isinstance(out, dg.Tensor) else np.asarray(out)
    assert out.dtype == ref.dtype, f"dtype {out.dtype} != keras {ref.dtype}"
    assert out.shape == ref.shape, f"shape {out.shape} != keras {ref.shape}"
    np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol)


# ----------------------------------------------------------------- special functions
@pytest.mark.parametrize("name", ["erf", "erfc", "erfinv", "rsqrt"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32"])
def test_special_functions_as_keras(name, dtype):
    if name == "erfinv":
        x = np.linspace(-0.99, 0.99, 13)
    elif name == "rsqrt":
        x = np.linspace(0.1, 9, 13)
    else:
        x = np.linspace(-3, 3, 13)
    if dtype == "int32":
        x = np.arange(1, 6) if name == "rsqrt" else np.array([-1, 0, 1, 2]) * (name != "erfinv")
    x = x.astype(dtype)
    tol = 2e-3 if dtype == "float16" else 1e-6
    same(getattr(ops, name)(x), getattr(K, name)(T(x)), tol, tol)


@pytest.mark.parametrize("name,lo,hi", [("erf", -3, 3), ("erfc", -3, 3), ("erfinv", -0.95, 0.95), ("rsqrt", 0.2, 5)])
def test_special_function_gradients(name, lo, hi):
    x = rng.uniform(lo, hi, (3, 4))
    compare_with_torch(getattr(ops, name), getattr(torch, name), [x], rtol=1e-9, atol=1e-9)
    check_gradients(getattr(ops, name), [x])


def test_numpy_fallbacks_are_float64_accurate():
    # the versions used when SciPy is absent
    x = np.linspace(-6, 6, 4001)
    np.testing.assert_allclose(math_extra._erf(x), torch.erf(torch.tensor(x)).numpy(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(math_extra._erfc(x), torch.erfc(torch.tensor(x)).numpy(), rtol=1e-13)
    y = np.linspace(-0.9999, 0.9999, 4001)
    np.testing.assert_allclose(math_extra._erfinv(y), torch.erfinv(torch.tensor(y)).numpy(), rtol=1e-12, atol=1e-13)
    assert np.isinf(math_extra._erfinv(np.array([1.0, -1.0]))).all() and np.isnan(math_extra._erfinv(np.array([1.5])))


def test_logdet():
    a = rng.standard_normal((2, 4, 4))
    a = a @ np.swapaxes(a, -1, -2) + 4 * np.eye(4)
    same(ops.logdet(a.astype(np.float32)), K.logdet(T(a.astype(np.float32))), 1e-5, 1e-5)
    same(ops.logdet(a), K.logdet(T(a)), 1e-10, 1e-10)
    compare_with_torch(ops.logdet, torch.logdet, [a], rtol=1e-9, atol=1e-9)
    check_gradients(ops.logdet, [a])
    assert np.isnan(ops.logdet(np.diag([1.0, -1.0])).data)  # negative determinant, as torch
    with pytest.raises(ValueError, match="logdet"):
        ops.logdet(np.ones((2, 3)))


# ----------------------------------------------------------------- segments
@given(st.integers(1, 8), st.integers(1, 5), st.booleans())
def test_segment_reductions_as_keras(n, segments, explicit):
    data = rng.standard_normal((n, 3)).astype(np.float32)
    ids = rng.integers(0, segments, n)
    num = segments + 1 if explicit else None  # an explicit count leaves an empty segment
    for name in ("segment_sum", "segment_max", "segment_min", "segment_prod"):
        same(getattr(ops, name)(data, ids, num_segments=num), getattr(K, name)(T(data), T(ids), num_segments=num))


def test_segment_dtypes_and_dropped_ids():
    data = np.array([1, 2, 3, 4], np.int32)
    ids = np.array([0, 2, 0, 5])  # id 5 >= num_segments: dropped
    for name in ("segment_sum", "segment_max", "segment_prod"):
        same(getattr(ops, name)(data, ids, num_segments=4), getattr(K, name)(T(data), T(ids), num_segments=4))
    same(ops.segment_sum(data.astype(np.float64), ids), K.segment_sum(T(data.astype(np.float64)), T(ids)))
    with pytest.raises(TypeError, match="segment_sum"):
        ops.segment_sum(data, ids.astype(np.float32))
    with pytest.raises(ValueError, match="segment_max"):
        ops.segment_max(data, ids[:2])


def _torch_segment(reduce):
    def fn(d, ids, n):
        out = torch.zeros((n,) + tuple(d.shape[1:]), dtype=d.dtype)
        index = torch.tensor(ids).reshape(-1, *[1] * (d.ndim - 1)).expand(d.shape)
        return out.scatter_reduce(0, index, d, reduce, include_self=False)
    return fn


@pytest.mark.parametrize("name,reduce", [("segment_sum", "sum"), ("segment_max", "amax"), ("segment_min", "amin")])
def test_segment_gradients(name, reduce):
    data = rng.standard_normal((7, 2))
    data[3] = data[0]  # a tie inside segment 0: the gradient is split evenly, as torch does
    ids = np.array([0, 1, 2, 0, 1, 2, 2])
    compare_with_torch(lambda d: getattr(ops, name)(d, ids, num_segments=3),
                       lambda d: _torch_segment(reduce)(d, ids, 3), [data])
    check_gradients(lambda d: getattr(ops, name)(d, ids, num_segments=3), [rng.standard_normal((7, 2))])


# ----------------------------------------------------------------- in_top_k and framing
@pytest.mark.parametrize("k", [1, 2, 4])
def test_in_top_k_as_keras(k):
    preds = rng.standard_normal((6, 4)).astype(np.float32)
    preds[0, :2] = 1.0  # a tie
    targets = np.array([0, 1, 2, 3, 1, 0])
    same(ops.in_top_k(targets, preds, k), K.in_top_k(T(targets), T(preds), k))
    with pytest.raises(ValueError, match="in_top_k"):
        ops.in_top_k(targets, preds, 5)


@pytest.mark.parametrize("length,stride", [(4, 3), (3, 1), (5, 5), (10, 2)])
def test_extract_sequences(length, stride):
    x = rng.standard_normal((2, 10)).astype(np.float32)
    same(ops.extract_sequences(x, length, stride), K.extract_sequences(T(x), length, stride))
    xd = x.astype(np.float64)
    compare_with_torch(lambda a: ops.extract_sequences(a, length, stride),
                       lambda a: a.unfold(-1, length, stride), [xd])
    with pytest.raises(ValueError, match="extract_sequences"):
        ops.extract_sequences(x, 11, 1)


# ----------------------------------------------------------------- Fourier transforms
def _pair(shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("name", ["fft", "fft2", "ifft2"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_complex_ffts_as_keras(name, dtype):
    re, im = _pair((2, 4, 6), dtype)
    out = getattr(ops, name)((re, im))
    ref = getattr(K, name)((T(re), T(im)))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    same(out[0], ref[0], tol, tol)
    same(out[1], ref[1], tol, tol)


@pytest.mark.parametrize("name,torch_fn", [("fft", torch.fft.fft), ("fft2", torch.fft.fft2), ("ifft2", torch.fft.ifft2)])
def test_complex_fft_gradients(name, torch_fn):
    re, im = _pair((3, 4, 5))

    def dg_fn(a, b):
        yr, yi = getattr(ops, name)((a, b))
        return yr * 0.7 + yi * yi  # uses both outputs

    def t_fn(a, b):
        y = torch_fn(torch.complex(a, b))
        return y.real * 0.7 + y.imag * y.imag

    compare_with_torch(dg_fn, t_fn, [re, im], rtol=1e-9, atol=1e-9)
    check_gradients(dg_fn, [re, im])


@pytest.mark.parametrize("n", [None, 6, 8, 13])
def test_rfft_irfft_as_keras_and_gradients(n):
    x = rng.standard_normal((2, 10))
    for dt in (np.float32, np.float64):
        out, ref = ops.rfft(x.astype(dt), n), K.rfft(T(x.astype(dt)), n)
        same(out[0], ref[0], 1e-4, 1e-4)
        same(out[1], ref[1], 1e-4, 1e-4)
    compare_with_torch(lambda a: ops.rfft(a, n)[0] + 2.0 * ops.rfft(a, n)[1],
                       lambda a: torch.fft.rfft(a, n=n).real + 2.0 * torch.fft.rfft(a, n=n).imag, [x], rtol=1e-9, atol=1e-9)
    re, im = _pair((2, 6))
    same(ops.irfft((re, im), n), K.irfft((T(re), T(im)), n), 1e-10, 1e-10)
    compare_with_torch(lambda a, b: ops.irfft((a, b), n), lambda a, b: torch.fft.irfft(torch.complex(a, b), n=n),
                       [re, im], rtol=1e-9, atol=1e-9)
    check_gradients(lambda a, b: ops.irfft((a, b), n), [re, im])
    check_gradients(lambda a: ops.rfft(a, n)[1], [x])


@pytest.mark.parametrize("seq,stride,n,window,center", [
    (8, 4, 8, "hann", True), (6, 2, 8, "hamming", True), (8, 3, 8, None, False),
    (5, 5, 8, "hann", False), (8, 2, 8, np.linspace(0.5, 1.0, 8), True),
])
def test_stft_istft_as_keras(seq, stride, n, window, center):
    x = rng.standard_normal((2, 32))
    for dt in (np.float32, np.float64):
        xr = x.astype(dt)
        win = window.astype(dt) if isinstance(window, np.ndarray) else window
        out = ops.stft(xr, seq, stride, n, window=win, center=center)
        ref = K.stft(T(xr), seq, stride, n, window=T(win) if isinstance(win, np.ndarray) else win, center=center)
        tol = 1e-4 if dt == np.float32 else 1e-10
        same(out[0], ref[0], tol, tol)
        same(out[1], ref[1], tol, tol)
        back = ops.istft(out, seq, stride, n, window=win, center=center)
        kback = K.istft(ref, seq, stride, n, window=T(win) if isinstance(win, np.ndarray) else win, center=center)
        same(back, kback, tol, tol)
        back = ops.istft(out, seq, stride, n, length=30, window=win, center=center)
        kback = K.istft(ref, seq, stride, n, length=30, window=T(win) if isinstance(win, np.ndarray) else win,
                        center=center)
        same(back, kback, tol, tol)


def test_stft_istft_gradients_and_round_trip():
    x = rng.standard_normal((2, 24))
    f = lambda a: ops.stft(a, 8, 2, 8)[0] + ops.stft(a, 8, 2, 8)[1] * 0.5  # noqa: E731

    def t_f(a):
        s = torch.stft(a, 8, 2, 8, window=torch.hann_window(8, dtype=a.dtype), center=True, return_complex=True)
        s = s.transpose(-2, -1)
        return s.real + s.imag * 0.5

    compare_with_torch(f, t_f, [x], rtol=1e-9, atol=1e-9)
    check_gradients(lambda a: ops.stft(a, 6, 3, 8, window="hamming")[1], [x])
    spec = ops.stft(x, 8, 2, 8)
    np.testing.assert_allclose(ops.istft(spec, 8, 2, 8, length=24).data, x, atol=1e-10)  # perfect reconstruction
    re, im = (s.data for s in spec)
    check_gradients(lambda a, b: ops.istft((a, b), 8, 2, 8), [re, im])
    check_gradients(lambda a, b: ops.istft((a, b), 6, 3, 8, center=False), [re, im])


def test_fft_errors():
    with pytest.raises(ValueError, match="fft"):
        ops.fft(np.ones(4))
    with pytest.raises(ValueError, match="fft2"):
        ops.fft2((np.ones(4), np.ones(4)))
    with pytest.raises(ValueError, match="stft"):
        ops.stft(np.ones(16, np.float32), 8, 2, 4)
    with pytest.raises(TypeError, match="stft"):
        ops.stft(np.ones(16, np.int32), 4, 2, 4)
    with pytest.raises(ValueError, match="istft"):
        ops.istft((np.ones((3, 5)), np.ones((3, 5))), 8, 2, 8, window="box")


BACKWARD_CASES = {
    "Erf": (ops.erf, [rng.standard_normal(4)]),
    "Erfc": (ops.erfc, [rng.standard_normal(4)]),
    "Erfinv": (ops.erfinv, [rng.uniform(-0.9, 0.9, 4)]),
    "Rsqrt": (ops.rsqrt, [rng.uniform(0.5, 2, 4)]),
    "LogDet": (ops.logdet, [np.eye(3) * 2 + 0.1]),
    "SegmentSum": (lambda d: ops.segment_sum(d, np.array([0, 1, 0])), [rng.standard_normal((3, 2))]),
    "SegmentExtreme": (lambda d: ops.segment_max(d, np.array([0, 1, 0])), [rng.standard_normal((3, 2))]),
    "FFT": (lambda a, b: ops.fft((a, b))[0], [rng.standard_normal(4), rng.standard_normal(4)]),
    "RFFT": (lambda a: ops.rfft(a)[1], [rng.standard_normal(6)]),
    "IRFFT": (lambda a, b: ops.irfft((a, b)), [rng.standard_normal(4), rng.standard_normal(4)]),
    "OverlapAdd": (lambda a, b: ops.istft((a, b), 4, 2, 4, center=False), [rng.standard_normal((3, 3)),
                                                                           rng.standard_normal((3, 3))]),
}


def test_empty_inputs():
    data, ids = np.ones((0, 2), np.float32), np.zeros(0, np.int64)
    same(ops.segment_sum(data, ids, num_segments=3), K.segment_sum(T(data), T(ids), num_segments=3))
    same(ops.erf(np.zeros((0, 4), np.float32)), K.erf(T(np.zeros((0, 4), np.float32))))
