"""GEMMs split over the two halves of their rows, and the per-sample kernel gradient.

Large Dense and convolution GEMMs run over the two halves of their rows in two threads, each
on one BLAS thread (``ops.halves.matmul_row_halves``): the product must be the very same bits
as the whole GEMM on one BLAS thread, with the bias and relu applied to each half the same
way. A narrow unfold's kernel gradient is one GEMM per sample summed once
(``im2col.kernel_grad``): the same bits in one thread or two, and within rounding of the
single GEMM and of float64.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad import runtime
from deepgrad.ops import halves, im2col, nn
from deepgrad.ops.im2col import conv2d, conv2d_relu, kernel_grad
from deepgrad.ops.nn import linear, linear_relu


@pytest.fixture
def split(monkeypatch):
    """Every GEMM of the tested ops over its rows' halves in two threads, however small."""
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)  # split even under OMP_NUM_THREADS=1
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", 1)
    # each half above OpenBLAS's small-matrix bound (~100**3), below which a half's kernel differs
    for module in (halves, im2col):
        monkeypatch.setattr(module, "GEMM_HALVES_MIN", 1 << 21)
    for module in (halves, nn, im2col):
        monkeypatch.setattr(module, "GEMM_OWN_MIN", 1)

    real = runtime._in_two_threads

    def counted(fn, first, second, take_back):
        counted.splits += 1
        real(fn, first, second, take_back)

    counted.splits = 0
    monkeypatch.setattr(runtime, "_in_two_threads", counted)

    def off():  # back to the plain path: one GEMM per product, one thread per element-wise pass
        for module in (halves, im2col):
            monkeypatch.setattr(module, "GEMM_HALVES_MIN", 1 << 62)
        for module in (halves, nn, im2col):
            monkeypatch.setattr(module, "GEMM_OWN_MIN", 1 << 62)
        monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", 1 << 62)
        splits, counted.splits = counted.splits, 0
        return splits  # how many two-thread splits ran before

    return off


@pytest.mark.parametrize("m,k,n", [(128, 784, 128), (301, 300, 37), (16, 5408, 64), (4099, 27, 33)])
def test_row_halves_are_the_one_thread_gemm_bit_for_bit(split, m, k, n):
    rng = np.random.default_rng(m)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)

    def bias_relu(rows):
        rows += bias
        np.maximum(rows, 0, out=rows)

    out = halves.matmul_row_halves(a, b, after=bias_relu)
    assert out is not None
    with runtime.one_blas_thread():
        expected = np.maximum(a @ b + bias, 0)
    np.testing.assert_array_equal(out, expected)
    # a transposed operand (Dense's dKernel = X^T dY) splits the same way
    g = rng.standard_normal((m, n)).astype(np.float32)
    with runtime.one_blas_thread():
        expected_t = a.T @ g
    np.testing.assert_array_equal(halves.matmul(a.T, g), expected_t)


def test_mid_sized_products_run_whole_on_one_blas_thread(split):
    rng = np.random.default_rng(4)
    a = rng.standard_normal((128, 784)).astype(np.float32)
    b = rng.standard_normal((784, 10)).astype(np.float32)  # 1 M multiply-adds: under GEMM_HALVES_MIN
    out = halves.matmul_row_halves(a, b, after=lambda rows: np.maximum(rows, 0, out=rows))
    assert split() == 0
    with runtime.one_blas_thread():
        np.testing.assert_array_equal(out, np.maximum(a @ b, 0))


def test_row_halves_decline_small_products_and_one_thread(monkeypatch):
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    a = np.ones((128, 10), np.float32)
    assert halves.matmul_row_halves(a, np.ones((10, 4), np.float32)) is None  # 5,120 multiply-adds
    monkeypatch.setattr(halves, "GEMM_OWN_MIN", 1)
    monkeypatch.setattr(halves, "GEMM_HALVES_MIN", 1)
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: True)
    assert halves.matmul_row_halves(a, np.ones((10, 4), np.float32)) is None
    np.testing.assert_array_equal(halves.matmul(a, np.ones((10, 4), np.float32)), np.full((128, 4), 10, np.float32))


def _dense_step(fn, x, kernel, bias):
    xt = dg.Tensor(x, requires_grad=True)
    kt, bt = dg.Tensor(kernel, requires_grad=True), dg.Tensor(bias, requires_grad=True)
    out = fn(xt, kt, bt)
    (out * out).sum().backward()
    return out.data, xt.grad, kt.grad, bt.grad


@pytest.mark.parametrize("fn", [linear, linear_relu])
def test_dense_halves_match_the_plain_path_and_torch(split, fn):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((130, 400)).astype(np.float32)  # 3.3 M multiply-adds a GEMM
    kernel = (rng.standard_normal((400, 64)) * 0.1).astype(np.float32)
    bias = rng.standard_normal(64).astype(np.float32)
    fast = _dense_step(fn, x, kernel, bias)
    assert split() == 3  # the forward GEMM, dX and dKernel
    with runtime.one_blas_thread():
        plain = _dense_step(fn, x, kernel, bias)
    for a, b in zip(fast, plain):
        np.testing.assert_array_equal(a, b)

    xt = torch.tensor(x, requires_grad=True)
    kt, bt = torch.tensor(kernel, requires_grad=True), torch.tensor(bias, requires_grad=True)
    out = xt @ kt + bt
    out = torch.relu(out) if fn is linear_relu else out
    (out * out).sum().backward()
    for ours, theirs in zip(fast, (out.detach(), xt.grad, kt.grad, bt.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-4, atol=1e-4)


def _conv_step(fn, x, kernel, bias, padding):
    xt = dg.Tensor(x, requires_grad=True)
    kt, bt = dg.Tensor(kernel, requires_grad=True), dg.Tensor(bias, requires_grad=True)
    out = fn(xt, kt, bt, padding=padding)
    (out * out).sum().backward()
    return out.data, xt.grad, kt.grad, bt.grad


# (channels in, out): 3 -> 32 unfolds 28 columns (the per-sample kernel gradient) and takes the
# correlation for dX; 16 -> 32 unfolds 145 (one GEMM) and takes the per-offset col2im for dX
@pytest.mark.parametrize("cin,cout", [(3, 32), (16, 32)])
@pytest.mark.parametrize("fn", [conv2d, conv2d_relu])
def test_conv_halves_match_the_plain_path_and_torch(split, fn, cin, cout):
    rng = np.random.default_rng(cin)
    x = rng.standard_normal((9, 23, 24, cin)).astype(np.float32)  # 4,968 output cells
    kernel = (rng.standard_normal((3, 3, cin, cout)) * 0.3).astype(np.float32)
    bias = rng.standard_normal(cout).astype(np.float32)
    fast = _conv_step(fn, x, kernel, bias, "same")
    assert split() >= 4  # the forward GEMM, dX's GEMM(s), dKernel (and the element-wise passes)
    with runtime.one_blas_thread():
        plain = _conv_step(fn, x, kernel, bias, "same")
    for a, b in zip(fast, plain):
        np.testing.assert_array_equal(a, b)

    xt = torch.tensor(x).permute(0, 3, 1, 2).requires_grad_()
    kt = torch.tensor(kernel).permute(3, 2, 0, 1).contiguous().requires_grad_()
    bt = torch.tensor(bias).requires_grad_()
    out = F.conv2d(xt, kt, bt, padding=1)
    out = F.relu(out) if fn is conv2d_relu else out
    (out * out).sum().backward()
    theirs = (out.permute(0, 2, 3, 1).detach(), xt.grad.permute(0, 2, 3, 1), kt.grad.permute(2, 3, 1, 0), bt.grad)
    for ours, ref in zip(fast, theirs):
        np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-4, atol=1e-3)


def test_narrow_kernel_gradient_is_the_gemm_to_rounding_and_the_same_in_two_threads(split):
    rng = np.random.default_rng(5)
    n, per = 9, 37
    cols = rng.standard_normal((n * per, 10)).astype(np.float32)
    g2 = rng.standard_normal((n * per, 6)).astype(np.float32)
    assert cols.shape[1] <= im2col.NARROW_COLS
    two = kernel_grad(cols, g2, n)
    assert split() == 1
    one = kernel_grad(cols, g2, n)
    np.testing.assert_array_equal(two, one)
    exact = cols.astype(np.float64).T @ g2.astype(np.float64)
    np.testing.assert_allclose(one, exact, rtol=1e-5, atol=1e-5 * np.abs(exact).max())
    np.testing.assert_allclose(one, cols.T @ g2, rtol=1e-5, atol=1e-5 * np.abs(exact).max())
    # wide unfolds and a single sample take the one GEMM
    wide = rng.standard_normal((n * per, im2col.NARROW_COLS + 1)).astype(np.float32)
    np.testing.assert_array_equal(kernel_grad(wide, g2, n), (g2.T @ wide).T)
    np.testing.assert_array_equal(kernel_grad(cols, g2, 1), (g2.T @ cols).T)
