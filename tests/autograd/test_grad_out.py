"""``grad(..., out=arrays)``: each leaf's gradient is accumulated in the caller's array (a view
of a flat all-reduce buffer in a data-parallel step) and that array is returned, with the same
bits as without ``out``; a Function that ``writes_input_grads`` (Dense's ``Linear``) computes
the first contribution straight into it, so nothing is copied."""
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad.autograd import Function, Tensor, engine, grad
from deepgrad.ops import nn


def _flat_views(tensors, fill=np.nan):
    """One flat buffer and each tensor's view of it (as the all-reduce's buckets are laid out)."""
    dtype = tensors[0].dtype
    buffer = np.full(sum(t.data.size for t in tensors), fill, dtype)
    views, at = [], 0
    for t in tensors:
        views.append(buffer[at:at + t.data.size].reshape(t.shape))
        at += t.data.size
    return buffer, views


@pytest.fixture
def copies(monkeypatch):
    """(the leaf, whether it already had a contribution, whether this one had to be copied or
    added rather than computed in place) for each contribution to a leaf of ``out``, in order."""
    seen = []
    accumulate = engine._accumulate

    def spy(found, t, g, out):
        seen.append((t, id(t) in found, g is not out))
        accumulate(found, t, g, out)
    monkeypatch.setattr(engine, "_accumulate", spy)
    return seen


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_mlp_step_writes_every_gradient_into_its_view_with_the_same_bits(dtype, copies):
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(16, 12)).astype(dtype))
    labels = rng.integers(0, 5, 16)
    k1, b1, k2, b2 = [Tensor(rng.normal(size=s).astype(dtype), requires_grad=True)
                      for s in [(12, 8), (8,), (8, 5), (5,)]]

    def loss():
        hidden = nn.linear_relu(x, k1, b1)
        return dg.losses.sparse_categorical_crossentropy(labels, nn.linear(hidden, k2, b2), from_logits=True).mean()

    leaves = [k1, b1, k2, b2]
    plain = grad(loss(), leaves)
    buffer, views = _flat_views(leaves)
    got = grad(loss(), leaves, out=views)
    assert all(g is v for g, v in zip(got, views))
    for g, p in zip(got, plain):
        np.testing.assert_array_equal(g, p)                     # bit for bit
    assert not np.isnan(buffer).any()
    # every first contribution was computed into its view by the GEMM or the row sum: no copy
    assert [(t, had, copied) for t, had, copied in copies] == [(k2, False, False), (b2, False, False),
                                                                (k1, False, False), (b1, False, False)]
    torch_leaves = [torch.tensor(t.data, requires_grad=True) for t in leaves]
    logits = torch.relu(torch.tensor(x.data) @ torch_leaves[0] + torch_leaves[1]) @ torch_leaves[2] + torch_leaves[3]
    torch_loss = torch.nn.functional.cross_entropy(logits, torch.tensor(labels))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for g, want in zip(got, torch.autograd.grad(torch_loss, torch_leaves)):
        np.testing.assert_allclose(g, want.numpy(), rtol=tol, atol=tol)


def test_a_shared_weight_sums_its_contributions_in_place_in_backward_order(copies):
    rng = np.random.default_rng(1)
    w = Tensor(rng.normal(size=(4, 4)), requires_grad=True)
    b = Tensor(rng.normal(size=4), requires_grad=True)
    x = Tensor(rng.normal(size=(3, 4)))

    def loss():   # w: two Linear consumers and a penalty that uses it twice (x * x)
        return (nn.linear(dg.tanh(nn.linear(x, w, b)), w) ** 2).sum() + (w * w).sum() + b.sum()

    plain = grad(loss(), [w, b])
    out = [np.full((4, 4), 7.0), np.full(4, 7.0)]
    got = grad(loss(), [w, b], out=out)
    assert got[0] is out[0] and got[1] is out[1]
    np.testing.assert_array_equal(got[0], plain[0])
    np.testing.assert_array_equal(got[1], plain[1])
    # backward's order: the outer Linear computes w's gradient into its array; the inner Linear
    # adds to w's and computes b's into its array; then w * w adds twice and b.sum() once
    assert copies == [(w, False, False), (w, True, True), (b, False, False), (w, True, True), (w, True, True),
                      (b, True, True)]
    wt = torch.tensor(w.data, requires_grad=True)
    bt = torch.tensor(b.data, requires_grad=True)
    xt = torch.tensor(x.data)
    tl = ((torch.tanh(xt @ wt + bt) @ wt) ** 2).sum() + (wt * wt).sum() + bt.sum()
    for g, want in zip(got, torch.autograd.grad(tl, [wt, bt])):
        np.testing.assert_allclose(g, want.numpy(), rtol=1e-12, atol=1e-12)


class _Twice(Function):
    """y = 2 a (+ 3 b): records the arrays it is offered and computes into them."""
    writes_input_grads = True
    offered: list = []

    def forward(self, a, b=None):
        return 2 * a if b is None else 2 * a + 3 * b

    def backward(self, g, into=None):
        _Twice.offered.append(None if into is None else [o is not None for o in into])
        target = None if into is None else into[0]
        ga = np.multiply(g, 2.0, out=target) if target is not None else g * 2.0
        return ga if len(self.inputs) == 1 else (ga, g * 3.0)


def test_only_the_first_contribution_of_a_leaf_of_out_is_offered():
    rng = np.random.default_rng(2)
    a, c = [Tensor(rng.normal(size=3), requires_grad=True) for _ in range(2)]
    _Twice.offered = []
    out = [np.zeros(3), np.zeros(3)]
    # backward runs the outer _Twice (a and a non-leaf), then the inner one (a again, c)
    inner = _Twice.apply(a, c)
    got = grad(_Twice.apply(a, inner).sum(), [a, c], out=out)
    assert _Twice.offered == [[True, False], [False, True]]
    np.testing.assert_array_equal(got[0], np.full(3, 2.0 + 3.0 * 2.0))   # d(2a + 3(2a + 3c))/da
    np.testing.assert_array_equal(got[1], np.full(3, 3.0 * 3.0))
    _Twice.offered = []
    got = grad(_Twice.apply(a, a).sum(), [a], out=[out[0]])   # one leaf twice: nothing offered
    assert _Twice.offered == [None]
    np.testing.assert_array_equal(got[0], np.full(3, 5.0))
    _Twice.offered = []
    got = grad(_Twice.apply(a).sum(), [a])                   # no out: the plain backward
    assert _Twice.offered == [None]
    np.testing.assert_array_equal(got[0], np.full(3, 2.0))


def test_unreached_output_and_non_leaf_inputs_and_a_retained_graph():
    rng = np.random.default_rng(3)
    a, unused = [Tensor(rng.normal(size=3), requires_grad=True) for _ in range(2)]
    hidden = dg.tanh(a)
    out = [np.full(3, 5.0), np.full(3, 5.0), np.full(3, 5.0)]
    y = (hidden * hidden).sum()
    got = grad([y, a], [a, unused, hidden], grad_outputs=[np.ones(()), np.full(3, 0.5)], out=out,
               retain_graph=True)
    assert got[0] is out[0] and got[1] is None and got[2] is out[2]
    np.testing.assert_array_equal(out[1], np.full(3, 5.0))                  # left as it was
    t = np.tanh(a.data)
    np.testing.assert_allclose(got[0], 2 * t * (1 - t ** 2) + 0.5, rtol=1e-14)  # the output a itself adds 0.5
    np.testing.assert_allclose(got[2], 2 * t, rtol=1e-14)                  # a non-leaf: copied in
    first = got[0].copy()
    again = grad([y, a], [a], grad_outputs=[np.ones(()), np.full(3, 0.5)], out=[out[0]])
    np.testing.assert_array_equal(again[0], first)      # overwritten, not added to the last call's


def test_on_final_hands_over_the_out_arrays():
    rng = np.random.default_rng(4)
    k, b = Tensor(rng.normal(size=(3, 2)), requires_grad=True), Tensor(rng.normal(size=2), requires_grad=True)
    x = Tensor(rng.normal(size=(4, 3)))
    out = [np.empty((3, 2)), np.empty(2)]
    seen = []
    grad((nn.linear(x, k, b) ** 2).sum(), [k, b], out=out, on_final=lambda t, g: seen.append((t, g)))
    assert sorted((t is k, g is out[0] or g is out[1]) for t, g in seen) == [(False, True), (True, True)]


def test_bad_out_arrays_are_named():
    w = Tensor(np.ones((2, 3)), requires_grad=True)
    y = (w * 2.0).sum()
    with pytest.raises(ValueError, match=r"out\[0\] must be a writeable array of the input's shape \(2, 3\) "
                                         r"and dtype float64, got shape \(3, 2\)"):
        grad(y, [w], out=[np.zeros((3, 2))], retain_graph=True)
    with pytest.raises(ValueError, match="got shape \\(2, 3\\), dtype float32"):
        grad(y, [w], out=[np.zeros((2, 3), np.float32)], retain_graph=True)
    frozen = np.zeros((2, 3))
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        grad(y, [w], out=[frozen], retain_graph=True)
    with pytest.raises(ValueError, match="got list"):
        grad(y, [w], out=[[0.0] * 3], retain_graph=True)
    with pytest.raises(ValueError, match="out has 2 entries for 1 inputs"):
        grad(y, [w], out=[None, None], retain_graph=True)
    with pytest.raises(ValueError, match="out needs create_graph=False"):
        grad(y, [w], out=[np.zeros((2, 3))], create_graph=True)
    np.testing.assert_array_equal(grad(y, w, out=np.zeros((2, 3))), np.full((2, 3), 2.0))   # a single input
