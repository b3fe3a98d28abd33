"""The ops that carry the N-D convolution's and conv_transpose's gradients as recorded ops (for
second derivatives): each is the adjoint it should be, and each passes the autograd contract
through ``BACKWARD_CASES`` (picked up by test_every_function.py)."""
from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import ops
from deepgrad.ops.convolution import (Conv, ConvInputGrad, ConvKernelGrad, ConvTranspose, ConvTransposeAgain,
                                      ConvTransposeInputGrad, ConvTransposeKernelGrad)

_rng = np.random.default_rng(5)
X, K = _rng.normal(size=(2, 5, 6, 4)), _rng.normal(size=(3, 2, 2, 6))  # two groups
XT, KT = _rng.normal(size=(2, 3, 4, 3)), _rng.normal(size=(3, 3, 2, 3))


def _ctx(out, kind):
    assert isinstance(out._ctx, kind)
    return out._ctx.geometry


_G = _ctx(ops.conv(dg.Tensor(X, requires_grad=True), dg.Tensor(K), strides=2, padding="same"), Conv)
_GT = _ctx(ops.conv_transpose(dg.Tensor(XT, requires_grad=True), dg.Tensor(KT), strides=(2, 1), padding="same"),
           ConvTranspose)
Y = ops.conv(dg.Tensor(X), dg.Tensor(K), strides=2, padding="same").data
YT = ops.conv_transpose(dg.Tensor(XT), dg.Tensor(KT), strides=(2, 1), padding="same").data

BACKWARD_CASES = {
    "ConvInputGrad": (lambda g, k: ConvInputGrad.apply(g, k, geometry=_G), [_rng.normal(size=Y.shape), K]),
    "ConvKernelGrad": (lambda x, g: ConvKernelGrad.apply(x, g, geometry=_G, kernel_shape=K.shape),
                       [X, _rng.normal(size=Y.shape)]),
    "ConvTransposeInputGrad": (lambda g, k: ConvTransposeInputGrad.apply(g, k, geometry=_GT),
                               [_rng.normal(size=YT.shape), KT]),
    "ConvTransposeKernelGrad": (lambda x, g: ConvTransposeKernelGrad.apply(x, g, geometry=_GT, kernel_shape=KT.shape),
                                [XT, _rng.normal(size=YT.shape)]),
    "ConvTransposeAgain": (lambda x, k: ConvTransposeAgain.apply(x, k, geometry=_GT), [XT, KT]),
}


@pytest.mark.parametrize("forward, x, k, y, geometry, input_grad, kernel_grad", [
    ("conv", X, K, Y, _G, ConvInputGrad, ConvKernelGrad),
    ("conv_transpose", XT, KT, YT, _GT, ConvTransposeInputGrad, ConvTransposeKernelGrad),
])
def test_the_gradient_ops_are_the_adjoints_of_the_convolution(forward, x, k, y, geometry, input_grad, kernel_grad):
    """<dY, f(X, K)> = <InputGrad(dY, K), X> = <KernelGrad(X, dY), K>: the trilinear form."""
    g = _rng.normal(size=y.shape)
    dx = input_grad.apply(dg.Tensor(g), dg.Tensor(k), geometry=geometry).data
    dk = kernel_grad.apply(dg.Tensor(x), dg.Tensor(g), geometry=geometry, kernel_shape=k.shape).data
    form = np.sum(g * y)
    assert np.sum(dx * x) == pytest.approx(form, rel=1e-12)
    assert np.sum(dk * k) == pytest.approx(form, rel=1e-12)


def test_conv_transpose_again_repeats_the_recorded_forward():
    again = ConvTransposeAgain.apply(dg.Tensor(XT), dg.Tensor(KT), geometry=_GT).data
    np.testing.assert_allclose(again, YT, rtol=1e-13, atol=1e-13)
