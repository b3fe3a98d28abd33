"""Depthwise convolution by taps (``ops/depthwise.py``): batches large enough for the two-thread
halves, against PyTorch's grouped convolution, the same bits on one thread and two. These are the
NumPy passes: the compiled loops (``depthwise_compiled``, tested on their own) are off here."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad import runtime
from deepgrad.ops import depthwise, depthwise_compiled


@pytest.fixture(autouse=True)
def numpy_passes(monkeypatch):
    """The NumPy passes, whether the compiled loops are built or not."""
    monkeypatch.setattr(depthwise_compiled, "loaded", dict.fromkeys(depthwise_compiled.NAMES))


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


def _torch_depthwise(x, kernel, bias, strides, padding, dilation):
    """Keras's depthwise_conv (channels last, kernel (*k, C, m)) in PyTorch, "same" padded as Keras pads."""
    from deepgrad.ops.im2col import same_padding

    nd = x.dim() - 2
    ks, (c, m) = kernel.shape[:nd], kernel.shape[nd:]
    xt = torch.movedim(x, -1, 1)
    if padding == "same":
        pads = [same_padding(n, k, s, d) for n, k, s, d in zip(x.shape[1:-1], ks, strides, dilation)]
        xt = F.pad(xt, [v for pair in reversed(pads) for v in pair])
    weight = torch.movedim(kernel.reshape(*ks, c * m), -1, 0).unsqueeze(1)   # output channel c*m + j
    out = (F.conv1d, F.conv2d, F.conv3d)[nd - 1](xt, weight, bias, stride=strides, dilation=dilation, groups=c)
    return torch.movedim(out, 1, -1)


# (input shape, kernel shape, strides, padding, dilation): the input gradient's phases, one per
# residue of the strides, with taps left out of some phases (k < s) and dilations that skip phases
PHASE_CASES = [
    ((2, 9, 3), (3, 3, 1), (2,), "same", (1,)),
    ((2, 10, 2), (2, 2, 2), (3,), "valid", (1,)),
    ((1, 11, 2), (3, 2, 1), (1,), "same", (3,)),
    ((2, 8, 7, 3), (3, 3, 3, 1), (2, 2), "same", (1, 1)),
    ((2, 9, 8, 2), (4, 2, 2, 2), (3, 2), "valid", (1, 1)),
    ((1, 7, 9, 2), (2, 3, 2, 1), (1, 2), "same", (1, 1)),
    ((1, 9, 9, 2), (3, 2, 2, 1), (2, 1), "valid", (2, 2)),
    ((1, 6, 7, 5, 2), (2, 3, 2, 2, 2), (2, 1, 3), "same", (1, 1, 1)),
]


@pytest.mark.parametrize("x_shape,k_shape,strides,padding,dilation", PHASE_CASES)
def test_input_gradient_by_phases_matches_torch(x_shape, k_shape, strides, padding, dilation):
    rng = np.random.default_rng(sum(x_shape))
    x, kernel = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    xt, kt = dg.Tensor(x, requires_grad=True), dg.Tensor(kernel, requires_grad=True)
    out = dg.depthwise_conv(xt, kt, strides=strides, padding=padding, dilation_rate=dilation)
    weight = rng.standard_normal(out.shape)
    (out * dg.Tensor(weight)).sum().backward()
    tx, tk = torch.tensor(x, requires_grad=True), torch.tensor(kernel, requires_grad=True)
    t_out = _torch_depthwise(tx, tk, None, strides, padding, dilation)
    (t_out * torch.tensor(weight)).sum().backward()
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(kt.grad, tk.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("x_shape,k_shape,strides,padding", [
    ((2, 7, 6, 3), (3, 3, 3, 2), (2, 1), "same"), ((2, 8, 3), (3, 3, 1), (1,), "valid"),
])
def test_fused_bias_and_relu_match_torch_and_central_differences(x_shape, k_shape, strides, padding):
    from deepgrad.ops.convolution import depthwise_conv_bias, depthwise_conv_bias_relu
    from oracle import check_gradients, compare_with_torch

    rng = np.random.default_rng(5)
    bias = rng.standard_normal(k_shape[-2] * k_shape[-1])
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(k_shape), bias]
    dilation = (1,) * len(strides)
    out = compare_with_torch(lambda *t: depthwise_conv_bias_relu(*t, strides, padding),
                             lambda x, k, b: torch.relu(_torch_depthwise(x, k, b, strides, padding, dilation)), arrays)
    assert (out.data == 0).mean() > 0.2   # the mask is exercised
    compare_with_torch(lambda *t: depthwise_conv_bias(*t, strides, padding),
                       lambda x, k, b: _torch_depthwise(x, k, b, strides, padding, dilation), arrays)
    check_gradients(lambda *t: depthwise_conv_bias_relu(*t, strides, padding), arrays)
    # channels first: the same numbers with the channel axis moved
    first = depthwise_conv_bias_relu(np.moveaxis(arrays[0], -1, 1), arrays[1], bias, strides, padding,
                                     data_format="channels_first")
    np.testing.assert_allclose(np.moveaxis(first.data, 1, -1), out.data, rtol=1e-12, atol=1e-12)


def test_fused_relu_second_derivative_matches_torch():
    from deepgrad.autograd import grad
    from deepgrad.ops.convolution import depthwise_conv_bias_relu

    rng = np.random.default_rng(8)
    x, kernel, bias = rng.standard_normal((2, 6, 5, 3)), rng.standard_normal((3, 3, 3, 1)), rng.standard_normal(3)
    w = rng.standard_normal((2, 3, 5, 3))
    leaves = [dg.Variable(a, dtype=np.float64) for a in (x, kernel, bias)]
    tleaves = [torch.tensor(a, requires_grad=True) for a in (x, kernel, bias)]
    dx = grad((depthwise_conv_bias_relu(*leaves, (2, 1), "same") ** 2 * w).sum(), leaves[0], create_graph=True)
    second = grad((dx * dx).sum(), leaves)
    t_out = torch.relu(_torch_depthwise(*tleaves, (2, 1), "same", (1, 1)))
    (t_dx,) = torch.autograd.grad((t_out ** 2 * torch.tensor(w)).sum(), tleaves[0], create_graph=True)
    t_second = torch.autograd.grad((t_dx * t_dx).sum(), tleaves)
    np.testing.assert_allclose(dx.data, t_dx.detach().numpy(), rtol=1e-10, atol=1e-10)
    for ours, theirs in zip(second, t_second):
        np.testing.assert_allclose(ours.data if isinstance(ours, dg.Tensor) else ours, theirs.numpy(),
                                   rtol=1e-9, atol=1e-9)


def test_large_fused_layer_is_the_same_on_one_thread(monkeypatch):
    """The bias and kernel gradients are summed per block, then over the blocks in order."""
    x, kernel = _case(3, (8, 116, 112, 32), (3, 3, 32, 1))
    bias = np.random.default_rng(4).standard_normal(32).astype(np.float32)

    def run():
        from deepgrad.ops.convolution import depthwise_conv_bias_relu

        leaves = [dg.Tensor(a, requires_grad=True) for a in (x, kernel, bias)]
        out = depthwise_conv_bias_relu(*leaves, (2, 2), "same")
        (out * dg.Tensor(np.random.default_rng(9).standard_normal(out.shape).astype(np.float32))).sum().backward()
        return [out.data] + [t.grad for t in leaves]

    if not runtime.two_threads():
        pytest.skip("one thread only: nothing to compare")
    monkeypatch.setattr(runtime, "_TAKE_BACK_UNSTARTED", False)   # the worker runs its half, even on a busy machine
    both = run()
    assert both[0].size >= 1 << 18 and both[0][0].nbytes * 2 > depthwise.BLOCK_BYTES   # two halves, 8 blocks
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    for ours, alone in zip(both, run()):
        np.testing.assert_array_equal(ours, alone)


# (input shape, kernel shape (*k, C, m), strides, padding, dilation): the forward's padded input
# split into the phases of the last stride (2, 3; a dilation sharing a factor with the stride uses
# only some phases; odd sizes whose padding reaches past the last phase column), 1-3 spatial axes
SOURCE_CASES = [
    ((2, 11, 9, 3), (3, 3, 3, 1), (2, 2), "same", (1, 1)),
    ((2, 10, 10, 4), (3, 3, 4, 1), (2, 2), "same", (1, 1)),
    ((1, 9, 13, 2), (3, 4, 2, 2), (1, 3), "same", (1, 1)),
    ((2, 8, 11, 3), (2, 3, 3, 1), (2, 2), "valid", (1, 1)),
    ((1, 12, 14, 2), (3, 3, 2, 1), (1, 2), "same", (1, 2)),
    ((1, 9, 16, 2), (2, 3, 2, 2), (1, 2), "valid", (2, 3)),
    ((2, 13, 3), (5, 3, 1), (3,), "same", (1,)),
    ((1, 5, 7, 9, 2), (3, 2, 3, 2, 1), (2, 1, 2), "same", (1, 1, 1)),
]


@pytest.mark.parametrize("x_shape,k_shape,strides,padding,dilation", SOURCE_CASES)
def test_strided_forward_phases_match_torch_and_central_differences(x_shape, k_shape, strides, padding, dilation):
    from deepgrad.ops.convolution import depthwise_conv_bias_relu
    from oracle import check_gradients

    rng = np.random.default_rng(sum(x_shape) + len(k_shape))
    x, kernel = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    bias = rng.standard_normal(k_shape[-2] * k_shape[-1])
    leaves = [dg.Tensor(a, requires_grad=True) for a in (x, kernel, bias)]
    out = depthwise_conv_bias_relu(*leaves, strides, padding, dilation_rate=dilation)
    assert 0.1 < (out.data == 0).mean() < 0.9
    weight = rng.standard_normal(out.shape)
    (out * dg.Tensor(weight)).sum().backward()
    tleaves = [torch.tensor(a, requires_grad=True) for a in (x, kernel, bias)]
    t_out = torch.relu(_torch_depthwise(*tleaves, strides, padding, dilation))
    (t_out * torch.tensor(weight)).sum().backward()
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-10, atol=1e-10)
    for ours, theirs in zip(leaves, tleaves):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-10)
    # without a graph (no padded input kept for the kernel gradient: each thread's own buffers)
    with dg.no_grad():
        alone = depthwise_conv_bias_relu(x, kernel, bias, strides, padding, dilation_rate=dilation)
    np.testing.assert_array_equal(alone.data, out.data)
    # channels first: the input read through its strides, the same numbers
    first = depthwise_conv_bias_relu(np.moveaxis(x, -1, 1), kernel, bias, strides, padding, dilation_rate=dilation,
                                     data_format="channels_first")
    np.testing.assert_array_equal(np.moveaxis(first.data, 1, -1), out.data)
    if x.size <= 400:
        check_gradients(lambda *t: depthwise_conv_bias_relu(*t, strides, padding, dilation_rate=dilation),
                        [x, kernel, bias])


def test_source_phases_hold_the_padded_input():
    """Phase r of the last axis holds the padded columns r, r + s, ...: zeros outside the input."""
    from deepgrad.ops.im2col import same_padding

    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 7, 9, 3))
    ks, strides, dilation = (3, 4), (2, 3), (1, 1)
    pads = [same_padding(n, k, s, d) for n, k, s, d in zip(x.shape[1:-1], ks, strides, dilation)]
    out_shape = tuple((n + b + a - k) // s + 1 for n, k, s, (b, a) in zip(x.shape[1:-1], ks, strides, pads))
    xp = np.pad(x, [(0, 0), *pads, (0, 0)])
    xp = np.pad(xp, [(0, 0), (0, 4), (0, 8), (0, 0)])   # room for columns past the padding
    parts = depthwise.padded_input(x, 3, pads, ks, strides, dilation, out_shape)
    source = depthwise.Source(x.shape, pads, ks, strides, dilation, out_shape, 3)
    assert len(parts) == 3   # taps 0, 1, 2 of the last axis in phases 0, 1, 2; tap 3 in phase 0
    for part, (shape, _, _, _, taps, _) in zip(parts, source.phases):
        r = taps.start
        assert part.shape == (2, *shape)
        np.testing.assert_array_equal(part, xp[:, :shape[0], r::3][:, :, :shape[1]])


# (input shape, kernel shape (*k, C, m), strides, padding, dilation): the input gradient's width
# phases folded into one correlation (a last stride dividing the width): odd leading sizes, a
# stride above the kernel (slots without taps), dilations (a phase with no taps at all, taps
# farther apart than the stride), a depth multiplier, 1-3 spatial axes
FOLD_CASES = [
    ((2, 7, 8, 3), (3, 3, 3, 1), (2, 2), "same", (1, 1)),
    ((2, 8, 9, 2), (3, 3, 2, 2), (2, 3), "valid", (1, 1)),
    ((1, 6, 12, 2), (2, 2, 2, 1), (1, 4), "same", (1, 1)),
    ((1, 7, 10, 2), (3, 3, 2, 1), (2, 2), "same", (2, 2)),
    ((1, 9, 10, 2), (3, 3, 2, 1), (3, 2), "same", (1, 3)),
    ((2, 12, 3), (3, 3, 1), (2,), "same", (1,)),
    ((1, 5, 6, 8, 2), (3, 2, 3, 2, 1), (2, 1, 2), "same", (1, 1, 1)),
]


def _gradients(x, kernel, bias, strides, padding, dilation, weight, data_format="channels_last"):
    from deepgrad.ops.convolution import depthwise_conv_bias_relu

    leaves = [dg.Tensor(a, requires_grad=True) for a in (x, kernel, bias)]
    out = depthwise_conv_bias_relu(*leaves, strides, padding, dilation_rate=dilation, data_format=data_format)
    (out * dg.Tensor(weight)).sum().backward()
    return [out.data] + [t.grad for t in leaves]


@pytest.mark.parametrize("x_shape,k_shape,strides,padding,dilation", FOLD_CASES)
def test_folded_input_gradient_matches_torch_and_the_phases_made_apart(monkeypatch, x_shape, k_shape, strides,
                                                                       padding, dilation):
    from deepgrad.ops.convolution import depthwise_conv_bias_relu
    from deepgrad.ops.im2col import same_padding
    from oracle import check_gradients

    rng = np.random.default_rng(sum(x_shape) * len(k_shape))
    x, kernel = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    bias = rng.standard_normal(k_shape[-2] * k_shape[-1])
    nd = len(strides)
    pads = ([same_padding(n, k, s, d) for n, k, s, d in zip(x_shape[1:-1], k_shape, strides, dilation)]
            if padding == "same" else [(0, 0)] * nd)
    out_shape = tuple((n + b + a - (k - 1) * d - 1) // s + 1
                      for n, k, s, d, (b, a) in zip(x_shape[1:-1], k_shape, strides, dilation, pads))
    flat = kernel.reshape(*k_shape[:nd], 1, -1)
    assert depthwise.InputGrad(flat, x_shape, pads, k_shape[:nd], strides, dilation, out_shape).folded
    weight = rng.standard_normal((x_shape[0], *out_shape, k_shape[-2] * k_shape[-1]))
    ours = _gradients(x, kernel, bias, strides, padding, dilation, weight)
    assert 0.1 < (ours[0] == 0).mean() < 0.9
    tleaves = [torch.tensor(a, requires_grad=True) for a in (x, kernel, bias)]
    t_out = torch.relu(_torch_depthwise(*tleaves, strides, padding, dilation))
    (t_out * torch.tensor(weight)).sum().backward()
    np.testing.assert_allclose(ours[0], t_out.detach().numpy(), rtol=1e-10, atol=1e-10)
    for mine, theirs in zip(ours[1:], tleaves):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-10, atol=1e-10)
    # channels first: the same numbers
    first = _gradients(np.moveaxis(x, -1, 1), kernel, bias, strides, padding, dilation, np.moveaxis(weight, -1, 1),
                       "channels_first")
    np.testing.assert_array_equal(np.moveaxis(first[1], 1, -1), ours[1])
    # each phase made apart and copied: the same bits
    monkeypatch.setattr(depthwise, "FOLD_WIDTH", False)
    assert not depthwise.InputGrad(flat, x_shape, pads, k_shape[:nd], strides, dilation, out_shape).folded
    apart = _gradients(x, kernel, bias, strides, padding, dilation, weight)
    for mine, theirs in zip(ours, apart):
        np.testing.assert_array_equal(mine, theirs)
    monkeypatch.setattr(depthwise, "FOLD_WIDTH", True)
    if x.size <= 300:
        check_gradients(lambda *t: depthwise_conv_bias_relu(*t, strides, padding, dilation_rate=dilation),
                        [x, kernel, bias])


def test_folded_input_gradient_float32_is_the_phases_made_apart(monkeypatch):
    """The block's layer (stride 2, 56x56x64) in float32, over blocks and two threads: the same bits."""
    x, kernel = _case(6, (8, 56, 56, 64), (3, 3, 64, 1))
    bias = np.random.default_rng(7).standard_normal(64).astype(np.float32)
    weight = np.random.default_rng(8).standard_normal((8, 28, 28, 64)).astype(np.float32)
    folded = _gradients(x, kernel, bias, (2, 2), "same", (1, 1), weight)
    monkeypatch.setattr(depthwise, "FOLD_WIDTH", False)
    for mine, theirs in zip(folded, _gradients(x, kernel, bias, (2, 2), "same", (1, 1), weight)):
        np.testing.assert_array_equal(mine, theirs)
