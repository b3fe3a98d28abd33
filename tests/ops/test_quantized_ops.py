"""ops.quantized: the exact int8 GEMM, the abs-max quantizer, and the int8 linear and convolution
ops, forward and backward, against int64 and PyTorch references."""
import numpy as np
import pytest
import torch

import deepgrad as dg
import deepgrad.quantizers as dq
from deepgrad.ops.quantized import (EXACT_CHUNK, abs_max_quantize_array, int8_matmul, quantized_conv,
                                    quantized_einsum, quantized_linear)
from oracle import check_gradients

RNG = np.random.default_rng(0)

_CASE = np.random.default_rng(5)
# for tests/ops/test_every_function.py: each op's graph differentiated again gives the same gradients
BACKWARD_CASES = {
    "QuantizedLinear": (quantized_linear, [_CASE.normal(size=(3, 4)),
                                           _CASE.integers(-127, 128, (4, 2)).astype(np.int8)],
                        {"kernel_scale": _CASE.uniform(50, 200, 2)}),
    "QuantizedConv": (quantized_conv, [_CASE.normal(size=(1, 4, 4, 2)),
                                       _CASE.integers(-127, 128, (2, 2, 2, 3)).astype(np.int8)],
                      {"kernel_scale": _CASE.uniform(50, 200, 3), "strides": (1, 1)}),
    "QuantizedEinsum": (quantized_einsum, [_CASE.normal(size=(2, 3, 4)),
                                           _CASE.integers(-127, 128, (4, 2, 3)).astype(np.int8)],
                        {"kernel_scale": _CASE.uniform(50, 200, (1, 1, 2, 3)), "specs": ("abc", "cde", "abde")}),
    "FakeQuant": (dq.fake_quant_with_min_max_vars, [_CASE.normal(size=(3, 4)), np.array(-1.0), np.array(1.0)]),
}


@pytest.mark.parametrize("k", [1, 7, EXACT_CHUNK, EXACT_CHUNK + 1, 3 * EXACT_CHUNK + 5])
def test_int8_matmul_is_exact(k):
    # extreme values (all -128 or 127) give the largest sums, where float32 would round first
    a = RNG.integers(-128, 128, (6, k)).astype(np.int8)
    b = RNG.integers(-128, 128, (k, 5)).astype(np.int8)
    a[0], b[:, 0] = -128, -128
    a[1], b[:, 1] = 127, -128
    exact = a.astype(np.int64) @ b.astype(np.int64)
    got = int8_matmul(a, b)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.astype(np.int64), exact.astype(np.float32).astype(np.int64))
    if k <= 1040:  # within float32's exact integers the result is the integer itself
        np.testing.assert_array_equal(got.astype(np.int64), exact)


def test_int8_matmul_long_contraction_matches_int64():
    # K = 4096: four exact float32 chunks summed in float64, then one rounding to float32
    k = 4 * EXACT_CHUNK
    a = RNG.integers(-128, 128, (64, k)).astype(np.int8)
    b = RNG.integers(-128, 128, (k, 64)).astype(np.int8)
    exact = a.astype(np.int64) @ b.astype(np.int64)
    np.testing.assert_array_equal(int8_matmul(a, b).astype(np.float64), exact.astype(np.float32).astype(np.float64))


def test_abs_max_quantize_matches_formula():
    x = RNG.normal(size=(5, 9)).astype(np.float32)
    q, scale = abs_max_quantize_array(x, axis=-1)
    expected_scale = np.float32(127) / (np.abs(x).max(axis=-1, keepdims=True) + np.float32(1e-7))
    np.testing.assert_array_equal(scale, expected_scale)
    np.testing.assert_array_equal(q, np.clip(np.round(x * expected_scale), -127, 127))
    assert np.abs(q).max() == 127 and q.dtype == np.float32


def _reference_linear(x, kernel, scale, bias):
    """The int8 Dense in int64: quantize rows, integer product, de-scale."""
    sx = np.float32(127) / (np.abs(x).max(axis=-1, keepdims=True) + np.float32(1e-7))
    qx = np.clip(np.round(x * sx), -127, 127).astype(np.int64)
    acc = (qx @ kernel.astype(np.int64)).astype(np.float32)
    return acc / (scale * sx) + bias


@pytest.mark.parametrize("shape", [(4, 12), (2, 3, 12), (1, 1100)])
def test_quantized_linear_forward_and_backward(shape):
    k_in, units = shape[-1], 5
    x = RNG.normal(size=shape).astype(np.float32)
    kernel = RNG.integers(-127, 128, (k_in, units)).astype(np.int8)
    scale = RNG.uniform(50, 200, units).astype(np.float32)
    bias = RNG.normal(size=units).astype(np.float32)
    xt, bt = dg.Tensor(x, requires_grad=True), dg.Tensor(bias, requires_grad=True)
    y = quantized_linear(xt, kernel, scale, bt)
    np.testing.assert_allclose(y.data, _reference_linear(x.reshape(-1, k_in), kernel, scale, bias).reshape(y.shape),
                               rtol=1e-6, atol=1e-6)
    g = RNG.normal(size=y.shape).astype(np.float32)
    y.backward(dg.Tensor(g))
    # the gradient flows through the dequantized kernel q / s (PyTorch: autograd of x @ (q / s) + b)
    xt_torch = torch.tensor(x, requires_grad=True)
    bt_torch = torch.tensor(bias, requires_grad=True)
    out = xt_torch @ (torch.tensor(kernel, dtype=torch.float32) / torch.tensor(scale)) + bt_torch
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad, xt_torch.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bt.grad, bt_torch.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_quantized_linear_without_input_quantizer():
    x = RNG.normal(size=(3, 6)).astype(np.float32)
    kernel = RNG.integers(-127, 128, (6, 4)).astype(np.int8)
    scale = RNG.uniform(50, 200, 4).astype(np.float32)
    y = quantized_linear(x, kernel, scale, quantize_inputs=False)
    np.testing.assert_allclose(y.data, x @ kernel.astype(np.float32) / scale, rtol=1e-6)


def _torch_conv(x, w, strides, padding, dilation):
    """channels-last x and (*k, cin, cout) w through torch's convNd."""
    nd = w.ndim - 2
    fn = [None, torch.nn.functional.conv1d, torch.nn.functional.conv2d, torch.nn.functional.conv3d][nd]
    xt = x.permute(0, nd + 1, *range(1, nd + 1))
    wt = w.permute(nd + 1, nd, *range(nd))
    out = fn(xt, wt, stride=strides, padding=padding, dilation=dilation)
    return out.permute(0, *range(2, nd + 2), 1)


def _reference_conv(x, kernel, scale, strides, dilation):
    """The int8 convolution ("valid") in int64: each receptive field (torch's unfold) quantized as a row."""
    nd = kernel.ndim - 2
    cin, cout = kernel.shape[-2:]
    xt = torch.tensor(x, dtype=torch.float64)
    # receptive fields as rows, ordered (*k, cin) like the kernel: unfold each spatial axis in turn
    patches = xt
    for axis, (k, s, d) in enumerate(zip(kernel.shape[:nd], strides, dilation)):
        span = (k - 1) * d + 1
        patches = patches.unfold(1 + axis, span, s)[..., ::d]
    # patches: (n, *out, cin, *k) -> (n, *out, *k, cin)
    patches = patches.permute(*range(nd + 1), *range(nd + 2, 2 * nd + 2), nd + 1).numpy().astype(np.float32)
    rows = patches.reshape(-1, kernel[..., 0].size)
    sx = np.float32(127) / (np.abs(rows).max(axis=-1, keepdims=True) + np.float32(1e-7))
    q = np.clip(np.round(rows * sx), -127, 127).astype(np.int64)
    acc = (q @ kernel.reshape(-1, cout).astype(np.int64)).astype(np.float32)
    return (acc / (scale * sx)).reshape(*patches.shape[:nd + 1], cout)


@pytest.mark.parametrize("nd,strides,dilation", [(1, (2,), (1,)), (2, (1, 1), (1, 1)), (2, (2, 1), (1, 2)),
                                                 (3, (1, 1, 1), (1, 1, 1))])
def test_quantized_conv_forward_and_backward(nd, strides, dilation):
    spatial = (7, 6, 5)[:nd]
    ks = (3, 2, 2)[:nd]
    x = RNG.normal(size=(2, *spatial, 3)).astype(np.float32)
    kernel = RNG.integers(-127, 128, (*ks, 3, 4)).astype(np.int8)
    scale = RNG.uniform(50, 200, 4).astype(np.float32)
    xt = dg.Tensor(x, requires_grad=True)
    y = quantized_conv(xt, kernel, scale, strides, "valid", dilation)
    np.testing.assert_allclose(y.data, _reference_conv(x, kernel, scale, strides, dilation), rtol=1e-5, atol=1e-5)
    g = RNG.normal(size=y.shape).astype(np.float32)
    y.backward(dg.Tensor(g))
    x_torch = torch.tensor(x, requires_grad=True)
    w_float = torch.tensor(kernel, dtype=torch.float32) / torch.tensor(scale)
    _torch_conv(x_torch, w_float, strides, 0, dilation).backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad, x_torch.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_quantized_conv_same_padding_and_channels_first():
    x = RNG.normal(size=(2, 5, 5, 3)).astype(np.float32)
    kernel = RNG.integers(-127, 128, (3, 3, 3, 4)).astype(np.int8)
    scale = RNG.uniform(50, 200, 4).astype(np.float32)
    y = quantized_conv(x, kernel, scale, (1, 1), "same", (1, 1))
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    np.testing.assert_allclose(y.data, _reference_conv(padded, kernel, scale, (1, 1), (1, 1)), rtol=1e-5, atol=1e-5)
    y_first = quantized_conv(np.moveaxis(x, -1, 1), kernel, scale, (1, 1), "same", (1, 1), channels_first=True)
    np.testing.assert_allclose(np.moveaxis(y_first.data, 1, -1), y.data, rtol=1e-6, atol=1e-6)


def test_quantized_ops_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="quantized_linear.*shape"):
        quantized_linear(np.ones((2, 3), np.float32), np.ones((4, 2), np.int8), np.ones(2, np.float32))
    with pytest.raises(ValueError, match="quantized_conv"):
        quantized_conv(np.ones((1, 5, 5, 2), np.float32), np.ones((3, 3, 3, 4), np.int8), np.ones(4, np.float32),
                       (1, 1))


def test_weight_only_ops_match_central_differences():
    # without input quantization each op is linear in x, y = x . (q / s): its true derivative is the
    # custom gradient, so float64 central differences check it (with input quantization the
    # forward is piecewise constant in x and only the dequantized-kernel rule above applies)
    kernel = RNG.integers(-127, 128, (4, 3)).astype(np.int8)
    scale = RNG.uniform(50, 200, 3)
    check_gradients(lambda x, b: quantized_linear(x, kernel, scale, b, quantize_inputs=False),
                    [RNG.normal(size=(2, 4)), RNG.normal(size=3)])
    conv_kernel = RNG.integers(-127, 128, (2, 2, 2, 3)).astype(np.int8)
    check_gradients(lambda x: quantized_conv(x, conv_kernel, scale, (1, 1), "same", (1, 1), quantize_inputs=False),
                    [RNG.normal(size=(1, 3, 3, 2))])
    einsum_kernel = RNG.integers(-127, 128, (4, 2, 3)).astype(np.int8)
    einsum_scale = RNG.uniform(50, 200, (1, 1, 2, 3))
    check_gradients(lambda x: quantized_einsum(x, einsum_kernel, einsum_scale, ("abc", "cde", "abde"),
                                               quantize_inputs=False), [RNG.normal(size=(2, 3, 4))])


def test_quantized_einsum_matches_int64_reference():
    x = RNG.normal(size=(2, 3, 5)).astype(np.float32)
    kernel = RNG.integers(-127, 128, (5, 2, 4)).astype(np.int8)
    scale = RNG.uniform(50, 200, (1, 1, 2, 4)).astype(np.float32)
    y = quantized_einsum(x, kernel, scale, ("abc", "cde", "abde"))
    sx = np.float32(127) / (np.abs(x).max(axis=-1, keepdims=True) + np.float32(1e-7))
    qx = np.clip(np.round(x * sx), -127, 127).astype(np.int64)
    acc = np.einsum("abc,cde->abde", qx, kernel.astype(np.int64)).astype(np.float32)
    np.testing.assert_allclose(y.data, acc / (sx[..., None] * scale), rtol=1e-6, atol=1e-6)
