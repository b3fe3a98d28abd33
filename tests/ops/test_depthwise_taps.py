"""Depthwise convolution by taps (``ops/depthwise.py``): batches large enough for the two-thread
halves, against PyTorch's grouped convolution, the same bits on one thread and two."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad import runtime


def _case(seed, shape, kernel_shape):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(np.float32), rng.standard_normal(kernel_shape).astype(np.float32)


def _ours(x, kernel, strides, dilation):
    xt, kt = dg.Tensor(x, requires_grad=True), dg.Tensor(kernel, requires_grad=True)
    out = dg.depthwise_conv(xt, kt, strides=strides, padding="valid", dilation_rate=dilation)
    weight = np.random.default_rng(9).standard_normal(out.shape).astype(np.float32)
    (out * dg.Tensor(weight)).sum().backward()
    return out.data, xt.grad, kt.grad, weight


def _torch(x, kernel, strides, dilation, weight):
    c, m = kernel.shape[-2:]
    xt = torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)
    # Keras (kh, kw, C, m) -> PyTorch (C*m, 1, kh, kw), output channel c*m + j
    kt = torch.tensor(kernel, requires_grad=True)
    w = kt.reshape(*kernel.shape[:2], c * m).permute(2, 0, 1).unsqueeze(1)
    out = F.conv2d(xt, w, stride=strides, dilation=dilation, groups=c)
    (out * torch.tensor(np.moveaxis(weight, -1, 1))).sum().backward()
    return np.moveaxis(out.detach().numpy(), 1, -1), np.moveaxis(xt.grad.numpy(), 1, -1), kt.grad.numpy()


@pytest.mark.parametrize("strides,dilation,multiplier", [(1, 1, 1), (2, 1, 1), (1, 2, 1), ((2, 1), 1, 2)])
def test_large_depthwise_matches_torch_and_is_the_same_on_one_thread(monkeypatch, strides, dilation, multiplier):
    x, kernel = _case(0, (8, 58, 56, 48), (3, 3, 48, multiplier))
    out, dx, dk, weight = _ours(x, kernel, strides, dilation)
    assert out.size >= 1 << 18   # large enough for the two halves
    t_out, t_dx, t_dk = _torch(x, kernel, strides, dilation, weight)
    np.testing.assert_allclose(out, t_out, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dk, t_dk, rtol=1e-4, atol=2e-3)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert not runtime.two_threads()
    for ours, alone in zip((out, dx, dk), _ours(x, kernel, strides, dilation)[:3]):
        np.testing.assert_array_equal(ours, alone)


def test_channels_first_and_non_contiguous_inputs():
    x, kernel = _case(1, (2, 9, 7, 5), (3, 2, 5, 1))
    ref = dg.depthwise_conv(x, kernel, padding="same").data
    first = dg.depthwise_conv(np.moveaxis(x, -1, 1), kernel, padding="same", data_format="channels_first").data
    np.testing.assert_array_equal(np.moveaxis(first, 1, -1), ref)
    view = np.asfortranarray(x)   # same values, other strides
    np.testing.assert_array_equal(dg.depthwise_conv(view, kernel, padding="same").data, ref)
