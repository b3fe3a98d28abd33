"""Layer normalisation as one compiled loop per direction (``deepgrad.loops.layer_norm``, on by
default) against the NumPy path it stands for and against PyTorch: the output and the gradients
of the input, gamma and beta agree within a few units in the last place (the row sums are summed
in another order), for any number of features, without gamma or beta, over several trailing axes,
float32 and float64; one thread or two give the same bits; the NumPy path without the extension
or with DEEPGRAD_LOOPS=0."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad import runtime
from deepgrad.ops import normalization, normalization_compiled
from compiled_switch import extension, off_cases

extension("layer_norm")  # skips when not built

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


def test_off_without_the_extension_or_with_the_switch_at_zero(monkeypatch):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 24)).astype(np.float32)
    weights = rng.standard_normal(x.shape).astype(np.float32)
    want = numpy_path(monkeypatch, lambda: grads(x, None, None, -1, weights))
    for _ in off_cases(monkeypatch, normalization_compiled, "layer_norm"):
        assert normalization_compiled.kernel("forward") is None
        assert normalization_compiled.kernel("backward") is None
        for a, b in zip(grads(x, None, None, -1, weights), want):
            np.testing.assert_array_equal(a, b)  # the NumPy path, bit for bit
    assert normalization_compiled.kernel("forward") is not None  # on by default once built
    assert normalization_compiled.kernel("backward") is not None


def test_no_loop_for_float16():
    x = np.linspace(-2, 2, 48, dtype=np.float16).reshape(3, 16)
    assert normalization_compiled.forward(x, 16, None, None, 1e-3) is None
    assert normalization_compiled.backward(x, x, x[:, 0], None, True) is None


@pytest.mark.parametrize("affine", ["none", "gamma"])
def test_a_negative_zero_keeps_its_sign_without_beta(monkeypatch, affine):
    """A row of zeros centres to zeros of their own signs: without beta the output keeps them, as
    NumPy's path does (the loop adds -0 for a missing beta, which changes no bit)."""
    x = np.array([[0.0, -0.0, 0.0, -0.0], [1.0, -2.0, 3.0, 0.5]], np.float32)
    gamma = dg.Tensor(np.array([1.0, 2.0, -0.5, 3.0], np.float32)) if affine == "gamma" else None

    def run():
        return normalization.layer_norm(dg.Tensor(x), gamma, None, axis=-1).data

    got, want = run(), numpy_path(monkeypatch, run)
    assert np.signbit(got[0]).tolist() == np.signbit(want[0]).tolist() and np.signbit(got[0]).any()
    np.testing.assert_array_equal(got[0].view(np.uint32), want[0].view(np.uint32))
