"""Shape ops and indexing against PyTorch (forward and backward) and central differences."""
import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from oracle import check_gradients, compare_with_torch

import deepgrad as dg

DTYPES = [np.float64, np.float32]
shapes = hnp.array_shapes(min_dims=1, max_dims=4, max_side=4)
seeds = st.integers(0, 2**16)


def data(seed, shape, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def check(ours, theirs, arrays):
    """PyTorch comparison in the arrays' dtype, then central differences in float64."""
    out = compare_with_torch(ours, theirs, arrays)
    if np.asarray(arrays[0]).dtype == np.float64:
        check_gradients(ours, arrays)
    return out


# ------------------------------------------------------------ reshape and friends
@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, seed=seeds, target=st.sampled_from(["flat", "reversed", "first-rest", "column"]))
def test_reshape_matches_torch(dtype, shape, seed, target):
    new = {"flat": (-1,), "reversed": shape[::-1], "first-rest": (shape[0], -1),
           "column": (int(np.prod(shape)), 1)}[target]
    out = check(lambda t: dg.reshape(t, new), lambda t: t.reshape(new), [data(seed, shape, dtype)])
    assert out.shape == np.empty(shape).reshape(new).shape


def test_reshape_method_forms():
    x = data(0, (4, 6))
    compare_with_torch(lambda t: t.reshape(6, 4), lambda t: t.reshape(6, 4), [x])
    compare_with_torch(lambda t: t.reshape((3, -1)), lambda t: t.reshape(3, -1), [x])
    compare_with_torch(lambda t: t.flatten(), lambda t: t.flatten(), [x])
    compare_with_torch(lambda t: dg.flatten(t), lambda t: torch.flatten(t), [x])


def test_reshape_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\) into shape \(4, 2\)"):
        dg.reshape(dg.Tensor(np.ones((2, 3))), (4, 2))


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, seed=seeds, data_=st.data())
def test_transpose_matches_torch(dtype, shape, seed, data_):
    perm = tuple(data_.draw(st.permutations(range(len(shape)))))
    x = data(seed, shape, dtype)
    check(lambda t: dg.transpose(t, perm), lambda t: t.permute(perm), [x])
    check(lambda t: dg.permute(t, perm), lambda t: t.permute(perm), [x])
    reverse = tuple(reversed(range(len(shape))))
    check(lambda t: dg.transpose(t), lambda t: t.permute(reverse), [x])


def test_transpose_method_forms():
    x = data(1, (2, 3, 4))
    compare_with_torch(lambda t: t.transpose(2, 0, 1), lambda t: t.permute(2, 0, 1), [x])
    compare_with_torch(lambda t: t.transpose((1, 0, 2)), lambda t: t.permute(1, 0, 2), [x])
    compare_with_torch(lambda t: t.transpose(-1, 0, 1), lambda t: t.permute(2, 0, 1), [x])
    compare_with_torch(lambda t: t.T, lambda t: t.permute(2, 1, 0), [x])
    compare_with_torch(lambda t: t.permute(1, 2, 0), lambda t: t.permute(1, 2, 0), [x])
    m = data(2, (3, 5))
    compare_with_torch(lambda t: t.T, lambda t: t.T, [m])


@given(shape=hnp.array_shapes(min_dims=2, max_dims=4, max_side=4), seed=seeds, data_=st.data())
def test_swapaxes_matches_torch(shape, seed, data_):
    nd = len(shape)
    a1, a2 = data_.draw(st.integers(-nd, nd - 1)), data_.draw(st.integers(-nd, nd - 1))
    check(lambda t: dg.swapaxes(t, a1, a2), lambda t: torch.swapaxes(t, a1, a2), [data(seed, shape)])
    compare_with_torch(lambda t: t.swapaxes(a1, a2), lambda t: t.swapaxes(a1, a2), [data(seed, shape)])


@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), seed=seeds, data_=st.data())
def test_expand_dims_matches_torch(shape, seed, data_):
    axis = data_.draw(st.integers(-len(shape) - 1, len(shape)))
    check(lambda t: dg.expand_dims(t, axis), lambda t: torch.unsqueeze(t, axis), [data(seed, shape)])


@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=3), seed=seeds, data_=st.data())
def test_squeeze_matches_torch(shape, seed, data_):
    ones = [i for i, n in enumerate(shape) if n == 1]
    x = data(seed, shape)
    check(lambda t: dg.squeeze(t), lambda t: torch.squeeze(t), [x])
    if ones:
        axis = data_.draw(st.sampled_from(ones))
        check(lambda t: dg.squeeze(t, axis), lambda t: torch.squeeze(t, axis), [x])
        check(lambda t: t.squeeze(axis - len(shape)), lambda t: t.squeeze(axis - len(shape)), [x])


def test_squeeze_error_names_axis_and_shape():
    with pytest.raises(ValueError, match=r"squeeze: axis 1 of shape \(2, 3\) does not have size 1"):
        dg.squeeze(dg.Tensor(np.ones((2, 3))), 1)


@pytest.mark.parametrize("dtype", DTYPES)
@given(target=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), seed=seeds, data_=st.data())
def test_broadcast_to_matches_torch(dtype, target, seed, data_):
    # an input that broadcasts to ``target``: drop some leading axes, set some sides to 1
    drop = data_.draw(st.integers(0, len(target)))
    ones = data_.draw(st.lists(st.booleans(), min_size=len(target) - drop, max_size=len(target) - drop))
    shape = tuple(1 if one else n for one, n in zip(ones, target[drop:]))
    check(lambda t: dg.broadcast_to(t, target), lambda t: torch.broadcast_to(t, target),
          [data(seed, shape, dtype)])


def test_broadcast_to_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast a tensor of shape \(4, 3\) to shape \(5, 3\)"):
        dg.broadcast_to(dg.Tensor(np.ones((4, 3))), (5, 3))


# ------------------------------------------------------------ join and split
@st.composite
def join_case(draw, same_shape):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    nd = len(shape)
    axis = draw(st.integers(-nd, nd - 1))
    n = draw(st.integers(1, 3))
    if same_shape:
        return [shape] * n, axis
    sides = draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    return [shape[:axis % nd] + (s,) + shape[axis % nd + 1:] for s in sides], axis


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=join_case(same_shape=False), seed=seeds)
def test_concatenate_matches_torch(dtype, case, seed):
    in_shapes, axis = case
    arrays = [data(seed + i, s, dtype) for i, s in enumerate(in_shapes)]
    check(lambda *ts: dg.concatenate(list(ts), axis=axis), lambda *ts: torch.cat(ts, dim=axis), arrays)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=join_case(same_shape=True), seed=seeds, data_=st.data())
def test_stack_matches_torch(dtype, case, seed, data_):
    in_shapes, _ = case
    axis = data_.draw(st.integers(-len(in_shapes[0]) - 1, len(in_shapes[0])))
    arrays = [data(seed + i, s, dtype) for i, s in enumerate(in_shapes)]
    check(lambda *ts: dg.stack(list(ts), axis=axis), lambda *ts: torch.stack(ts, dim=axis), arrays)


def test_join_errors_name_the_shapes():
    a, b = dg.Tensor(np.ones((2, 3))), dg.Tensor(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"concatenate: shapes \(2, 3\), \(2, 4\) do not match except on axis 0"):
        dg.concatenate([a, b], axis=0)
    with pytest.raises(ValueError, match=r"stack: all inputs need the same shape, got \(2, 3\), \(2, 4\)"):
        dg.stack([a, b])


@st.composite
def split_case(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=6))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    sections = draw(st.one_of(
        st.sampled_from(divisors),
        st.lists(st.integers(0, n), max_size=3).map(sorted),
    ))
    return shape, axis, sections


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=split_case(), seed=seeds, data_=st.data())
def test_split_matches_torch(dtype, case, seed, data_):
    shape, axis, sections = case
    x = data(seed, shape, dtype)

    # all parts used, each with its own weight, joined back so one output carries them all
    def ours(t):
        return dg.concatenate([p * (i + 1.0) for i, p in enumerate(dg.split(t, sections, axis=axis))], axis=axis)

    def theirs(t):
        return torch.cat([p * (i + 1.0) for i, p in enumerate(torch.tensor_split(t, sections, dim=axis))], dim=axis)

    check(ours, theirs, [x])
    # only one part used: the others contribute zero gradient
    k = data_.draw(st.integers(0, len(np.split(x, sections, axis=axis)) - 1))
    check(lambda t: dg.split(t, sections, axis=axis)[k], lambda t: torch.tensor_split(t, sections, dim=axis)[k], [x])


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=seeds, data_=st.data(),
       value=st.sampled_from([0.0, 1.5]))
def test_pad_matches_torch(shape, seed, data_, value):
    width = [tuple(data_.draw(st.lists(st.integers(0, 2), min_size=2, max_size=2))) for _ in shape]
    # torch.nn.functional.pad lists (before, after) from the last axis backwards
    flat = [w for pair in reversed(width) for w in pair]
    check(lambda t: dg.pad(t, width, constant_values=value), lambda t: F.pad(t, flat, value=value),
          [data(seed, shape)])


def test_pad_with_one_width_for_every_axis():
    x = data(3, (2, 3))
    compare_with_torch(lambda t: dg.pad(t, 1), lambda t: F.pad(t, (1, 1, 1, 1)), [x])
    compare_with_torch(lambda t: dg.pad(t, (1, 2)), lambda t: F.pad(t, (1, 2, 1, 2)), [x])


# the copying modes, against torch.nn.functional.pad (which pads the trailing axes of a
# batch-and-channel tensor; the leading two axes stay unpadded here)
@pytest.mark.parametrize("mode, torch_mode", [("reflect", "reflect"), ("REFLECT", "reflect"), ("edge", "replicate"),
                                              ("wrap", "circular"), ("circular", "circular"),
                                              ("replicate", "replicate")])
@given(spatial=hnp.array_shapes(min_dims=1, max_dims=2, min_side=3, max_side=5), seed=seeds, data_=st.data())
def test_pad_copying_modes_match_torch(mode, torch_mode, spatial, seed, data_):
    shape = (2, 3, *spatial)
    width = [(0, 0), (0, 0)] + [tuple(data_.draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2)))
                                for n in spatial]
    flat = [w for pair in reversed(width[2:]) for w in pair]
    out = check(lambda t: dg.pad(t, width, mode=mode), lambda t: F.pad(t, flat, mode=torch_mode),
                [data(seed, shape)])
    assert out.shape == tuple(n + lo + hi for n, (lo, hi) in zip(shape, width))


def test_pad_symmetric_matches_numpy_and_differentiates_twice():
    x = data(5, (4, 3))
    width = [(3, 2), (1, 2)]
    out = dg.pad(dg.Tensor(x), width, mode="symmetric")
    np.testing.assert_array_equal(out.numpy(), np.pad(x, width, mode="symmetric"))
    check_gradients(lambda t: dg.pad(t, width, mode="symmetric"), [x])
    # second order: d/dx sum((d/dx sum(w * pad(x)^2))^2) through the padding's linear map
    t = dg.Tensor(x, requires_grad=True)
    w = data(6, (9, 6))
    (g,) = dg.autograd.grad((dg.pad(t, width, mode="reflect") ** 2 * w).sum(), [t], create_graph=True)
    (g2,) = dg.autograd.grad((g ** 2).sum(), [t])
    tt = torch.tensor(x, requires_grad=True)
    padded = F.pad(tt[None], (1, 2, 3, 2), mode="reflect")[0]
    (tg,) = torch.autograd.grad((padded ** 2 * torch.tensor(w)).sum(), [tt], create_graph=True)
    (tg2,) = torch.autograd.grad((tg ** 2).sum(), [tt])
    np.testing.assert_allclose(g2.numpy() if hasattr(g2, "numpy") else g2, tg2.numpy(), rtol=1e-10, atol=1e-10)


def test_pad_mode_errors_name_the_mode():
    with pytest.raises(ValueError, match="reflect.*axis 0 has size 2"):
        dg.pad(dg.Tensor(np.ones((2, 3))), [(2, 0), (0, 0)], mode="reflect")
    with pytest.raises(ValueError, match="mode must be one of"):
        dg.pad(dg.Tensor(np.ones((2, 3))), 1, mode="mirror")
    with pytest.raises(ValueError, match="constant_values"):
        dg.pad(dg.Tensor(np.ones((2, 3))), 1, mode="reflect", constant_values=1.0)


# ------------------------------------------------------------ indexing
@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), seed=seeds, data_=st.data())
def test_basic_indexing_against_the_scatter_formula(dtype, shape, seed, data_):
    # any basic index (ints, slices with any step, None, Ellipsis): out = x[i], dx = 0 with dx[i] = g
    index = data_.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    x = data(seed, shape, dtype)
    t = dg.Tensor(x, requires_grad=True)
    out = t[index]
    np.testing.assert_array_equal(out.data, x[index])
    g = np.random.default_rng(seed + 1).standard_normal(out.shape).astype(dtype)
    out.backward(g)
    expected = np.zeros_like(x)
    expected[index] = g
    np.testing.assert_array_equal(t.grad, expected)
    if dtype == np.float64:
        check_gradients(lambda t: t[index], [x])


def test_positive_step_slicing_matches_torch():
    x = data(4, (5, 6, 4))
    for index in [(slice(1, 4), slice(None, None, 2)), (Ellipsis, 1), (2, slice(None), slice(3, 0, None)),
                  (None, slice(None, -1), 0), -1, slice(1, None, 3)]:
        check(lambda t: t[index], lambda t: t[index], [x])


def test_integer_array_indexing_accumulates_repeated_indices():
    x = data(5, (4, 3))
    idx = np.array([0, 2, 2, 3, 0, 0])
    check(lambda t: t[idx], lambda t: t[torch.tensor(idx)], [x])
    check(lambda t: t[[1, 1, 3]], lambda t: t[[1, 1, 3]], [x])
    rows, cols = np.array([0, 0, 3, 1]), np.array([2, 2, 0, 1])
    check(lambda t: t[rows, cols], lambda t: t[torch.tensor(rows), torch.tensor(cols)], [x])
    check(lambda t: t[:, idx[:4] % 3], lambda t: t[:, torch.tensor(idx[:4] % 3)], [x])
    # and explicitly: element 0 is picked three times, so its gradient is three times the upstream
    t = dg.Tensor(x, requires_grad=True)
    t[idx].sum().backward()
    np.testing.assert_array_equal(t.grad[:, 0], [3.0, 0.0, 2.0, 1.0])


def test_tensor_and_boolean_indices():
    x = data(6, (4, 3))
    idx = dg.Tensor(np.array([3, 1, 3]), dtype=np.int64)
    check(lambda t: t[idx], lambda t: t[torch.tensor([3, 1, 3])], [x])
    mask = x > 0
    check(lambda t: t[mask], lambda t: t[torch.tensor(mask)], [x])


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=seeds, data_=st.data())
def test_take_matches_torch(shape, seed, data_):
    x = data(seed, shape)
    flat = np.array(data_.draw(st.lists(st.integers(0, x.size - 1), min_size=1, max_size=6)))
    check(lambda t: dg.take(t, flat), lambda t: torch.take(t, torch.tensor(flat)), [x])
    axis = data_.draw(st.integers(-len(shape), len(shape) - 1))
    idx = np.array(data_.draw(st.lists(st.integers(0, shape[axis] - 1), min_size=1, max_size=5)))
    check(lambda t: dg.take(t, idx, axis=axis), lambda t: torch.index_select(t, axis, torch.tensor(idx)), [x])
