"""ops.indexing (gathers, select, search, unique, sorting) against Keras, PyTorch and central differences."""
import inspect
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import hypothesis.extra.numpy as hnp  # noqa: E402
import hypothesis.strategies as st  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import given  # noqa: E402
from oracle import check_gradients, compare_with_torch  # noqa: E402

import deepgrad as dg  # noqa: E402

keras = pytest.importorskip("keras")
K = keras.ops

FOLDED = {"int64": "int32", "uint64": "uint32", "float64": "float32"}
NAMES = ["take_along_axis", "select", "nonzero", "unique", "searchsorted", "unravel_index", "isin",
         "get_item", "sort", "argsort", "argpartition", "top_k"]
RNG = np.random.default_rng(0)
ALL_DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64"]


def same_dtype(ours, theirs) -> bool:
    ours, theirs = np.dtype(ours).name, np.dtype(theirs).name
    return ours == theirs or FOLDED.get(ours) == theirs


def check_keras(name, *args, **kwargs):
    """deepgrad's op and keras.ops' on the same inputs: same structure, values and dtypes."""
    ours = getattr(dg, name)(*args, **kwargs)
    theirs = getattr(K, name)(*args, **kwargs)
    if name == "nonzero":  # Keras stacks the per-axis indices into one (ndim, count) tensor
        theirs = list(K.convert_to_numpy(theirs))
    ours = list(ours) if isinstance(ours, (tuple, list)) else [ours]
    theirs = list(theirs) if isinstance(theirs, (tuple, list)) else [theirs]
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        t = K.convert_to_numpy(t)
        assert isinstance(o, dg.Tensor)
        assert o.shape == t.shape, f"{name}: shape {o.shape} != {t.shape}"
        assert same_dtype(o.dtype, t.dtype), f"{name}: dtype {o.dtype} != {t.dtype}"
        np.testing.assert_array_equal(o.data, t, err_msg=name)
    return ours


def data(dtype, shape=(3, 4)):
    if np.dtype(dtype) == np.bool_:
        return RNG.random(shape) > 0.5
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(0, 50, shape).astype(dtype)
    return RNG.permutation(np.prod(shape)).reshape(shape).astype(dtype) - 3  # distinct values


@pytest.mark.parametrize("name", NAMES)
def test_signature_is_keras(name):
    assert inspect.signature(getattr(dg, name)) == inspect.signature(getattr(K, name))


# ------------------------------------------------------------------ values and dtypes vs Keras
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_gathers_match_keras(dtype):
    x = data(dtype, (3, 4))
    idx = RNG.integers(-4, 4, (3, 2))
    check_keras("take_along_axis", x, idx, axis=1)
    check_keras("take_along_axis", x, RNG.integers(0, 3, (2, 4)), axis=0)
    check_keras("take_along_axis", x, RNG.integers(0, 3, (5, 1)), axis=0)  # broadcast along axis 1
    check_keras("take_along_axis", x, np.array([0, 11, 5]))
    for key in [1, (slice(None), 2), (Ellipsis, slice(1, 3)), (None, 0), np.array([2, 0, 0]),
                x > x.flat[5], (np.array([0, 2]), np.array([1, 3])), (slice(None, None, -1), -1)]:
        check_keras("get_item", x, key)
    check_keras("isin", x, x[0])
    check_keras("isin", x, x[1], invert=True)
    check_keras("nonzero", x)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_sorting_matches_keras(dtype):
    # distinct values: PyTorch's top_k leaves the order of ties unspecified
    x = data(dtype, (3, 5)) if dtype == "bool" else RNG.permutation(15).reshape(3, 5).astype(dtype)
    for axis in [-1, 0, None]:
        check_keras("sort", x, axis=axis)
        check_keras("argsort", x, axis=axis)
    if dtype != "bool":
        check_keras("top_k", x, 3)
        check_keras("top_k", x[0], 5)


def test_sort_ties_nan_and_empty_match_keras():
    x = np.array([[3.0, 1.0, np.nan, 1.0, 2.0], [0.0, 0.0, -1.0, np.inf, 0.0]], np.float32)
    check_keras("sort", x)
    check_keras("argsort", x)
    check_keras("argsort", x.astype(np.int32) if False else np.array([[2, 1, 2, 1, 1]]))
    check_keras("sort", np.zeros((0, 3), np.float32))
    values, indices = dg.top_k(np.array([1.0, np.nan, 3.0, 3.0]), 3)
    np.testing.assert_array_equal(indices.data, [1, 2, 3])  # NaN first, ties in index order (PyTorch)
    assert np.isnan(values.data[0]) and list(values.data[1:]) == [3.0, 3.0]


@pytest.mark.parametrize("kth", [0, 1, 2, -1])
def test_argpartition_partitions(kth):
    x = data("float32", (3, 5))
    for axis in [-1, 0]:
        out = dg.argpartition(x, kth, axis=axis)
        # Keras's PyTorch backend mishandles a negative kth: NumPy is the reference there
        theirs = (K.convert_to_numpy(K.argpartition(x, kth, axis=axis)) if kth >= 0
                  else np.argpartition(x, kth, axis=axis).astype(np.int32))
        assert out.dtype == np.int32 and theirs.dtype == np.int32
        # the order inside each side is free: the kth value and the two sides' sets must agree
        n = x.shape[axis]
        k = kth % n
        mine, ref = np.take_along_axis(x, out.data, axis), np.take_along_axis(x, theirs, axis)
        np.testing.assert_array_equal(np.take(mine, [k], axis), np.take(np.sort(x, axis), [k], axis))
        np.testing.assert_array_equal(np.sort(np.take(mine, range(k), axis), axis),
                                      np.sort(np.take(ref, range(k), axis), axis))


def test_select_matches_keras():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    conds = [x < 3, x > 8]
    check_keras("select", conds, [x, x * 2])
    check_keras("select", conds, [x, -x], 7.5)
    check_keras("select", [x < 3], [np.float64(1.0) * x])
    check_keras("select", [x < 3, x > 6], [x.astype(np.int32), np.int32(5) * np.ones(4, np.int32)], 2)
    check_keras("select", [x < 3], [x > 1], False)
    check_keras("select", [x[0] < 2], [x.astype(np.float16)], x.astype(np.float16))  # broadcasting


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "float32", "float64"])
def test_searchsorted_unravel_match_keras(dtype):
    seq = np.sort(data(dtype, (8,)).ravel())
    values = data(dtype, (2, 3))
    check_keras("searchsorted", seq, values)
    check_keras("searchsorted", seq, values, side="right")
    check_keras("searchsorted", seq, seq)
    if dtype.startswith("int"):
        check_keras("unravel_index", np.array([0, 5, 11, 7], dtype), (3, 4))
        check_keras("unravel_index", np.array([[1, 23], [4, 9]], dtype), (2, 3, 4))


@pytest.mark.parametrize("dtype", ["int32", "float32", "bool"])
def test_unique_matches_keras(dtype):
    x = np.array([[3, 1, 3], [0, 1, 1], [3, 1, 3]]).astype(dtype)
    check_keras("unique", x)
    check_keras("unique", x, return_counts=True)
    check_keras("unique", x, return_inverse=True, return_counts=True)
    check_keras("unique", x.ravel(), return_index=True, return_inverse=True)
    check_keras("unique", x, axis=0, return_counts=True, return_inverse=True)
    check_keras("unique", x, size=5, fill_value=9 if dtype != "bool" else True, return_counts=True)
    check_keras("unique", x.ravel(), size=1, return_index=True)


# ------------------------------------------------------------------ gradients
def tcase(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.permutation(np.prod(shape)).reshape(shape) + rng.random(shape) * 0.5  # distinct


def test_gather_grads_match_torch():
    x = tcase((4, 5))
    idx = np.array([[0, 4, 4, 1], [2, 2, 2, 2], [-1, 0, 3, 3], [1, 1, 0, -5]])  # repeats accumulate
    fixed = np.where(idx < 0, idx + 5, idx)
    compare_with_torch(lambda t: dg.take_along_axis(t, idx, axis=1),
                       lambda t: torch.take_along_dim(t, torch.tensor(fixed), 1), [x])
    compare_with_torch(lambda t: dg.take_along_axis(t, np.array([[3], [0]]), axis=0),
                       lambda t: torch.take_along_dim(t, torch.tensor([[3], [0]]), 0), [x])
    compare_with_torch(lambda t: dg.get_item(t, (np.array([0, 0, 3]), slice(1, None))),
                       lambda t: t[torch.tensor([0, 0, 3]), 1:], [x])
    compare_with_torch(lambda t: dg.get_item(t, (None, Ellipsis, -2)), lambda t: t[None, ..., -2], [x])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sort_and_top_k_grads_match_torch(dtype):
    x = tcase((3, 6)).astype(dtype)
    compare_with_torch(lambda t: dg.sort(t, axis=1), lambda t: torch.sort(t, 1).values, [x])
    compare_with_torch(lambda t: dg.sort(t, axis=0), lambda t: torch.sort(t, 0).values, [x])
    compare_with_torch(lambda t: dg.sort(t, axis=None), lambda t: torch.sort(t.flatten()).values, [x])
    compare_with_torch(lambda t: dg.top_k(t, 4)[0], lambda t: torch.topk(t, 4).values, [x])
    _, idx = dg.top_k(x, 4)
    np.testing.assert_array_equal(idx.data, torch.topk(torch.tensor(x), 4).indices.numpy())


def test_select_grads_match_torch():
    x, y = tcase((3, 4)), tcase((1, 4), seed=2)
    d = tcase((3, 1), seed=3)
    conds = [x < 4, x > 8]
    compare_with_torch(lambda a, b, c: dg.select(conds, [a, b], c),
                       lambda a, b, c: torch.where(torch.tensor(conds[0]), a,
                                                   torch.where(torch.tensor(conds[1]), b, c)), [x, y, d])


@pytest.mark.parametrize("fn", [
    lambda t: dg.sort(t, axis=0),
    lambda t: dg.top_k(t, 2)[0],
    lambda t: dg.take_along_axis(t, np.array([[0, 0, 1], [2, 3, 3], [1, -1, 1]]), axis=1),
    lambda t: dg.get_item(t, np.array([1, 1, 2])),
    lambda t: dg.select([t > 5], [t * t], t),
])
def test_grads_match_central_differences(fn):
    check_gradients(fn, [tcase((3, 4), seed=4)])


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), seed=st.integers(0, 2**16), data=st.data())
def test_sort_random_shapes(shape, seed, data):
    x = tcase(shape, seed)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    compare_with_torch(lambda t: dg.sort(t, axis=axis), lambda t: torch.sort(t, axis).values, [x])
    np.testing.assert_array_equal(dg.argsort(x, axis=axis).data, np.argsort(x, axis=axis, kind="stable"))
    k = data.draw(st.integers(0, shape[-1]))
    compare_with_torch(lambda t: dg.top_k(t, k)[0], lambda t: torch.topk(t, k).values, [x])


# ------------------------------------------------------------------ errors
def test_errors_name_the_op_and_argument():
    x = np.ones((2, 3))
    with pytest.raises(TypeError, match="take_along_axis: indices must be integers"):
        dg.take_along_axis(x, np.array([[0.5]]), axis=1)
    with pytest.raises(ValueError, match="take_along_axis: indices out of range"):
        dg.take_along_axis(x, np.array([[3]]), axis=1)
    with pytest.raises(ValueError, match="take_along_axis: axis 2"):
        dg.take_along_axis(x, np.array([[0]]), axis=2)
    with pytest.raises(ValueError, match=r"take_along_axis: shapes \(2, 3\) and \(3, 1\)"):
        dg.take_along_axis(x, np.zeros((3, 1), int), axis=1)
    with pytest.raises(IndexError, match="get_item: bad index"):
        dg.get_item(x, 5)
    with pytest.raises(ValueError, match="select: condlist has 1 entries but choicelist 2"):
        dg.select([x > 0], [x, x])
    with pytest.raises(ValueError, match="searchsorted: sorted_sequence must be 1-D"):
        dg.searchsorted(x, 1.0)
    with pytest.raises(ValueError, match="searchsorted: side"):
        dg.searchsorted(x[0], 1.0, side="middle")
    with pytest.raises(ValueError, match="unravel_index: indices out of range"):
        dg.unravel_index(np.array([6]), (2, 3))
    with pytest.raises(ValueError, match="top_k: k=4"):
        dg.top_k(x, 4)
    with pytest.raises(ValueError, match="argpartition: kth=3"):
        dg.argpartition(x, 3)
    with pytest.raises(ValueError, match="sort: axis -3"):
        dg.sort(x, axis=-3)


# IndexMap (take_along_axis, sort, top_k) is listed with the arrangement ops
BACKWARD_CASES = {
    "Select": (lambda a, b: dg.select([np.array([True, False, True])], [a], b), [tcase((2, 3)), tcase((3,))]),
}


def test_gathers_keep_their_gradient_under_a_retained_graph():
    x = dg.Tensor(tcase((2, 3)), requires_grad=True)
    out = dg.take_along_axis(x, np.array([[0, 0], [2, 1]]), axis=1) * 2.0 + dg.top_k(x, 2)[0]
    out.backward(np.ones(out.shape), retain_graph=True)
    first = x.grad.copy()
    out.backward(np.ones(out.shape))
    np.testing.assert_allclose(x.grad, 2 * first)
    assert first[0].sum() == 2 * 2 + 2 and first[1].sum() == 2 * 2 + 2
