"""The dtype policy for every op: float32 stays float32 (Python scalars included), float64 stays
float64, ``Tensor()`` makes lists and integer arrays float32, and ops give Keras's dtypes on
integer data (integers where Keras keeps them, floatx where Keras computes in floats)."""
import numpy as np
import pytest

import deepgrad as dg

COND = np.array([[True, False, True], [False, True, True]])
LABELS = np.array([2, 0])


def _split_sum(t):
    a, b = dg.split(t, [1], axis=1)
    return a.sum() + b.sum() * 2.0


# name: (function of one (2, 3) tensor with values in [0.5, 2] -> a tensor)
OPS = {
    "add": lambda t: dg.add(t, t), "add_scalar": lambda t: t + 2.0, "radd_scalar": lambda t: 2.0 + t,
    "subtract": lambda t: dg.subtract(t, 1.5), "rsub_scalar": lambda t: 2 - t,
    "multiply": lambda t: dg.multiply(t, 3.0), "rmul_scalar": lambda t: 3 * t,
    "divide": lambda t: dg.divide(t, 4.0), "rdiv_scalar": lambda t: 1.0 / t,
    "power_scalar": lambda t: dg.power(t, 0.5), "power_tensor": lambda t: dg.power(t, t),
    "rpow_scalar": lambda t: 2.0 ** t, "negative": dg.negative, "exp": dg.exp, "log": dg.log,
    "sqrt": dg.sqrt, "abs": dg.abs, "square": dg.square,
    "maximum": lambda t: dg.maximum(t, 1.0), "minimum": lambda t: dg.minimum(t, 1.0),
    "where": lambda t: dg.where(COND, t, 0.0), "clip": lambda t: dg.clip(t, 0.7, 1.5),
    "matmul": lambda t: dg.matmul(t, t.T), "matmul_1d": lambda t: dg.matmul(t[0], t[1]),
    "sum": lambda t: dg.sum(t, axis=0), "mean": lambda t: dg.mean(t, axis=(0, 1), keepdims=True),
    "max": lambda t: dg.max(t, axis=1), "min": dg.min, "var": lambda t: dg.var(t, axis=0),
    "std": lambda t: dg.std(t, axis=1, ddof=1), "logsumexp": lambda t: dg.logsumexp(t, axis=-1),
    "reshape": lambda t: dg.reshape(t, (3, 2)), "transpose": dg.transpose,
    "expand_dims": lambda t: dg.expand_dims(t, 0), "squeeze": lambda t: dg.squeeze(t[None]),
    "broadcast_to": lambda t: dg.broadcast_to(t, (4, 2, 3)),
    "concatenate": lambda t: dg.concatenate([t, t], axis=0), "stack": lambda t: dg.stack([t, t], axis=1),
    "split": _split_sum, "pad": lambda t: dg.pad(t, 1, constant_values=1.0),
    "swapaxes": lambda t: dg.swapaxes(t, 0, 1), "slice": lambda t: t[:, 1:],
    "integer_index": lambda t: t[[0, 0, 1]], "take": lambda t: dg.take(t, [1, 1, 4]),
    "sigmoid": dg.sigmoid, "tanh": dg.tanh, "relu": dg.relu, "leaky_relu": lambda t: dg.leaky_relu(t, 0.1),
    "elu": lambda t: dg.elu(-t), "selu": lambda t: dg.selu(-t), "gelu": dg.gelu,
    "gelu_tanh": lambda t: dg.gelu(t, approximate=True), "softplus": dg.softplus,
    "softmax": dg.softmax, "log_softmax": lambda t: dg.log_softmax(t, axis=0),
    "cross_entropy_sparse": lambda t: dg.softmax_cross_entropy(t, LABELS),
    "cross_entropy_dense": lambda t: dg.softmax_cross_entropy(t, [[0.2, 0.3, 0.5], [1, 0, 0]]),
    "dropout": lambda t: dg.dropout(t, 0.5, training=True),
    "astype_roundtrip": lambda t: dg.astype(dg.astype(t, np.float16), t.dtype),
}


def _values(dtype):
    return np.random.default_rng(0).uniform(0.5, 2.0, (2, 3)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(OPS))
def test_op_keeps_the_input_dtype_forward_and_backward(name, dtype):
    x = dg.Tensor(_values(dtype), requires_grad=True)
    out = OPS[name](x)
    assert out.dtype == dtype, f"{name}: output {out.dtype}"
    out.backward(np.ones(out.shape, dtype))
    assert x.grad is not None and x.grad.dtype == dtype, f"{name}: gradient {x.grad.dtype}"
    assert np.all(np.isfinite(x.grad))


def test_binary_ops_of_two_float32_tensors_with_broadcasting_stay_float32():
    a = dg.Tensor(_values(np.float32), requires_grad=True)
    b = dg.Tensor(np.float32([1.5, 0.5, 2.0]), requires_grad=True)
    for op in (dg.add, dg.subtract, dg.multiply, dg.divide, dg.power, dg.maximum, dg.minimum):
        a.grad = b.grad = None
        out = op(a, b)
        out.sum().backward()
        assert (out.dtype, a.grad.dtype, b.grad.dtype) == (np.float32,) * 3, op.__name__


def test_an_ndarray_float64_operand_does_not_change_its_own_dtype():
    # NumPy's rule: mixing float32 and float64 arrays gives float64; a Python scalar does not
    x = dg.Tensor(_values(np.float32))
    assert (x * 2.5).dtype == np.float32
    assert (x * np.float64(2.5)).dtype == np.float32
    assert (x * np.ones(3)).dtype == np.float64


@pytest.mark.parametrize("value", [[1, 2, 3], [1.0, 2.5], 3, 2.5, True, np.arange(4), np.arange(4, dtype=np.int8),
                                   np.array([True, False])])
def test_lists_numbers_and_integer_arrays_become_float32_tensors(value):
    t = dg.Tensor(value)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.data, np.asarray(value, np.float64))
    assert dg.exp(value).dtype == np.float32  # Keras computes exp in floatx


# Keras's dtypes for integer and bool data (keras.ops on the torch backend): an op that keeps
# integers gives integers, one that computes in floats gives floatx. Checked against Keras in
# test_integer_and_bool_inputs_follow_keras below.
INT_OPS = {
    "add": lambda x: dg.add(x, x), "subtract": lambda x: dg.subtract(x, x), "multiply": lambda x: dg.multiply(x, x),
    "maximum": lambda x: dg.maximum(x, x), "minimum": lambda x: dg.minimum(x, x), "negative": dg.negative,
    "abs": dg.abs, "square": dg.square, "power": lambda x: dg.power(x, x), "divide": lambda x: dg.divide(x, x),
    "exp": dg.exp, "log": dg.log, "sqrt": dg.sqrt, "sum": dg.sum, "mean": dg.mean, "max": dg.max, "min": dg.min,
    "var": dg.var, "std": dg.std, "logsumexp": dg.logsumexp, "reshape": lambda x: dg.reshape(x, (-1,)),
    "transpose": dg.transpose, "expand_dims": lambda x: dg.expand_dims(x, 0),
    "squeeze": lambda x: dg.squeeze(dg.expand_dims(x, 0)), "concatenate": lambda x: dg.concatenate([x, x]),
    "stack": lambda x: dg.stack([x, x]), "split": lambda x: dg.split(x, 2, axis=0)[0],
    "pad": lambda x: dg.pad(x, ((1, 1), (0, 2))), "take": lambda x: dg.take(x, [1, 0]),
    "where": lambda x: dg.where(COND, x, x), "clip": lambda x: dg.clip(x, 2, 4),
    "matmul": lambda x: dg.matmul(x, dg.transpose(x)), "sigmoid": dg.sigmoid, "tanh": dg.tanh, "relu": dg.relu,
    "broadcast_to": lambda x: dg.broadcast_to(x, (3, 2, 3)),
}
KERAS_INT_OPS = {  # the same calls on keras.ops
    "add": "add(x, x)", "subtract": "subtract(x, x)", "multiply": "multiply(x, x)", "maximum": "maximum(x, x)",
    "minimum": "minimum(x, x)", "negative": "negative(x)", "abs": "abs(x)", "square": "square(x)",
    "power": "power(x, x)", "divide": "divide(x, x)", "exp": "exp(x)", "log": "log(x)", "sqrt": "sqrt(x)",
    "sum": "sum(x)", "mean": "mean(x)", "max": "max(x)", "min": "min(x)", "var": "var(x)", "std": "std(x)",
    "logsumexp": "logsumexp(x)", "reshape": "reshape(x, (-1,))", "transpose": "transpose(x)",
    "expand_dims": "expand_dims(x, 0)", "squeeze": "squeeze(expand_dims(x, 0))",
    "concatenate": "concatenate([x, x])", "stack": "stack([x, x])", "split": "split(x, 2, axis=0)[0]",
    "pad": "pad(x, ((1, 1), (0, 2)))", "take": "take(x, [1, 0])", "where": "where(COND, x, x)", "clip": "clip(x, 2, 4)",
    "matmul": "matmul(x, transpose(x))", "sigmoid": "sigmoid(x)", "tanh": "tanh(x)", "relu": "relu(x)",
    "broadcast_to": "broadcast_to(x, (3, 2, 3))",
}
INTS = np.array([[1, 2, 3], [4, 5, 6]], np.int32)


@pytest.mark.parametrize("name", list(INT_OPS))
@pytest.mark.parametrize("kind", ["ndarray", "tensor", "list"])
def test_integer_inputs_follow_keras(name, kind):
    import os
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    x = {"ndarray": INTS, "tensor": dg.Tensor(INTS, dtype="int32"), "list": INTS.tolist()}[kind]
    expected = keras.ops.convert_to_numpy(eval(KERAS_INT_OPS[name], vars(keras.ops), {"x": INTS, "COND": COND}))
    out = INT_OPS[name](x)
    assert out.dtype == expected.dtype, f"{name} of {kind}: {out.dtype}, Keras {expected.dtype}"
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)


def test_mixed_integer_and_float_inputs_give_the_float_dtype():
    f32 = dg.Tensor(np.ones(3, np.float32))
    assert dg.add(INTS, 2.5).dtype == np.float32  # Keras: int32 with a Python float is floatx
    assert dg.add(INTS, 2).dtype == np.int32
    assert dg.multiply(f32, np.arange(3)).dtype == np.float32
    assert (dg.Tensor(INTS, dtype="int32") + 1).dtype == np.int32
    assert (dg.Tensor(INTS, dtype="int32") / 2).dtype == np.float32
    assert dg.sum(np.array([True, True, False])).dtype == np.int32  # Keras sums bools as int32
    assert dg.sum(np.arange(3, dtype=np.int8)).dtype == np.int32


def test_float_arrays_keep_their_dtype_and_floatx_follows_the_backend():
    assert dg.Tensor(np.ones(2, np.float64)).dtype == np.float64
    assert dg.Tensor(np.ones(2, np.float16)).dtype == np.float16
    assert dg.Tensor([1, 2], dtype=np.float64).dtype == np.float64
    dg.backend.set_floatx("float64")
    try:
        assert dg.Tensor([1, 2]).dtype == np.float64
    finally:
        dg.backend.set_floatx("float32")
    assert dg.Tensor([1, 2]).dtype == np.float32


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="Only floating-point tensors can require gradients"):
        dg.Tensor(np.arange(3), dtype=np.int64, requires_grad=True)
