"""batch_norm's fused path (BatchNormalize): the forward and statistics bit for bit as before,
the gradients against PyTorch, ``Normalize`` and central differences."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from oracle import check_gradients

import deepgrad as dg
from deepgrad.ops.normalization import BatchNormalize, Normalize, batch_norm


def leaves(*arrays):
    return [dg.Tensor(a, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", [((8, 5, 6, 7), -1), ((6, 3, 4), 1), ((300, 16), -1), ((4, 3, 5, 5), 1)])
def test_batch_norm_matches_torch_and_the_plain_normalize(shape, axis, dtype):
    rng = np.random.default_rng(len(shape))
    x0 = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    g0 = rng.standard_normal(shape).astype(dtype)
    c = shape[axis]
    pshape = tuple(c if i == axis % len(shape) else 1 for i in range(len(shape)))
    ga0, be0 = rng.standard_normal(pshape).astype(dtype), rng.standard_normal(pshape).astype(dtype)
    x, ga, be = leaves(x0, ga0, be0)
    y, mean, var = batch_norm(x, ga, be, axis=axis)
    assert isinstance(y._ctx, BatchNormalize)
    y.backward(g0)
    # the plain path: NumPy's statistics and Normalize, the same forward bit for bit
    axes = tuple(i for i in range(len(shape)) if i != axis % len(shape))
    m0, v0 = x0.mean(axis=axes, keepdims=True), x0.var(axis=axes, keepdims=True)
    xr, gr, br = leaves(x0, ga0, be0)
    yr = Normalize.apply(xr, gr, br, axes=axes, epsilon=1e-3, mean=m0, var=v0)
    yr.backward(g0)
    np.testing.assert_array_equal(y.data, yr.data)
    np.testing.assert_array_equal(mean, m0.squeeze(axis=axes))
    np.testing.assert_array_equal(var, v0.squeeze(axis=axes))
    tol = 1e-12 if dtype == np.float64 else 2e-5
    for ours, plain in ((x.grad, xr.grad), (ga.grad, gr.grad), (be.grad, br.grad)):
        np.testing.assert_allclose(ours, plain, rtol=tol, atol=tol * np.abs(plain).max())
    # PyTorch's training-mode batch norm (channels on axis 1)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (np.moveaxis(x0, axis, 1), ga0.reshape(-1), be0.reshape(-1)))
    ty = F.batch_norm(tx, None, None, tg, tb, training=True, eps=1e-3)
    ty.backward(torch.tensor(np.moveaxis(g0, axis, 1)))
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(y.data, np.moveaxis(ty.detach().numpy(), 1, axis), rtol=tol, atol=tol)
    np.testing.assert_allclose(x.grad, np.moveaxis(tx.grad.numpy(), 1, axis), rtol=tol, atol=tol)
    np.testing.assert_allclose(ga.grad.reshape(-1), tg.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(be.grad.reshape(-1), tb.grad.numpy(), rtol=tol, atol=tol)


def test_batch_norm_central_differences():
    rng = np.random.default_rng(9)
    check_gradients(lambda a, g, b: batch_norm(a, g, b)[0],
                    [rng.standard_normal((4, 3, 2, 3)), rng.standard_normal((1, 1, 1, 3)), rng.standard_normal((1, 1, 1, 3))])


def test_batch_norm_input_gradient_alone_and_parameter_gradients_alone():
    rng = np.random.default_rng(10)
    x0, g0 = rng.standard_normal((16, 4, 4, 8)), rng.standard_normal((16, 4, 4, 8))
    ga0, be0 = rng.standard_normal((1, 1, 1, 8)), rng.standard_normal((1, 1, 1, 8))
    x, ga, be = leaves(x0, ga0, be0)
    y = batch_norm(x, ga, be)[0]
    (y * g0).sum().backward()
    xo = dg.Tensor(x0, requires_grad=True)
    (batch_norm(xo, dg.Tensor(ga0), dg.Tensor(be0))[0] * g0).sum().backward()
    np.testing.assert_array_equal(xo.grad, x.grad)
    go, bo = leaves(ga0, be0)
    (batch_norm(dg.Tensor(x0), go, bo)[0] * g0).sum().backward()
    np.testing.assert_array_equal(go.grad, ga.grad)
    np.testing.assert_array_equal(bo.grad, be.grad)
