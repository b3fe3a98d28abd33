"""Depthwise convolution as compiled loops (``ops/depthwise_compiled.py``, the extension
``deepgrad.loops.depthwise``, on by default) against the NumPy passes they stand for (the same
numbers to rounding: the taps are summed in another order) and against PyTorch's
``conv(groups=C)``: forward, input, kernel and bias gradients over strides, dilations, paddings,
data formats, depth multipliers, one and two spatial axes, float32 and float64, with and without
the fused bias and ReLU; the same bits on one thread and two; the NumPy passes for float16, three
spatial axes, without the extension or with DEEPGRAD_LOOPS=0."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad import runtime
from deepgrad.ops import depthwise, depthwise_compiled
from deepgrad.ops.convolution import depthwise_conv_bias, depthwise_conv_bias_relu
from deepgrad.ops.im2col import same_padding

from compiled_switch import extension, off_cases

# float32: the sums' order differs from the NumPy passes' (a few units in the last place of the
# largest terms); float64 likewise at its precision
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.fixture
def loops(monkeypatch):
    """The compiled loops on (the default), counting their calls: "forward" and "backward" those of
    either form ("..._rows": at a width stride of 1), and each loop's under its name."""
    extension("depthwise")
    monkeypatch.delenv("DEEPGRAD_LOOPS", raising=False)
    monkeypatch.setattr(depthwise_compiled, "loaded", {})
    calls = {"forward": 0, "backward": 0}
    for name in depthwise_compiled.NAMES:
        loop = depthwise_compiled.kernel(name)
        assert loop is not None

        def counted(*args, _loop=loop, _name=name):
            calls[_name.split("_")[0]] += 1
            if _name.endswith("_rows"):
                calls[_name] = calls.get(_name, 0) + 1
            return _loop(*args)

        depthwise_compiled.loaded[name] = counted
    return calls


def numpy_path(monkeypatch, fn):
    with monkeypatch.context() as m:
        m.setattr(depthwise_compiled, "loaded", dict.fromkeys(depthwise_compiled.NAMES))
        return fn()


def _run(x, kernel, bias, strides, padding, dilation, relu, weight, data_format="channels_last"):
    """The output and the gradients of x, kernel, bias for the loss sum(out * weight)."""
    op = depthwise_conv_bias_relu if relu else depthwise_conv_bias
    leaves = [dg.Tensor(a, requires_grad=True) for a in (x, kernel, bias)]
    out = op(*leaves, strides, padding, dilation_rate=dilation, data_format=data_format)
    (out * dg.Tensor(weight)).sum().backward()
    return [out.data] + [t.grad for t in leaves]


def _torch(x, kernel, bias, strides, padding, dilation, relu, weight):
    """The same in PyTorch, channels last in and out, "same" padded as Keras pads."""
    nd = x.ndim - 2
    ks, (c, m) = kernel.shape[:nd], kernel.shape[nd:]
    leaves = [torch.tensor(a, requires_grad=True) for a in (x, kernel, bias)]
    xt = torch.movedim(leaves[0], -1, 1)
    if padding == "same":
        pads = [same_padding(n, k, s, d) for n, k, s, d in zip(x.shape[1:-1], ks, strides, dilation)]
        xt = F.pad(xt, [v for pair in reversed(pads) for v in pair])
    w = torch.movedim(leaves[1].reshape(*ks, c * m), -1, 0).unsqueeze(1)   # output channel c*m + j
    out = (F.conv1d, F.conv2d)[nd - 1](xt, w, leaves[2], stride=strides, dilation=dilation, groups=c)
    out = torch.movedim(out, 1, -1)
    if relu:
        out = torch.relu(out)
    (out * torch.tensor(weight)).sum().backward()
    return [out.detach().numpy()] + [t.grad.numpy() for t in leaves]


# (input shape, kernel shape (*k, C, m), strides, padding, dilation)
CASES = [
    ((3, 9, 8, 5), (3, 3, 5, 1), (1, 1), "same", (1, 1)),
    ((2, 11, 10, 4), (3, 3, 4, 1), (2, 2), "same", (1, 1)),
    ((2, 9, 13, 3), (3, 4, 3, 2), (1, 3), "same", (1, 1)),
    ((2, 10, 11, 3), (2, 3, 3, 1), (2, 1), "valid", (1, 1)),
    ((1, 12, 14, 2), (3, 3, 2, 3), (1, 2), "same", (2, 2)),
    ((2, 9, 16, 2), (2, 3, 2, 2), (1, 2), "valid", (2, 3)),
    ((3, 13, 4), (5, 4, 1), (3,), "same", (1,)),
    ((2, 12, 3), (3, 3, 2), (1,), "valid", (2,)),
    ((2, 14, 2), (4, 2, 1), (2,), "same", (3,)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape,k_shape,strides,padding,dilation", CASES)
def test_compiled_loops_match_the_numpy_passes_and_torch(monkeypatch, loops, dtype, x_shape, k_shape, strides,
                                                         padding, dilation):
    rng = np.random.default_rng(sum(x_shape) + len(k_shape))
    x, kernel = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(k_shape).astype(dtype)
    bias = rng.standard_normal(k_shape[-2] * k_shape[-1]).astype(dtype)
    tol = TOLERANCE[dtype]
    for relu in (False, True):
        probe = depthwise_conv_bias(x, kernel, bias, strides, padding, dilation_rate=dilation)
        weight = rng.standard_normal(probe.shape).astype(dtype)
        before = dict(loops)
        ours = _run(x, kernel, bias, strides, padding, dilation, relu, weight)
        assert loops["forward"] > before["forward"] and loops["backward"] > before["backward"]
        rows = strides[-1] == 1   # the row loops at a width stride of 1 (a few channels)
        assert (loops.get("forward_rows", 0) > before.get("forward_rows", 0)) == rows
        if relu:
            assert 0.1 < (ours[0] == 0).mean() < 0.9   # the mask is exercised
        theirs = numpy_path(monkeypatch, lambda: _run(x, kernel, bias, strides, padding, dilation, relu, weight))
        oracle = _torch(x, kernel, bias, strides, padding, dilation, relu, weight)
        for name, mine, numpy_result, torch_result in zip(("out", "dx", "dk", "db"), ours, theirs, oracle):
            assert mine.dtype == dtype and mine.shape == numpy_result.shape, name
            scale = np.abs(numpy_result).max()
            np.testing.assert_allclose(mine, numpy_result, rtol=tol, atol=tol * scale, err_msg=name)
            np.testing.assert_allclose(mine, torch_result, rtol=tol, atol=tol * scale, err_msg=name)
        # channels first: the same numbers, the layout moved
        first = _run(np.moveaxis(x, -1, 1), kernel, bias, strides, padding, dilation, relu,
                     np.moveaxis(weight, -1, 1), "channels_first")
        for i, (mine, moved) in enumerate(zip(ours, first)):
            np.testing.assert_array_equal(mine, np.moveaxis(moved, 1, -1) if i < 2 else moved)


def test_depthwise_conv_without_bias_and_without_a_kernel_gradient(loops):
    """The plain op (no bias), and an input gradient alone: the backward loop without the saved input."""
    rng = np.random.default_rng(11)
    x, kernel = rng.standard_normal((2, 10, 9, 3)), rng.standard_normal((3, 3, 3, 2))
    xt = dg.Tensor(x, requires_grad=True)
    out = dg.depthwise_conv(xt, dg.Tensor(kernel), strides=2, padding="same")
    weight = rng.standard_normal(out.shape)
    (out * dg.Tensor(weight)).sum().backward()
    assert loops["forward"] == loops["backward"] == 1   # one block
    want = _torch(x, kernel, np.zeros(6), (2, 2), "same", (1, 1), False, weight)
    np.testing.assert_allclose(out.data, want[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xt.grad, want[1], rtol=1e-12, atol=1e-12)


def test_second_derivative_through_the_compiled_forward(loops):
    """The graph backward (create_graph) takes the ops' own gradient graph: the same as PyTorch's."""
    from deepgrad.autograd import grad

    rng = np.random.default_rng(8)
    x, kernel, bias = rng.standard_normal((2, 6, 5, 3)), rng.standard_normal((3, 3, 3, 1)), rng.standard_normal(3)
    w = rng.standard_normal((2, 3, 5, 3))
    leaves = [dg.Variable(a, dtype=np.float64) for a in (x, kernel, bias)]
    dx = grad((depthwise_conv_bias_relu(*leaves, (2, 1), "same") ** 2 * w).sum(), leaves[0], create_graph=True)
    second = grad((dx * dx).sum(), leaves)
    assert loops["forward"] >= 1
    tleaves = [torch.tensor(a, requires_grad=True) for a in (x, kernel, bias)]
    pads = [same_padding(n, 3, s, 1) for n, s in zip(x.shape[1:3], (2, 1))]
    xt = F.pad(torch.movedim(tleaves[0], -1, 1), [v for pair in reversed(pads) for v in pair])
    t_out = torch.relu(torch.movedim(F.conv2d(xt, torch.movedim(tleaves[1].reshape(3, 3, 3), -1, 0).unsqueeze(1),
                                              tleaves[2], stride=(2, 1), groups=3), 1, -1))
    (t_dx,) = torch.autograd.grad((t_out ** 2 * torch.tensor(w)).sum(), tleaves[0], create_graph=True)
    t_second = torch.autograd.grad((t_dx * t_dx).sum(), tleaves)
    np.testing.assert_allclose(dx.data, t_dx.detach().numpy(), rtol=1e-10, atol=1e-10)
    for ours, theirs in zip(second, t_second):
        np.testing.assert_allclose(ours.data if isinstance(ours, dg.Tensor) else ours, theirs.numpy(),
                                   rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("stride", [1, 2])
def test_large_batch_is_the_same_on_one_thread_and_two(monkeypatch, loops, stride):
    """Blocks of samples taken by two threads; the kernel and bias sums added over the blocks in order."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 40, 40, 32)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 32, 1)).astype(np.float32)
    bias = rng.standard_normal(32).astype(np.float32)
    weight = rng.standard_normal((16, 40 // stride, 40 // stride, 32)).astype(np.float32)
    if not runtime.two_threads():
        pytest.skip("one thread only: nothing to compare")
    monkeypatch.setattr(runtime, "_TAKE_BACK_UNSTARTED", False)   # the worker takes blocks, even on a busy machine
    both = _run(x, kernel, bias, (stride, stride), "same", (1, 1), True, weight)
    assert both[0].size * 9 >= 1 << 18   # above the threads' threshold
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    for ours, alone in zip(both, _run(x, kernel, bias, (stride, stride), "same", (1, 1), True, weight)):
        np.testing.assert_array_equal(ours, alone)


@pytest.mark.parametrize("dtype,x_shape,k_shape", [(np.float16, (2, 7, 6, 3), (3, 3, 3, 1)),
                                                   (np.float32, (1, 5, 6, 4, 2), (3, 2, 3, 2, 1))])
def test_float16_and_three_spatial_axes_take_the_numpy_passes(loops, dtype, x_shape, k_shape):
    rng = np.random.default_rng(5)
    x, kernel = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(k_shape).astype(dtype)
    nd = len(x_shape) - 2
    xt, kt = dg.Tensor(x, requires_grad=True), dg.Tensor(kernel, requires_grad=True)
    out = dg.depthwise_conv(xt, kt, padding="same")
    out.sum().backward()
    assert loops == {"forward": 0, "backward": 0}   # nor the row loops (counted in these too)
    want = _torch(x.astype(np.float64), kernel.astype(np.float64), np.zeros(k_shape[-2] * k_shape[-1]),
                  (1,) * nd, "same", (1,) * nd, False, np.ones(out.shape)) if nd < 3 else None
    if want is not None:
        np.testing.assert_allclose(out.data, want[0], rtol=1e-2, atol=1e-2)
        np.testing.assert_allclose(xt.grad, want[1], rtol=1e-2, atol=2e-2)
    else:
        assert out.shape == x.shape and np.isfinite(xt.grad).all() and np.abs(kt.grad).sum() > 0


def test_off_without_the_extension_or_with_the_switch_at_zero(monkeypatch):
    rng = np.random.default_rng(6)
    x, kernel = rng.standard_normal((2, 7, 6, 3)), rng.standard_normal((3, 3, 3, 1))
    extension("depthwise")
    monkeypatch.delenv("DEEPGRAD_LOOPS", raising=False)
    monkeypatch.setattr(depthwise_compiled, "loaded", {})
    assert depthwise_compiled.kernel("forward") is not None   # unset: on by default
    with_loops = dg.depthwise_conv(x, kernel, padding="same").data
    for _ in off_cases(monkeypatch, depthwise_compiled, "depthwise"):
        assert depthwise_compiled.kernel("forward") is None and depthwise_compiled.kernel("backward") is None
        assert not depthwise_compiled.usable(np.float64, 2, "forward")
        out, kept = depthwise.forward(x, kernel.reshape(3, 3, 1, 3), [(1, 1), (1, 1)], (3, 3), (1, 1), (1, 1),
                                      (7, 6), keep=True)
        assert isinstance(kept, list)   # the NumPy passes' padded phases
        np.testing.assert_allclose(out, with_loops, rtol=1e-12, atol=1e-12)
    assert depthwise_compiled.kernel("forward") is not None   # on again afterwards


@pytest.mark.parametrize("needs", [(False, True, False), (False, False, True), (True, False, False),
                                   (False, True, True)])
@pytest.mark.parametrize("x_shape,k_shape,strides", [((2, 5, 4, 4), (2, 3, 4, 2), (1, 1)),
                                                     ((2, 9, 3), (3, 3, 1), (2,))])
def test_each_gradient_alone_is_the_numpy_passes(monkeypatch, loops, needs, x_shape, k_shape, strides):
    """Only some operands need a gradient: the loop skips the others (the input's shape still bounds
    the taps when its gradient is not made)."""
    rng = np.random.default_rng(len(x_shape))
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(k_shape),
              rng.standard_normal(k_shape[-2] * k_shape[-1])]

    def run():
        leaves = [dg.Tensor(a, requires_grad=n) for a, n in zip(arrays, needs)]
        out = depthwise_conv_bias_relu(*leaves, strides, "same")
        out.backward(np.cos(np.arange(out.size)).reshape(out.shape))
        return [out.data] + [t.grad for t, n in zip(leaves, needs) if n]

    ours = run()
    assert loops["backward"] == 1
    for mine, theirs in zip(ours, numpy_path(monkeypatch, run)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_loops_are_the_channel_loops(monkeypatch, loops, dtype):
    """At a width stride of 1 the row loops (few channels) and the loops over the channels (many)
    add an output's taps in the same order: the same output; the gradients' terms come in another
    order (the input gradient's by tap before position, the kernel's and bias's tiled along the
    width): the same to rounding."""
    rng = np.random.default_rng(12)
    x, kernel = rng.standard_normal((3, 9, 11, 4)).astype(dtype), rng.standard_normal((3, 3, 4, 2)).astype(dtype)
    bias, weight = rng.standard_normal(8).astype(dtype), rng.standard_normal((3, 5, 11, 8)).astype(dtype)
    rows = _run(x, kernel, bias, (2, 1), "same", (1, 2), True, weight)
    by_rows = dict(loops)
    assert by_rows["forward_rows"] == by_rows["forward"] > 0 and by_rows["backward_rows"] == by_rows["backward"] > 0
    monkeypatch.setattr(depthwise_compiled, "ROW_CHANNEL_BYTES", 0)
    channels = _run(x, kernel, bias, (2, 1), "same", (1, 2), True, weight)
    assert loops["forward_rows"] == by_rows["forward_rows"] and loops["forward"] > by_rows["forward"]
    for i, (a, b) in enumerate(zip(rows, channels)):
        if i == 0:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype] * np.abs(b).max())


def test_inputs_of_any_layout_and_read_only(monkeypatch, loops):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 9, 7, 5)).astype(np.float32)
    kernel = rng.standard_normal((3, 2, 5, 1)).astype(np.float32)
    want = numpy_path(monkeypatch, lambda: dg.depthwise_conv(x, kernel, padding="same").data)
    frozen = x.copy()
    frozen.flags.writeable = False
    for view in (np.asfortranarray(x), x[:, ::-1][:, ::-1], frozen):
        got = dg.depthwise_conv(view, kernel, padding="same").data
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    assert loops["forward"] >= 3


def test_an_empty_batch(loops):
    xt = dg.Tensor(np.zeros((0, 5, 6, 3), np.float32), requires_grad=True)
    kt = dg.Tensor(np.ones((3, 3, 3, 2), np.float32), requires_grad=True)
    out = dg.depthwise_conv(xt, kt, padding="same")
    out.sum().backward()
    assert out.shape == (0, 5, 6, 6) and xt.grad.shape == (0, 5, 6, 3)
    np.testing.assert_array_equal(kt.grad, np.zeros((3, 3, 3, 2), np.float32))
