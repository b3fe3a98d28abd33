"""ops.logic: comparisons, logical, closeness, number classes and bitwise ops against Keras."""
import inspect
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import hypothesis.extra.numpy as hnp  # noqa: E402
import hypothesis.strategies as st  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad.ops import logic  # noqa: E402

keras = pytest.importorskip("keras")
K = keras.ops

ALL_DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64"]
INT_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64"]
FOLDED = {"int64": "int32"}  # Keras's promotion folds int64 to int32 in places; deepgrad keeps int64


def assert_same(ours, theirs):
    """Same dtype, shape and every value as Keras (NaN never appears in these results)."""
    theirs = np.asarray(K.convert_to_numpy(theirs))
    assert isinstance(ours, dg.Tensor)
    assert ours.dtype == theirs.dtype or FOLDED.get(ours.dtype.name) == theirs.dtype.name, (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours.data, theirs)


def sample(rng, dtype, shape):
    """Small values with many ties, so equal/less/... see both outcomes."""
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype == "uint8":
        return rng.integers(0, 4, shape).astype(dtype)
    if np.dtype(dtype).kind == "i":
        return rng.integers(-2, 3, shape).astype(dtype)
    return (rng.integers(-4, 5, shape) / 2).astype(dtype)


PAIRS = [(d, d) for d in ALL_DTYPES] + [
    ("int8", "uint8"), ("uint8", "int32"), ("int32", "float16"), ("int64", "float32"), ("float16", "float32"),
    ("float32", "float64"), ("bool", "int8"), ("bool", "float32"),
]
COMPARE = ["equal", "not_equal", "greater", "greater_equal", "less", "less_equal",
           "logical_and", "logical_or", "logical_xor", "isclose"]


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p[0]}-{p[1]}")
@pytest.mark.parametrize("name", COMPARE)
def test_binary_predicates_match_keras(name, pair):
    rng = np.random.default_rng(0)
    a, b = sample(rng, pair[0], (4, 1)), sample(rng, pair[1], (5,))
    ours = getattr(dg, name)(a, b)
    assert ours.dtype == np.bool_ and ours.shape == (4, 5)
    assert_same(ours, getattr(K, name)(a, b))
    assert_same(getattr(dg, name)(b, a), getattr(K, name)(b, a))
    empty = np.zeros((0, 5), pair[0])
    assert_same(getattr(dg, name)(empty, b), getattr(K, name)(empty, b))


@pytest.mark.parametrize("name", COMPARE + ["allclose"])
@pytest.mark.parametrize("other", [1, 0, 0.5, True, [1, 0, 2]])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int32", "float32"])
def test_predicates_with_python_values_match_keras(name, other, dtype):
    a = sample(np.random.default_rng(1), dtype, (2, 3))
    assert_same(getattr(dg, name)(a, other), getattr(K, name)(a, other))
    assert_same(getattr(dg, name)(other, a), getattr(K, name)(other, a))


def test_mixed_signedness_compares_values():
    """uint8(200) > int8(-1): promoted to int16 first, not compared as raw bits."""
    a, b = np.array([200, 0], np.uint8), np.array([-1, 1], np.int8)
    np.testing.assert_array_equal(dg.greater(a, b).data, [True, False])
    assert_same(dg.greater(a, b), K.greater(a, b))


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4),
       seed=st.integers(0, 2**16))
def test_comparisons_broadcast_like_numpy(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = [sample(rng, "float32", s) for s in shapes.input_shapes]
    for ours, ref in [(dg.less, np.less), (dg.equal, np.equal), (dg.logical_xor, np.logical_xor)]:
        out = ours(dg.Tensor(a), b)
        assert out.shape == shapes.result_shape
        np.testing.assert_array_equal(out.data, ref(a, b))


def test_isclose_and_allclose_tolerances_and_nan():
    a = np.array([1.0, 1.0 + 1e-6, 1.1, np.nan, np.inf])
    b = np.array([1.0, 1.0, 1.0, np.nan, np.inf])
    for kwargs in [{}, dict(rtol=0.2), dict(atol=1e-9, rtol=0), dict(equal_nan=True)]:
        assert_same(dg.isclose(a, b, **kwargs), K.isclose(a, b, **kwargs))
        assert_same(dg.allclose(a, b, **kwargs), K.allclose(a, b, **kwargs))
    assert dg.allclose(a[:2], b[:2]).data.item() is True and dg.allclose(a, b).shape == ()
    assert dg.allclose(a, b, equal_nan=True, rtol=0.2).data.item() is True


def test_isclose_on_integers_is_equality():
    a, b = np.array([1, 2, 3], np.int32), np.array([1, 3, 3], np.int32)
    np.testing.assert_array_equal(dg.isclose(a, b, atol=5).data, [True, False, True])
    assert_same(dg.isclose(a, b, atol=5), K.isclose(a, b, atol=5))


CLASSES = ["isfinite", "isinf", "isnan", "isneginf", "isposinf", "isreal", "logical_not"]


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("name", CLASSES)
def test_unary_predicates_match_keras(name, dtype):
    x = sample(np.random.default_rng(2), dtype, (3, 4))
    if np.dtype(dtype).kind == "f":
        x[0, :4] = [np.nan, np.inf, -np.inf, -0.0]
    ours = getattr(dg, name)(x)
    assert ours.dtype == np.bool_
    assert_same(ours, getattr(K, name)(x))
    assert_same(getattr(dg, name)(dg.Tensor(x, dtype=x.dtype)), getattr(K, name)(x))
    assert_same(getattr(dg, name)(np.zeros((0,), dtype)), getattr(K, name)(np.zeros((0,), dtype)))


@pytest.mark.parametrize("name", CLASSES)
@pytest.mark.parametrize("value", [1, 2.5, True, [1.0, float("inf"), float("nan")]])
def test_unary_predicates_of_python_values(name, value):
    assert_same(getattr(dg, name)(value), getattr(K, name)(value))


def test_number_classes_by_hand():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -2.0], np.float32)
    np.testing.assert_array_equal(dg.isfinite(x).data, [False, False, False, True, True])
    np.testing.assert_array_equal(dg.isinf(x).data, [False, True, True, False, False])
    np.testing.assert_array_equal(dg.isnan(x).data, [True, False, False, False, False])
    np.testing.assert_array_equal(dg.isneginf(x).data, [False, False, True, False, False])
    np.testing.assert_array_equal(dg.isposinf(x).data, [False, True, False, False, False])
    np.testing.assert_array_equal(dg.isreal(np.array([1 + 0j, 1 + 1j])).data, [True, False])


# ----------------------------------------------------------------------------- bitwise
INT_PAIRS = [(d, d) for d in INT_DTYPES] + [("int8", "uint8"), ("uint8", "int32"), ("int32", "int64"),
                                           ("bool", "int8"), ("bool", "uint8")]
BITWISE = ["bitwise_and", "bitwise_or", "bitwise_xor"]
SHIFTS = ["bitwise_left_shift", "bitwise_right_shift", "left_shift", "right_shift"]


def int_sample(rng, dtype, shape, shift=False):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if shift:  # shift counts in [0, 6]: defined for every width here
        return rng.integers(0, 7, shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), shape, endpoint=True).astype(dtype)


@pytest.mark.parametrize("pair", INT_PAIRS, ids=lambda p: f"{p[0]}-{p[1]}")
@pytest.mark.parametrize("name", BITWISE + SHIFTS)
def test_bitwise_binary_matches_keras(name, pair):
    if name in SHIFTS and pair == ("bool", "bool"):
        pytest.skip("two bools cannot be shifted (see test_bitwise_errors)")
    rng = np.random.default_rng(3)
    a = int_sample(rng, pair[0], (4, 1))
    b = int_sample(rng, pair[1], (5,), shift=name in SHIFTS)
    assert_same(getattr(dg, name)(a, b), getattr(K, name)(a, b))
    assert_same(getattr(dg, name)(dg.Tensor(a, dtype=a.dtype), b), getattr(K, name)(a, b))
    if pair[0] != "bool":
        assert_same(getattr(dg, name)(a, 3), getattr(K, name)(a, 3))


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("name", ["bitwise_not", "bitwise_invert"])
def test_bitwise_not_matches_keras(name, dtype):
    x = int_sample(np.random.default_rng(4), dtype, (3, 4))
    assert_same(getattr(dg, name)(x), getattr(K, name)(x))
    assert_same(getattr(dg, name)(5), getattr(K, name)(5))


def test_bitwise_by_hand():
    a, b = np.array([12, -1], np.int32), np.array([10, 5], np.int32)
    np.testing.assert_array_equal(dg.bitwise_and(a, b).data, [8, 5])
    np.testing.assert_array_equal(dg.bitwise_or(a, b).data, [14, -1])
    np.testing.assert_array_equal(dg.bitwise_xor(a, b).data, [6, -6])
    np.testing.assert_array_equal(dg.bitwise_not(a).data, [-13, 0])
    np.testing.assert_array_equal(dg.left_shift(a, 2).data, [48, -4])
    np.testing.assert_array_equal(dg.right_shift(np.array([-8, 9]), 1).data, [-4, 4])


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", BITWISE + SHIFTS)
def test_bitwise_errors(name):
    with pytest.raises(TypeError, match=rf"{name}: argument `y` must be an integer or bool array, got float32"):
        getattr(dg, name)(np.ones(2, "int32"), np.ones(2, "float32"))
    with pytest.raises(TypeError, match=rf"{name}: argument `x` must be an integer or bool array, got float"):
        getattr(dg, name)(1.5, np.ones(2, "int32"))
    if name in SHIFTS:
        with pytest.raises(TypeError, match=rf"{name}: arguments `x` and `y` cannot both be bool"):
            getattr(dg, name)(np.ones(2, bool), True)


def test_bitwise_not_rejects_floats():
    with pytest.raises(TypeError, match="bitwise_not: argument `x` must be an integer or bool array, got float64"):
        dg.bitwise_not(np.ones(2))


@pytest.mark.parametrize("name", COMPARE + ["allclose"] + BITWISE + SHIFTS)
def test_shapes_that_do_not_broadcast_are_named(name):
    with pytest.raises(ValueError, match=rf"{name}: shapes \(2, 3\) and \(4,\) of `x1?` and `(x2|y)` cannot be broadcast"):
        getattr(dg, name)(np.ones((2, 3), "int32"), np.ones(4, "int32"))


def test_results_carry_no_gradient():
    x = dg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    for out in [dg.greater(x, 1.5), dg.isclose(x, x), dg.isfinite(x), dg.logical_not(x)]:
        assert out.dtype == np.bool_ and not out.requires_grad


# ----------------------------------------------------------------------------- surface
MODULE = "deepgrad.ops.logic"
NAMES = ("equal not_equal greater greater_equal less less_equal logical_and logical_or logical_xor logical_not "
         "isclose allclose isfinite isinf isnan isneginf isposinf isreal bitwise_and bitwise_or bitwise_xor "
         "bitwise_not bitwise_invert bitwise_left_shift bitwise_right_shift left_shift right_shift").split()


@pytest.mark.parametrize("name", NAMES)
def test_defined_here_and_exported(name):  # signatures: tests/keras_parity/test_keras_ops_surface.py
    assert name in dg.ops.__all__ and getattr(dg, name).__module__ == MODULE


def test_python_int_beyond_the_dtype_is_compared_by_value():
    """int8 < 300 is true everywhere (Keras on PyTorch wraps 300 to int8's 44 and says 127 < 300 is false)."""
    a = np.array([1, 127], np.int8)
    np.testing.assert_array_equal(dg.less(a, 300).data, [True, True])
    np.testing.assert_array_equal(dg.equal(a, 300).data, [False, False])
    np.testing.assert_array_equal(dg.greater_equal(np.array([0, 255], np.uint8), -1).data, [True, True])
