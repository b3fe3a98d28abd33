"""N-D max_pool, average_pool and adaptive pooling: values against Keras, gradients against PyTorch."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import inspect  # noqa: E402
import itertools  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from oracle import check_gradients, compare_with_torch  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad.ops import nn as dnn  # noqa: E402

SPATIAL = (7, 6, 5)


def normal(seed, shape, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def case(nd, data_format, seed=0, dtype=np.float64):
    x = normal(seed, (2, *SPATIAL[:nd], 3), dtype)
    return np.moveaxis(x, -1, 1).copy() if data_format == "channels_first" else x


def symmetric_same(nd, pool, strides):
    """True when "same" pads every axis equally on both sides (Keras's torch backend then matches)."""
    strides = strides or pool
    for n in SPATIAL[:nd]:
        out = -(-n // strides)
        total = max((out - 1) * strides + pool - n, 0)
        if total % 2:
            return False
    return True


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("padding,pool,strides", [
    (p, k, s) for p, k, s in itertools.product(["valid", "same"], [2, 3], [None, 1, 2])])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_pools_match_keras(nd, padding, pool, strides, data_format):
    x = case(nd, data_format)
    for name in ["max_pool", "average_pool"]:
        if name == "average_pool" and padding == "same" and not symmetric_same(nd, pool, strides):
            continue  # see test_average_pool_same_counts_only_real_cells
        expected = keras.ops.convert_to_numpy(getattr(keras.ops, name)(x, pool, strides, padding, data_format))
        out = getattr(dg, name)(x, pool, strides, padding, data_format)
        assert out.dtype == expected.dtype
        np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12, err_msg=name)


def test_average_pool_same_counts_only_real_cells():
    # length 6, pool 3, stride 2: "same" pads one cell after; the last window holds x4, x5 only.
    # (Keras's torch backend repeats x5 into that cell; TensorFlow and JAX average the real cells.)
    x = np.arange(6.0).reshape(1, 6, 1)
    out = dg.average_pool(x, 3, 2, "same").data[0, :, 0]
    np.testing.assert_allclose(out, [(0 + 1 + 2) / 3, (2 + 3 + 4) / 3, (4 + 5) / 2])
    np.testing.assert_allclose(dg.max_pool(x, 3, 2, "same").data[0, :, 0], [2, 4, 5])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int32])
def test_dtypes_match_keras(dtype):
    x = (normal(0, (2, 6, 6, 3)) * 4).astype(dtype)
    for name in ["max_pool", "average_pool"]:
        if dtype == np.int32 and name == "average_pool":
            continue  # Keras's torch backend cannot average integers
        expected = keras.ops.convert_to_numpy(getattr(keras.ops, name)(x, 2))
        out = getattr(dg, name)(x, 2)
        np.testing.assert_allclose(out.data.astype(np.float64), expected.astype(np.float64), rtol=1e-3)
        if dtype != np.int32:
            assert out.dtype == expected.dtype


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("output_size", [1, 3, 4, "mixed"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_adaptive_pools_match_keras(nd, output_size, data_format):
    size = (2, 5, 3)[:nd] if output_size == "mixed" else output_size
    x = case(nd, data_format, seed=nd)
    for name in ["adaptive_max_pool", "adaptive_average_pool"]:
        expected = keras.ops.convert_to_numpy(getattr(keras.ops, name)(x, size, data_format))
        out = getattr(dg, name)(x, size, data_format)
        assert out.shape == expected.shape
        np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12, err_msg=name)


def channels_first_torch(fn):
    """A PyTorch channels-first pool applied to channels-last data."""
    return lambda t: torch.movedim(fn(torch.movedim(t, -1, 1)), 1, -1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd,pool,strides,pad", [
    (1, 2, 2, 0), (1, 3, 1, 1), (1, 3, 2, 1), (2, 2, 2, 0), (2, 3, 1, 1), (2, 3, 2, 0), (3, 2, 2, 0), (3, 3, 1, 1),
])
def test_pool_gradients_match_torch(nd, pool, strides, pad, dtype):
    x = case(nd, "channels_last", seed=pool, dtype=dtype)
    padding = "same" if pad else "valid"  # these "same" cases pad (1, 1): PyTorch's padding=1
    tmax = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[nd - 1]
    tavg = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[nd - 1]
    compare_with_torch(lambda t: dg.max_pool(t, pool, strides, padding),
                       channels_first_torch(lambda t: tmax(t, pool, strides, pad)), [x])
    compare_with_torch(lambda t: dg.average_pool(t, pool, strides, padding),
                       channels_first_torch(lambda t: tavg(t, pool, strides, pad, count_include_pad=False)), [x])


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("size", [1, 3, 4])
def test_adaptive_gradients_match_torch(nd, size):
    x = case(nd, "channels_last", seed=size)
    tmax = (F.adaptive_max_pool1d, F.adaptive_max_pool2d, F.adaptive_max_pool3d)[nd - 1]
    tavg = (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d)[nd - 1]
    compare_with_torch(lambda t: dg.adaptive_max_pool(t, size), channels_first_torch(lambda t: tmax(t, size)), [x])
    compare_with_torch(lambda t: dg.adaptive_average_pool(t, size), channels_first_torch(lambda t: tavg(t, size)), [x])


@pytest.mark.parametrize("name,kwargs", [
    ("max_pool", {"pool_size": 2, "strides": 1, "padding": "same"}),
    ("average_pool", {"pool_size": 3, "strides": 2, "padding": "same"}),
    ("average_pool", {"pool_size": (2, 3), "strides": 1, "data_format": "channels_first"}),
    ("adaptive_max_pool", {"output_size": (2, 3)}),
    ("adaptive_average_pool", {"output_size": (3, 2)}),
])
def test_central_differences(name, kwargs):
    check_gradients(lambda t: getattr(dg, name)(t, **kwargs), [normal(4, (2, 5, 4, 4))])


def test_signatures_match_keras():
    for name in ["max_pool", "average_pool", "adaptive_max_pool", "adaptive_average_pool"]:
        assert inspect.signature(getattr(dnn, name)) == inspect.signature(getattr(keras.ops.nn, name)), name
        assert getattr(dg.ops, name) is getattr(dnn, name)


def test_errors_name_the_op():
    x = np.zeros((1, 4, 4, 2))
    with pytest.raises(ValueError, match="max_pool: pool_size"):
        dg.max_pool(x, (2, 2, 2))
    with pytest.raises(ValueError, match="average_pool: padding"):
        dg.average_pool(x, 2, padding="causal")
    with pytest.raises(ValueError, match="max_pool: inputs must have rank"):
        dg.max_pool(np.zeros((4, 4)), 2)
    with pytest.raises(ValueError, match="does not fit"):
        dg.max_pool(x, 5)
    with pytest.raises(ValueError, match="adaptive_average_pool: output_size"):
        dg.adaptive_average_pool(x, 0)


BACKWARD_CASES = {
    "MaxPool": (lambda t: dg.max_pool(t, 3, 2, "same"), [normal(0, (2, 5, 5, 3))]),
    "AveragePool": (lambda t: dg.average_pool(t, 3, 2, "same"), [normal(0, (2, 5, 5, 3))]),
    "AdaptiveMax1D": (lambda t: dg.adaptive_max_pool(t, 3), [normal(0, (2, 7, 3))]),
    "AdaptiveAverage1D": (lambda t: dg.adaptive_average_pool(t, 3), [normal(0, (2, 7, 3))]),
}


