"""The first ops of deepgrad (``add``, ``exp``, ``sum``, ``reshape``, ...) on generated inputs,
against ``keras.ops`` (torch backend): shapes with broadcasting, negative axes, empty arrays,
and int32, bool, float16, float32 and float64 data. The value and the dtype must be Keras's."""
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import deepgrad as dg  # noqa: E402

DTYPES = ["int32", "bool", "float16", "float32", "float64"]
# Keras's torch backend has no bool kernel for some ops, or differs on purpose; those pairs are
# not generated (a Keras limitation, not a deepgrad one), each with its reason
KERAS_CANNOT = {
    ("subtract", "bool"): "torch refuses bool subtraction", ("negative", "bool"): "torch refuses bool negation",
    ("power", "bool"): "torch's bool power",
    # Keras's torch backend gives float32 here; deepgrad keeps 64-bit results 64-bit
    ("maximum", "float64"): "Keras's torch maximum is float32", ("minimum", "float64"): "same",
    ("relu", "bool"): "torch has no bool relu", ("max", "bool"): "torch's amax has no bool kernel",
    ("min", "bool"): "torch's amin has no bool kernel",
}


def _pairs(names):
    return [(n, d) for n in names for d in DTYPES if (n, d) not in KERAS_CANNOT]

BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "power"]
UNARY = ["negative", "abs", "square", "exp", "log", "sqrt", "sigmoid", "tanh", "relu"]
REDUCE = ["sum", "mean", "max", "min"]


def _values(dtype):
    if dtype == "bool":
        return st.booleans()
    if dtype == "int32":
        return st.integers(1, 5)  # positive, so log/sqrt/power stay finite and exact
    return st.floats(0.25, 4.0, width=16 if dtype == "float16" else 32)


def _array(dtype, shape):
    return hnp.arrays(np.dtype(dtype), shape, elements=_values(dtype))


def _tolerance(dtype):
    return {"float16": 2e-3, "float32": 2e-6}.get(dtype, 1e-12)


def _compare(name, ours, theirs, dtype):
    theirs = keras.ops.convert_to_numpy(theirs)
    ours = np.asarray(ours.data if isinstance(ours, dg.Tensor) else ours)
    assert ours.dtype == theirs.dtype, f"{name} on {dtype}: dtype {ours.dtype}, Keras {theirs.dtype}"
    assert ours.shape == theirs.shape, f"{name} on {dtype}: shape {ours.shape}, Keras {theirs.shape}"
    tol = _tolerance(str(ours.dtype))
    if name == "mean" and dtype == "float64":
        tol = 1e-6  # Keras's torch backend averages float64 in float32; deepgrad in float64
    np.testing.assert_allclose(ours.astype(np.float64), theirs.astype(np.float64), rtol=tol, atol=tol,
                               err_msg=f"{name} on {dtype}")


@st.composite
def _broadcast_pair(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
    return shapes.input_shapes


@pytest.mark.parametrize("name,dtype", _pairs(BINARY))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_binary_ops_match_keras(name, dtype, data):
    a_shape, b_shape = data.draw(_broadcast_pair())
    a, b = data.draw(_array(dtype, a_shape)), data.draw(_array(dtype, b_shape))
    _compare(name, getattr(dg, name)(a, b), getattr(keras.ops, name)(a, b), dtype)


@pytest.mark.parametrize("name,dtype", _pairs(UNARY))
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_unary_ops_match_keras(name, dtype, data):
    x = data.draw(_array(dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)))
    _compare(name, getattr(dg, name)(x), getattr(keras.ops, name)(x), dtype)


@pytest.mark.parametrize("name,dtype", _pairs(REDUCE))
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_reductions_match_keras_on_any_axis(name, dtype, data):
    x = data.draw(_array(dtype, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)))
    axis = data.draw(st.none() | st.integers(-x.ndim, x.ndim - 1))
    # Keras's torch backend drops every axis for axis=None with keepdims=True; deepgrad keeps
    # them with size 1, as NumPy and Keras's other backends do
    keepdims = data.draw(st.booleans()) if axis is not None else False
    _compare(name, getattr(dg, name)(x, axis=axis, keepdims=keepdims),
             getattr(keras.ops, name)(x, axis=axis, keepdims=keepdims), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_shape_ops_match_keras(dtype, data):
    x = data.draw(_array(dtype, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3)))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    _compare("reshape", dg.reshape(x, (-1,)), keras.ops.reshape(x, (-1,)), dtype)
    _compare("transpose", dg.transpose(x), keras.ops.transpose(x), dtype)
    _compare("expand_dims", dg.expand_dims(x, axis), keras.ops.expand_dims(x, axis), dtype)
    _compare("concatenate", dg.concatenate([x, x], axis=axis), keras.ops.concatenate([x, x], axis=axis), dtype)
    _compare("stack", dg.stack([x, x], axis=axis), keras.ops.stack([x, x], axis=axis), dtype)
    _compare("where", dg.where(x.astype(bool), x, x), keras.ops.where(x.astype(bool), x, x), dtype)
