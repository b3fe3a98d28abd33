"""dg.grad(outputs, inputs): gradients returned as arrays, every .grad left untouched."""
import numpy as np
import pytest
import torch

import deepgrad as dg


def test_grad_returns_arrays_and_leaves_dot_grad_none():
    rng = np.random.default_rng(0)
    x0, w0 = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    x, w = dg.Tensor(x0, requires_grad=True), dg.Tensor(w0, requires_grad=True)
    loss = dg.tanh(x @ w).sum()
    gx, gw = dg.grad(loss, [x, w])
    assert x.grad is None and w.grad is None
    tx, tw = torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    rx, rw = torch.autograd.grad(torch.tanh(tx @ tw).sum(), [tx, tw])
    np.testing.assert_allclose(gx, rx.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gw, rw.numpy(), rtol=1e-12)


def test_grad_with_respect_to_a_non_leaf():
    x = dg.Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    h = x * 3.0
    y = (h * h).sum()
    gh, gx = dg.grad(y, [h, x])
    np.testing.assert_allclose(gh, 2 * h.data)  # d(h^2)/dh
    np.testing.assert_allclose(gx, 18 * x.data)  # d(9 x^2)/dx
    assert x.grad is None and h.grad is None


def test_grad_of_a_single_input_returns_one_array():
    x = dg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    g = dg.grad((x ** 3).sum(), x)
    assert isinstance(g, np.ndarray)
    np.testing.assert_allclose(g, 3 * x.data ** 2)


def test_grad_of_an_unused_input_is_none_or_an_error():
    x = dg.Tensor(np.array([1.0]), requires_grad=True)
    u = dg.Tensor(np.array([1.0]), requires_grad=True)
    y = (x * 2.0).sum()
    gx, gu = dg.grad(y, [x, u], retain_graph=True)
    assert gu is None
    np.testing.assert_array_equal(gx, [2.0])
    with pytest.raises(RuntimeError, match="not used"):
        dg.grad(y, [x, u], allow_unused=False)


def test_grad_of_a_non_scalar_needs_grad_outputs():
    x = dg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError, match=r"output of shape \(2,\) is not a scalar; pass grad_outputs"):
        dg.grad(y, x, retain_graph=True)
    g = dg.grad(y, x, grad_outputs=np.array([1.0, -1.0]))
    np.testing.assert_array_equal(g, [2.0, -4.0])


def test_grad_rejects_inputs_and_outputs_that_need_no_grad():
    x = dg.Tensor(np.array([1.0]), requires_grad=True)
    c = dg.Tensor(np.array([1.0]))
    with pytest.raises(RuntimeError, match="an input does not require grad"):
        dg.grad((x * c).sum(), [c])
    with pytest.raises(RuntimeError, match="an output does not require grad"):
        dg.grad((c * 2.0).sum(), [x])


def test_returned_gradients_are_owned_arrays():
    x = dg.Tensor(np.ones((2, 3)), requires_grad=True)
    g = dg.grad(x.sum(), x)  # the sum's backward is a read-only broadcast view
    g += 1.0
    np.testing.assert_array_equal(g, np.full((2, 3), 2.0))


def test_grad_with_respect_to_inputs_in_inference_mode_for_saliency():
    w = dg.Variable(np.array([[1.0], [-2.0]]), trainable=False)
    x = dg.Tensor(np.array([[0.3, 0.1]]), requires_grad=True)
    score = dg.sigmoid(x @ w).sum()
    s = dg.sigmoid(x.data @ w.data)
    np.testing.assert_allclose(dg.grad(score, x), (s * (1 - s)) @ w.data.T)  # sigma' * w^T


def test_returned_gradients_are_the_callers_own_arrays():
    """No returned gradient is read-only, a view, the seed passed in, or shared with another."""
    a = dg.Tensor(np.ones((2, 3)), requires_grad=True)
    b = dg.Tensor(np.ones((2, 3)), requires_grad=True)
    seed = np.full((2, 3), 2.0)
    ga, gb = dg.grad(a + b, [a, b], grad_outputs=seed)  # Add passes the seed through to both
    gs = dg.grad((a * 3).sum(), a)  # Sum's backward is a read-only broadcast
    gr = dg.grad(a.reshape(6), a, grad_outputs=np.arange(6.0))  # Reshape's is a view
    for g in (ga, gb, gs, gr):
        assert g.flags.writeable and g.flags.c_contiguous and g.base is None
    assert ga is not gb and ga is not seed and gb is not seed
    ga += 1
    np.testing.assert_array_equal(gb, seed)
    np.testing.assert_array_equal(seed, np.full((2, 3), 2.0))
    np.testing.assert_array_equal(gr, np.arange(6.0).reshape(2, 3))


def test_mod_and_floor_divide_operators_match_torch():
    rng = np.random.default_rng(4)
    a = rng.uniform(-9, 9, size=(3, 4))
    b = rng.choice([-2.5, -1.0, 1.5, 3.0], size=(4,))  # broadcast, divisors of both signs
    x = dg.Tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    (x % b * 3 + x // b).sum().backward()
    (torch.remainder(t, torch.tensor(b)) * 3).sum().backward()  # floor_divide has zero gradient
    np.testing.assert_allclose((x % b).data, torch.remainder(t, torch.tensor(b)).detach().numpy(), atol=1e-12)
    np.testing.assert_allclose((x // b).data, torch.floor_divide(t, torch.tensor(b)).detach().numpy())
    np.testing.assert_allclose(x.grad, t.grad.numpy())
    np.testing.assert_allclose((7.0 % dg.Tensor(np.array([3.0, -3.0]))).data, [1.0, -2.0])  # the divisor's sign
    np.testing.assert_array_equal((7 // dg.Tensor(np.array([2, -2]))).data, [3, -4])
    assert (dg.Tensor(np.array([7, -7])) % 3).data.tolist() == [1, 2]


class _Scale(dg.autograd.Function):
    """y = a * b, recording every backward call and the input gradients it was asked for."""

    calls: list = []

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, g):
        a, b = self.saved
        _Scale.calls.append(self.needs_input_grad)
        return (g * b if self.needs_input_grad[0] else None), (g * a if self.needs_input_grad[1] else None)


def _generator_and_discriminator(rng):
    """A GAN's shape: z -> (scale by wg) -> h -> (scale by wd) -> loss, every leaf requiring grad."""
    z, wg, wd = (dg.Tensor(rng.standard_normal(5), requires_grad=True) for _ in range(3))
    h = _Scale.apply(z, wg)
    return z, wg, wd, h, dg.tanh(_Scale.apply(h, wd)).sum()


def test_grad_runs_only_the_backward_that_leads_to_its_inputs():
    rng = np.random.default_rng(1)
    z, wg, wd, h, loss = _generator_and_discriminator(rng)
    _Scale.calls = []
    (gwd,) = dg.grad(loss, [wd])
    # the discriminator's op ran, asked for wd's gradient only; the generator's op did not run
    assert _Scale.calls == [(False, True)]
    expected = h.data * (1 - np.tanh(h.data * wd.data) ** 2)
    np.testing.assert_allclose(gwd, expected, rtol=1e-12)
    # the generator's part of the graph was not released: a later gradient still goes through it
    gz, gwg = dg.grad((h * h).sum(), [z, wg])
    np.testing.assert_allclose(gz, 2 * h.data * wg.data, rtol=1e-12)
    np.testing.assert_allclose(gwg, 2 * h.data * z.data, rtol=1e-12)


def test_pruned_grad_is_bit_identical_to_a_full_backward_and_keeps_a_retained_graph_whole():
    rng = np.random.default_rng(2)
    z, wg, wd, h, loss = _generator_and_discriminator(rng)
    gwg, gwd = dg.grad(loss, [wg, wd], retain_graph=True)
    loss.backward()  # the retained graph: every leaf's gradient, as if grad() had not pruned it
    np.testing.assert_array_equal(gwg, wg.grad)
    np.testing.assert_array_equal(gwd, wd.grad)
    assert z.grad is not None
    np.testing.assert_allclose(z.grad, wg.grad * wg.data / z.data, rtol=1e-10)
