"""The ops that exist for higher-order gradients: conv2d's gradient ops and the scatter-add
adjoint of indexing (each passes the autograd contract through ``BACKWARD_CASES``)."""
from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.ops.im2col import Conv2D, Conv2DExplicit, Conv2DInputGrad, Conv2DKernelGrad, conv2d
from deepgrad.autograd.higher_order import Alias, LinearMap
from deepgrad.ops.manipulation import IndexAdd


def _geometry(x_shape, kernel_shape, strides=(2, 2), padding="same", dilation=(1, 1)):
    """The geometry a Conv2D forward records for these shapes."""
    x = dg.Tensor(np.zeros(x_shape), requires_grad=True)
    out = conv2d(x, dg.Tensor(np.zeros(kernel_shape)), strides=strides, padding=padding, dilation_rate=dilation)
    assert isinstance(out._ctx, Conv2D)
    return out._ctx.geometry


_G = _geometry((2, 5, 6, 2), (3, 3, 2, 3))
_rng = np.random.default_rng(3)
_M = _rng.normal(size=(4, 3))

# picked up by test_every_function.py: the second-backward contract for these ops too
BACKWARD_CASES = {
    "Conv2DExplicit": (lambda x, k: Conv2DExplicit.apply(x, k, geometry=_G),
                       [_rng.normal(size=(2, 5, 6, 2)), _rng.normal(size=(3, 3, 2, 3))]),
    "Conv2DInputGrad": (lambda g, k: Conv2DInputGrad.apply(g, k, geometry=_G),
                        [_rng.normal(size=(2, 3, 3, 3)), _rng.normal(size=(3, 3, 2, 3))]),
    "Conv2DKernelGrad": (lambda x, g: Conv2DKernelGrad.apply(x, g, geometry=_G, kernel_shape=(3, 3, 2, 3)),
                         [_rng.normal(size=(2, 5, 6, 2)), _rng.normal(size=(2, 3, 3, 3))]),
    "IndexAdd": (lambda g: IndexAdd.apply(g, index=(np.array([0, 2, 0]), slice(1, 3)), shape=(4, 5)),
                 [_rng.normal(size=(3, 2))]),
    # a linear map and its adjoint (here A = M @ and A^T = M.T @): the next order of a NumPy backward
    "LinearMap": (lambda g: LinearMap.apply(g, apply=lambda u: _M @ u, adjoint=lambda u: _M.T @ u, op_name="M"),
                  [_rng.normal(size=(3, 2))]),
    "Alias": (Alias.apply, [_rng.normal(size=(2, 3))]),
}


def test_conv2d_gradient_ops_are_the_adjoints_of_conv2d():
    """<dY, conv(X, K)> = <InputGrad(dY, K), X> = <KernelGrad(X, dY), K>: the trilinear form."""
    x, k = _rng.normal(size=(2, 5, 6, 2)), _rng.normal(size=(3, 3, 2, 3))
    g = _rng.normal(size=(2, 3, 3, 3))
    y = Conv2DExplicit.apply(dg.Tensor(x), dg.Tensor(k), geometry=_G).data
    np.testing.assert_allclose(y, conv2d(dg.Tensor(x), dg.Tensor(k), strides=2, padding="same").data, rtol=1e-12)
    dx = Conv2DInputGrad.apply(dg.Tensor(g), dg.Tensor(k), geometry=_G).data
    dk = Conv2DKernelGrad.apply(dg.Tensor(x), dg.Tensor(g), geometry=_G, kernel_shape=k.shape).data
    form = np.sum(g * y)
    assert np.sum(dx * x) == pytest.approx(form, rel=1e-12)
    assert np.sum(dk * k) == pytest.approx(form, rel=1e-12)


def test_linear_map_differentiates_to_its_adjoint_and_back():
    m = _rng.normal(size=(4, 3))
    g = dg.Tensor(_rng.normal(size=(3, 2)), requires_grad=True)
    y = LinearMap.apply(g, apply=lambda u: m @ u, adjoint=lambda u: m.T @ u, op_name="M")
    np.testing.assert_allclose(y.data, m @ g.data, rtol=1e-12)
    w = dg.Tensor(_rng.normal(size=(4, 2)), requires_grad=True)
    dg_ = dg.grad((y * w).sum(), g, create_graph=True)  # m^T w, itself a LinearMap of w
    np.testing.assert_allclose(dg_.data, m.T @ w.data, rtol=1e-12)
    v = _rng.normal(size=(3, 2))
    np.testing.assert_allclose(dg.grad((dg_ * v).sum(), w), m @ v, rtol=1e-12)
    assert y._ctx.name == "LinearMap(M)"
