"""ops.creation: ranges, constants, identity matrices and windows against Keras (values and dtypes)."""
import inspect
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import hypothesis.strategies as st  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad.ops import creation  # noqa: E402

keras = pytest.importorskip("keras")
K = keras.ops

FOLDED = {"int64": "int32", "float64": "float32"}  # Keras folds 64-bit promotion results; deepgrad keeps them


def assert_like_keras(ours, theirs, folded_ok=False, rtol=1e-6, atol=1e-6):
    theirs = np.asarray(K.convert_to_numpy(theirs))
    assert isinstance(ours, dg.Tensor)
    assert ours.dtype == theirs.dtype or (folded_ok and FOLDED.get(ours.dtype.name) == theirs.dtype.name), \
        (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours.data.astype(np.float64), theirs.astype(np.float64), rtol=rtol, atol=atol)


DTYPES = [None, "bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [3, (2, 3), (0, 4), (), [2, 1, 2]])
@pytest.mark.parametrize("name", ["ones", "zeros"])
def test_ones_zeros_match_keras(name, shape, dtype):
    assert_like_keras(getattr(dg, name)(shape, dtype), getattr(K, name)(shape, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_has_keras_shape_and_dtype(dtype):
    ours, theirs = dg.empty((2, 3), dtype), K.convert_to_numpy(K.empty((2, 3), dtype))
    assert ours.shape == theirs.shape == (2, 3) and ours.dtype == theirs.dtype
    assert dg.empty(4).shape == (4,) and dg.empty(4).dtype == np.float32


@pytest.mark.parametrize("dtype", [None, "int8", "float16", "float64"])
@pytest.mark.parametrize("x", [np.ones((2, 3), "int8"), np.zeros(4, "float64"), np.ones(0, "bool"), [1, 2], [1.5], 3])
@pytest.mark.parametrize("name", ["ones_like", "zeros_like", "empty_like"])
def test_like_ops_match_keras(name, x, dtype):
    ours, theirs = getattr(dg, name)(x, dtype), getattr(K, name)(x, dtype)
    if name == "empty_like":
        theirs = K.convert_to_numpy(theirs)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    else:
        assert_like_keras(ours, theirs)
    assert getattr(dg, name)(dg.Tensor(np.ones(2, "int32"), dtype="int32")).dtype == np.int32


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fill", [3, 2.5, -1.5, True, np.float64(0.25), np.array([1, 2, 3], "int8")])
def test_full_matches_keras(fill, dtype):
    if dtype in ("uint8",) and np.any(np.asarray(fill) < 0):
        return  # a negative number in uint8 wraps differently in every library
    assert_like_keras(dg.full((2, 3), fill, dtype), K.full((2, 3), fill, dtype))


@pytest.mark.parametrize("dtype", [None, "int32", "float16", "float64"])
@pytest.mark.parametrize("x", [np.ones((2, 3), "int8"), np.zeros(4, "float32"), np.ones((3,), "float64"), [1, 2]])
@pytest.mark.parametrize("fill", [2, 2.5, -1.5])
def test_full_like_matches_keras(x, fill, dtype):
    assert_like_keras(dg.full_like(x, fill, dtype), K.full_like(K.convert_to_tensor(x), fill, dtype))


def test_full_like_truncates_into_integers():
    np.testing.assert_array_equal(dg.full_like(np.ones(2, "int8"), 2.5).data, [2, 2])
    assert dg.full_like(np.ones(2, "int8"), 2.5).dtype == np.int8


@pytest.mark.parametrize("dtype", [None, "int32", "bool", "float64"])
@pytest.mark.parametrize("N,M,k", [(3, None, 0), (2, 4, 1), (4, 2, -1), (3, 3, 5), (0, None, 0), (1, 3, -2)])
def test_eye_and_tri_match_keras(N, M, k, dtype):
    assert_like_keras(dg.eye(N, M, k, dtype), K.eye(N, M, k, dtype))
    if N > 0:  # Keras's tri reads M=0 as "M not given"
        assert_like_keras(dg.tri(N, M, k, dtype), K.tri(N, M, k, dtype))


@pytest.mark.parametrize("dtype", [None, "int32", "float64"])
@pytest.mark.parametrize("n", [0, 1, 4])
def test_identity_matches_keras(n, dtype):
    assert_like_keras(dg.identity(n, dtype), K.identity(n, dtype))


@pytest.mark.parametrize("x", [[1, 2], [1.0, 2], [[True], [False]], 3, 2.5, True, np.arange(3), np.ones(2, "float16"),
                               np.ones(2, "uint8")])
@pytest.mark.parametrize("dtype", [None, "float32", "int64"])
def test_array_matches_keras(x, dtype):
    assert_like_keras(dg.array(x, dtype), K.array(x, dtype))


def test_array_copies():
    a = np.ones(3)
    t = dg.array(a)
    a[0] = 5
    assert t.data[0] == 1
    assert dg.array(dg.Tensor(np.ones(2, "int8"), dtype="int8")).dtype == np.int8


ARANGE = [(3,), (3.0,), (1, 5, 2), (0, 1, 0.25), (5, 1, -1), (1, 10, 3), (-2.5, 2.5, 0.5), (0, 0),
          (0, 5, 1.5), (np.int32(4),), (np.float32(2.5),), (2, 3.5), (True, 4)]


@pytest.mark.parametrize("dtype", [None, "int32", "int64", "float16", "float32", "float64"])
@pytest.mark.parametrize("args", ARANGE, ids=str)
def test_arange_matches_keras(args, dtype):
    if dtype and np.dtype(dtype).kind == "i" and any(isinstance(a, (float, np.floating)) for a in args):
        return  # a float step in an integer dtype: libraries round the steps differently
    assert_like_keras(dg.arange(*args, dtype=dtype), K.arange(*args, dtype=dtype))
    if len(args) == 1:
        assert_like_keras(dg.arange(args[0], stop=None), K.arange(args[0], stop=None))


def test_arange_default_dtypes():
    assert dg.arange(3).dtype == np.int32 and dg.arange(3.0).dtype == np.float32
    assert dg.arange(np.int64(3)).dtype == np.int64  # Keras folds this to int32
    assert dg.arange(4, 1).shape == (0,)  # empty, as NumPy (PyTorch raises)
    np.testing.assert_array_equal(dg.arange(2**40, 2**40 + 3, dtype="int64").data, 2**40 + np.arange(3))


@given(start=st.integers(-20, 20), stop=st.integers(-20, 20), step=st.sampled_from([-3, -1, 1, 2, 5]))
def test_arange_counts_like_numpy(start, stop, step):
    np.testing.assert_array_equal(dg.arange(start, stop, step).data, np.arange(start, stop, step))
    out = dg.arange(start / 2, stop / 2, step / 4)
    np.testing.assert_allclose(out.data, np.arange(start / 2, stop / 2, step / 4), rtol=1e-6, atol=1e-6)


SPACES = [dict(start=0, stop=1, num=5), dict(start=0, stop=10, num=5, endpoint=False), dict(start=2, stop=-3, num=7),
          dict(start=1.5, stop=2.5, num=1), dict(start=0, stop=1, num=0), dict(start=0, stop=1),
          dict(start=np.float64(0), stop=1, num=4), dict(start=1, stop=100, num=3, endpoint=False)]


@pytest.mark.parametrize("dtype", [None, "float16", "float64", "int32"])
@pytest.mark.parametrize("kwargs", SPACES, ids=str)
def test_linspace_logspace_match_keras(kwargs, dtype):
    assert_like_keras(dg.linspace(**kwargs, dtype=dtype), K.linspace(**kwargs, dtype=dtype), folded_ok=True,
                      rtol=1e-3 if dtype == "float16" else 1e-6)
    log_kwargs = dict(kwargs, start=kwargs["start"] / 4, stop=kwargs["stop"] / 4)
    if dtype != "int32":
        assert_like_keras(dg.logspace(**log_kwargs, dtype=dtype), K.logspace(**log_kwargs, dtype=dtype),
                          folded_ok=True, rtol=1e-3 if dtype == "float16" else 1e-5)
        assert_like_keras(dg.logspace(**log_kwargs, base=2, dtype=dtype), K.logspace(**log_kwargs, base=2, dtype=dtype),
                          folded_ok=True, rtol=1e-3 if dtype == "float16" else 1e-5)


@pytest.mark.parametrize("endpoint", [True, False])
@pytest.mark.parametrize("num", [0, 1, 2, 6])
def test_linspace_retstep_matches_keras(num, endpoint):
    ours, step = dg.linspace(0, 10, num, endpoint=endpoint, retstep=True)
    theirs, their_step = K.linspace(0, 10, num, endpoint=endpoint, retstep=True)
    assert_like_keras(ours, theirs)
    assert isinstance(step, float)
    np.testing.assert_equal(step, float(their_step))


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_linspace_logspace_geomspace_with_arrays_follow_numpy(axis):
    """Keras on PyTorch rejects arrays with an axis: NumPy's semantics are the reference."""
    start, stop = np.array([[1.0, 2.0, 3.0]]), np.array([[4.0], [8.0]])
    for ours, ref in [(dg.linspace, np.linspace), (dg.logspace, np.logspace), (dg.geomspace, np.geomspace)]:
        out = ours(start, stop, 4, axis=axis)
        assert out.dtype == np.float64
        np.testing.assert_allclose(out.data, ref(start, stop, 4, axis=axis), rtol=1e-12)
    out, step = dg.linspace(start.astype("float32"), stop.astype("float32"), 5, retstep=True, axis=axis)
    assert out.dtype == np.float32 and isinstance(step, dg.Tensor)
    np.testing.assert_allclose(step.data, (stop - start) / 4, rtol=1e-6)


@pytest.mark.parametrize("dtype", [None, "float64"])
@pytest.mark.parametrize("kwargs", [dict(start=1, stop=100, num=3), dict(start=1, stop=100, num=3, endpoint=False),
                                    dict(start=-1, stop=-1000, num=4), dict(start=2, stop=0.5, num=5),
                                    dict(start=3, stop=7)], ids=str)
def test_geomspace_matches_keras(kwargs, dtype):
    assert_like_keras(dg.geomspace(**kwargs, dtype=dtype), K.geomspace(**kwargs, dtype=dtype), rtol=1e-5)


@pytest.mark.parametrize("x", [0, 1, 2, 5, 12, np.int64(7)])
@pytest.mark.parametrize("name", ["bartlett", "blackman", "hamming", "hanning"])
def test_windows_match_keras(name, x):
    assert_like_keras(getattr(dg, name)(x), getattr(K, name)(x))


@pytest.mark.parametrize("x", [0, 1, 5, 12])
@pytest.mark.parametrize("beta", [0.0, 2.0, 8.6, 14])
def test_kaiser_matches_keras(x, beta):
    assert_like_keras(dg.kaiser(x, beta), K.kaiser(x, beta))


def test_windows_by_formula():
    n = np.arange(6)
    np.testing.assert_allclose(dg.hamming(6).data, 0.54 - 0.46 * np.cos(2 * np.pi * n / 5), rtol=1e-6)
    np.testing.assert_allclose(dg.hanning(6).data, 0.5 - 0.5 * np.cos(2 * np.pi * n / 5), atol=1e-7)
    np.testing.assert_allclose(dg.bartlett(5).data, [0, 0.5, 1, 0.5, 0])


# ----------------------------------------------------------------------------- errors
def test_errors_name_the_op_and_argument():
    with pytest.raises(ValueError, match=r"zeros: `shape` must not have negative sizes, got \(2, -1\)"):
        dg.zeros((2, -1))
    with pytest.raises(TypeError, match="ones: `shape` must be an int or a sequence of ints, got 2.5"):
        dg.ones(2.5)
    with pytest.raises(TypeError, match="ones: `shape` must be an int or a sequence of ints"):
        dg.ones((2, 1.5))
    with pytest.raises(ValueError, match=r"full: `fill_value` of shape \(3,\) cannot be broadcast to shape \(2, 2\)"):
        dg.full((2, 2), [1, 2, 3])
    with pytest.raises(ValueError, match="arange: `step` must not be zero"):
        dg.arange(0, 3, 0)
    with pytest.raises(TypeError, match="eye: `N` must be an integer, got 2.5"):
        dg.eye(2.5)
    with pytest.raises(ValueError, match="tri: `N` must not be negative, got -1"):
        dg.tri(-1)
    with pytest.raises(ValueError, match="linspace: `num` must not be negative, got -2"):
        dg.linspace(0, 1, -2)
    with pytest.raises(ValueError, match="linspace: `axis` 2 is out of range for a result of 1 dimensions"):
        dg.linspace(0, 1, 3, axis=2)
    with pytest.raises(ValueError, match="geomspace: `start` and `stop` must be nonzero"):
        dg.geomspace(0, 1, 3)
    with pytest.raises(ValueError, match=r"logspace: shapes \(2,\) and \(3,\) of `start` and `stop` cannot be broadcast"):
        dg.logspace(np.ones(2), np.ones(3), 3)
    with pytest.raises(TypeError, match="kaiser: `x` must be an integer, got 2.5"):
        dg.kaiser(2.5, 1.0)


def test_results_are_constants():
    for out in [dg.ones(2), dg.arange(3.0), dg.linspace(0, 1, 3), dg.eye(2), dg.hamming(4)]:
        assert not out.requires_grad and out._ctx is None


# ----------------------------------------------------------------------------- surface
MODULE = "deepgrad.ops.creation"
NAMES = ("arange array empty empty_like eye full full_like identity linspace logspace geomspace ones ones_like "
         "zeros zeros_like tri bartlett blackman hamming hanning kaiser").split()


@pytest.mark.parametrize("name", NAMES)
def test_defined_here_and_exported(name):  # signatures: tests/keras_parity/test_keras_ops_surface.py
    assert name in dg.ops.__all__ and getattr(dg, name).__module__ == MODULE


def test_default_float_dtype_follows_floatx():
    old = dg.floatx()
    dg.set_floatx("float64")
    try:
        for out in [dg.ones(2), dg.zeros(2), dg.full(2, 1), dg.eye(2), dg.tri(2), dg.empty(2), dg.identity(2),
                    dg.arange(2.0), dg.linspace(0, 1, 3), dg.logspace(0, 1, 3), dg.geomspace(1, 2, 3), dg.hamming(3),
                    dg.kaiser(3, 1.0), dg.array([1.5])]:
            assert out.dtype == np.float64
        assert dg.arange(3).dtype == np.int32
    finally:
        dg.set_floatx(old)
