"""keras.ops core: conversion, dtypes, control flow, slicing/scattering and custom gradients."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from oracle import check_gradients, compare_with_torch  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import ops  # noqa: E402

K = keras.ops
rng = np.random.default_rng(0)


def same(out, ref, rtol=1e-6, atol=1e-6):
    ref = K.convert_to_numpy(ref)
    out = out.data if isinstance(out, dg.Tensor) else np.asarray(out)
    assert out.dtype == ref.dtype, f"dtype {out.dtype} != keras {ref.dtype}"
    assert out.shape == ref.shape, f"shape {out.shape} != keras {ref.shape}"
    np.testing.assert_allclose(out.astype(np.float64) if out.dtype.kind != "c" else out, ref, rtol=rtol, atol=atol)


# ----------------------------------------------------------------- conversion and dtypes
@pytest.mark.parametrize("value", [1, 1.5, True, [1, 2], [1.0, 2], [[True, False]],
                                   np.arange(3, dtype=np.int64), np.ones(2, np.float16),
                                   np.ones((2, 0), np.float64), np.uint8(3)])
def test_convert_to_tensor_dtype_as_keras(value):
    out = ops.convert_to_tensor(value)
    assert isinstance(out, dg.Tensor)
    same(out, K.convert_to_tensor(value))
    assert ops.dtype(value) == K.dtype(K.convert_to_tensor(value))
    assert ops.shape(value) == tuple(K.shape(K.convert_to_tensor(value)))


@pytest.mark.parametrize("dtype", ["float16", "float64", "int8", "uint8", "int64", "bool"])
def test_convert_to_tensor_with_dtype(dtype):
    value = [[0.0, 1.7], [-2.2, 3.0]] if dtype != "uint8" else [[0.0, 1.7], [2.2, 3.0]]
    same(ops.convert_to_tensor(value, dtype=dtype), K.convert_to_tensor(value, dtype=dtype))


def test_convert_to_numpy_and_is_tensor():
    t = dg.Tensor(np.arange(4, dtype=np.int16), dtype=np.int16)
    a = ops.convert_to_numpy(t)
    assert isinstance(a, np.ndarray) and a.dtype == np.int16
    a[0] = 9  # a copy: the tensor is unchanged
    assert t.data[0] == 0
    assert ops.is_tensor(t) and not ops.is_tensor(a) and not ops.is_tensor(1.0)
    with pytest.raises(ValueError, match="sparse"):
        ops.convert_to_tensor([1.0], sparse=True)


def test_shape_is_the_op_and_returns_ints():
    assert callable(dg.ops.shape) and dg.shape is dg.ops.shape
    s = ops.shape(dg.Tensor(np.zeros((2, 3, 0))))
    assert s == (2, 3, 0) and all(type(n) is int for n in s)
    assert ops.shape([[1, 2, 3]]) == (1, 3)


@pytest.mark.parametrize("src", ["float16", "float32", "float64", "int32", "int64", "uint8", "bool"])
@pytest.mark.parametrize("dst", ["float16", "float32", "float64", "int32", "int8", "uint8", "bool"])
def test_cast_as_keras(src, dst):
    x = (rng.standard_normal((3, 4)) * 5).astype(src)
    if np.dtype(dst).kind == "u" or np.dtype(src).kind == "u":
        x = np.abs(x)
    same(ops.cast(x, dst), K.cast(x, dst))


@pytest.mark.parametrize("src,dst", [("float32", "uint8"), ("float64", "int8"), ("int64", "int8"),
                                     ("float64", "float16"), ("int32", "uint8"), ("float32", "int32")])
def test_saturate_cast_as_keras(src, dst):
    x = np.array([-1e6, -300.5, -1.5, 0, 2.5, 200, 1e6], dtype=src)
    if np.dtype(src).kind == "f":
        x = np.concatenate([x, np.array([np.inf, -np.inf], src)])
    same(ops.saturate_cast(x, dst), K.saturate_cast(x, dst))


def test_cast_of_python_numbers_is_exact():
    for value, dtype in [(0.1, "float64"), ([0.1, 1e300], "float64"), (3, "int8"), (True, "float32")]:
        same(ops.cast(value, dtype), K.cast(value, dtype), 0, 0)


def test_cast_gradient_between_floats():
    compare_with_torch(lambda a: ops.cast(a, "float32") * 2.0, lambda a: a.to(torch.float32) * 2.0,
                       [rng.standard_normal((3, 2))], rtol=1e-6, atol=1e-6)
    x = dg.Tensor(rng.standard_normal(3), requires_grad=True)
    y = ops.cast(x, "int32")
    assert y.dtype == np.int32 and not y.requires_grad


def test_saturate_cast_gradient_is_the_clip():
    x = dg.Tensor(np.array([-1e6, 3.0, 1e6]), requires_grad=True)
    y = ops.saturate_cast(x, "float16")
    assert y.dtype == np.float16
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 1.0, 0.0])


def test_stop_gradient():
    x = dg.Tensor(rng.standard_normal(4), requires_grad=True)
    y = (x * ops.stop_gradient(x)).sum()
    y.backward()
    np.testing.assert_allclose(x.grad, x.data)  # d/dx x*c = c
    i = ops.stop_gradient(np.arange(3))
    assert i.dtype == np.int64


# ----------------------------------------------------------------- custom gradients
@ops.custom_gradient
def log1pexp(x):
    e = ops.exp(x)

    def grad(*args, upstream=None):
        return upstream * (1.0 - 1.0 / (1.0 + e))

    return ops.log(1.0 + e), grad


@ops.custom_gradient
def clipped_identity(x, y):
    def grad(*args, upstream=None):
        return ops.clip(upstream, -1.0, 1.0), upstream * 10.0

    return x * 1.0 + y * 0.0, grad


def test_custom_gradient_values_and_backward():
    x = np.array([-3.0, 0.0, 2.0, 100.0])
    t = dg.Tensor(x, requires_grad=True)
    out = log1pexp(t)
    np.testing.assert_allclose(out.data[:3], np.log1p(np.exp(x[:3])), rtol=1e-12)
    out.backward(np.ones(4))
    np.testing.assert_allclose(t.grad, 1 / (1 + np.exp(-x)), rtol=1e-12)  # finite even at 100


def test_custom_gradient_two_inputs_and_tape():
    a = dg.Tensor(np.array([0.5, 3.0]))
    b = dg.Tensor(np.array([1.0, 2.0]))
    with dg.GradientTape() as tape:
        tape.watch([a, b])
        y = clipped_identity(a, b) * np.array([5.0, -0.5])
    ga, gb = tape.gradient(y, [a, b])
    np.testing.assert_allclose(ga, [1.0, -0.5])
    np.testing.assert_allclose(gb, [50.0, -5.0])


def test_custom_gradient_matches_keras():
    x = np.linspace(-2, 2, 5).astype(np.float32)

    @K.custom_gradient
    def k_f(x):
        def grad(*args, upstream=None):
            return upstream * 7.0
        return K.square(x), grad

    @ops.custom_gradient
    def d_f(x):
        def grad(*args, upstream=None):
            return upstream * 7.0
        return ops.square(x), grad

    xt = torch.tensor(x, requires_grad=True)
    k_f(xt).sum().backward()
    dt = dg.Tensor(x, requires_grad=True)
    d_f(dt).sum().backward()
    np.testing.assert_allclose(dt.grad, xt.grad.numpy())
    same(d_f(x), k_f(x))


# ----------------------------------------------------------------- control flow
def test_cond_and_switch():
    x = dg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = ops.cond(dg.Tensor(np.array(True), dtype=bool), lambda: x * 3.0, lambda: x * 5.0)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])
    assert float(ops.cond(False, lambda: 1.0, lambda: 2.0)) == 2.0
    branches = [lambda a: a + 1, lambda a: a * 10, lambda a: a - 1]
    for i in [-3, 0, 1, 2, 7]:
        same(ops.switch(i, branches, np.float32(2.0)), K.switch(i, branches, np.float32(2.0)))
    with pytest.raises(ValueError, match="cond"):
        ops.cond(np.array([True, False]), lambda: 1, lambda: 2)


def test_while_loop_and_fori_loop():
    out = ops.while_loop(lambda i, s: i < 10, lambda i, s: (i + 1, s + i), (0, 0))
    ref = K.while_loop(lambda i, s: i < 10, lambda i, s: (i + 1, s + i), (0, 0))
    assert [int(v) for v in out] == [int(v) for v in ref] == [10, 45]
    single = ops.while_loop(lambda v: v < 100, lambda v: v * 2, 3, maximum_iterations=4)
    assert int(single) == int(K.while_loop(lambda v: v < 100, lambda v: v * 2, 3, maximum_iterations=4)) == 48
    x = dg.Tensor(np.array([1.5, -2.0]), requires_grad=True)
    y = ops.fori_loop(0, 3, lambda i, v: v * x, dg.Tensor(np.ones(2)))
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 3 * x.data ** 2)  # d x^3


def test_scan_values_and_gradient():
    xs = rng.standard_normal((6, 3))

    def step(c, x):
        c = c * 0.5 + x
        return c, c * c

    carry, ys = ops.scan(step, np.zeros(3), xs)
    kc, kys = K.scan(step, np.zeros(3), xs)
    same(carry, kc, 1e-12, 1e-12)
    same(ys, kys, 1e-12, 1e-12)
    carry_r, ys_r = ops.scan(step, np.zeros(3), xs, reverse=True)
    kc, kys = K.scan(step, np.zeros(3), xs, reverse=True)
    same(carry_r, kc, 1e-12, 1e-12)
    same(ys_r, kys, 1e-12, 1e-12)
    check_gradients(lambda x: ops.scan(step, dg.Tensor(np.ones(3)), x)[1], [xs])
    # nested carries, no xs
    (a, b), none = ops.scan(lambda c, _: ((c[0] + 1.0, c[1] * 2.0), None), (np.float64(0), np.float64(1)), length=4)
    assert float(a) == 4.0 and float(b) == 16.0
    assert [z.shape for z in none] == [(4,), (4,)] and not np.any(none[0].data)


def test_map_and_vectorized_map():
    xs = rng.standard_normal((4, 3)).astype(np.float32)
    same(ops.map(lambda x: x * x + 1.0, xs), K.map(lambda x: x * x + 1.0, xs))
    same(ops.vectorized_map(lambda x: ops.sum(x) * 2.0, xs), K.vectorized_map(lambda x: K.sum(x) * 2.0, K.convert_to_tensor(xs)))
    pair = ops.map(lambda p: p[0] - p[1], (xs, xs * 2.0))
    np.testing.assert_allclose(pair.data, -xs)
    check_gradients(lambda x: ops.map(lambda r: ops.exp(r) * r, x), [rng.standard_normal((3, 2))])


@pytest.mark.parametrize("n", [1, 2, 5, 8, 13])
@pytest.mark.parametrize("reverse", [False, True])
def test_associative_scan(n, reverse):
    # float32: Keras's torch backend returns float32 even for float64 input (deepgrad keeps float64)
    x = rng.standard_normal((3, n)).astype(np.float32)
    same(ops.associative_scan(lambda a, b: a + b, x, reverse=reverse, axis=1),
         K.associative_scan(lambda a, b: a + b, x, reverse=reverse, axis=1), 1e-5, 1e-5)
    same(ops.associative_scan(lambda a, b: a * b, x.T, reverse=reverse),
         K.associative_scan(lambda a, b: a * b, x.T, reverse=reverse), 1e-5, 1e-5)
    x = x.astype(np.float64)
    # a pytree: an affine recurrence (a, b) o (c, d) = (a c, b c + d)
    a, b = rng.uniform(0.5, 1.0, n), rng.standard_normal(n)
    f = lambda p, q: (p[0] * q[0], p[1] * q[0] + q[1])  # noqa: E731
    out = ops.associative_scan(f, (a, b), reverse=reverse)
    ref = K.associative_scan(f, (a, b), reverse=reverse)
    for o, r in zip(out, ref):
        assert o.dtype == np.float64
        np.testing.assert_allclose(o.data, K.convert_to_numpy(r), rtol=1e-6, atol=1e-6)
    check_gradients(lambda t: ops.associative_scan(lambda u, v: u * v, t, reverse=reverse), [x[0] + 2.0])


# ----------------------------------------------------------------- slicing and scattering
@given(st.data())
def test_slice_and_slice_update_as_keras(data):
    shape = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
    starts = [data.draw(st.integers(0, n - 1)) for n in shape]
    sizes = [data.draw(st.integers(0, n - s)) for n, s in zip(shape, starts)]
    x = rng.standard_normal(shape).astype(np.float32)
    same(ops.slice(x, starts, sizes), K.slice(x, starts, sizes))
    u = rng.standard_normal(sizes).astype(np.float32)
    same(ops.slice_update(x, starts, u), K.slice_update(x, starts, u))
    xi = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    same(ops.slice_update(xi, starts, u.astype(np.int32)), K.slice_update(xi, starts, u.astype(np.int32)))


def _torch_slice_update(x, u, starts):
    idx = tuple(slice(s, s + n) for s, n in zip(starts, u.shape))
    out = x.clone()
    out[idx] = u
    return out


def test_slice_gradients():
    x = rng.standard_normal((4, 5, 3))
    compare_with_torch(lambda a: ops.slice(a, [1, 0, 2], [2, 5, 1]), lambda a: a[1:3, 0:5, 2:3], [x])
    u = rng.standard_normal((2, 3, 3))
    compare_with_torch(lambda a, b: ops.slice_update(a, [2, 1, 0], b),
                       lambda a, b: _torch_slice_update(a, b, [2, 1, 0]), [x, u])
    check_gradients(lambda a, b: ops.slice_update(a, np.array([1, 2, 0]), b), [x, u])


def test_scatter_as_keras_and_gradient():
    idx = np.array([[0, 1], [2, 0], [0, 1], [3, 3]])
    v = rng.standard_normal(4).astype(np.float32)
    same(ops.scatter(idx, v, (4, 4)), K.scatter(idx, v, (4, 4)))
    vs = rng.standard_normal((4, 3)).astype(np.float32)  # slices: depth 2 into a 3-d target
    same(ops.scatter(idx, vs, (4, 4, 3)), K.scatter(idx, vs, (4, 4, 3)))
    same(ops.scatter(idx, v.astype(np.int32), (4, 4)), K.scatter(idx, v.astype(np.int32), (4, 4)))
    check_gradients(lambda a: ops.scatter(idx, a, (4, 4, 3)), [vs])

    def t_scatter(a):
        out = torch.zeros((4, 4, 3), dtype=a.dtype)
        return out.index_put(tuple(torch.tensor(idx).T), a, accumulate=True)

    compare_with_torch(lambda a: ops.scatter(idx, a, (4, 4, 3)), t_scatter, [vs.astype(np.float64)])


@pytest.mark.parametrize("reduction", [None, "add", "max", "min", "mul"])
def test_scatter_update_as_keras(reduction):
    x = rng.standard_normal((5, 3)).astype(np.float32)
    idx = np.array([[0, 1], [4, 2], [2, 0]])
    u = rng.standard_normal(3).astype(np.float32)
    same(ops.scatter_update(x, idx, u, reduction=reduction), K.scatter_update(x, idx, u, reduction=reduction))
    rows = np.array([[1], [3]])
    ur = rng.standard_normal((2, 3)).astype(np.float32)
    same(ops.scatter_update(x, rows, ur, reduction=reduction), K.scatter_update(x, rows, ur, reduction=reduction))


def test_scatter_update_gradients():
    x = rng.standard_normal((5, 3))
    idx = np.array([[0, 1], [4, 2], [2, 0]])
    u = rng.standard_normal(3)
    ti = tuple(torch.tensor(idx).T)
    compare_with_torch(lambda a, b: ops.scatter_update(a, idx, b), lambda a, b: a.index_put(ti, b), [x, u])
    compare_with_torch(lambda a, b: ops.scatter_update(a, idx, b, reduction="add"),
                       lambda a, b: a.index_put(ti, b, accumulate=True), [x, u])
    check_gradients(lambda a, b: ops.scatter_update(a, idx, b), [x, u])


def test_unstack():
    x = rng.standard_normal((2, 3, 4))
    for axis in (0, 1, -1):
        parts, ref = ops.unstack(x, axis=axis), K.unstack(K.convert_to_tensor(x), axis=axis)
        assert len(parts) == len(ref)
        for p, r in zip(parts, ref):
            same(p, r)
    check_gradients(lambda a: ops.unstack(a, axis=1)[2] * 3.0, [x])
    with pytest.raises(ValueError, match="unstack"):
        ops.unstack(x, num=5)


@pytest.mark.parametrize("pattern,lengths", [
    ("b h w c -> b c h w", {}),
    ("b (h w) c -> b h w c", {"h": 2}),
    ("b h w c -> (b h) (w c)", {}),
    ("b (h1 h2) w c -> b h1 (h2 w c)", {"h1": 3}),
])
def test_rearrange_as_keras(pattern, lengths):
    shape = {"b h w c -> b c h w": (2, 3, 4, 5), "b (h w) c -> b h w c": (2, 6, 5),
             "b h w c -> (b h) (w c)": (2, 3, 4, 5), "b (h1 h2) w c -> b h1 (h2 w c)": (2, 6, 2, 3)}[pattern]
    x = rng.standard_normal(shape).astype(np.float32)
    same(ops.rearrange(x, pattern, **lengths), K.rearrange(x, pattern, **lengths))
    check_gradients(lambda a: ops.rearrange(a, pattern, **lengths), [x.astype(np.float64)])


def test_rearrange_errors():
    with pytest.raises(ValueError, match="rearrange"):
        ops.rearrange(np.zeros((2, 6)), "b (h w) -> b h w")
    with pytest.raises(ValueError, match="rearrange"):
        ops.rearrange(np.zeros((2, 6)), "b c -> b c d")
    with pytest.raises(ValueError, match="rearrange"):
        ops.rearrange(np.zeros((2, 6)), "b (h w) -> b h w", h=4)


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_view_as_real_and_complex(dtype):
    z = (rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))).astype(dtype)
    r = ops.view_as_real(z)
    same(r, K.view_as_real(z))
    same(ops.view_as_complex(r), K.view_as_complex(K.convert_to_numpy(K.view_as_real(z))))
    with pytest.raises(ValueError, match="view_as_complex"):
        ops.view_as_complex(np.zeros((3, 3)))


def test_errors_name_the_op():
    with pytest.raises(ValueError, match="slice"):
        ops.slice(np.zeros((3, 3)), [2, 0], [2, 3])
    with pytest.raises(TypeError, match="scatter"):
        ops.scatter(np.array([[0.5]]), [1.0], (3,))
    with pytest.raises(ValueError, match="scatter_update"):
        ops.scatter_update(np.zeros(3), [[5]], [1.0])
    with pytest.raises(ValueError, match="slice_update"):
        ops.slice_update(np.zeros((3, 3)), [2, 2], np.ones((2, 2)))


BACKWARD_CASES = {
    "_CustomGradient": (lambda a: log1pexp(a), [rng.standard_normal(4)]),
    "SliceUpdate": (lambda a, b: ops.slice_update(a, [1, 0], b), [rng.standard_normal((3, 3)), rng.standard_normal((2, 2))]),
    "Scatter": (lambda a: ops.scatter(np.array([[0], [2], [0]]), a, (4,)), [rng.standard_normal(3)]),
    "ScatterUpdate": (lambda a, b: ops.scatter_update(a, np.array([[0], [2]]), b), [rng.standard_normal(4), rng.standard_normal(2)]),
}


def test_vectorize_as_numpy_and_keras():
    def f(a, b):
        return a - b if a > b else a + b

    out = dg.vectorize(f)([1, 2, 3, 4], 2)
    np.testing.assert_array_equal(out.data, np.vectorize(lambda a, b: a - b if a > b else a + b)([1, 2, 3, 4], 2))
    rows = dg.vectorize(lambda m: dg.sum(m, axis=-1), signature="(n)->()")(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(rows.data, [3.0, 12.0])


def test_view_reinterprets_bytes():
    x = np.array([1.0, -2.0], np.float32)
    np.testing.assert_array_equal(dg.view(x, "int32").data, x.view(np.int32))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(keras.ops.view(x, "int32")), x.view(np.int32))
    with pytest.raises(ValueError, match="view"):
        dg.view(np.ones(3, np.int8), "int32")
