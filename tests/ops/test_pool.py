"""Max and average pooling against PyTorch (NHWC <-> NCHW) and float64 central differences."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

import deepgrad as dg
from deepgrad.ops.im2col import same_padding
from deepgrad.ops.pool import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d, pool_output_length
from oracle import check_gradients, compare_with_torch


def _same_pads(spatial, pool, strides):
    return [same_padding(n, p, s) for n, p, s in zip(spatial, pool, strides)]


def torch_max_pool2d(x, pool, strides, padding):
    xt = x.permute(0, 3, 1, 2)
    if padding == "same":
        (top, bottom), (left, right) = _same_pads(xt.shape[2:], pool, strides)
        xt = F.pad(xt, (left, right, top, bottom), value=-float("inf"))
    return F.max_pool2d(xt, pool, strides).permute(0, 2, 3, 1)


def torch_avg_pool2d(x, pool, strides, padding):
    """TensorFlow's "same" average: sum over the zero-padded window / number of real cells."""
    xt = x.permute(0, 3, 1, 2)
    if padding == "valid":
        return F.avg_pool2d(xt, pool, strides).permute(0, 2, 3, 1)
    (top, bottom), (left, right) = _same_pads(xt.shape[2:], pool, strides)
    pad = (left, right, top, bottom)
    sums = F.avg_pool2d(F.pad(xt, pad), pool, strides, divisor_override=1)
    counts = F.avg_pool2d(F.pad(torch.ones_like(xt[:1, :1]), pad), pool, strides, divisor_override=1)
    return (sums / counts).permute(0, 2, 3, 1)


pool_cases = st.fixed_dictionaries({
    "n": st.integers(1, 3), "h": st.integers(3, 9), "w": st.integers(3, 9), "c": st.integers(1, 3),
    "ph": st.integers(1, 3), "pw": st.integers(1, 3),
    "strides": st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    "padding": st.sampled_from(["valid", "same"]), "seed": st.integers(0, 2**16),
})


def _run_pool_case(dg_fn, torch_fn, dtype, c, ties=False):
    rng = np.random.default_rng(c["seed"])
    x = rng.standard_normal((c["n"], c["h"], c["w"], c["c"]))
    if ties:
        x = np.round(x)  # many equal values per window: the gradient must go to the first one only
    x = x.astype(dtype)
    pool = (c["ph"], c["pw"])
    strides = c["strides"] or pool
    out = compare_with_torch(lambda t: dg_fn(t, pool, c["strides"], c["padding"]),
                             lambda t: torch_fn(t, pool, strides, c["padding"]), [x])
    expected = tuple(pool_output_length(n, p, s, c["padding"]) for n, p, s in zip((c["h"], c["w"]), pool, strides))
    assert out.shape == (c["n"],) + expected + (c["c"],)
    assert out.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=pool_cases)
def test_max_pool2d_matches_torch(dtype, case):
    _run_pool_case(max_pool2d, torch_max_pool2d, dtype, case)


@given(case=pool_cases)
def test_max_pool2d_ties_go_to_the_first_maximum(case):
    _run_pool_case(max_pool2d, torch_max_pool2d, np.float64, case, ties=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=pool_cases)
def test_avg_pool2d_matches_torch(dtype, case):
    _run_pool_case(avg_pool2d, torch_avg_pool2d, dtype, case)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(n=st.integers(1, 3), t=st.integers(3, 12), c=st.integers(1, 3), pool=st.integers(1, 4),
       stride=st.one_of(st.none(), st.integers(1, 3)), padding=st.sampled_from(["valid", "same"]),
       seed=st.integers(0, 2**16))
def test_pool1d_matches_torch(dtype, n, t, c, pool, stride, padding, seed):
    if padding == "valid" and t < pool:
        return
    x = np.random.default_rng(seed).standard_normal((n, t, c)).astype(dtype)
    s = stride or pool
    for dg_fn, torch_fn in ((max_pool1d, torch_max_pool2d), (avg_pool1d, torch_avg_pool2d)):
        out = compare_with_torch(lambda a: dg_fn(a, pool, stride, padding),
                                 lambda a: torch_fn(a[:, None], (1, pool), (1, s), padding)[:, 0], [x])
        assert out.shape == (n, pool_output_length(t, pool, s, padding), c)


@pytest.mark.parametrize("pool,strides,padding", [
    ((2, 2), None, "valid"), ((2, 2), None, "same"), ((3, 2), (1, 2), "same"), ((2, 3), (2, 1), "valid"),
])
def test_pool2d_central_differences(pool, strides, padding):
    x = np.random.default_rng(5).standard_normal((2, 5, 5, 2))
    check_gradients(lambda t: max_pool2d(t, pool, strides, padding), [x])
    check_gradients(lambda t: avg_pool2d(t, pool, strides, padding), [x])


def test_max_pool2d_by_hand():
    x = np.array([[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 7.0, 7.0], [0.0, 0.0, 1.0, 1.0], [9.0, 0.0, 1.0, 1.0]])
    t = dg.Tensor(x.reshape(1, 4, 4, 1), requires_grad=True)
    out = max_pool2d(t)
    np.testing.assert_array_equal(out.data[0, :, :, 0], [[5.0, 7.0], [9.0, 1.0]])
    out.backward(np.array([10.0, 20.0, 30.0, 40.0]).reshape(1, 2, 2, 1))
    # ties (7, 7 and the four 1s) send the whole gradient to the first cell in row-major order
    np.testing.assert_array_equal(t.grad[0, :, :, 0], [[0, 10, 0, 0], [0, 0, 20, 0], [0, 0, 40, 0], [30, 0, 0, 0]])


def test_avg_pool2d_same_excludes_padded_cells():
    # 3x3 of ones-to-nine, 2x2 windows, stride 2, "same": output 2x2, pad one row/column at the end.
    x = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    out = avg_pool2d(x, 2, padding="same").data[0, :, :, 0]
    np.testing.assert_allclose(out, [[(1 + 2 + 4 + 5) / 4, (3 + 6) / 2], [(7 + 8) / 2, 9.0]])


def test_valid_pooling_drops_the_leftover_cells_and_gives_them_no_gradient():
    t = dg.Tensor(np.arange(25.0).reshape(1, 5, 5, 1), requires_grad=True)
    out = max_pool2d(t)
    assert out.shape == (1, 2, 2, 1)
    out.sum().backward()
    assert t.grad[0, 4].sum() == 0 and t.grad[0, :, 4].sum() == 0 and t.grad.sum() == 4


def test_errors_name_the_op_and_shape():
    with pytest.raises(ValueError, match=r"max_pool2d.*rank 4.*\(3, 3\)"):
        max_pool2d(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"avg_pool2d: padding"):
        avg_pool2d(np.zeros((1, 4, 4, 1)), padding="causal")
    with pytest.raises(ValueError, match=r"max_pool2d: pool_size"):
        max_pool2d(np.zeros((1, 4, 4, 1)), pool_size=0)
    with pytest.raises(ValueError, match=r"max_pool2d: pool size .* does not fit"):
        max_pool2d(np.zeros((1, 1, 4, 1)))
    with pytest.raises(ValueError, match=r"avg_pool1d.*rank 3"):
        avg_pool1d(np.zeros((1, 4, 4, 1)))


@pytest.mark.parametrize("shape,pool", [((6, 13, 13, 8), (2, 2)), ((5, 9, 11, 3), (2, 3)), ((4, 12, 12, 2), (2, 2))])
def test_max_pool2d_backward_over_two_threads_is_the_plain_path_and_torch(monkeypatch, shape, pool):
    """Tiled windows over the batch's halves in two threads: a crop's left-over cells (13 by 2)
    zeroed by each half in the full-size gradient, the same bits as one thread, and PyTorch's."""
    from deepgrad import runtime

    rng = np.random.default_rng(sum(shape))
    x = np.round(rng.standard_normal(shape) * 2).astype(np.float32)  # ties: the first maximum takes it
    g = rng.standard_normal((shape[0], shape[1] // pool[0], shape[2] // pool[1], shape[3])).astype(np.float32)

    def grads():
        t = dg.Tensor(x, requires_grad=True)
        out = max_pool2d(t, pool)
        (out * dg.Tensor(g)).sum().backward()
        return out.data, t.grad

    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(runtime, "_TAKE_BACK_UNSTARTED", False)
    monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", 1)
    real, splits = runtime._in_two_threads, []
    monkeypatch.setattr(runtime, "_in_two_threads", lambda *a: (splits.append(1), real(*a)))
    two = grads()
    assert len(splits) == 2  # forward and backward
    monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", 1 << 62)
    one = grads()
    assert len(splits) == 2
    for a, b in zip(two, one):
        np.testing.assert_array_equal(a, b)
    xt = torch.tensor(x).permute(0, 3, 1, 2).requires_grad_()
    out = F.max_pool2d(xt, pool)
    (out * torch.tensor(g).permute(0, 3, 1, 2)).sum().backward()
    np.testing.assert_array_equal(two[0], out.detach().permute(0, 2, 3, 1).numpy())
    np.testing.assert_array_equal(two[1], xt.grad.permute(0, 2, 3, 1).numpy())


def _conv_relu_pool_grads(x, kernel, bias, g, pool=(2, 2), strides=None, padding="valid", side=None):
    """relu(conv2d) -> max pool, weighted by ``g`` (plus, with ``side``, a second use of the conv's
    output): output and the gradients of x, kernel and bias."""
    from deepgrad.ops.im2col import conv2d_relu

    xt, kt, bt = (dg.Tensor(a, requires_grad=True) for a in (x, kernel, bias))
    y = conv2d_relu(xt, kt, bt)
    out = max_pool2d(y, pool, strides, padding)
    loss = (out * dg.Tensor(g)).sum()
    if side is not None:
        loss = loss + (y * dg.Tensor(side)).sum()
    loss.backward()
    return [out.data.copy(), xt.grad.copy(), kt.grad.copy(), bt.grad.copy()]


def _skips(monkeypatch):
    """Counts of the convolution's backward calls that found their gradient masked by the pool."""
    from deepgrad.ops import im2col

    real, seen = im2col.Conv2D.backward, []

    def backward(self, g):
        seen.append(g is self.relu_masked_grad)
        return real(self, g)

    monkeypatch.setattr(im2col.Conv2D, "backward", backward)
    return seen


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("hw,padding,nan", [(13, "valid", False), (12, "valid", False), (11, "same", False),
                                            (13, "valid", True)])
def test_relu_mask_applied_by_the_pool_is_the_convolutions_bit_for_bit(monkeypatch, split, hw, padding, nan):
    """A max pool over a fused relu(conv2d) applies the relu's mask to its own (pooled) gradient and
    the convolution skips its mask: every gradient the same bits as the convolution's own mask, in
    one thread and two; a NaN maximum (out > 0 false where the argmax cell's y > 0 may be true)
    leaves the mask to the convolution; and PyTorch agrees."""
    from deepgrad import runtime
    from deepgrad.ops import pool as pool_ops

    rng = np.random.default_rng(hw)
    x = rng.standard_normal((6, hw + 2, hw + 2, 3)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 3, 5)).astype(np.float32)
    bias = (rng.standard_normal(5) * 0.5).astype(np.float32)
    if nan:
        x[1, 4, 4, 0] = np.nan
    ho = -(-hw // 2) if padding == "same" else hw // 2
    g = rng.standard_normal((6, ho, ho, 5)).astype(np.float32)
    g[g > 1.5] = -0.0  # zeros of both signs in the pooled gradient
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(runtime, "_TAKE_BACK_UNSTARTED", False)
    monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", 1 if split else 1 << 62)
    seen = _skips(monkeypatch)
    fused = _conv_relu_pool_grads(x, kernel, bias, g, padding=padding)
    assert seen == [not nan]
    monkeypatch.setattr(pool_ops.MaxPool2D, "_relu_producer", lambda self: None)
    plain = _conv_relu_pool_grads(x, kernel, bias, g, padding=padding)
    assert seen == [not nan, False]
    for a, b in zip(fused, plain):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(np.signbit(a), np.signbit(b))
    if nan:
        return
    xt = torch.tensor(x, requires_grad=True)
    kt, bt = torch.tensor(kernel, requires_grad=True), torch.tensor(bias, requires_grad=True)
    y = F.relu(F.conv2d(xt.permute(0, 3, 1, 2), kt.permute(3, 2, 0, 1), bt))
    out = torch_max_pool2d(y.permute(0, 2, 3, 1), (2, 2), (2, 2), padding)
    (out * torch.tensor(g)).sum().backward()
    for ours, theirs in zip(fused, (out.detach(), xt.grad, kt.grad, bt.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-4, atol=1e-4 * np.abs(theirs.numpy()).max())


def test_relu_mask_stays_with_the_convolution_when_its_output_has_another_use_or_windows_overlap(monkeypatch):
    from deepgrad.ops import pool as pool_ops

    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 12, 12, 2)).astype(np.float32)
    kernel, bias = rng.standard_normal((3, 3, 2, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    side = rng.standard_normal((4, 10, 10, 4)).astype(np.float32)
    g = rng.standard_normal((4, 5, 5, 4)).astype(np.float32)
    seen = _skips(monkeypatch)
    both = _conv_relu_pool_grads(x, kernel, bias, g, side=side)  # the gradient is a sum: masked by the conv
    g1 = rng.standard_normal((4, 9, 9, 4)).astype(np.float32)
    overlapping = _conv_relu_pool_grads(x, kernel, bias, g1, strides=(1, 1))
    assert seen == [False, False]
    monkeypatch.setattr(pool_ops.MaxPool2D, "_relu_producer", lambda self: None)
    for fused, plain in ((both, _conv_relu_pool_grads(x, kernel, bias, g, side=side)),
                         (overlapping, _conv_relu_pool_grads(x, kernel, bias, g1, strides=(1, 1)))):
        for a, b in zip(fused, plain):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("pool,strides", [((2, 2), (2, 2)), ((3, 2), (1, 2)), ((1, 1), (1, 1)), ((17, 16), (3, 5))])
def test_max_pool2d_index_of_the_first_two_cells_and_a_wide_window_match_torch(pool, strides):
    """The scan starts from the comparison of the first two cells written as the index (a one-byte
    index); a window of more than 256 cells has a two-byte index and starts from the first cell."""
    rng = np.random.default_rng(pool[0])
    x = np.round(rng.standard_normal((2, 40, 37, 3)) * 2).astype(np.float32)  # ties
    g = None
    t = dg.Tensor(x, requires_grad=True)
    out = max_pool2d(t, pool, strides)
    g = rng.standard_normal(out.shape).astype(np.float32)
    (out * dg.Tensor(g)).sum().backward()
    xt = torch.tensor(x).permute(0, 3, 1, 2).requires_grad_()
    ref = F.max_pool2d(xt, pool, strides)
    (ref * torch.tensor(g).permute(0, 3, 1, 2)).sum().backward()
    np.testing.assert_array_equal(out.data, ref.detach().permute(0, 2, 3, 1).numpy())
    # overlapping windows add into a cell in another order than PyTorch's
    np.testing.assert_allclose(t.grad, xt.grad.permute(0, 2, 3, 1).numpy(), rtol=1e-6, atol=1e-6)


def test_a_captured_conv_output_gets_its_own_gradient_unmasked(monkeypatch):
    """The gradient of relu(conv) itself, captured under a tape (Grad-CAM), is the pool's gradient
    without the relu's mask; the weights' gradients are unchanged by the capture."""
    from deepgrad.ops.im2col import conv2d_relu

    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 10, 10, 2)).astype(np.float32)
    kernel, bias = rng.standard_normal((3, 3, 2, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    g = rng.standard_normal((3, 4, 4, 4)).astype(np.float32)
    seen = _skips(monkeypatch)
    kt = dg.Variable(kernel)
    with dg.GradientTape() as tape:
        y = conv2d_relu(dg.Tensor(x), kt, dg.Tensor(bias))
        loss = (max_pool2d(y, 2) * dg.Tensor(g)).sum()
    dy, dk = tape.gradient(loss, [y, kt])
    assert seen == [False]
    assert (np.asarray(y.data) == 0).any() and (np.asarray(dy)[np.asarray(y.data) == 0] != 0).any()
    yt = torch.tensor(np.asarray(y.data), requires_grad=True)
    (F.max_pool2d(yt.permute(0, 3, 1, 2), 2) * torch.tensor(g).permute(0, 3, 1, 2)).sum().backward()
    np.testing.assert_array_equal(np.asarray(dy), yt.grad.numpy())
    # without the capture: the pool takes the mask, the kernel's gradient is the same
    with dg.GradientTape() as tape:
        y2 = conv2d_relu(dg.Tensor(x), kt, dg.Tensor(bias))
        loss2 = (max_pool2d(y2, 2) * dg.Tensor(g)).sum()
    np.testing.assert_array_equal(np.asarray(tape.gradient(loss2, kt)), np.asarray(dk))
    assert seen == [False, True]
