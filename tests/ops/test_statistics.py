"""ops.statistics against Keras (values and dtypes), PyTorch (gradients) and central differences."""
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
from deepgrad.ops import statistics as S  # noqa: E402

keras = pytest.importorskip("keras")
K = keras.ops

# Keras's result_type folds 64-bit results to 32 bits on the PyTorch backend for several
# ops (cumsum of float64 is float32 there); deepgrad keeps 64 bits, as its other ops do.
FOLDED = {"int64": "int32", "uint64": "uint32", "float64": "float32"}
NAMES = ["all", "any", "argmax", "argmin", "average", "count_nonzero", "cumprod", "cumsum", "median",
         "percentile", "quantile", "prod", "ptp", "nanargmax", "nanargmin", "nancumprod", "nancumsum",
         "nanmax", "nanmean", "nanmedian", "nanmin", "nanpercentile", "nanprod", "nanquantile", "nanstd",
         "nansum", "nanvar", "corrcoef", "correlate", "diff", "trapezoid", "histogram", "bincount", "digitize"]
RNG = np.random.default_rng(0)


def same_dtype(ours, theirs) -> bool:
    ours, theirs = np.dtype(ours).name, np.dtype(theirs).name
    return ours == theirs or FOLDED.get(ours) == theirs


def check_keras(name, *args, rtol=1e-5, atol=1e-6, **kwargs):
    """deepgrad's op and keras.ops' on the same inputs: same structure, values and dtypes."""
    ours = getattr(dg, name)(*args, **kwargs)
    theirs = getattr(K, name)(*args, **kwargs)
    ours = list(ours) if isinstance(ours, (tuple, list)) else [ours]
    theirs = list(theirs) if isinstance(theirs, (tuple, list)) else [theirs]
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        t = K.convert_to_numpy(t)
        assert isinstance(o, dg.Tensor)
        assert o.shape == t.shape, f"{name}: shape {o.shape} != {t.shape}"
        assert same_dtype(o.dtype, t.dtype), f"{name}: dtype {o.dtype} != {t.dtype}"
        tol = 2e-3 if o.dtype == np.float16 else rtol
        np.testing.assert_allclose(o.data.astype(np.float64), t.astype(np.float64), rtol=tol,
                                   atol=max(atol, tol), equal_nan=True, err_msg=name)
    return ours


@pytest.mark.parametrize("name", NAMES)
def test_signature_is_keras(name):
    assert inspect.signature(getattr(dg, name)) == inspect.signature(getattr(K, name))


def data(dtype, shape=(3, 4)):
    if np.dtype(dtype) == np.bool_:
        return RNG.random(shape) > 0.5
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(0, 7, shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


ALL_DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64"]


# ------------------------------------------------------------------ values and dtypes vs Keras
@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("axis", [None, 0, -1])
def test_reductions_match_keras(dtype, axis):
    x = data(dtype)
    for name in ["all", "any", "count_nonzero"]:
        check_keras(name, x, axis=axis)
    for name in ["argmax", "argmin", "nanargmax", "nanargmin"]:
        check_keras(name, x, axis=axis)
        check_keras(name, x, axis=axis, keepdims=True)
    check_keras("all", x, axis=axis, keepdims=True)
    for name in ["cumsum", "cumprod", "nancumsum", "nancumprod"]:
        check_keras(name, x, axis=axis)
    for name in ["prod", "nanprod", "ptp", "nansum", "nanmax", "nanmin", "average", "median", "nanmedian",
                 "nanmean", "nanvar", "nanstd"]:
        if name == "ptp" and dtype == "bool":
            continue  # Keras (PyTorch) rejects bool here, as deepgrad does
        if name == "average":
            check_keras(name, x, axis=axis)
        elif name in ("prod", "nanprod", "ptp") and axis is None:
            # Keras's torch backend drops keepdims here; NumPy's shape (1, 1) is kept
            check_keras(name, x, axis=axis)
            assert getattr(dg, name)(x, keepdims=True).shape == (1, 1)
        else:
            check_keras(name, x, axis=axis)
            check_keras(name, x, axis=axis, keepdims=True)
    if dtype != "bool":
        check_keras("diff", x, axis=-1 if axis is None else axis)
    check_keras("trapezoid", x, axis=-1 if axis is None else axis)


@pytest.mark.parametrize("dtype", ["int32", "float16", "float32", "float64"])
def test_cumulative_dtype_argument_matches_keras(dtype):
    x = data("int8")
    check_keras("cumsum", x, axis=1, dtype=dtype)
    check_keras("cumprod", x, axis=0, dtype=dtype)
    check_keras("prod", x, axis=1, dtype=dtype)


@pytest.mark.parametrize("method", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("q", [0.0, 0.37, 0.5, 1.0, [0.1, 0.5, 0.9], [0.25]])
def test_quantile_matches_keras(method, q):
    x = data("float32", (4, 5, 3))
    x[0, 1, 1] = x[0, 2, 1]  # a tie
    for axis in [None, 1, -1, (0, 2)]:
        for keepdims in [False, True]:
            check_keras("quantile", x, q, axis=axis, method=method, keepdims=keepdims)
            check_keras("percentile", x, np.asarray(q) * 100, axis=axis, method=method, keepdims=keepdims)
    check_keras("quantile", data("int32", (5, 4)), q, axis=0, method=method)


def test_quantile_rounding_at_half_positions():
    x = np.arange(8, dtype=np.float32)
    for q in [1 / 14, 3 / 14, 5 / 14, 0.5]:  # ranks 0.5, 1.5, 2.5, 3.5
        check_keras("quantile", x, q, method="nearest")


@pytest.mark.parametrize("method", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_nan_quantiles_match_keras(method):
    x = data("float64", (4, 6))
    x[0, [1, 3]] = np.nan
    x[2, :] = np.nan  # an all-NaN row gives NaN
    x[3, 5] = np.nan
    for axis in [None, 1, 0]:
        check_keras("nanquantile", x, [0.2, 0.7], axis=axis, method=method)
        check_keras("nanpercentile", x, 37, axis=axis, method=method, keepdims=True)
    check_keras("nanmedian", x, axis=1)
    check_keras("quantile", x, 0.3, axis=1)  # a NaN in a slice makes its quantile NaN
    check_keras("median", x, axis=1)


def test_nan_family_matches_keras():
    x = data("float32", (3, 5))
    x[0, 1] = x[2, 4] = np.nan
    x[1, :] = np.nan
    for axis in [None, 0, 1, -1]:
        for name in ["nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin", "nanargmax",
                     "nanargmin"]:
            if axis is None and name in ("nanmax", "nanmin", "nanargmax", "nanargmin"):
                continue
            check_keras(name, x, axis=axis)
        check_keras("nancumsum", x, axis=axis)
        check_keras("nancumprod", x, axis=axis)
    check_keras("nanmax", x)
    check_keras("nanargmin", x)


def test_all_nan_extremes():
    x = np.full((2, 3), np.nan, np.float32)
    x[0, 1] = 2.0
    assert np.isnan(dg.nanmax(x, axis=1).data[1]) and dg.nanmax(x, axis=1).data[0] == 2.0
    np.testing.assert_array_equal(dg.nanargmax(x, axis=1).data, [1, -1])
    np.testing.assert_array_equal(dg.nanargmin(x, axis=1).data, [1, -1])


def test_average_with_weights_matches_keras():
    x = data("float32", (3, 4))
    check_keras("average", x, axis=1, weights=np.array([1.0, 2.0, 0.5, 3.0], np.float32))
    # 1-D weights along a leading axis (Keras's PyTorch backend fails there): NumPy's result
    np.testing.assert_allclose(dg.average(x, axis=0, weights=np.array([1, 2, 3])).data,
                               np.average(x, axis=0, weights=[1, 2, 3]), rtol=1e-6)
    check_keras("average", data("int32", (3, 4)), axis=-1, weights=np.array([1.0, 2.0, 0.5, 3.0]))
    # weights shaped as x: NumPy's weighted mean
    w = RNG.random((3, 4))
    np.testing.assert_allclose(dg.average(x.astype(np.float64), axis=1, weights=w).data,
                               np.average(x.astype(np.float64), axis=1, weights=w), rtol=1e-12)
    np.testing.assert_allclose(dg.average(x.astype(np.float64), weights=w).data,
                               np.average(x.astype(np.float64), weights=w), rtol=1e-12)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_corrcoef_and_correlate_match_keras(dtype):
    x = data(dtype, (3, 6))
    if dtype != "bool":
        x[:, 0] += np.arange(3).astype(x.dtype)  # no constant row
        check_keras("corrcoef", x, rtol=1e-4, atol=1e-5)
    a, v = data(dtype, (7,)), data(dtype, (3,))
    for mode in ["valid", "same", "full"]:
        check_keras("correlate", a, v, mode=mode, rtol=1e-4, atol=1e-5)
        check_keras("correlate", v, a, mode=mode, rtol=1e-4, atol=1e-5)
        check_keras("correlate", data(dtype, (6,)), data(dtype, (4,)), mode=mode, rtol=1e-4, atol=1e-5)


def test_correlate_matches_numpy_when_the_first_is_longer():
    a, v = RNG.standard_normal(9), RNG.standard_normal(4)
    for mode in ["valid", "full"]:
        np.testing.assert_allclose(dg.correlate(a, v, mode=mode).data, np.correlate(a, v, mode), rtol=1e-12)


def test_diff_and_trapezoid_match_keras():
    x = data("float32", (3, 6))
    for n in [0, 1, 2, 3]:
        check_keras("diff", x, n=n, axis=1)
        check_keras("diff", x, n=n, axis=0)
    check_keras("diff", data("bool", (3, 6)))
    t = np.sort(RNG.random(6)).astype(np.float32)
    check_keras("trapezoid", x, x=t)
    check_keras("trapezoid", x, dx=0.3, axis=0)
    check_keras("trapezoid", x.astype(np.float64), x=np.sort(RNG.random((3, 6)), axis=1))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_histogram_matches_keras(dtype):
    x = data(dtype, (50,))
    check_keras("histogram", x)
    check_keras("histogram", x, bins=7, range=(-1.0, 1.5))


def test_bincount_and_digitize_match_keras():
    x = np.array([0, 3, 1, 3, 3, 6], np.int32)
    check_keras("bincount", x)
    check_keras("bincount", x, minlength=10)
    check_keras("bincount", x, weights=np.linspace(0, 1, 6).astype(np.float32))
    check_keras("bincount", x.astype(np.int64), weights=np.arange(6, dtype=np.int32))
    rows = np.array([[0, 1, 1, 4], [2, 4, 0, 0]], np.int32)
    check_keras("bincount", rows)
    check_keras("bincount", rows, weights=np.ones((2, 4), np.float32), minlength=7)
    # rows with different largest values share one length (Keras's PyTorch backend fails there)
    ragged = np.array([[0, 1, 1, 4], [2, 1, 0, 0]], np.int32)
    np.testing.assert_array_equal(dg.bincount(ragged).data, [[1, 2, 0, 0, 1], [2, 1, 1, 0, 0]])
    np.testing.assert_allclose(dg.bincount(ragged, weights=np.arange(8.0).reshape(2, 4)).data,
                               [[0, 3, 0, 0, 3], [13, 5, 4, 0, 0]])
    for dtype in ["float32", "int32", "bool", "int64"]:
        check_keras("digitize", data(dtype, (3, 5)), [0.0, 1.0, 2.5, 4.0])


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_empty_inputs_match_keras(dtype):
    x = np.zeros((0, 3), dtype)
    for name in ["all", "any", "count_nonzero", "nansum"]:
        check_keras(name, x, axis=0)
    check_keras("cumsum", x, axis=0)
    check_keras("prod", x, axis=0)
    check_keras("diff", x, axis=0)


# ------------------------------------------------------------------ gradients vs PyTorch
def tcase(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cumsum_cumprod_grads_match_torch(dtype):
    x = tcase((3, 5), dtype)
    compare_with_torch(lambda t: dg.cumsum(t, axis=1), lambda t: torch.cumsum(t, 1), [x])
    compare_with_torch(lambda t: dg.cumsum(t), lambda t: torch.cumsum(t.flatten(), 0), [x])
    compare_with_torch(lambda t: dg.cumprod(t, axis=-2), lambda t: torch.cumprod(t, 0), [x])
    z = x.copy()
    z[0, 1] = z[1, 0] = z[1, 3] = z[2, 2] = z[2, 4] = 0.0  # one zero, two zeros, a zero at the end
    compare_with_torch(lambda t: dg.cumprod(t, axis=1), lambda t: torch.cumprod(t, 1), [z])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_prod_grads_with_zeros_match_torch(dtype):
    x = tcase((4, 5), dtype)
    x[1, 2] = 0.0  # one zero in a row
    x[2, [0, 3]] = 0.0  # two zeros in a row
    compare_with_torch(lambda t: dg.prod(t, axis=1), lambda t: torch.prod(t, 1), [x])
    compare_with_torch(lambda t: dg.prod(t, axis=0, keepdims=True), lambda t: torch.prod(t, 0, keepdim=True), [x])
    compare_with_torch(lambda t: dg.prod(t[:1]), lambda t: torch.prod(t[:1]), [x])
    compare_with_torch(lambda t: dg.nanprod(t, axis=1), lambda t: torch.prod(t, 1), [x])


@pytest.mark.parametrize("method", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_grads_match_torch(method):
    x = tcase((4, 7))
    q = np.array([0.1, 0.5, 0.8])
    compare_with_torch(lambda t: dg.quantile(t, q, axis=1, method=method),
                       lambda t: torch.quantile(t, torch.tensor(q), dim=1, interpolation=method), [x])
    compare_with_torch(lambda t: dg.percentile(t, 35.0, axis=0, method=method, keepdims=True),
                       lambda t: torch.quantile(t, 0.35, dim=0, keepdim=True, interpolation=method), [x])
    compare_with_torch(lambda t: dg.median(t), lambda t: torch.quantile(t.flatten(), 0.5), [x])


def test_nan_quantile_grads_match_torch():
    x = tcase((4, 7))
    x[0, 2] = x[3, [1, 5]] = np.nan
    compare_with_torch(lambda t: dg.nanquantile(t, 0.3, axis=1),
                       lambda t: torch.nanquantile(t, 0.3, dim=1), [x])
    compare_with_torch(lambda t: dg.nanmedian(t, axis=1),
                       lambda t: torch.nanquantile(t, 0.5, dim=1), [x])


def test_nan_reduction_grads_are_zero_at_nan():
    x = tcase((3, 6))
    x[0, 1] = x[2, [0, 4]] = np.nan
    pairs = [
        (lambda t: dg.nansum(t, axis=1), lambda t: torch.nansum(t, 1)),
        (lambda t: dg.nanmean(t, axis=1), lambda t: torch.nanmean(t, 1)),
        (lambda t: dg.nanmean(t), lambda t: torch.nanmean(t)),
        (lambda t: dg.nancumsum(t, axis=1), lambda t: torch.cumsum(torch.nan_to_num(t), 1)),
        (lambda t: dg.nancumprod(t, axis=1),
         lambda t: torch.cumprod(torch.where(torch.isnan(t), torch.ones_like(t), t), 1)),
        (lambda t: dg.nanmax(t, axis=1), lambda t: torch.amax(torch.where(torch.isnan(t), -torch.inf, t), 1)),
        (lambda t: dg.nanmin(t, axis=0), lambda t: torch.amin(torch.where(torch.isnan(t), torch.inf, t), 0)),
    ]
    for ours, theirs in pairs:
        t = dg.Tensor(x, requires_grad=True)
        out = ours(t)
        out.backward(np.ones(out.shape))
        assert np.all(t.grad[np.isnan(x)] == 0)
        compare_with_torch(ours, theirs, [x])


def test_nanvar_nanstd_grads_match_torch():
    x = tcase((3, 6))
    x[0, 1] = x[2, [0, 4]] = np.nan

    def torch_nanvar(t, dim):
        valid = ~torch.isnan(t)
        mean = torch.nanmean(t, dim, keepdim=True)
        c = torch.where(valid, t - mean, torch.zeros_like(t))
        return (c * c).sum(dim) / valid.sum(dim)

    compare_with_torch(lambda t: dg.nanvar(t, axis=1), lambda t: torch_nanvar(t, 1), [x])
    compare_with_torch(lambda t: dg.nanstd(t, axis=0), lambda t: torch.sqrt(torch_nanvar(t, 0)), [x])
    compare_with_torch(lambda t: dg.nanvar(t[1]), lambda t: torch.var(t[1], correction=0), [x])


def test_ptp_average_grads_match_torch():
    x = tcase((4, 5))
    w = np.random.default_rng(3).random(5)
    compare_with_torch(lambda t: dg.ptp(t, axis=1), lambda t: torch.amax(t, 1) - torch.amin(t, 1), [x])
    compare_with_torch(lambda t: dg.ptp(t), lambda t: torch.amax(t) - torch.amin(t), [x])
    compare_with_torch(lambda t, v: dg.average(t, axis=1, weights=v),
                       lambda t, v: (t * v).sum(1) / v.sum(), [x, w])
    compare_with_torch(lambda t: dg.average(t, axis=(0, 1)), lambda t: t.mean(), [x])


def test_corrcoef_correlate_grads_match_torch():
    x = tcase((3, 6))
    compare_with_torch(dg.corrcoef, torch.corrcoef, [x])
    a, v = tcase((7,), seed=1), tcase((3,), seed=2)

    def torch_correlate(p, q, mode):
        full = torch.nn.functional.conv1d(p[None, None], q[None, None], padding=q.shape[0] - 1)[0, 0]
        n, m = p.shape[0], q.shape[0]
        start, length = {"valid": (min(n, m) - 1, abs(n - m) + 1), "same": ((m - 1) // 2, n),
                         "full": (0, n + m - 1)}[mode]
        return full[start:start + length]

    for mode in ["valid", "same", "full"]:
        compare_with_torch(lambda p, q: dg.correlate(p, q, mode=mode), lambda p, q: torch_correlate(p, q, mode), [a, v])
        compare_with_torch(lambda p, q: dg.correlate(p, q, mode=mode), lambda p, q: torch_correlate(p, q, mode), [v, a])


def test_diff_trapezoid_grads_match_torch():
    x = tcase((3, 6))
    compare_with_torch(lambda t: dg.diff(t, n=2, axis=1), lambda t: torch.diff(t, n=2, dim=1), [x])
    compare_with_torch(lambda t: dg.diff(t, axis=0), lambda t: torch.diff(t, dim=0), [x])
    compare_with_torch(lambda t: dg.trapezoid(t, dx=0.5), lambda t: torch.trapezoid(t, dx=0.5), [x])
    grid = np.sort(np.random.default_rng(5).random((3, 6)), axis=1)
    compare_with_torch(lambda t, s: dg.trapezoid(t, x=s), lambda t, s: torch.trapezoid(t, s), [x, grid])
    compare_with_torch(lambda t, s: dg.trapezoid(t, x=s, axis=0), lambda t, s: torch.trapezoid(t, s, dim=0),
                       [x, grid[0, :3].copy()])


def test_float16_grads_follow_float64():
    x = tcase((3, 5))
    x[1, 2] = 0.0
    for fn in [lambda t: dg.cumprod(t, axis=1), lambda t: dg.prod(t, axis=0), lambda t: dg.cumsum(t),
               lambda t: dg.quantile(t, 0.4, axis=1), lambda t: dg.nanmean(t, axis=0)]:
        grads = []
        for dtype in (np.float16, np.float64):
            t = dg.Tensor(x.astype(dtype), requires_grad=True)
            out = fn(t)
            assert out.dtype == dtype
            out.backward(np.ones(out.shape, dtype))
            assert t.grad.dtype == dtype
            grads.append(t.grad.astype(np.float64))
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-2, atol=1e-2)


# ------------------------------------------------------------------ central differences
@pytest.mark.parametrize("fn", [
    lambda t: dg.cumprod(t, axis=1),
    lambda t: dg.prod(t, axis=0),
    lambda t: dg.quantile(t, [0.3, 0.6], axis=1),
    lambda t: dg.nanstd(t, axis=1),
    lambda t: dg.corrcoef(t),
    lambda t: dg.trapezoid(t, x=np.array([0.0, 0.5, 1.5, 1.7]), axis=1),
    lambda t: dg.correlate(t[0], t[1], mode="same"),
    lambda t: dg.average(t, axis=0, weights=np.array([0.2, 1.0, 3.0])),
])
def test_grads_match_central_differences(fn):
    check_gradients(fn, [tcase((3, 4), seed=7)])


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), seed=st.integers(0, 2**16),
       data=st.data())
def test_cumprod_prod_with_random_zeros(shape, seed, data):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    x[rng.random(shape) < 0.3] = 0.0
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    compare_with_torch(lambda t: dg.cumprod(t, axis=axis), lambda t: torch.cumprod(t, axis), [x])
    compare_with_torch(lambda t: dg.prod(t, axis=axis), lambda t: torch.prod(t, axis), [x])


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=6), seed=st.integers(0, 2**16),
       q=st.floats(0, 1), data=st.data())
def test_quantile_random_shapes_match_torch(shape, seed, q, data):
    x = np.random.default_rng(seed).standard_normal(shape)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    compare_with_torch(lambda t: dg.quantile(t, q, axis=axis), lambda t: torch.quantile(t, q, dim=axis), [x])


# ------------------------------------------------------------------ errors
def test_errors_name_the_op_and_argument():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="argmax: axis 2"):
        dg.argmax(x, axis=2)
    with pytest.raises(ValueError, match="quantile: q must be within"):
        dg.quantile(x, 1.5)
    with pytest.raises(ValueError, match="percentile: q must be within"):
        dg.percentile(x, -3)
    with pytest.raises(ValueError, match="quantile: method"):
        dg.quantile(x, 0.5, method="cubic")
    with pytest.raises(ValueError, match="correlate: x1 and x2 must be 1-D"):
        dg.correlate(x, x)
    with pytest.raises(ValueError, match="correlate: mode"):
        dg.correlate(x[0], x[0], mode="wide")
    with pytest.raises(TypeError, match="bincount: x must be integers"):
        dg.bincount(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="bincount: x must be non-negative"):
        dg.bincount(np.array([-1, 2]))
    with pytest.raises(ValueError, match="histogram: x must be 1-D"):
        dg.histogram(x)
    with pytest.raises(ValueError, match="average: weights"):
        dg.average(x, axis=1, weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="cumsum: axis 3"):
        dg.cumsum(x, axis=3)
    with pytest.raises(TypeError, match="ptp: bool"):
        dg.ptp(x > 0)
    with pytest.raises(ValueError, match="trapezoid: x of length 2"):
        dg.trapezoid(x, x=[0.0, 1.0])


BACKWARD_CASES = {
    "CumSum": (lambda t: dg.cumsum(t, axis=1), [tcase((3, 4))]),
    "CumProd": (lambda t: dg.cumprod(t * np.array([1.0, 0.0, 1.0, 1.0]), axis=1), [tcase((3, 4))]),
    "Prod": (lambda t: dg.prod(t * np.array([1.0, 0.0, 1.0, 1.0]), axis=1), [tcase((3, 4))]),
    "Quantile": (lambda t: dg.quantile(t, [0.2, 0.7], axis=0), [tcase((5, 3))]),
    "NanFill": (lambda t: dg.nansum(t, axis=0), [np.where(np.eye(4, 3) > 0, np.nan, tcase((4, 3)))]),
}
