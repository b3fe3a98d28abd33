"""Reductions against PyTorch: axis None, int, negative int and tuples, with and without keepdims."""
import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
import torch
from hypothesis import assume, given
from oracle import check_gradients, compare_with_torch

import deepgrad as dg

DTYPES = [np.float64, np.float32]


@st.composite
def shape_and_axis(draw, min_dims=1):
    """A shape and an axis for it: None, an int (possibly negative) or a tuple of distinct axes."""
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=4, max_side=4))
    nd = len(shape)
    axis = draw(st.one_of(
        st.none(),
        st.integers(-nd, nd - 1),
        st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=nd,
                 unique_by=lambda a: a % nd).map(tuple),
    ))
    return shape, axis


def torch_dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


def count(shape, axis):
    axes = range(len(shape)) if axis is None else ([axis] if isinstance(axis, int) else axis)
    return int(np.prod([shape[a] for a in axes]))


# name: (deepgrad op, PyTorch op taking (t, dims, keepdim))
REDUCTIONS = {
    "sum": (dg.sum, lambda t, d, k: torch.sum(t, dim=d, keepdim=k)),
    "mean": (dg.mean, lambda t, d, k: torch.mean(t, dim=d, keepdim=k)),
    "max": (dg.max, lambda t, d, k: torch.amax(t, dim=d, keepdim=k)),
    "min": (dg.min, lambda t, d, k: torch.amin(t, dim=d, keepdim=k)),
    "var": (dg.var, lambda t, d, k: torch.var(t, dim=d, keepdim=k, correction=0)),
    "std": (dg.std, lambda t, d, k: torch.std(t, dim=d, keepdim=k, correction=0)),
    "logsumexp": (dg.logsumexp, lambda t, d, k: torch.logsumexp(t, dim=d, keepdim=k)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", list(REDUCTIONS))
@given(case=shape_and_axis(), seed=st.integers(0, 2**16))
def test_reduction_matches_torch(name, keepdims, dtype, case, seed):
    shape, axis = case
    if name == "std":
        assume(count(shape, axis) > 1)  # the std of one element has an infinite gradient
    ours, theirs = REDUCTIONS[name]
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    out = compare_with_torch(lambda t: ours(t, axis=axis, keepdims=keepdims),
                             lambda t: theirs(t, torch_dims(axis, len(shape)), keepdims), [x])
    assert out.shape == np.sum(x, axis=axis, keepdims=keepdims).shape


@pytest.mark.parametrize("name", list(REDUCTIONS))
@given(case=shape_and_axis(), keepdims=st.booleans(), seed=st.integers(0, 2**16))
def test_reduction_central_differences(name, case, keepdims, seed):
    shape, axis = case
    if name == "std":
        assume(count(shape, axis) > 1)
    ours = REDUCTIONS[name][0]
    x = np.random.default_rng(seed).standard_normal(shape)
    check_gradients(lambda t: ours(t, axis=axis, keepdims=keepdims), [x])


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("axis", [None, 0, (0, 2)])
def test_var_std_with_ddof_match_torch(name, axis):
    ours, _ = REDUCTIONS[name]
    theirs = getattr(torch, name)
    x = np.random.default_rng(7).standard_normal((3, 2, 4))
    compare_with_torch(lambda t: ours(t, axis=axis, ddof=1),
                       lambda t: theirs(t, dim=torch_dims(axis, 3), correction=1), [x])
    check_gradients(lambda t: ours(t, axis=axis, ddof=1), [x])


@pytest.mark.parametrize("name", ["max", "min"])
def test_tied_extremes_share_the_gradient(name):
    # amax/amin in PyTorch share the gradient evenly between tied elements
    x = np.array([[1.0, 3.0, 3.0], [-2.0, -2.0, 0.5]])
    theirs = {"max": torch.amax, "min": torch.amin}[name]
    compare_with_torch(lambda t: getattr(dg, name)(t, axis=1), lambda t: theirs(t, dim=1), [x])
    compare_with_torch(lambda t: getattr(dg, name)(t), lambda t: theirs(t, dim=(0, 1)), [x])


def test_logsumexp_is_stable_for_large_inputs():
    x = np.array([[1000.0, 1000.0], [-1000.0, -1e4]], dtype=np.float32)
    out = dg.logsumexp(dg.Tensor(x, requires_grad=True), axis=1)
    np.testing.assert_allclose(out.data, [1000.0 + np.log(2.0), -1000.0], rtol=1e-6)
    assert out.dtype == np.float32


def test_logsumexp_of_all_minus_infinity_is_minus_infinity():
    x = dg.Tensor(np.full((2, 3), -np.inf))
    np.testing.assert_array_equal(dg.logsumexp(x, axis=1).data, [-np.inf, -np.inf])


def test_reductions_of_a_scalar():
    x = dg.Tensor(np.array(2.5), requires_grad=True)
    for name in ("sum", "mean", "max", "min", "logsumexp"):
        x.grad = None
        out = getattr(dg, name)(x)
        out.backward()
        assert out.shape == () and x.grad.shape == ()
        np.testing.assert_allclose(x.grad, 1.0)


# ------------------------------------------------------------ Tensor methods
def test_tensor_methods_match_functions():
    x = np.random.default_rng(8).standard_normal((2, 3, 4))
    compare_with_torch(lambda t: t.sum(axis=0, keepdims=True), lambda t: t.sum(dim=0, keepdim=True), [x])
    compare_with_torch(lambda t: t.mean(), lambda t: t.mean(), [x])
    compare_with_torch(lambda t: t.max(axis=-1), lambda t: t.amax(dim=-1), [x])
    compare_with_torch(lambda t: t.min(axis=(0, 2)), lambda t: t.amin(dim=(0, 2)), [x])
    compare_with_torch(lambda t: t.var(axis=1), lambda t: t.var(dim=1, correction=0), [x])
    compare_with_torch(lambda t: t.std(axis=1, keepdims=True), lambda t: t.std(dim=1, keepdim=True, correction=0), [x])
    compare_with_torch(lambda t: t.logsumexp(axis=2), lambda t: t.logsumexp(dim=2), [x])


# ------------------------------------------------------------ errors
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_axis_out_of_bounds_is_an_error(name):
    x = dg.Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=rf"{name}: axis 2 is out of bounds for a tensor of rank 2"):
        getattr(dg, name)(x, axis=2)
    with pytest.raises(ValueError, match=rf"{name}: axis -3 is out of bounds"):
        getattr(dg, name)(x, axis=(0, -3))


def test_repeated_axis_is_an_error():
    with pytest.raises(ValueError, match=r"sum: repeated axis in \(1, -1\)"):
        dg.sum(dg.Tensor(np.ones((2, 3))), axis=(1, -1))


@pytest.mark.parametrize("shape,axis", [((32, 28, 28, 128), (1, 2)), ((33, 513, 40), (1, 2)), ((40, 3000, 5), 1),
                                        ((16, 9, 7, 300), -1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_large_mean_over_the_batch_halves_is_numpys_and_the_same_on_one_thread(monkeypatch, shape, axis, keepdims):
    """A mean that keeps the leading axis sums each half of the batch in its own thread."""
    from deepgrad import runtime

    a = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    both = dg.mean(dg.Tensor(a), axis=axis, keepdims=keepdims).data
    assert a.size >= 1 << 18
    np.testing.assert_allclose(both, np.mean(a, axis=axis, keepdims=keepdims), rtol=1e-6, atol=1e-6)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert not runtime.two_threads()
    np.testing.assert_array_equal(dg.mean(dg.Tensor(a), axis=axis, keepdims=keepdims).data, both)
