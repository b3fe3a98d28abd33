"""``ops.torch_module``: a torch module's forward as a deepgrad op, backward by torch autograd,
against PyTorch itself and float64 central differences."""
import numpy as np
import torch

import deepgrad as dg
from deepgrad.ops.torch_module import torch_module_call

RNG = np.random.default_rng(0)


def _module(dtype=torch.float64):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).to(dtype)


_CASE_MODULE = _module()
_CASE_PARAMETERS = tuple(_CASE_MODULE.parameters())


def _call(x, *params):
    return torch_module_call(x, *params, module=_CASE_MODULE, parameters=_CASE_PARAMETERS)


# the input and fresh copies of the parameters (the op copies them into the module before its forward)
BACKWARD_CASES = {"TorchForward": (_call, [RNG.standard_normal((5, 3))]
                                   + [p.detach().numpy().copy() for p in _CASE_PARAMETERS])}


def test_forward_and_gradients_equal_torch():
    module = _module(torch.float32)
    params = [p.detach().numpy().copy() for p in module.parameters()]
    x = RNG.standard_normal((6, 3)).astype(np.float32)
    leaves = [dg.Tensor(a, requires_grad=True) for a in [x, *params]]
    out = torch_module_call(*leaves, module=module, parameters=tuple(module.parameters()))
    upstream = RNG.standard_normal((6, 2)).astype(np.float32)
    out.backward(upstream)
    x_t = torch.tensor(x, requires_grad=True)
    ref = module(x_t)
    ref.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(leaves[0].grad, x_t.grad.numpy(), rtol=1e-5, atol=1e-7)
    for leaf, p in zip(leaves[1:], module.parameters()):
        np.testing.assert_allclose(leaf.grad, p.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_gradients_equal_central_differences_float64():
    module = _module()
    params = [p.detach().numpy().copy() for p in module.parameters()]
    x = RNG.standard_normal((4, 3))
    weights = RNG.standard_normal((4, 2))

    def loss(arrays):
        with dg.no_grad():
            out = torch_module_call(*[dg.Tensor(a) for a in arrays], module=module,
                                    parameters=tuple(module.parameters()))
        return float((out.data * weights).sum())

    arrays = [x, *params]
    leaves = [dg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = torch_module_call(*leaves, module=module, parameters=tuple(module.parameters()))
    (out * dg.Tensor(weights)).sum().backward()
    eps = 1e-6
    for k, a in enumerate(arrays):
        numeric = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            plus = [b.copy() for b in arrays]
            minus = [b.copy() for b in arrays]
            plus[k][i] += eps
            minus[k][i] -= eps
            numeric[i] = (loss(plus) - loss(minus)) / (2 * eps)
        np.testing.assert_allclose(leaves[k].grad, numeric, rtol=1e-6, atol=1e-8, err_msg=f"input {k}")


def test_no_graph_under_no_grad_and_input_only_gradient():
    module = _module()
    params = tuple(module.parameters())
    x = dg.Tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    with dg.no_grad():
        out = torch_module_call(x, *[dg.Tensor(p.detach().numpy()) for p in params], module=module,
                                parameters=params)
    assert out._ctx is None
    out = torch_module_call(x, *[dg.Tensor(p.detach().numpy()) for p in params], module=module, parameters=params)
    out.sum().backward()
    x_t = torch.tensor(x.data, requires_grad=True)
    module(x_t).sum().backward()
    np.testing.assert_allclose(x.grad, x_t.grad.numpy(), rtol=1e-10)
