"""Elementwise arithmetic against PyTorch (forward and backward) and central differences."""
import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
import torch
from hypothesis import given
from oracle import check_gradients, compare_with_torch

import deepgrad as dg

DTYPES = [np.float64, np.float32]
pair_shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4)
seeds = st.integers(0, 2**16)


def normal(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def away_from_zero(rng, shape):
    """|x| in [0.5, 2] with random sign: no kink (abs) and no pole (divide) nearby."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)


# name: (deepgrad op, PyTorch op, data for a, data for b)
BINARY = {
    "add": (dg.add, torch.add, normal, normal),
    "subtract": (dg.subtract, torch.sub, normal, normal),
    "multiply": (dg.multiply, torch.mul, normal, normal),
    "divide": (dg.divide, torch.div, normal, away_from_zero),
    "power": (dg.power, torch.pow, positive, normal),  # tensor exponent, positive base
    "maximum": (dg.maximum, torch.maximum, normal, normal),
    "minimum": (dg.minimum, torch.minimum, normal, normal),
}

UNARY = {
    "negative": (dg.negative, torch.neg, normal),
    "exp": (dg.exp, torch.exp, normal),
    "log": (dg.log, torch.log, positive),
    "sqrt": (dg.sqrt, torch.sqrt, positive),
    "abs": (dg.abs, torch.abs, away_from_zero),
    "square": (dg.square, torch.square, normal),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(BINARY))
@given(shapes=pair_shapes, seed=seeds)
def test_binary_matches_torch(name, dtype, shapes, seed):
    ours, theirs, make_a, make_b = BINARY[name]
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    a, b = make_a(rng, sa).astype(dtype), make_b(rng, sb).astype(dtype)
    out = compare_with_torch(ours, theirs, [a, b])
    assert out.shape == shapes.result_shape


@pytest.mark.parametrize("name", list(BINARY))
@given(shapes=pair_shapes, seed=seeds)
def test_binary_central_differences(name, shapes, seed):
    ours, _, make_a, make_b = BINARY[name]
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    check_gradients(ours, [make_a(rng, sa), make_b(rng, sb)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(UNARY))
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), seed=seeds)
def test_unary_matches_torch(name, dtype, shape, seed):
    ours, theirs, make = UNARY[name]
    x = make(np.random.default_rng(seed), shape).astype(dtype)
    compare_with_torch(ours, theirs, [x])
    check_gradients(ours, [x])


@pytest.mark.parametrize("dtype", DTYPES)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=4), seed=seeds)
def test_where_matches_torch(dtype, shapes, seed):
    rng = np.random.default_rng(seed)
    sc, sa, sb = shapes.input_shapes
    a, b = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    cond = rng.random(sc) > 0.5
    # the condition goes last so the oracle takes its tolerance from a float input
    compare_with_torch(lambda a, b, c: dg.where(c, a, b), lambda a, b, c: torch.where(c, a, b), [a, b, cond])
    check_gradients(lambda a, b: dg.where(cond, a, b), [a, b])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bounds", [(-0.5, 0.5), (-0.5, None), (None, 0.5)])
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), seed=seeds)
def test_clip_matches_torch(dtype, bounds, shape, seed):
    lo, hi = bounds
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    compare_with_torch(lambda t: dg.clip(t, lo, hi), lambda t: torch.clamp(t, lo, hi), [x])
    check_gradients(lambda t: dg.clip(t, lo, hi), [x])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1.5])
def test_power_with_scalar_exponent(dtype, exponent):
    x = np.random.default_rng(0).uniform(0.5, 2.0, (3, 4)).astype(dtype)
    compare_with_torch(lambda t: t ** exponent, lambda t: t ** exponent, [x])
    compare_with_torch(lambda t: dg.power(t, exponent), lambda t: torch.pow(t, exponent), [x])
    check_gradients(lambda t: t ** exponent, [x])


def test_maximum_tie_splits_the_gradient():
    a = dg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = dg.Tensor(np.array([1.0, 5.0, 0.0]), requires_grad=True)
    dg.maximum(a, b).backward(np.array([2.0, 1.0, 1.0]))
    np.testing.assert_array_equal(a.grad, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad, [1.0, 1.0, 0.0])


def test_clip_gradient_passes_on_the_bounds():
    x = dg.Tensor(np.array([-1.0, -0.5, 0.0, 0.5, 1.0]), requires_grad=True)
    dg.clip(x, -0.5, 0.5).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.0, 1.0, 0.0])  # as torch.clamp


# ------------------------------------------------------------ operators and reflected operators
OPERATORS = [
    ("t + 2", lambda t: t + 2), ("2 + t", lambda t: 2 + t),
    ("t - 2", lambda t: t - 2), ("2 - t", lambda t: 2 - t),
    ("t * 3", lambda t: t * 3), ("3 * t", lambda t: 3 * t),
    ("t / 4", lambda t: t / 4), ("4 / t", lambda t: 4 / t),
    ("t ** 2", lambda t: t ** 2), ("2 ** t", lambda t: 2 ** t),
    ("-t", lambda t: -t), ("+t", lambda t: +t), ("abs(t)", lambda t: abs(t)),
    ("t * t + t", lambda t: t * t + t),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("expr,fn", OPERATORS, ids=[e for e, _ in OPERATORS])
def test_operators_match_torch(expr, fn, dtype):
    x = np.random.default_rng(3).uniform(0.5, 2.0, (2, 3)).astype(dtype)
    out = compare_with_torch(fn, fn, [x])
    assert out.dtype == dtype, expr


LEFT_ARRAY_OPS = {
    "add": lambda a, t: a + t, "subtract": lambda a, t: a - t,
    "multiply": lambda a, t: a * t, "divide": lambda a, t: a / t, "matmul": lambda a, t: a @ t.T,
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(LEFT_ARRAY_OPS))
def test_ndarray_on_the_left_defers_to_the_tensor(name, dtype):
    # ``np_array * t`` must reach Tensor.__rmul__, not NumPy's elementwise loop over objects
    fn = LEFT_ARRAY_OPS[name]
    rng = np.random.default_rng(4)
    arr = rng.standard_normal((2, 3)).astype(dtype)
    x = rng.uniform(0.5, 2.0, (2, 3)).astype(dtype)
    out = compare_with_torch(lambda t: fn(arr, t), lambda t: fn(torch.tensor(arr), t), [x])
    assert isinstance(out, dg.Tensor) and out.dtype == dtype


def test_tensor_operator_with_tensor_exponent_matches_torch():
    rng = np.random.default_rng(5)
    a, b = rng.uniform(0.5, 2.0, (3, 1)), rng.standard_normal((4,))
    compare_with_torch(lambda a, b: a ** b, lambda a, b: a ** b, [a, b])


# ------------------------------------------------------------ errors
@pytest.mark.parametrize("name", list(BINARY))
def test_broadcast_error_names_op_and_shapes(name):
    ours = BINARY[name][0]
    with pytest.raises(ValueError, match=rf"{name}: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        ours(dg.Tensor(np.ones((2, 3))), dg.Tensor(np.ones(4)))


def test_operator_broadcast_error_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\)"):
        dg.Tensor(np.ones((2, 3))) + np.ones(4)
    with pytest.raises(ValueError, match=r"multiply: shapes \(5,\) and \(2, 3\)"):
        np.ones(5) * dg.Tensor(np.ones((2, 3)))


def test_where_broadcast_error_names_all_shapes():
    with pytest.raises(ValueError, match=r"where: shapes \(2, 3\), \(4,\) and \(2, 3\) cannot be broadcast"):
        dg.where(np.ones((2, 3)) > 0, np.ones(4), dg.Tensor(np.ones((2, 3))))
