"""The activations of keras.ops.nn: values and dtypes against Keras, gradients against PyTorch."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import hypothesis.extra.numpy as hnp  # noqa: E402
import hypothesis.strategies as st  # noqa: E402
import inspect  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hypothesis import assume, given, settings  # noqa: E402
from oracle import check_gradients, compare_with_torch  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad.ops import nn as dnn  # noqa: E402


def away_from_kinks(seed, shape, dtype=np.float64):
    """|x| in [0.05, 4] with random sign, and never within 0.02 of the kinks at +-0.5, +-1, 3, 6."""
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.05, 4.0, shape)
    for kink in (-6, -3, -1, -0.5, 0.5, 1, 3, 6):
        x = np.where(np.abs(x - kink) < 0.02, x + 0.05, x)
    return x.astype(dtype)


def torch_sparse_plus(t):
    return torch.where(t <= -1, torch.zeros_like(t), torch.where(t < 1, (t + 1) ** 2 / 4, t))


def torch_sparsemax(t, axis=-1):
    z, _ = torch.sort(t, dim=axis, descending=True)
    c = torch.cumsum(z, dim=axis)
    shape = [1] * t.ndim
    shape[axis] = -1
    k = torch.arange(1, t.shape[axis] + 1, dtype=t.dtype).view(shape)
    support = z - (c - 1) / k > 0
    size = support.sum(dim=axis, keepdim=True)
    tau = (torch.gather(c, axis, size - 1) - 1) / size
    return torch.clamp(t - tau, min=0)


def clear_of_support_boundary(x, axis):
    """No element of sparsemax's input within 1e-3 of its threshold tau (where the Jacobian jumps)."""
    x = x.astype(np.float64)
    out = torch_sparsemax(torch.tensor(x), axis).numpy()
    tau = np.max(np.where(out > 0, x - out, -np.inf), axis=axis, keepdims=True)
    return bool(np.all(np.abs(x - tau) > 1e-3))


# name: (deepgrad call, PyTorch call, keyword arguments for Keras and deepgrad)
CASES = {
    "relu6": (dg.relu6, F.relu6, {}),
    "hard_tanh": (dg.hard_tanh, F.hardtanh, {}),
    "hard_sigmoid": (dg.hard_sigmoid, F.hardsigmoid, {}),
    "hard_silu": (dg.hard_silu, F.hardswish, {}),
    "hard_swish": (dg.hard_swish, F.hardswish, {}),
    "silu": (dg.silu, F.silu, {}),
    "swish": (dg.swish, F.silu, {}),
    "log_sigmoid": (dg.log_sigmoid, F.logsigmoid, {}),
    "celu": (lambda t: dg.celu(t, alpha=0.7), lambda t: F.celu(t, alpha=0.7), {"alpha": 0.7}),
    "glu": (lambda t: dg.glu(t, axis=0), lambda t: F.glu(t, dim=0), {"axis": 0}),
    "hard_shrink": (dg.hard_shrink, F.hardshrink, {}),
    "soft_shrink": (lambda t: dg.soft_shrink(t, 1.0), lambda t: F.softshrink(t, 1.0), {"threshold": 1.0}),
    "softsign": (dg.softsign, F.softsign, {}),
    "sparse_plus": (dg.sparse_plus, torch_sparse_plus, {}),
    "sparse_sigmoid": (dg.sparse_sigmoid, lambda t: torch.clamp((t + 1) / 2, 0, 1), {}),
    "sparsemax": (lambda t: dg.sparsemax(t, axis=1), lambda t: torch_sparsemax(t, 1), {"axis": 1}),
    "squareplus": (lambda t: dg.squareplus(t, b=2), lambda t: (t + torch.sqrt(t * t + 2)) / 2, {"b": 2}),
    "tanh_shrink": (dg.tanh_shrink, F.tanhshrink, {}),
    "threshold": (lambda t: dg.threshold(t, 0.5, -3.0), lambda t: F.threshold(t, 0.5, -3.0),
                  {"threshold": 0.5, "default_value": -3.0}),
    "gelu": (dnn.gelu, lambda t: F.gelu(t, approximate="tanh"), {}),  # Keras's default: the tanh form
    "gelu_exact": (lambda t: dnn.gelu(t, approximate=False), F.gelu, {"approximate": False}),
}
KERAS_NAME = {"gelu_exact": "gelu"}


def keras_value(name, x):
    fn = getattr(keras.ops.nn, KERAS_NAME.get(name, name))
    return keras.ops.convert_to_numpy(fn(x, **CASES[name][2]))


def ours(name, x):
    return getattr(dnn, KERAS_NAME.get(name, name))(x, **CASES[name][2])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("name", list(CASES))
def test_values_and_dtypes_match_keras(name, dtype):
    x = away_from_kinks(0, (4, 3, 6), dtype)
    expected = keras_value(name, x)
    if name == "sparsemax":
        # Keras 3.15's tau sums the cumulative sums (right only when the support has one entry):
        # the values come from the simplex projection instead, the dtype from Keras
        expected = torch_sparsemax(torch.tensor(x.astype(np.float64)), 1).numpy().astype(expected.dtype)
    out = ours(name, x)
    assert isinstance(out, dg.Tensor)
    assert out.dtype == expected.dtype
    tol = 2e-3 if dtype == "float16" else 1e-6
    np.testing.assert_allclose(out.data.astype(np.float64), expected.astype(np.float64), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", ["relu6", "hard_tanh", "threshold", "sparse_sigmoid", "softsign", "squareplus",
                                  "tanh_shrink", "sparsemax"])
def test_integer_input_matches_keras(name):
    # Keras keeps int32 for the piecewise-linear ones and gives float32 for the others
    x = np.array([[-7, -2, 0, 1, 3, 8]], np.int32)
    expected = keras_value(name, x)
    out = ours(name, x)
    assert out.dtype == expected.dtype
    np.testing.assert_allclose(out.data, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["silu", "log_sigmoid", "celu", "hard_silu", "softsign", "gelu"])
def test_python_lists_and_int_input_become_floatx(name):
    out = ours(name, [[1, -2], [3, 0]])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, ours(name, np.array([[1.0, -2.0], [3.0, 0.0]], np.float32)).data)


@pytest.mark.parametrize("name", [n for n in CASES if n not in ("glu",)])
def test_empty_input(name):
    x = np.zeros((0, 3), np.float32)
    assert ours(name, x).shape == keras_value(name, x).shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(CASES))
@settings(max_examples=8)
@given(shape=hnp.array_shapes(min_dims=2, max_dims=3, min_side=2, max_side=4), seed=st.integers(0, 2**16))
def test_gradients_match_torch(name, dtype, shape, seed):
    shape = (2 * shape[0],) + shape[1:]  # glu halves axis 0
    x = away_from_kinks(seed, shape, dtype)
    if name == "sparsemax":
        assume(clear_of_support_boundary(x, axis=1))
    # PyTorch's hardsigmoid and celu backward use 1/6 and 1/alpha rounded to float32
    loose = {"rtol": 1e-7, "atol": 1e-8} if name in ("hard_sigmoid", "celu") and dtype == np.float64 else {}
    compare_with_torch(CASES[name][0], CASES[name][1], [x], **loose)


@pytest.mark.parametrize("name", list(CASES))
def test_gradients_match_central_differences(name):
    check_gradients(CASES[name][0], [away_from_kinks(3, (4, 3), np.float64)])


def test_signatures_match_keras():
    for name in ["celu", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
                 "log_sigmoid", "relu6", "silu", "soft_shrink", "softsign", "sparse_plus", "sparse_sigmoid",
                 "sparsemax", "squareplus", "swish", "tanh_shrink", "threshold", "relu", "sigmoid", "elu",
                 "selu", "softplus", "softmax", "log_softmax", "leaky_relu"]:
        assert inspect.signature(getattr(dnn, name)) == inspect.signature(getattr(keras.ops.nn, name)), name


def test_stable_for_large_inputs():
    x = np.array([-1e4, -100.0, 100.0, 1e4], np.float32)
    for name in ["silu", "log_sigmoid", "celu", "softsign", "squareplus", "tanh_shrink"]:
        out = ours(name, x)
        assert np.all(np.isfinite(out.data)), name
        np.testing.assert_allclose(out.data, keras_value(name, x), rtol=1e-6, atol=1e-6)


def test_sparsemax_matches_keras_when_one_entry_is_in_the_support():
    x = np.array([[5.0, 1.0, 0.2, -1.0], [0.1, -3.0, 2.5, 0.4]], np.float32)
    np.testing.assert_allclose(dg.sparsemax(x).data, keras.ops.convert_to_numpy(keras.ops.sparsemax(x)))
    np.testing.assert_array_equal(dg.sparsemax(x).data, [[1, 0, 0, 0], [0, 0, 1, 0]])


def test_sparsemax_sums_to_one_with_exact_zeros():
    x = np.array([[3.0, 1.0, 0.2, -1.0], [0.1, 0.2, 0.3, 0.4]])
    out = dg.sparsemax(x).data
    np.testing.assert_allclose(out.sum(axis=-1), 1.0)
    np.testing.assert_array_equal(out[0], [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(out[1], [0.1, 0.2, 0.3, 0.4], atol=1e-12)  # already on the simplex


def test_errors_name_the_op():
    with pytest.raises(ValueError, match="glu.*even"):
        dg.glu(np.ones((2, 3)))
    with pytest.raises(ValueError, match="glu.*axis"):
        dg.glu(np.ones((2, 4)), axis=2)
    with pytest.raises(ValueError, match="sparsemax.*axis"):
        dg.sparsemax(np.ones((2, 4)), axis=-3)
    with pytest.raises(ValueError, match="celu.*alpha"):
        dg.celu(np.ones(3), alpha=0)


BACKWARD_CASES = {
    "ReLU6": (dg.relu6, [away_from_kinks(1, (3, 4))]),
    "HardTanh": (dg.hard_tanh, [away_from_kinks(1, (3, 4))]),
    "HardSigmoid": (dg.hard_sigmoid, [away_from_kinks(1, (3, 4))]),
    "HardSilu": (dg.hard_silu, [away_from_kinks(1, (3, 4))]),
    "Silu": (dg.silu, [away_from_kinks(1, (3, 4))]),
    "LogSigmoid": (dg.log_sigmoid, [away_from_kinks(1, (3, 4))]),
    "CELU": (dg.celu, [away_from_kinks(1, (3, 4))]),
    "GLU": (dg.glu, [away_from_kinks(1, (3, 4))]),
    "Shrink": (dg.soft_shrink, [away_from_kinks(1, (3, 4))]),
    "Softsign": (dg.softsign, [away_from_kinks(1, (3, 4))]),
    "SparsePlus": (dg.sparse_plus, [away_from_kinks(1, (3, 4))]),
    "SparseSigmoid": (dg.sparse_sigmoid, [away_from_kinks(1, (3, 4))]),
    "Sparsemax": (dg.sparsemax, [away_from_kinks(1, (3, 4))]),
    "Squareplus": (dg.squareplus, [away_from_kinks(1, (3, 4))]),
    "TanhShrink": (dg.tanh_shrink, [away_from_kinks(1, (3, 4))]),
    "Threshold": (lambda t: dg.threshold(t, 0.2, 0.0), [away_from_kinks(1, (3, 4))]),
}


