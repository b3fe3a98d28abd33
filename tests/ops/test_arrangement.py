"""ops.arrangement (flips, rolls, tiles, diagonals, joins, splits) against Keras, PyTorch and central differences."""
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
NAMES = ["append", "array_split", "diag", "diagflat", "diagonal", "dsplit", "dstack", "flip", "fliplr",
         "flipud", "hsplit", "hstack", "meshgrid", "moveaxis", "ravel", "repeat", "roll", "rot90", "tile",
         "tril", "triu", "vsplit", "vstack", "vander", "trace", "ndim", "size"]
RNG = np.random.default_rng(0)
ALL_DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64"]


def same_dtype(ours, theirs) -> bool:
    ours, theirs = np.dtype(ours).name, np.dtype(theirs).name
    return ours == theirs or FOLDED.get(ours) == theirs


def check_keras(name, *args, **kwargs):
    """deepgrad's op and keras.ops' on the same inputs: same structure, values and dtypes."""
    ours = getattr(dg, name)(*args, **kwargs)
    theirs = getattr(K, name)(*args, **kwargs)
    if name == "ndim":
        assert ours == theirs and isinstance(ours, int)
        return ours
    ours = list(ours) if isinstance(ours, (tuple, list)) else [ours]
    theirs = list(theirs) if isinstance(theirs, (tuple, list)) else [theirs]
    assert len(ours) == len(theirs), name
    for o, t in zip(ours, theirs):
        t = K.convert_to_numpy(t)
        assert isinstance(o, dg.Tensor)
        assert o.shape == t.shape, f"{name}: shape {o.shape} != {t.shape}"
        assert same_dtype(o.dtype, t.dtype), f"{name}: dtype {o.dtype} != {t.dtype}"
        tol = 1e-3 if o.dtype == np.float16 else 1e-6
        np.testing.assert_allclose(o.data.astype(np.float64), t.astype(np.float64), rtol=tol, err_msg=name)
    return ours


def data(dtype, shape=(3, 4)):
    if np.dtype(dtype) == np.bool_:
        return RNG.random(shape) > 0.5
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(0, 5, shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("name", NAMES)
def test_signature_is_keras(name):
    assert inspect.signature(getattr(dg, name)) == inspect.signature(getattr(K, name))


# ------------------------------------------------------------------ values and dtypes vs Keras
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_rearrangements_match_keras(dtype):
    x, cube = data(dtype, (3, 4)), data(dtype, (2, 3, 4))
    for axis in [None, 0, -1, (0, 1)]:
        check_keras("flip", x, axis=axis)
    check_keras("fliplr", x)
    check_keras("flipud", cube)
    for shift, axis in [(1, None), (-2, 1), (5, 0), ((1, 2), (0, 1))]:
        check_keras("roll", x, shift, axis=axis)
    for k in [0, 1, 2, 3, -1, 5]:
        check_keras("rot90", x, k=k)
    check_keras("rot90", cube, k=1, axes=(1, 2))
    check_keras("rot90", cube, k=3, axes=(2, 0))
    for reps in [2, (2, 1), (1, 2, 3)]:
        check_keras("tile", x, reps)
    for reps, axis in [(2, None), (3, 0), (2, -1), (np.array([1, 0, 2]), 0)]:
        check_keras("repeat", x, reps, axis=axis)
    for k in [0, 1, -2]:
        check_keras("diag", x, k=k)
        check_keras("diag", x[0], k=k)
        check_keras("diagflat", x, k=k)
        check_keras("tril", x, k=k)
        check_keras("triu", cube, k=k)
        check_keras("diagonal", cube, offset=k, axis1=1, axis2=2)
        check_keras("diagonal", cube, offset=k, axis1=-1, axis2=0)
    check_keras("trace", x)
    check_keras("trace", cube, offset=1, axis1=2, axis2=1)
    check_keras("moveaxis", cube, 0, -1)
    check_keras("moveaxis", cube, [0, 1], [2, 0])
    check_keras("ravel", cube)
    check_keras("ndim", cube)
    check_keras("size", cube)
    check_keras("vander", x[0])
    check_keras("vander", x[1], N=6, increasing=True)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_joins_and_splits_match_keras(dtype):
    x, cube = data(dtype, (4, 6)), data(dtype, (2, 4, 6))
    other = data("float32", (4, 6))
    check_keras("append", x, other)
    check_keras("append", x, x[:1], axis=0)
    check_keras("append", x, [1.5])
    check_keras("append", x, np.int64(3) * np.ones(2, np.int64))
    for xs in [[x, x], [x[0], x[1], x[2]], [x, other]]:
        check_keras("hstack", xs)
        check_keras("vstack", xs)
        check_keras("dstack", xs)
    check_keras("hstack", [cube, cube])
    check_keras("dstack", [x[0, 0], x[0, 1]])
    check_keras("array_split", x, 3)
    check_keras("array_split", x, 4, axis=1)
    # Keras takes only a number of sections here; split points follow NumPy
    for got, want in zip(dg.array_split(x, [1, 3], axis=0), np.array_split(x, [1, 3], axis=0)):
        np.testing.assert_array_equal(got.data, want)
    check_keras("array_split", cube, 4, axis=-1)
    check_keras("hsplit", x, 2)
    check_keras("hsplit", x, [1, 4])
    check_keras("hsplit", x[0], 3)
    check_keras("vsplit", x, 2)
    check_keras("vsplit", x, [3])
    check_keras("dsplit", cube, 3)
    check_keras("dsplit", cube, [2, 5])
    check_keras("meshgrid", x[0, :3], x[1, :2])
    check_keras("meshgrid", x[0, :3], x[1, :2], x[2, :4], indexing="ij")
    check_keras("meshgrid", x[0, :3], x[1, :2], x[2, :4], indexing="xy")
    check_keras("meshgrid", x[0])


def test_empty_inputs_match_keras():
    e = np.zeros((0, 3), np.float32)
    check_keras("flip", e)
    check_keras("tile", e, (2, 2))
    check_keras("repeat", e, 2, axis=1)
    check_keras("tril", e)
    check_keras("diagonal", e)
    check_keras("append", e, np.ones((1, 3), np.float32), axis=0)
    check_keras("vstack", [e, np.ones((2, 3), np.float32)])


# ------------------------------------------------------------------ gradients vs PyTorch
def tcase(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_index_map_grads_match_torch(dtype):
    x, cube = tcase((3, 4), dtype), tcase((2, 3, 4), dtype)
    pairs = [
        ([x], lambda t: dg.flip(t, axis=1), lambda t: torch.flip(t, (1,))),
        ([x], lambda t: dg.flip(t), lambda t: torch.flip(t, (0, 1))),
        ([x], dg.fliplr, torch.fliplr),
        ([cube], dg.flipud, torch.flipud),
        ([x], lambda t: dg.roll(t, 2, axis=1), lambda t: torch.roll(t, 2, 1)),
        ([x], lambda t: dg.roll(t, -5), lambda t: torch.roll(t, -5)),
        ([cube], lambda t: dg.rot90(t, 3, axes=(1, 2)), lambda t: torch.rot90(t, 3, (1, 2))),
        ([x], lambda t: dg.tile(t, (2, 1, 3)), lambda t: torch.tile(t, (2, 1, 3))),
        ([x], lambda t: dg.repeat(t, 3, axis=0), lambda t: torch.repeat_interleave(t, 3, 0)),
        ([x], lambda t: dg.repeat(t, np.array([1, 0, 3, 2]), axis=1),
         lambda t: torch.repeat_interleave(t, torch.tensor([1, 0, 3, 2]), 1)),
        ([x], lambda t: dg.repeat(t, 2), lambda t: torch.repeat_interleave(t.flatten(), 2)),
        ([x], lambda t: dg.diag(t, 1), lambda t: torch.diag(t, 1)),
        ([x[0].copy()], lambda t: dg.diag(t, -1), lambda t: torch.diag(t, -1)),
        ([x], lambda t: dg.diagflat(t, 2), lambda t: torch.diagflat(t, 2)),
        ([cube], lambda t: dg.diagonal(t, 1, 2, 0), lambda t: torch.diagonal(t, 1, 2, 0)),
        ([cube], lambda t: dg.tril(t, -1), lambda t: torch.tril(t, -1)),
        ([cube], lambda t: dg.triu(t, 1), lambda t: torch.triu(t, 1)),
        ([x], lambda t: dg.trace(t), lambda t: torch.trace(t)),
        ([cube], lambda t: dg.moveaxis(t, 0, 2), lambda t: torch.movedim(t, 0, 2)),
        ([cube], dg.ravel, torch.ravel),
        # torch.vander's own backward fails in place, so its powers are written out
        ([x[0].copy()], lambda t: dg.vander(t), lambda t: t[:, None] ** torch.arange(3, -1, -1, dtype=t.dtype)),
        ([x[0].copy()], lambda t: dg.vander(t, 6, increasing=True),
         lambda t: t[:, None] ** torch.arange(6, dtype=t.dtype)),
        ([x, x[:2].copy()], lambda a, b: dg.append(a, b, axis=0), lambda a, b: torch.cat([a, b], 0)),
        ([x, x[:2].copy()], lambda a, b: dg.append(a, b), lambda a, b: torch.cat([a.flatten(), b.flatten()])),
        ([x, x], lambda a, b: dg.hstack([a, b]), lambda a, b: torch.hstack([a, b])),
        ([x, x], lambda a, b: dg.vstack([a, b]), lambda a, b: torch.vstack([a, b])),
        ([x, x], lambda a, b: dg.dstack([a, b]), lambda a, b: torch.dstack([a, b])),
        ([x[0].copy(), x[1, :3].copy()], lambda a, b: dg.meshgrid(a, b)[0] * 2 + dg.meshgrid(a, b)[1],
         lambda a, b: torch.meshgrid(a, b, indexing="xy")[0] * 2 + torch.meshgrid(a, b, indexing="xy")[1]),
    ]
    for arrays, ours, theirs in pairs:
        compare_with_torch(ours, theirs, arrays)


def test_vander_grad_at_zero_is_finite():
    v = dg.Tensor(np.array([0.0, 2.0, -1.0]), requires_grad=True)
    dg.vander(v).sum().backward()
    np.testing.assert_allclose(v.grad, [1.0, 5.0, -1.0])  # d/dx (x^2 + x + 1) = 2x + 1


def test_split_grads_match_torch():
    x = tcase((5, 6))
    w = [tcase((2, 6), seed=1), tcase((2, 6), seed=2), tcase((1, 6), seed=3)]

    def ours(t):
        a, b, c = dg.array_split(t, 3)
        return a * w[0] + b * w[1], c * w[2]

    def theirs(t):
        a, b, c = torch.tensor_split(t, 3)
        return a * torch.tensor(w[0]) + b * torch.tensor(w[1]), c * torch.tensor(w[2])

    compare_with_torch(lambda t: dg.concatenate(ours(t), axis=0), lambda t: torch.cat(theirs(t), 0), [x])
    # a piece left unused gets a zero gradient
    compare_with_torch(lambda t: dg.hsplit(t, [1, 4])[1], lambda t: torch.hsplit(t, [1, 4])[1], [x])
    compare_with_torch(lambda t: dg.vsplit(t[:4], 2)[0], lambda t: torch.vsplit(t[:4], 2)[0], [x])
    cube = tcase((2, 3, 4))
    compare_with_torch(lambda t: dg.dsplit(t, 2)[1], lambda t: torch.dsplit(t, 2)[1], [cube])


@pytest.mark.parametrize("fn", [
    lambda t: dg.repeat(t, np.array([2, 0, 1]), axis=0),
    lambda t: dg.roll(t, (1, -1), axis=(0, 1)),
    lambda t: dg.rot90(t, 2),
    lambda t: dg.tile(t, 2),
    lambda t: dg.tril(t, 1) * dg.triu(t),
    lambda t: dg.diagflat(dg.diagonal(t, 1)),
    lambda t: dg.vander(dg.ravel(t), 3),
    lambda t: dg.trace(t, -1),
])
def test_grads_match_central_differences(fn):
    check_gradients(fn, [tcase((3, 4), seed=4)])


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 2**16), data=st.data())
def test_random_shapes_match_torch(shape, seed, data):
    x = tcase(shape, seed=seed)
    nd = len(shape)
    axis = data.draw(st.integers(-nd, nd - 1))
    shift = data.draw(st.integers(-5, 5))
    reps = data.draw(st.integers(0, 3))
    compare_with_torch(lambda t: dg.roll(t, shift, axis=axis), lambda t: torch.roll(t, shift, axis), [x])
    compare_with_torch(lambda t: dg.flip(t, axis=axis), lambda t: torch.flip(t, (axis,)), [x])
    compare_with_torch(lambda t: dg.repeat(t, reps, axis=axis), lambda t: torch.repeat_interleave(t, reps, axis), [x])
    if nd >= 2:
        compare_with_torch(lambda t: dg.tril(t, shift), lambda t: torch.tril(t, shift), [x])


def test_no_graph_without_gradients():
    x = dg.Tensor(tcase((3, 4)))
    assert dg.tile(x, 2)._ctx is None and dg.roll(x, 1)._ctx is None
    with dg.no_grad():
        assert dg.flip(dg.Tensor(tcase((3, 4)), requires_grad=True))._ctx is None


# ------------------------------------------------------------------ errors
def test_errors_name_the_op_and_argument():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="flip: axis 2"):
        dg.flip(x, axis=2)
    with pytest.raises(ValueError, match="fliplr: needs a tensor of rank >= 2"):
        dg.fliplr(x[0])
    with pytest.raises(ValueError, match="rot90: axes must be two different axes"):
        dg.rot90(x, axes=(1, 1))
    with pytest.raises(ValueError, match="diag: needs a 1-D or 2-D tensor"):
        dg.diag(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="diagonal: axis1 and axis2 must differ"):
        dg.diagonal(x, axis1=1, axis2=-1)
    with pytest.raises(TypeError, match="repeat: repeats must be integers"):
        dg.repeat(x, 1.5)
    with pytest.raises(ValueError, match="repeat: repeats of shape"):
        dg.repeat(x, np.array([1, 2]), axis=1)
    with pytest.raises(ValueError, match=r"hsplit: axis 1 of shape \(2, 3\) does not divide into 2"):
        dg.hsplit(x, 2)
    with pytest.raises(ValueError, match="dsplit: needs a tensor of rank >= 3"):
        dg.dsplit(x, 1)
    with pytest.raises(ValueError, match=r"vstack: shapes \(1, 3\), \(1, 2\)"):
        dg.vstack([x[0], x[0, :2]])
    with pytest.raises(ValueError, match="vander: x must be 1-D"):
        dg.vander(x)
    with pytest.raises(ValueError, match="meshgrid: indexing"):
        dg.meshgrid(x[0], indexing="ji")
    with pytest.raises(ValueError, match="tile: repeats must be non-negative"):
        dg.tile(x, -1)
    with pytest.raises(ValueError, match="moveaxis: source"):
        dg.moveaxis(x, [0, 1], [0])
    with pytest.raises(ValueError, match="moveaxis: repeated axis"):
        dg.moveaxis(x, [0, 0], [0, 1])


BACKWARD_CASES = {
    "IndexMap": (lambda t: dg.tril(dg.repeat(t, 2, axis=0)), [tcase((2, 3))]),
    "Split": (lambda t: dg.array_split(t, 2, axis=1)[0], [tcase((2, 3))]),
    "Vander": (lambda t: dg.vander(t, 4), [np.array([0.0, 1.5, -2.0])]),
}
