"""backward(): accumulation, graph shapes (chains, diamonds, several outputs), retained graphs, errors."""
import numpy as np
import pytest
import torch
from oracle import compare_with_torch

import deepgrad as dg
from deepgrad.autograd import Function


def leaf(values, dtype=np.float64):
    return dg.Tensor(np.asarray(values, dtype), requires_grad=True)


def test_gradients_accumulate_until_zeroed():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])
    (x * 3.0).sum().backward()  # a fresh graph: d/dx = 3 is added to what was there
    np.testing.assert_array_equal(x.grad, [5.0, 7.0, 9.0])
    x.zero_grad()
    assert x.grad is None
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0, 3.0])


def test_grad_is_an_owned_writable_array():
    x = leaf(np.ones((2, 3)))
    y = dg.broadcast_to(leaf([1.0, 2.0, 3.0]), (2, 3))  # the sum's gradient is a read-only broadcast
    (x * y).sum().backward()
    x.grad += 1.0  # must not raise or write into the graph's arrays
    np.testing.assert_array_equal(x.grad, [[2.0, 3.0, 4.0]] * 2)


def test_a_chain_of_10000_ops_does_not_overflow_the_stack():
    x = leaf([0.5])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001 ** 10_000], rtol=1e-9)


def test_a_tensor_used_twice_sums_its_gradients():
    # diamond: y = a*b + a*c with b = 2a, c = exp(a)  =>  dy/da = 4a + e^a + a e^a
    a = leaf([0.3, -1.2])
    b, c = a * 2.0, dg.exp(a)
    y = a * b + a * c
    y.backward(np.ones(2))
    x = a.data
    np.testing.assert_allclose(a.grad, 4 * x + np.exp(x) + x * np.exp(x), rtol=1e-12)


def test_a_deep_diamond_matches_torch():
    def net(x, w):
        h = x @ w
        return (h.tanh() * h + h.sigmoid() * h.tanh()).sum(axis=1) * h.sum(axis=1)

    rng = np.random.default_rng(0)
    compare_with_torch(net, net, [rng.standard_normal((3, 4)), rng.standard_normal((4, 5))])


def test_multi_output_op_with_only_some_outputs_used():
    x = leaf(np.arange(6.0).reshape(2, 3))
    first, second, third = dg.split(x, 3, axis=1)
    (third * 5.0 + first).sum().backward()  # ``second`` unused: its gradient is zero
    np.testing.assert_array_equal(x.grad, [[1.0, 0.0, 5.0]] * 2)


def test_saved_arrays_are_released_after_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    fn = y._ctx
    y.backward()
    assert fn.released and fn.saved == ()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_a_released_graph_is_found_behind_a_fresh_op():
    x = leaf([1.0, 2.0])
    h = dg.exp(x)
    h.sum().backward()
    with pytest.raises(RuntimeError, match=r"Exp a second time.*retain_graph=True"):
        (h * 2.0).sum().backward()


def test_retain_graph_allows_a_second_backward_and_gradients_double():
    x = leaf([1.0, -2.0])
    y = (dg.exp(x) * x).sum()
    y.backward(retain_graph=True)
    once = x.grad.copy()
    np.testing.assert_allclose(once, np.exp(x.data) * (1 + x.data))
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * once)


def test_backward_on_a_non_scalar_needs_a_gradient():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"single-element tensor; this one has shape \(2, 3\)"):
        (x * 2.0).backward()


def test_backward_on_a_tensor_that_needs_no_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (dg.Tensor([1.0, 2.0]) * 2.0).sum().backward()


def test_backward_with_a_gradient_of_the_wrong_shape():
    y = leaf(np.ones((2, 3))) * 2.0
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\) but the tensor .* has shape \(2, 3\)"):
        y.backward(np.ones(3))


def test_backward_with_an_explicit_gradient_weights_the_outputs():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).backward(dg.Tensor(np.array([1.0, 0.0, -1.0])))
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, -6.0])


def test_a_leaf_that_needs_no_grad_gets_none():
    x, c = leaf([1.0, 2.0]), dg.Tensor(np.array([3.0, 4.0]))
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_non_leaf_tensors_keep_no_grad():
    x = leaf([1.0, 2.0])
    h = x * 2.0
    (h * h).sum().backward()
    assert h.grad is None and not h.is_leaf and x.is_leaf
    np.testing.assert_array_equal(x.grad, [8.0, 16.0])


def test_astype_gradient_flows_back_in_the_source_dtype():
    x = leaf([1.0, 2.0], np.float32)
    y = x.astype(np.float64)
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    compare_with_torch(lambda t: dg.astype(t, np.float32) * 3.0, lambda t: t.float() * 3.0,
                       [np.array([0.5, 1.5])], rtol=1e-6, atol=1e-6)


def test_backward_returning_a_wrong_shape_is_reported():
    class Broken(Function):
        def forward(self, a):
            return a * 2

        def backward(self, g):
            return g[:1]

    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"Broken.backward produced a gradient of shape \(1,\) for a tensor of shape \(2,\)"):
        Broken.apply(x).sum().backward()


def test_a_custom_function_with_two_outputs():
    class SinCos(Function):
        def forward(self, a):
            self.save_for_backward(a)
            return np.sin(a), np.cos(a)

        def backward(self, grads):
            # d sin = cos, d cos = -sin
            (a,), (gs, gc) = self.saved, grads
            return gs * np.cos(a) - gc * np.sin(a)

    x0 = np.array([0.2, 1.0, -0.7])
    s, c = SinCos.apply(leaf(x0))
    x = s._ctx.inputs[0]
    (s * 2.0 + c * c).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * np.cos(x0) - 2 * np.cos(x0) * np.sin(x0), rtol=1e-12)
    t = torch.tensor(x0, requires_grad=True)
    (torch.sin(t) * 2.0 + torch.cos(t) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12)
