"""A multi-output Function some of whose outputs no gradient reaches gets None for them.

The engine hands ``backward`` None for an unused output (no zeros array is made); every
multi-output op of the package must then give the gradients it gives when zeros are sent
through those outputs. (``tests/ops/test_every_function.py`` checks the ops of its table whose
public function returns several tensors; the ones below return them through other surfaces.)
"""
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad import ops
from deepgrad.autograd import Function, checkpoint
from deepgrad.ops.attention import attention_with_dropout


class _Pair(Function):
    """``(2a, 3a)``, recording the gradients its backward is given."""
    seen: list = []

    def forward(self, a):
        return 2 * a, 3 * a

    def backward(self, grads):
        _Pair.seen.append(grads)
        g2, g3 = self.filled(grads)
        return 2 * g2 + 3 * g3


def test_backward_gets_none_for_an_output_no_gradient_reached():
    x = dg.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    _Pair.seen = []
    _, tripled = _Pair.apply(x)
    (tripled * tripled).sum().backward()
    (got,) = _Pair.seen
    assert got[0] is None
    np.testing.assert_array_equal(got[1], 6 * x.data)
    np.testing.assert_array_equal(x.grad, 18 * x.data)


def test_filled_puts_zeros_of_each_outputs_shape_and_dtype():
    x = dg.Tensor(np.ones(3, np.float32), requires_grad=True)
    first, _ = _Pair.apply(x)
    fn = first._ctx
    g = np.arange(3, dtype=np.float32)
    filled = fn.filled((None, g))
    assert filled[0].shape == (3,) and filled[0].dtype == np.float32 and not filled[0].any()
    assert filled[1] is g
    both = (g, g)
    assert fn.filled(both) is both


def _rng(seed=0):
    return np.random.default_rng(seed)


def _symmetric(n, seed=0):
    a = _rng(seed).standard_normal((n, n))
    return a + a.T


def _custom_pair(x, y):
    @ops.custom_gradient
    def pair(x, y):
        def grad(*args, upstream=None):
            gu, gv = upstream
            return gu * 2.0 + gv, gv * 3.0
        return (x * 2.0, x + y * 3.0), grad
    return pair(x, y)


def _two_outputs_checkpointed(a, b):
    return checkpoint(lambda u, v: (ops.tanh(u) * v, u * v), a, b)


def _attention(q, k, v):
    return attention_with_dropout(q, k, v, scale=0.5, return_probs=True)


# name -> (function giving several tensors, float64 inputs)
CASES = {
    "moments": (lambda x: ops.moments(x, axes=(0,)), [_rng().standard_normal((4, 3))]),
    "moments-keepdims": (lambda x: ops.moments(x, axes=(1,), keepdims=True), [_rng().standard_normal((4, 3))]),
    "eigh": (ops.eigh, [_symmetric(4)]),
    "svd": (lambda x: ops.svd(x, full_matrices=False), [_rng().standard_normal((5, 3))]),
    "qr": (ops.qr, [_rng().standard_normal((5, 3))]),
    "fft": (lambda re, im: ops.fft((re, im)), [_rng().standard_normal((2, 6)), _rng(1).standard_normal((2, 6))]),
    "rfft": (lambda x: ops.rfft(x, fft_length=8), [_rng().standard_normal((2, 6))]),
    "array_split": (lambda x: ops.array_split(x, 3, axis=1), [_rng().standard_normal((2, 7))]),
    "custom_gradient": (_custom_pair, [_rng().standard_normal(3), _rng(1).standard_normal(3)]),
    "checkpoint": (_two_outputs_checkpointed, [_rng().standard_normal((2, 3)), _rng(1).standard_normal((2, 3))]),
    "attention": (_attention, [_rng().standard_normal((2, 3, 2, 4)), _rng(1).standard_normal((2, 5, 2, 4)),
                               _rng(2).standard_normal((2, 5, 2, 4))]),
    "lstm-return-state": (lambda x, k, r, b: ops.lstm(x, k, r, b),
                          [_rng().standard_normal((3, 5, 2)), _rng(1).standard_normal((2, 12)),
                           _rng(2).standard_normal((3, 12)), _rng(3).standard_normal(12)]),
}


def _gradients(name, used, zeros_through_the_others):
    fn, arrays = CASES[name]
    leaves = [dg.Tensor(a, requires_grad=True) for a in arrays]
    outs = list(fn(*leaves))
    assert len(outs) > 1
    o = outs[used]
    loss = (o * dg.Tensor(_rng(10 + used).standard_normal(o.shape))).sum()
    if zeros_through_the_others:
        for k, other in enumerate(outs):
            if k != used:
                loss = loss + (other * 0.0).sum()
    return dg.grad(loss, leaves, allow_unused=True)


@pytest.mark.parametrize("name,used", [(name, k) for name, (fn, arrays) in CASES.items()
                                       for k in range(len(fn(*[dg.Tensor(a) for a in arrays])))])
def test_one_output_used_gives_the_gradients_of_zeros_through_the_others(name, used):
    for k, (g, g0) in enumerate(zip(_gradients(name, used, False), _gradients(name, used, True))):
        if g is None or g0 is None:  # an input the used output does not depend on
            assert g is None and (g0 is None or not np.any(g0)), f"{name}: input {k}"
            continue
        np.testing.assert_allclose(g, g0, rtol=1e-12, atol=1e-14, err_msg=f"{name}, output {used}: input {k}")


def test_lstm_with_only_its_last_state_used_matches_torch():
    """The LSTM op's backward with None for the sequence and the cell state (a Keras LSTM layer
    with return_sequences=False): against torch.nn.LSTM."""
    rng = _rng(4)
    batch, steps, features, units = 3, 6, 2, 4
    x = rng.standard_normal((batch, steps, features))
    kernel, recurrent, bias = (rng.standard_normal(s) * 0.5 for s in ((features, 4 * units),
                                                                       (units, 4 * units), (4 * units,)))
    upstream = rng.standard_normal((batch, units))
    leaves = [dg.Tensor(a, requires_grad=True) for a in (x, kernel, recurrent, bias)]
    _, h_last, _ = ops.lstm(*leaves)
    (h_last * dg.Tensor(upstream)).sum().backward()

    lstm = torch.nn.LSTM(features, units, batch_first=True, dtype=torch.float64)
    with torch.no_grad():  # Keras's (in, 4u) kernels, gates i, f, c, o: torch's order too
        lstm.weight_ih_l0.copy_(torch.from_numpy(kernel.T))
        lstm.weight_hh_l0.copy_(torch.from_numpy(recurrent.T))
        lstm.bias_ih_l0.copy_(torch.from_numpy(bias))
        lstm.bias_hh_l0.zero_()
    xt = torch.from_numpy(x).requires_grad_()
    _, (h_n, _) = lstm(xt)
    (h_n[0] * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(h_last.data, h_n[0].detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(leaves[0].grad, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(leaves[1].grad, lstm.weight_ih_l0.grad.numpy().T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(leaves[2].grad, lstm.weight_hh_l0.grad.numpy().T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(leaves[3].grad, lstm.bias_ih_l0.grad.numpy(), rtol=1e-9, atol=1e-12)
