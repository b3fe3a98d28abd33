"""GEMMs split over the two halves of their rows, and the per-sample kernel gradient.

Large Dense and convolution GEMMs run over the two halves of their rows in two threads, each
on one BLAS thread (``ops.halves.matmul_row_halves``): the product must be the very same bits
as the whole GEMM on one BLAS thread where this BLAS sums a row the same way wherever the row
falls in its blocks of rows (``blas_bits.row_halves_keep_bits``; else within rounding), with the
bias and relu applied to each half the same way. A narrow unfold's kernel gradient is one GEMM per sample summed once
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
from deepgrad.ops import blas, halves, im2col
from deepgrad.ops.im2col import conv2d, conv2d_relu, kernel_grad
from deepgrad.ops.nn import linear, linear_relu
from blas_bits import assert_bits_or_close, column_halves_keep_bits, row_halves_keep_bits

# Where this BLAS sums a split product's rows in another order (see blas_bits), a float32 dot
# product of K unit-scale terms differs by a few units of the last place of the largest partial
# sums: within 1e-6 of the output's largest magnitude (the worst measured here, K = 5408: 3e-7).
GEMM_RTOL, GEMM_ATOL_SHARE = 1e-5, 1e-6


@pytest.fixture
def split(monkeypatch):
    """Every GEMM of the tested ops over its rows' halves in two threads, however small."""
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)  # split even under OMP_NUM_THREADS=1
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", 1)
    # each half above OpenBLAS's small-matrix bound (~100**3), below which a half's kernel differs
    for module in (halves, im2col):
        monkeypatch.setattr(module, "GEMM_HALVES_MIN", 1 << 21)
    monkeypatch.setattr(halves, "GEMM_HALVES_MIN_MKL", 1 << 21)
    monkeypatch.setattr(halves, "GEMM_OWN_MIN", 1)
    monkeypatch.setattr(im2col, "BLAS_THREADS_MIN", 1)

    real = runtime._in_two_threads

    def counted(fn, first, second, take_back):
        counted.splits += 1
        real(fn, first, second, take_back)

    counted.splits = 0
    monkeypatch.setattr(runtime, "_in_two_threads", counted)

    def off():  # back to the plain path: one GEMM per product, one thread per element-wise pass
        for module in (halves, im2col):
            monkeypatch.setattr(module, "GEMM_HALVES_MIN", 1 << 62)
        monkeypatch.setattr(halves, "GEMM_HALVES_MIN_MKL", 1 << 62)
        monkeypatch.setattr(halves, "GEMM_OWN_MIN", 1 << 62)
        monkeypatch.setattr(im2col, "BLAS_THREADS_MIN", 1 << 62)
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
        expected = np.maximum(blas.matmul(a, b) + bias, 0)
    assert_bits_or_close(out, expected, row_halves_keep_bits(np.float32, m, k, n), GEMM_RTOL, GEMM_ATOL_SHARE)
    # a transposed operand (Dense's dKernel = X^T dY) splits the same way (OpenBLAS packs either
    # layout into the same blocks, so the probe's C-ordered operands stand for it)
    g = rng.standard_normal((m, n)).astype(np.float32)
    with runtime.one_blas_thread():
        expected_t = blas.matmul(a.T, g)
    assert_bits_or_close(halves.matmul(a.T, g), expected_t, row_halves_keep_bits(np.float32, k, m, n),
                         GEMM_RTOL, GEMM_ATOL_SHARE)


def test_mid_sized_products_run_whole_on_one_blas_thread(split):
    rng = np.random.default_rng(4)
    a = rng.standard_normal((128, 784)).astype(np.float32)
    b = rng.standard_normal((784, 10)).astype(np.float32)  # 1 M multiply-adds: under GEMM_HALVES_MIN
    out = halves.matmul_row_halves(a, b, after=lambda rows: np.maximum(rows, 0, out=rows))
    assert split() == 0
    with runtime.one_blas_thread():
        np.testing.assert_array_equal(out, np.maximum(blas.matmul(a, b), 0))


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
    # the forward GEMM, dX = dY K^T and dKernel = X^T dY, each over its rows' halves
    same_bits = all(row_halves_keep_bits(np.float32, *s) for s in ((130, 400, 64), (130, 64, 400), (400, 130, 64)))
    for a, b in zip(fast, plain):   # the gradients of out * out carry the output's rounding: twice the share
        assert_bits_or_close(a, b, same_bits, GEMM_RTOL, 2 * GEMM_ATOL_SHARE)

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
        # dK of out * out is a float32 sum over 4,968 positions reaching thousands: its entries near
        # zero are rounded at that scale (1.5e-3 of 7e3 measured on a Zen 3 OpenBLAS), hence an
        # absolute tolerance of 1e-6 of the largest entry where that exceeds 1e-3
        ref = ref.numpy()
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=max(1e-3, 1e-6 * np.abs(ref).max()))


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
    # a single sample takes the one GEMM
    np.testing.assert_array_equal(kernel_grad(cols, g2, 1), blas.matmul(g2.T, cols).T)


@pytest.fixture
def conv_split(monkeypatch):
    """The convolutions' GEMMs (``halves.matmul_off_pool``) over their rows' halves, however small;
    ``off()`` turns them and the element-wise halves back to the plain path."""
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(runtime, "_TAKE_BACK_UNSTARTED", False)  # the worker thread runs its half
    monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", 1)
    monkeypatch.setattr(halves, "BLAS_THREADS_MIN", 1)
    monkeypatch.setattr(halves, "GEMM_POOL_MIN", 1 << 21)  # each half above OpenBLAS's small-matrix bound
    real = runtime._in_two_threads

    def counted(fn, first, second, take_back):
        counted.splits += 1
        real(fn, first, second, take_back)

    counted.splits = 0
    monkeypatch.setattr(runtime, "_in_two_threads", counted)

    def off():
        monkeypatch.setattr(halves, "BLAS_THREADS_MIN", 1 << 62)
        monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", 1 << 62)
        splits, counted.splits = counted.splits, 0
        return splits

    return off


def _weighted_grads(fn, *arrays):
    leaves = [dg.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    weights = np.random.default_rng(11).standard_normal(out.shape).astype(np.float32)
    (out * dg.Tensor(weights)).sum().backward()
    return [out.data] + [t.grad for t in leaves], weights


def test_conv_transpose_backward_gemms_in_row_halves_are_the_plain_path_and_torch(conv_split):
    from deepgrad.ops.convolution import conv_transpose_bias

    rng = np.random.default_rng(12)
    x = rng.standard_normal((6, 8, 8, 32)).astype(np.float32)  # dX: (384, 512) x (512, 32), 6.3 M
    kernel = (rng.standard_normal((4, 4, 32, 32)) * 0.1).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)

    def fn(a, k, c):
        return conv_transpose_bias(a, k, c, strides=2, padding="same")

    fast, weights = _weighted_grads(fn, x, kernel, b)
    assert conv_split() >= 3  # the forward's col2im halves, dX's and dK's GEMM halves (and the uncrop)
    with runtime.one_blas_thread():
        plain, _ = _weighted_grads(fn, x, kernel, b)
    same_bits = row_halves_keep_bits(np.float32, 512, 384, 32)  # dK's GEMM over its rows' halves
    for a, p in zip(fast, plain):
        assert_bits_or_close(a, p, same_bits, GEMM_RTOL, GEMM_ATOL_SHARE)
    tx = torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)
    tk = torch.tensor(kernel.transpose(3, 2, 0, 1).copy(), requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    ty = F.conv_transpose2d(tx, tk, tb, stride=2, padding=1)
    (ty * torch.tensor(np.moveaxis(weights, -1, 1))).sum().backward()
    theirs = (np.moveaxis(ty.detach().numpy(), 1, -1), np.moveaxis(tx.grad.numpy(), 1, -1),
              tk.grad.numpy().transpose(2, 3, 1, 0), tb.grad.numpy())
    for ours, ref in zip(fast, theirs):
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-3)


def _conv2d_gemms_keep_bits(cin: int) -> bool:
    """Whether this BLAS keeps the bits of the next test's GEMMs split: the tap path's (cin 64) forward
    over the halves of the batch's columns and its gradients' over the rows' halves; the narrow
    unfold's (cin 1) over its rows' halves."""
    if cin == 1:
        return row_halves_keep_bits(np.float32, 384, 25, 16)
    return (column_halves_keep_bits(np.float32, 25, 64, 2400) and row_halves_keep_bits(np.float32, 2400, 25, 64)
            and row_halves_keep_bits(np.float32, 25, 2400, 64))


@pytest.mark.parametrize("cin,cout,strides", [(64, 1, 1), (1, 16, 2)])  # the tap path; a narrow unfold
def test_conv2d_gemms_off_the_blas_pool_are_the_plain_path_and_torch(conv_split, cin, cout, strides):
    rng = np.random.default_rng(cin)
    x = rng.standard_normal((6, 16, 16, cin)).astype(np.float32)
    kernel = (rng.standard_normal((5, 5, cin, cout)) * 0.1).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)

    def fn(a, k, c):
        return conv2d(a, k, c, strides=strides, padding="same")

    fast, weights = _weighted_grads(fn, x, kernel, b)
    assert conv_split() >= 2
    with runtime.one_blas_thread():
        plain, _ = _weighted_grads(fn, x, kernel, b)
    same_bits = _conv2d_gemms_keep_bits(cin)
    for a, p in zip(fast, plain):
        assert_bits_or_close(a, p, same_bits, GEMM_RTOL, GEMM_ATOL_SHARE)
    tx = torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)
    tk = torch.tensor(kernel.transpose(3, 2, 0, 1).copy(), requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    lo, hi = im2col.same_padding(16, 5, strides)
    ty = F.conv2d(F.pad(tx, (lo, hi, lo, hi)), tk, tb, stride=strides)
    (ty * torch.tensor(np.moveaxis(weights, -1, 1))).sum().backward()
    theirs = (np.moveaxis(ty.detach().numpy(), 1, -1), np.moveaxis(tx.grad.numpy(), 1, -1),
              tk.grad.numpy().transpose(2, 3, 1, 0), tb.grad.numpy())
    for ours, ref in zip(fast, theirs):
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-3)


def test_products_never_wake_openblas_pool(monkeypatch):
    """From OpenBLAS's threading threshold up to GEMM_POOL_MIN a product runs whole on one BLAS
    thread, and from there in row halves on deepgrad's two threads, each on one BLAS thread:
    OpenBLAS's pool stays asleep; Dense's forward and backward take those paths."""
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    entered = []
    real = runtime.one_blas_thread

    def counting():
        entered.append(1)
        return real()

    monkeypatch.setattr(halves, "one_blas_thread", counting)
    rng = np.random.default_rng(13)
    x = rng.standard_normal((128, 6272)).astype(np.float32)  # a DCGAN discriminator's Dense(1): 0.8 M
    kernel = rng.standard_normal((6272, 1)).astype(np.float32)
    out, dx, dk, db = _dense_step(linear, x, kernel, np.zeros(1, np.float32))
    assert len(entered) == 3  # forward, dX, dKernel
    np.testing.assert_allclose(out, x @ kernel, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(dk, x.T @ (2 * out), rtol=1e-4, atol=1e-2)
    entered.clear()
    big = rng.standard_normal((128, 784)).astype(np.float32)  # 12.8 M with 128 units: in two halves
    halves.matmul(big, rng.standard_normal((784, 128)).astype(np.float32))
    assert len(entered) == (1 if blas.on_mkl() else 2)  # whole on MKL (GEMM_HALVES_MIN_MKL)
    entered.clear()
    small = rng.standard_normal((8, 16)).astype(np.float32)  # below OpenBLAS's threading threshold
    halves.matmul(small, small.T)
    assert entered == []


def test_layer_norm_row_sums_keep_the_blas_pool_asleep_and_match_torch(monkeypatch):
    """The row sums of a layer normalisation (matrix-vector products) run on one BLAS thread on two
    cores from OpenBLAS's own threading threshold (halves.matvec), with the same numbers (NumPy's
    path: the compiled loops off)."""
    from deepgrad.ops import normalization_compiled
    from deepgrad.ops.normalization import LayerNorm

    monkeypatch.setenv("DEEPGRAD_LOOPS", "0")
    monkeypatch.setattr(normalization_compiled, "loaded", {})

    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    entered = []
    real = runtime.one_blas_thread

    def counting():
        entered.append(1)
        return real()

    monkeypatch.setattr(halves, "one_blas_thread", counting)
    rng = np.random.default_rng(14)
    x = rng.standard_normal((96, 128)).astype(np.float32)  # 12,288 values: above the gemv threshold
    gamma, beta = rng.standard_normal(128).astype(np.float32), rng.standard_normal(128).astype(np.float32)
    leaves = [dg.Tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    out = LayerNorm.apply(*leaves, features=128, epsilon=1e-3)
    weights = rng.standard_normal(out.shape).astype(np.float32)
    (out * dg.Tensor(weights)).sum().backward()
    assert len(entered) == 3  # the mean forward; sum(g gamma) and dbeta backward
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    ty = F.layer_norm(tx, (128,), tg, tb, eps=1e-3)
    (ty * torch.tensor(weights)).sum().backward()
    for ours, ref in zip([out.data] + [t.grad for t in leaves], (ty.detach(), tx.grad, tg.grad, tb.grad)):
        np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-4, atol=1e-4)
    entered.clear()
    np.testing.assert_array_equal(halves.matvec(x[:8], gamma), x[:8] @ gamma)  # 1,024 values: NumPy's call as is
    assert entered == []


@pytest.mark.parametrize("n,per,width,cout", [(9, 37, im2col.NARROW_COLS + 1, 6), (128, 169, 289, 64), (7, 50, 145, 32)])
def test_wide_kernel_gradient_is_two_batch_halves_the_same_in_one_thread_or_two(monkeypatch, n, per, width, cout):
    """A wide unfold's kernel gradient: the GEMMs of the batch's two halves (each on one BLAS
    thread) added, bit for bit whether the halves run in two threads or one after the other, and
    within rounding of the single GEMM and of float64."""
    rng = np.random.default_rng(width)
    cols = rng.standard_normal((n * per, width)).astype(np.float32)
    g2 = rng.standard_normal((n * per, cout)).astype(np.float32)
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(runtime, "_TAKE_BACK_UNSTARTED", False)  # the worker thread runs its half
    monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", 1)
    monkeypatch.setattr(im2col, "WIDE_HALVES_MIN", 1)
    real, splits = runtime._in_two_threads, []
    monkeypatch.setattr(runtime, "_in_two_threads", lambda *a: (splits.append(1), real(*a)))
    two = kernel_grad(cols, g2, n)
    assert splits == [1]
    monkeypatch.setattr(im2col, "WIDE_HALVES_MIN", 1 << 62)
    one = kernel_grad(cols, g2, n)
    assert splits == [1]  # one after the other, in this thread
    np.testing.assert_array_equal(two, one)
    half = (n // 2) * per
    with runtime.one_blas_thread():
        by_hand = (blas.matmul(g2[:half].T, cols[:half]) + blas.matmul(g2[half:].T, cols[half:])).T
    np.testing.assert_array_equal(one, by_hand)
    exact = cols.astype(np.float64).T @ g2.astype(np.float64)
    np.testing.assert_allclose(one, exact, rtol=1e-5, atol=1e-5 * np.abs(exact).max())
    np.testing.assert_allclose(one, (g2.T @ cols).T, rtol=1e-5, atol=1e-5 * np.abs(exact).max())


@pytest.mark.parametrize("shape", [(64, 300, 40), (3, 5, 7)])
def test_a_float16_product_is_one_float32_gemm_rounded(shape):
    """Mixed precision: BLAS has no float16 GEMM (NumPy's loop is ~100x slower), so a float16
    product is the float32 GEMM of the same values rounded once, as PyTorch's is (float32
    accumulation); Dense and Conv2D under mixed_float16 give it, and their gradients."""
    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(m, k)).astype(np.float16), rng.normal(size=(k, n)).astype(np.float16)
    want = (a.astype(np.float32) @ b.astype(np.float32)).astype(np.float16)
    for got in (halves.matmul(a, b), halves.conv_matmul(a, b), halves.matmul_off_pool(a, b)):
        assert got is not None and got.dtype == np.float16
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(halves.matvec(a, b[:, 0]), want[:, 0])
    x = rng.normal(size=(m, k)).astype(np.float32)
    kernel = rng.normal(size=(k, n)).astype(np.float32)
    xt = torch.tensor(x, dtype=torch.float16, requires_grad=True)
    wt = torch.tensor(kernel, dtype=torch.float16, requires_grad=True)
    (xt @ wt).float().square().sum().backward()
    xs, ks = dg.Tensor(x.astype(np.float16), requires_grad=True), dg.Tensor(kernel.astype(np.float16), requires_grad=True)
    y = linear(xs, ks)
    assert y.dtype == np.float16
    np.testing.assert_allclose(y.data.astype(np.float32), (xt @ wt).detach().float().numpy(), rtol=2e-3, atol=2e-2)
    (y.astype("float32") ** 2).sum().backward()
    np.testing.assert_allclose(xs.grad.astype(np.float32), xt.grad.float().numpy(), rtol=1e-2, atol=0.5)
    np.testing.assert_allclose(ks.grad.astype(np.float32), wt.grad.float().numpy(), rtol=1e-2, atol=0.5)


@pytest.mark.parametrize("mkl", [False, True])
def test_plain_products_split_from_the_engines_threshold(monkeypatch, mkl):
    """On MKL a plain product is split from GEMM_HALVES_MIN_MKL multiply-adds (the MLP's 12.8 M
    run whole, on one thread), on NumPy from GEMM_HALVES_MIN; the same bits either way."""
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(blas, "on_mkl", lambda: mkl)
    splits = []
    real = runtime._in_two_threads
    monkeypatch.setattr(runtime, "_in_two_threads", lambda *a: (splits.append(1), real(*a)))
    rng = np.random.default_rng(7)
    a = rng.standard_normal((128, 784)).astype(np.float32)
    b = rng.standard_normal((784, 128)).astype(np.float32)
    assert halves.GEMM_HALVES_MIN <= 128 * 784 * 128 < halves.GEMM_HALVES_MIN_MKL
    got = halves.matmul(a, b)
    assert len(splits) == (0 if mkl else 1)
    with runtime.one_blas_thread():
        whole = blas.matmul(a, b)
    assert_bits_or_close(got, whole, mkl or row_halves_keep_bits(np.float32, 128, 784, 128), GEMM_RTOL, GEMM_ATOL_SHARE)
