"""conv2d and conv1d against PyTorch (NHWC <-> NCHW) and float64 central differences."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

import deepgrad as dg
from deepgrad.ops.im2col import conv1d, conv1d_relu, conv2d, conv2d_relu, conv_output_length, same_padding
from oracle import check_gradients, compare_with_torch
from blas_bits import assert_bits_or_close, threads_keep_bits


def torch_conv2d(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """The reference: NHWC / (kh, kw, Cin, Cout) in, NHWC out; "same" as an explicit asymmetric pad."""
    kh, kw = kernel.shape[:2]
    xt = x.permute(0, 3, 1, 2)
    if padding == "same":
        (top, bottom), (left, right) = (same_padding(n, k, s, d) for n, k, s, d in
                                        zip(xt.shape[2:], (kh, kw), strides, dilation))
        xt = F.pad(xt, (left, right, top, bottom))
    out = F.conv2d(xt, kernel.permute(3, 2, 0, 1).contiguous(), bias, stride=strides, dilation=dilation)
    return out.permute(0, 2, 3, 1)


def torch_conv1d(x, kernel, bias=None, stride=1, padding="valid", dilation=1):
    k = kernel.shape[0]
    xt = x.permute(0, 2, 1)
    if padding == "same":
        xt = F.pad(xt, same_padding(xt.shape[2], k, stride, dilation))
    elif padding == "causal":
        xt = F.pad(xt, ((k - 1) * dilation, 0))
    out = F.conv1d(xt, kernel.permute(2, 1, 0).contiguous(), bias, stride=stride, dilation=dilation)
    return out.permute(0, 2, 1)


def _arrays(rng, dtype, n, h, w, cin, cout, kh, kw, bias=True):
    arrays = [rng.standard_normal((n, h, w, cin)), rng.standard_normal((kh, kw, cin, cout))]
    if bias:
        arrays.append(rng.standard_normal(cout))
    return [a.astype(dtype) for a in arrays]


conv_cases = st.fixed_dictionaries({
    "n": st.integers(1, 3), "h": st.integers(3, 9), "w": st.integers(3, 9),
    "cin": st.integers(1, 4), "cout": st.integers(1, 4),
    "kh": st.integers(1, 3), "kw": st.integers(1, 3),
    "sh": st.integers(1, 3), "sw": st.integers(1, 3),
    "dh": st.integers(1, 2), "dw": st.integers(1, 2),
    "padding": st.sampled_from(["valid", "same"]), "bias": st.booleans(), "seed": st.integers(0, 2**16),
})


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=conv_cases)
def test_conv2d_matches_torch(dtype, case):
    c = case
    if c["padding"] == "valid" and (c["h"] < (c["kh"] - 1) * c["dh"] + 1 or c["w"] < (c["kw"] - 1) * c["dw"] + 1):
        return  # the kernel does not fit: covered by test_conv2d_kernel_larger_than_input
    rng = np.random.default_rng(c["seed"])
    arrays = _arrays(rng, dtype, c["n"], c["h"], c["w"], c["cin"], c["cout"], c["kh"], c["kw"], c["bias"])
    strides, dilation = (c["sh"], c["sw"]), (c["dh"], c["dw"])
    out = compare_with_torch(
        lambda *t: conv2d(*t, strides=strides, padding=c["padding"], dilation_rate=dilation),
        lambda *t: torch_conv2d(*t, strides=strides, padding=c["padding"], dilation=dilation), arrays)
    assert out.dtype == dtype
    expected = tuple(conv_output_length(n, k, s, c["padding"], d)
                     for n, k, s, d in zip((c["h"], c["w"]), (c["kh"], c["kw"]), strides, dilation))
    assert out.shape == (c["n"],) + expected + (c["cout"],)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(n=st.integers(1, 3), t=st.integers(4, 12), cin=st.integers(1, 4), cout=st.integers(1, 4),
       k=st.integers(1, 4), stride=st.integers(1, 3), dilation=st.integers(1, 2),
       padding=st.sampled_from(["valid", "same", "causal"]), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_conv1d_matches_torch(dtype, n, t, cin, cout, k, stride, dilation, padding, bias, seed):
    if padding == "valid" and t < (k - 1) * dilation + 1:
        return
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, t, cin)), rng.standard_normal((k, cin, cout))]
    arrays = [a.astype(dtype) for a in arrays + ([rng.standard_normal(cout)] if bias else [])]
    out = compare_with_torch(
        lambda *a: conv1d(*a, strides=stride, padding=padding, dilation_rate=dilation),
        lambda *a: torch_conv1d(*a, stride=stride, padding=padding, dilation=dilation), arrays)
    assert out.shape == (n, conv_output_length(t, k, stride, padding, dilation), cout)


@pytest.mark.parametrize("strides,padding,dilation", [
    ((1, 1), "valid", (1, 1)), ((2, 1), "same", (1, 1)), ((1, 2), "same", (2, 1)), ((3, 2), "valid", (1, 2)),
])
def test_conv2d_central_differences(strides, padding, dilation):
    rng = np.random.default_rng(3)
    arrays = _arrays(rng, np.float64, 2, 6, 5, 2, 3, 2, 3)
    check_gradients(lambda *t: conv2d(*t, strides=strides, padding=padding, dilation_rate=dilation), arrays)


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
def test_conv1d_central_differences(padding):
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((2, 7, 2)), rng.standard_normal((3, 2, 3)), rng.standard_normal(3)]
    check_gradients(lambda *t: conv1d(*t, strides=2, padding=padding, dilation_rate=2), arrays)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_relu_matches_torch(dtype):
    rng = np.random.default_rng(7)
    arrays = _arrays(rng, dtype, 2, 7, 6, 3, 4, 3, 2)
    compare_with_torch(lambda *t: conv2d_relu(*t, strides=(2, 1), padding="same"),
                       lambda *t: torch.relu(torch_conv2d(*t, strides=(2, 1), padding="same")), arrays)
    arrays = [rng.standard_normal((2, 9, 3)).astype(dtype), rng.standard_normal((3, 3, 4)).astype(dtype)]
    compare_with_torch(lambda *t: conv1d_relu(*t, padding="causal", dilation_rate=2),
                       lambda *t: torch.relu(torch_conv1d(*t, padding="causal", dilation=2)), arrays)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pointwise_conv_is_one_gemm_on_the_input(dtype):
    """A 1x1 kernel at stride 1: the input itself is the GEMM's matrix (kept for dK, not copied),
    the bias and the ReLU applied after the GEMM; conv1d through the same path."""
    rng = np.random.default_rng(9)
    arrays = _arrays(rng, dtype, 3, 5, 4, 6, 7, 1, 1)
    for padding in ("valid", "same"):
        out = compare_with_torch(lambda *t: conv2d_relu(*t, padding=padding),
                                 lambda *t: torch.relu(torch_conv2d(*t, padding=padding)), arrays)
        assert 0.2 < (out.data == 0).mean() < 0.8
        fresh = conv2d_relu(*[dg.Tensor(a, requires_grad=True) for a in arrays], padding=padding)
        assert fresh._ctx.pointwise and np.shares_memory(fresh._ctx.saved[0], fresh._ctx.inputs[0].data)
        compare_with_torch(lambda *t: conv2d(*t, padding=padding), lambda *t: torch_conv2d(*t, padding=padding),
                           arrays[:2])
    x1, k1 = rng.standard_normal((2, 9, 3)).astype(dtype), rng.standard_normal((1, 3, 4)).astype(dtype)
    compare_with_torch(lambda *t: conv1d_relu(*t), lambda *t: torch.relu(torch_conv1d(*t)),
                       [x1, k1, rng.standard_normal(4).astype(dtype)])
    if dtype == np.float64:
        check_gradients(lambda *t: conv2d_relu(*t), arrays)


def test_same_padding_puts_the_odd_cell_after():
    # TensorFlow: out = ceil(5 / 2) = 3, total pad = (3 - 1) * 2 + 3 - 5 = 2 -> (1, 1);
    # a kernel of 2 at stride 1 on 4 cells needs 1 cell of padding, which goes at the end.
    assert same_padding(5, 3, 2) == (1, 1)
    assert same_padding(4, 2, 1) == (0, 1)
    assert same_padding(6, 3, 3) == (0, 0)
    assert same_padding(7, 3, 1, dilation=2) == (2, 2)


def test_conv2d_by_hand():
    # a 3x3 image of 0..8 and a 2x2 kernel [[1, 2], [3, 4]]: out[0, 0] = 0 + 2 + 9 + 16 = 27
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    kernel = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(2, 2, 1, 1)
    out = conv2d(x, kernel, np.array([0.5]))
    np.testing.assert_allclose(out.data[0, :, :, 0], [[27.5, 37.5], [57.5, 67.5]])


def test_float32_stays_float32_and_gradients_are_float32():
    rng = np.random.default_rng(0)
    x, k, b = (dg.Tensor(a, requires_grad=True) for a in _arrays(rng, np.float32, 2, 5, 5, 3, 4, 3, 3))
    out = conv2d(x, k, b, padding="same")
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == k.grad.dtype == b.grad.dtype == np.float32
    assert x.grad.shape == x.shape and k.grad.shape == k.shape and b.grad.shape == b.shape


def test_only_the_needed_gradients_are_computed():
    rng = np.random.default_rng(0)
    xa, ka, ba = _arrays(rng, np.float64, 2, 5, 5, 3, 4, 3, 3)
    x, k = dg.Tensor(xa, requires_grad=True), dg.Tensor(ka)
    conv2d(x, k, ba).sum().backward()
    assert k.grad is None and x.grad is not None
    x, k, b = dg.Tensor(xa), dg.Tensor(ka), dg.Tensor(ba, requires_grad=True)
    conv2d(x, k, b).sum().backward()
    # d(sum)/d(bias) = number of output positions, N * Ho * Wo = 2 * 3 * 3
    np.testing.assert_allclose(b.grad, np.full(4, 18.0))


def test_errors_name_the_op_and_shapes():
    x, k = np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 2, 4))
    with pytest.raises(ValueError, match=r"conv2d.*3 channels.*expects 2"):
        conv2d(x, k)
    with pytest.raises(ValueError, match=r"conv2d.*rank 4"):
        conv2d(np.zeros((5, 5, 3)), k)
    with pytest.raises(ValueError, match=r"conv2d: padding"):
        conv2d(x, np.zeros((3, 3, 3, 4)), padding="full")
    with pytest.raises(ValueError, match=r"causal"):
        conv2d(x, np.zeros((3, 3, 3, 4)), padding="causal")
    with pytest.raises(ValueError, match=r"strides"):
        conv2d(x, np.zeros((3, 3, 3, 4)), strides=0)
    with pytest.raises(ValueError, match=r"bias"):
        conv2d(x, np.zeros((3, 3, 3, 4)), np.zeros(3))
    with pytest.raises(ValueError, match=r"conv1d.*rank 3"):
        conv1d(x, np.zeros((3, 3, 4)))


def test_conv2d_kernel_larger_than_input():
    with pytest.raises(ValueError, match=r"conv2d: kernel.*does not fit"):
        conv2d(np.zeros((1, 2, 2, 1)), np.zeros((3, 3, 1, 1)))
    # "same" pads it to fit, as Keras does
    assert conv2d(np.ones((1, 2, 2, 1)), np.ones((3, 3, 1, 1)), padding="same").shape == (1, 2, 2, 1)


@pytest.mark.parametrize("padding,dilation", [("valid", (1, 1)), ("same", (2, 1)), ("same", (1, 3))])
def test_stride_one_input_gradient_by_correlation(padding, dilation):
    """At stride 1 with no more filters than input channels dX is the correlation of the padded dOut
    with the flipped kernel; both that path and the scatter-add path match central differences."""
    rng = np.random.default_rng(5)
    for cin, cout in ((4, 2), (2, 4)):  # correlation, then the per-tap scatter-add
        arrays = _arrays(rng, np.float64, 2, 7, 6, cin, cout, 3, 2)
        check_gradients(lambda *t: conv2d(*t, padding=padding, dilation_rate=dilation), arrays)
    arrays = [rng.standard_normal((2, 9, 3)), rng.standard_normal((3, 3, 1))]
    check_gradients(lambda *t: conv1d(*t, padding="causal", dilation_rate=2), arrays)


@pytest.mark.parametrize("shape,kernel_hw,strides,dilation,ones", [
    ((3, 9, 8, 1), (3, 3), (1, 1), (1, 1), True), ((2, 11, 10, 3), (3, 2), (2, 1), (1, 1), False),
    ((4, 10, 10, 2), (2, 3), (1, 2), (2, 1), True)])
def test_unfold_by_columns_holds_the_same_matrix(shape, kernel_hw, strides, dilation, ones):
    from deepgrad.ops import im2col as unfold
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    ho, wo = ((s - (k - 1) * d - 1) // st + 1 for s, k, st, d in zip(shape[1:3], kernel_hw, strides, dilation))
    rows = unfold.im2col(x, kernel_hw, strides, dilation, (ho, wo), ones_column=ones)
    by_columns = unfold.im2col_by_columns(x, kernel_hw, strides, dilation, (ho, wo), ones_column=ones)
    assert by_columns.flags.f_contiguous and not by_columns.flags.c_contiguous
    np.testing.assert_array_equal(by_columns, rows)


def _conv_relu_step(x, kernel, bias, **kw):
    xt, kt, bt = (dg.Tensor(a, requires_grad=True) for a in (x, kernel, bias))
    out = conv2d_relu(xt, kt, bt, **kw)
    (out * out).sum().backward()
    return out.data.copy(), xt.grad.copy(), kt.grad.copy(), bt.grad.copy()


@pytest.mark.parametrize("n,hw,cin,cout,kw", [
    (128, 28, 1, 32, {}),  # the MNIST CNN's first layer
    (16, 12, 3, 8, {}), (4, 11, 2, 5, dict(strides=(2, 1), padding="same")),
    (3, 10, 3, 4, dict(dilation_rate=(2, 2)))])
def test_narrow_unfold_by_columns_against_rows_and_torch(monkeypatch, n, hw, cin, cout, kw):
    """A narrow unfold is laid out by columns: the forward is the same bits as the row-major unfold's,
    the gradients within float32 rounding of it (OpenBLAS's small-matrix kernels of the per-sample
    kernel gradient sum in another order for a transposed operand; at the CNNs' shapes the same
    bits), and both match PyTorch."""
    from deepgrad.ops import im2col as unfold
    rng = np.random.default_rng(n)
    x, kernel, bias = _arrays(rng, np.float32, n, hw, hw, cin, cout, 3, 3)
    calls = []
    real = unfold.im2col_by_columns

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(unfold, "im2col_by_columns", counted)
    new = _conv_relu_step(x, kernel, bias, **kw)
    assert calls  # the by-columns unfold ran
    monkeypatch.setattr(unfold, "im2col_by_columns", unfold.im2col)
    old = _conv_relu_step(x, kernel, bias, **kw)
    np.testing.assert_array_equal(new[0], old[0])
    np.testing.assert_array_equal(new[1], old[1])
    for ours, theirs in zip(new[2:], old[2:]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6 * np.abs(theirs).max())
    if n == 128:  # at the CNN's shape the per-sample GEMMs take OpenBLAS's ordinary kernel
        np.testing.assert_array_equal(new[2], old[2])
    xt = torch.tensor(x, requires_grad=True)
    kt, bt = torch.tensor(kernel, requires_grad=True), torch.tensor(bias, requires_grad=True)
    out = F.relu(torch_conv2d(xt, kt, bt, kw.get("strides", (1, 1)), kw.get("padding", "valid"),
                              kw.get("dilation_rate", (1, 1))))
    (out * out).sum().backward()
    for ours, theirs in zip(new, (out.detach(), xt.grad, kt.grad, bt.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-4, atol=1e-4 * np.abs(theirs.numpy()).max())

@pytest.mark.parametrize("rows,channels", [(25600, 8), (4099, 64), (2 * 2048 * 4 + 5, 1), (100, 3000)])
def test_row_sums_fold_the_rows_and_are_the_same_on_one_thread(monkeypatch, rows, channels):
    from deepgrad import runtime
    from deepgrad.ops.halves import row_sums

    a = np.random.default_rng(rows).standard_normal((rows, channels)).astype(np.float32)
    exact = a.astype(np.float64).sum(axis=0)
    both = row_sums(a)
    assert both.dtype == np.float32 and both.shape == (channels,)
    np.testing.assert_allclose(both, exact, rtol=1e-5, atol=2e-4)
    if channels > 1:   # the plain sum adds row after row; the folded one's partial sums are shorter
        assert np.abs(both - exact).max() <= np.abs(a.sum(axis=0) - exact).max() + 1e-6
    view = np.zeros((rows, channels + 1), np.float32)[:, :channels]   # rows not contiguous: the plain sum
    view[...] = a
    np.testing.assert_array_equal(row_sums(view), view.sum(axis=0))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert not runtime.two_threads()
    np.testing.assert_array_equal(row_sums(a), both)


def test_pointwise_bias_gradient_over_many_rows_matches_torch():
    """The bias gradient of a 1x1 convolution over 12800 rows (folded sums) against PyTorch."""
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((8, 40, 40, 6)), rng.standard_normal((1, 1, 6, 5)), rng.standard_normal(5)]
    compare_with_torch(lambda *t: conv2d_relu(*t), lambda *t: torch.relu(torch_conv2d(*t)), arrays)
    arrays32 = [a.astype(np.float32) for a in arrays]
    compare_with_torch(lambda *t: conv2d(*t), lambda *t: torch_conv2d(*t), arrays32, rtol=1e-4, atol=1e-3)


def test_pointwise_backward_in_chunks_matches_torch_and_is_the_same_on_one_thread(monkeypatch):
    """A 1x1 convolution's backward over chunks of rows (mask, dX, dK and db of each chunk at once),
    the chunks' parts of dK and db summed in order: against PyTorch, for every subset of the
    gradients, and the same bits on one thread and two."""
    from deepgrad import runtime
    from deepgrad.ops import im2col

    rng = np.random.default_rng(11)
    arrays = [rng.standard_normal((8, 48, 40, 16)), rng.standard_normal((1, 1, 16, 24)), rng.standard_normal(24)]
    out = compare_with_torch(lambda *t: conv2d_relu(*t), lambda *t: torch.relu(torch_conv2d(*t)), arrays)
    assert 0.2 < (out.data == 0).mean() < 0.8
    assert 8 * 48 * 40 > 4 * (im2col.POINTWISE_CHUNK_BYTES // ((3 * 24 + 2 * 16) * 4))   # several chunks
    for mask in ([True, False, True], [False, True, False], [False, False, True], [True, True, False]):
        compare_with_torch(lambda *t: conv2d_relu(*t), lambda *t: torch.relu(torch_conv2d(*t)), arrays,
                           grad_mask=mask)
    arrays32 = [a.astype(np.float32) for a in arrays]
    compare_with_torch(lambda *t: conv2d_relu(*t), lambda *t: torch.relu(torch_conv2d(*t)), arrays32,
                       rtol=1e-4, atol=1e-3)

    def grads():
        leaves = [dg.Tensor(a, requires_grad=True) for a in arrays32]
        y = conv2d_relu(*leaves)
        (y * dg.Tensor(np.random.default_rng(2).standard_normal(y.shape).astype(np.float32))).sum().backward()
        return [t.grad for t in leaves]

    if not runtime.two_threads():
        pytest.skip("one thread only: nothing to compare")
    monkeypatch.setattr(runtime, "_TAKE_BACK_UNSTARTED", False)   # the worker runs its half
    both = grads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    # asked for one thread, the chunks' GEMMs (2,520 rows of 24 or 16) run on OpenBLAS's own threads,
    # which keep one thread's bits on some builds only; elsewhere a float32 sum of 24 terms (dX), or
    # of a chunk's rows (dK), in another order: within 1e-6 of the largest entry
    same_bits = threads_keep_bits(np.float32, 2520, 24, 16) and threads_keep_bits(np.float32, 16, 2520, 24)
    for ours, alone in zip(both, grads()):
        assert_bits_or_close(ours, alone, same_bits, 1e-5, 1e-6)
