"""``grad(..., on_final=hook)``: each leaf's gradient is handed over once, complete, as soon as
the last Function that consumes it has run, while backward goes on (the data-parallel
all-reduce starts there)."""
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad.autograd import Function, Tensor, grad


class _Spy(Function):
    """The identity, noting when its backward runs (to order the hook's calls against it)."""
    log: list = []

    def forward(self, x):
        return x

    def backward(self, g):
        _Spy.log.append("spy")
        return g


def _leaves(rng, *shapes):
    return [Tensor(rng.normal(size=s), requires_grad=True) for s in shapes]


def test_each_leaf_once_with_its_final_gradient_in_backward_order():
    rng = np.random.default_rng(0)
    w1, w2, b = _leaves(rng, (3, 4), (4, 2), (2,))
    x = Tensor(rng.normal(size=(5, 3)))
    names = {id(w1): "w1", id(w2): "w2", id(b): "b"}
    seen = []

    def hook(t, g):
        seen.append((names[id(t)], g.copy(), list(_Spy.log)))

    _Spy.log = []
    # w1 is used twice: by the first matmul (deep in the graph) and by the penalty (near the loss);
    # the spy sits between the first layer and the second, so it runs before w1's last consumer
    h = _Spy.apply(dg.tanh(x @ w1))
    loss = ((h @ w2 + b) ** 2).sum() + (w1 * w1).sum()
    grads = grad(loss, [w1, w2, b], on_final=hook)
    assert [name for name, _, _ in seen] == ["b", "w2", "w1"]
    assert seen[0][2] == [] and seen[1][2] == [] and seen[2][2] == ["spy"]   # b, w2 before backward passes h
    got = dict((name, g) for name, g, _ in seen)
    for name, g in zip(["w1", "w2", "b"], grads):
        np.testing.assert_array_equal(got[name], g)

    tw = [torch.tensor(t.data, requires_grad=True) for t in (w1, w2, b)]
    tl = ((torch.tanh(torch.tensor(x.data) @ tw[0]) @ tw[1] + tw[2]) ** 2).sum() + (tw[0] * tw[0]).sum()
    for g, expected in zip(grads, torch.autograd.grad(tl, tw)):
        np.testing.assert_allclose(g, expected.numpy(), rtol=1e-12, atol=1e-12)


def test_a_leaf_that_is_an_output_and_an_unreached_one():
    rng = np.random.default_rng(1)
    a, c = _leaves(rng, (3,), (2,))
    seen = []
    out = grad([a * 2.0, a], [a, c], grad_outputs=[np.ones(3), np.full(3, 0.5)],
               on_final=lambda t, g: seen.append((t is a, g.copy())))
    assert len(seen) == 1 and seen[0][0]             # a's total, once; c is never reached
    np.testing.assert_array_equal(seen[0][1], np.full(3, 2.5))
    np.testing.assert_array_equal(out[0], np.full(3, 2.5))
    assert out[1] is None


def test_branches_that_carry_no_gradient_still_count_down():
    rng = np.random.default_rng(2)
    w, = _leaves(rng, (4,))
    # the max's index path (argmax) carries no gradient; the leaf is final after its last consumer
    seen = []
    y = (w * 3.0).sum() + dg.maximum(w, 0.0).sum()
    g = grad(y, w, on_final=lambda t, gg: seen.append(gg.copy()))
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], g)
    np.testing.assert_allclose(g, 3.0 + (w.data > 0), rtol=0, atol=1e-15)


def test_on_final_refuses_create_graph():
    w = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="on_final needs create_graph=False"):
        grad((w * w).sum(), w, create_graph=True, on_final=lambda t, g: None)
