"""Tiling max pooling as compiled loops (``deepgrad.loops.max_pool``, on by default) against the
NumPy passes they stand for: the same bits forward (maxima and argmax) and backward, with ties,
signed zeros, NaN and infinities, a crop that "valid" leaves over, both float dtypes, one- and
two-byte indices, strided inputs, one and two threads, and under a fused relu(conv2d); the NumPy
path for what the loops do not take, without the extension, or with DEEPGRAD_LOOPS=0."""
import numpy as np
import pytest

from deepgrad import runtime
from deepgrad.autograd import Tensor
from deepgrad.ops import pool_compiled
from deepgrad.ops.im2col import conv2d_relu
from deepgrad.ops.pool import max_pool1d, max_pool2d

from compiled_switch import extension, off_cases

extension("max_pool")  # skips when not built
OFF = {"forward": None, "backward": None}


def numpy_path(monkeypatch, fn):
    with monkeypatch.context() as m:
        m.setattr(pool_compiled, "loaded", dict(OFF))
        return fn()


def awkward(rng, shape, dtype):
    """Values with many ties (a few levels), signed zeros, infinities and some NaN."""
    x = rng.integers(-2, 3, shape).astype(dtype)
    x[rng.random(shape) < 0.2] = -0.0
    x[rng.random(shape) < 0.02] = np.inf
    x[rng.random(shape) < 0.02] = -np.inf
    x[rng.random(shape) < 0.01] = np.nan
    return x


class Result:
    def __init__(self, data, argmax, compiled):
        self.data, self.argmax, self.compiled = data, argmax, compiled


def pool_and_grad(x, g, fn, **kw):
    t = Tensor(x, requires_grad=True)
    out = fn(t, **kw)
    argmax, compiled = out._ctx.saved[0].copy(), out._ctx.compiled  # (released by the backward)
    (out * Tensor(g)).sum().backward()
    return Result(out.data, argmax, compiled), t.grad


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"))


@pytest.mark.parametrize("shape, pool", [((3, 8, 8, 5), (2, 2)), ((2, 9, 7, 3), (2, 2)), ((2, 9, 10, 4), (3, 2)),
                                         ((1, 4, 4, 1), (4, 4)), ((2, 6, 6, 2), (1, 3)),
                                         ((1, 34, 17, 2), (17, 17))])  # 289 cells: uint16 indices
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loops_give_the_numpy_paths_bits(monkeypatch, shape, pool, dtype):
    rng = np.random.default_rng(sum(shape) + pool[0])
    x = awkward(rng, shape, dtype)
    assert pool_compiled.usable(x, pool, pool, ((0, 0), (0, 0)))
    ho, wo = shape[1] // pool[0], shape[2] // pool[1]
    g = awkward(rng, (shape[0], ho, wo, shape[3]), dtype)
    run = lambda: pool_and_grad(x, g, max_pool2d, pool_size=pool)  # noqa: E731
    (out, dx), (want_out, want_dx) = run(), numpy_path(monkeypatch, run)
    same_bits(out.data, want_out.data)
    same_bits(out.argmax, want_out.argmax)  # the argmax, which the second order reads
    same_bits(dx, want_dx)
    assert out.compiled and not want_out.compiled


@pytest.mark.parametrize("view", ["transposed", "cropped"])
def test_a_strided_input_takes_the_loops_with_the_same_bits(monkeypatch, view):
    """A channels-first batch seen channels-last, or a crop of a larger array: not C-contiguous."""
    rng = np.random.default_rng(6)
    if view == "transposed":
        x = awkward(rng, (2, 3, 8, 6), np.float32).transpose(0, 2, 3, 1)
    else:
        x = awkward(rng, (2, 9, 8, 5), np.float32)[:, 1:, :6, 1:]
    assert not x.flags.c_contiguous
    g = rng.standard_normal((2, 4, 3, x.shape[3])).astype(np.float32)
    run = lambda: pool_and_grad(x, g, max_pool2d)  # noqa: E731
    (out, dx), (want_out, want_dx) = run(), numpy_path(monkeypatch, run)
    assert out.compiled
    same_bits(out.data, want_out.data)
    same_bits(out.argmax, want_out.argmax)
    same_bits(dx, want_dx)


def test_pool1d_takes_the_loops_with_the_same_bits(monkeypatch):
    rng = np.random.default_rng(1)
    x = awkward(rng, (3, 11, 4), np.float32)
    g = rng.standard_normal((3, 5, 4)).astype(np.float32)
    run = lambda: pool_and_grad(x, g, max_pool1d, pool_size=2)  # noqa: E731
    (out, dx), (want_out, want_dx) = run(), numpy_path(monkeypatch, run)
    assert out.compiled
    same_bits(out.data, want_out.data)
    same_bits(dx, want_dx)


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("nan", [False, True])
def test_under_a_fused_relu_the_gradients_are_the_numpy_paths(monkeypatch, split, nan):
    """relu(conv2d) -> max pool: the loop applies the relu's mask to the pooled gradient (NaN
    maxima leave it to the convolution), over one or two threads."""
    if not split:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
    elif not runtime.two_threads():
        pytest.skip("one core")
    else:
        monkeypatch.setattr(runtime, "_TAKE_BACK_UNSTARTED", False)  # the worker takes a half, even when busy
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64 if split else 4, 14, 14, 2)).astype(np.float32)
    if nan:
        x[-1, 3, 4, 0] = np.nan
    kernel = rng.standard_normal((3, 3, 2, 8)).astype(np.float32)
    bias = rng.standard_normal(8).astype(np.float32) * 0.1
    g = rng.standard_normal((x.shape[0], 6, 6, 8)).astype(np.float32)

    def run():
        xt, kt, bt = (Tensor(a, requires_grad=True) for a in (x, kernel, bias))
        out = max_pool2d(conv2d_relu(xt, kt, bt))
        compiled = out._ctx.compiled
        (out * Tensor(g)).sum().backward()
        return Result(out.data, None, compiled), xt.grad, kt.grad, bt.grad

    got, want = run(), numpy_path(monkeypatch, run)
    assert got[0].compiled
    for a, b in zip(got, want):
        same_bits(getattr(a, "data", a), getattr(b, "data", b))


def test_a_batch_split_over_two_threads_gives_the_same_bits(monkeypatch):
    if not runtime.two_threads():
        pytest.skip("one core")
    monkeypatch.setattr(runtime, "_TAKE_BACK_UNSTARTED", False)  # the worker takes a half, even when busy
    rng = np.random.default_rng(3)
    x = awkward(rng, (64, 26, 26, 16), np.float32)  # large enough for two threads
    g = rng.standard_normal((64, 13, 13, 16)).astype(np.float32)
    run = lambda: pool_and_grad(x, g, max_pool2d)  # noqa: E731
    (out, dx), (want_out, want_dx) = run(), numpy_path(monkeypatch, run)
    same_bits(out.data, want_out.data)
    same_bits(dx, want_dx)


@pytest.mark.parametrize("kw", [dict(strides=(1, 1)), dict(padding="same"), dict(pool_size=(3, 3), strides=(2, 2))])
def test_overlapping_or_padded_windows_take_the_numpy_path(kw):
    x = np.random.default_rng(4).standard_normal((2, 7, 7, 3)).astype(np.float32)
    out = max_pool2d(Tensor(x, requires_grad=True), **kw)
    assert not out._ctx.compiled


def test_float16_takes_the_numpy_path():
    out = max_pool2d(Tensor(np.ones((1, 4, 4, 1), np.float16), requires_grad=True))
    assert not out._ctx.compiled and out.data.dtype == np.float16


def test_off_without_the_extension_or_with_the_switch_at_zero(monkeypatch):
    rng = np.random.default_rng(5)
    x = awkward(rng, (2, 6, 6, 3), np.float32)
    g = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    monkeypatch.setattr(pool_compiled, "loaded", {})
    monkeypatch.delenv("DEEPGRAD_LOOPS", raising=False)
    with_loops = pool_and_grad(x, g, max_pool2d)
    assert with_loops[0].compiled  # unset: on by default
    for _ in off_cases(monkeypatch, pool_compiled, "max_pool"):
        out, dx = pool_and_grad(x, g, max_pool2d)
        assert pool_compiled.kernel("forward") is None and pool_compiled.kernel("backward") is None
        assert not out.compiled
        same_bits(out.data, with_loops[0].data)
        same_bits(dx, with_loops[1])
    assert pool_compiled.kernel("forward") is not None  # on again once the switch is unset
