"""Layer normalisation as one compiled loop per direction (numba, used by default when installed)
against the NumPy path it stands for and against PyTorch: the output and the gradients of the
input, gamma and beta agree within a few units in the last place (the row sums are summed in
another order), for any number of features, without gamma or beta, over several trailing axes,
float32 and float64; one thread or two give the same bits; the NumPy path without numba or with
DEEPGRAD_NUMBA=0."""
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad import runtime
from deepgrad.ops import normalization, normalization_compiled

numba = pytest.importorskip("numba")

# float32: a few units in the last place of values of order 1-10 (the NumPy path's own error
# against float64 is of the same size)
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def numpy_path(monkeypatch, fn):
    with monkeypatch.context() as m:
        m.setattr(normalization_compiled, "loaded", {"forward": None, "backward": None})
        return fn()


def grads(x, gamma, beta, axis, weights):
    """Output and gradients of sum(layer_norm(x) * weights) with respect to x, gamma, beta."""
    leaves = [dg.Tensor(a, requires_grad=True) for a in (x, gamma, beta) if a is not None]
    params = iter(leaves[1:])
    g = next(params) if gamma is not None else None
    b = next(params) if beta is not None else None
    out = normalization.layer_norm(leaves[0], g, b, axis=axis, epsilon=1e-3)
    assert isinstance(out._ctx, normalization.LayerNorm)
    (out * dg.Tensor(weights)).sum().backward()
    return [out.data.copy()] + [t.grad.copy() for t in leaves]


def cases():
    for shape, axis in (((64, 128), -1), ((3, 17, 37), -1), ((5, 4, 3, 8), (2, 3)), ((7, 5), -1), ((1, 16), -1)):
        for affine in ("both", "gamma", "beta"):
            yield shape, axis, affine


@pytest.mark.parametrize("shape, axis, affine", list(cases()))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_loops_agree_with_the_numpy_path_and_torch(monkeypatch, shape, axis, affine, dtype):
    rng = np.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    axes = (axis,) if isinstance(axis, int) else axis
    feature_shape = tuple(shape[a] for a in axes)
    gamma = rng.uniform(0.5, 2, feature_shape).astype(dtype) if affine in ("both", "gamma") else None
    beta = rng.standard_normal(feature_shape).astype(dtype) if affine in ("both", "beta") else None
    weights = rng.standard_normal(shape).astype(dtype)
    assert normalization_compiled.kernel("forward") is not None
    calls = []
    real = normalization_compiled.forward
    monkeypatch.setattr(normalization_compiled, "forward", lambda *a: calls.append(1) or real(*a))
    got = grads(x, gamma, beta, axis, weights)
    assert calls  # the compiled loop ran
    want = numpy_path(monkeypatch, lambda: grads(x, gamma, beta, axis, weights))
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, **TOL[dtype])
    leaves = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta) if a is not None]
    params = iter(leaves[1:])
    tg = next(params) if gamma is not None else None
    tb = next(params) if beta is not None else None
    ty = F.layer_norm(leaves[0], feature_shape, tg, tb, eps=1e-3)
    (ty * torch.tensor(weights)).sum().backward()
    for ours, ref in zip(got, [ty.detach()] + [t.grad for t in leaves]):
        np.testing.assert_allclose(ours, ref.numpy(), **TOL[dtype])


def _force(monkeypatch, split: bool) -> None:
    """Two cores, the halves' size threshold at 1 (split) or out of reach (one thread)."""
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    monkeypatch.setattr(runtime, "_TAKE_BACK_UNSTARTED", False)  # the worker thread runs its half
    monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", 1 if split else 1 << 62)


def test_one_thread_or_two_give_the_same_bits(monkeypatch):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((512, 128)).astype(np.float32)
    gamma, beta = rng.uniform(0.5, 2, 128).astype(np.float32), rng.standard_normal(128).astype(np.float32)
    weights = rng.standard_normal(x.shape).astype(np.float32)
    _force(monkeypatch, True)
    submitted = []
    real = runtime._in_two_threads
    monkeypatch.setattr(runtime, "_in_two_threads", lambda *a: submitted.append(1) or real(*a))
    split = grads(x, gamma, beta, -1, weights)
    assert len(submitted) == 2  # forward and backward went to two threads
    _force(monkeypatch, False)
    plain = grads(x, gamma, beta, -1, weights)
    assert len(submitted) == 2
    for a, b in zip(split, plain):
        np.testing.assert_array_equal(a, b)


def test_only_the_parameters_need_a_gradient():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 20)).astype(np.float32)
    g = dg.Tensor(rng.uniform(0.5, 2, 20).astype(np.float32), requires_grad=True)
    b = dg.Tensor(np.zeros(20, np.float32), requires_grad=True)
    out = normalization.layer_norm(dg.Tensor(x), g, b, axis=-1)
    out.sum().backward()
    xhat = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(g.grad, xhat.sum(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b.grad, np.full(20, 6, np.float32))


def test_off_without_numba_or_with_the_switch_at_zero(monkeypatch):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 24)).astype(np.float32)
    weights = rng.standard_normal(x.shape).astype(np.float32)
    want = numpy_path(monkeypatch, lambda: grads(x, None, None, -1, weights))
    for env, module in (("0", numba), (None, None)):
        monkeypatch.setattr(normalization_compiled, "loaded", {})
        if env is None:
            monkeypatch.delenv("DEEPGRAD_NUMBA", raising=False)
        else:
            monkeypatch.setenv("DEEPGRAD_NUMBA", env)
        monkeypatch.setitem(sys.modules, "numba", module)  # None: import numba raises ImportError
        assert normalization_compiled.kernel("forward") is None
        assert normalization_compiled.kernel("backward") is None
        for a, b in zip(grads(x, None, None, -1, weights), want):
            np.testing.assert_array_equal(a, b)  # the NumPy path, bit for bit
    monkeypatch.setitem(sys.modules, "numba", numba)
    monkeypatch.setattr(normalization_compiled, "loaded", {})


def test_no_loop_for_float16():
    x = np.linspace(-2, 2, 48, dtype=np.float16).reshape(3, 16)
    assert normalization_compiled.forward(x, 16, None, None, 1e-3) is None
    assert normalization_compiled.backward(x, x, x[:, 0], None, True) is None
