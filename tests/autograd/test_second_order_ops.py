"""Second derivatives of the convolutions, batch normalization and the activations that a
gradient penalty or a physics-informed loss differentiates twice: against PyTorch's
``torch.autograd.grad(create_graph=True)`` in float64, and against central differences of the
first derivative."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad import ops
from deepgrad.autograd import grad
from deepgrad.ops.im2col import conv1d, conv1d_relu

RNG = np.random.default_rng(11)


def _leaves(arrays):
    return ([dg.Variable(a, dtype=np.float64) for a in arrays],
            [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays])


def _hessian_vector(fn, leaves, w, v, wrt):
    """d/d(leaves) of <d<w, f>/d leaves[wrt], v>, and that first derivative."""
    g = grad((fn(*leaves) * w).sum(), leaves[wrt], create_graph=True)
    return g, grad((g * v).sum(), leaves)


def check_second_order(ours, theirs, arrays, wrt=0, directions=2, eps=1e-6):
    """``ours`` and ``theirs`` map the inputs to one output; compared: the first derivative with
    respect to input ``wrt`` (a Tensor that is itself differentiable) and the derivative of
    <that, v> with respect to every input, with PyTorch at 1e-9 and with central differences."""
    arrays = [np.asarray(a, np.float64) for a in arrays]
    leaves, tleaves = _leaves(arrays)
    out_shape = ours(*leaves).shape
    w = RNG.normal(size=out_shape)
    v = RNG.normal(size=arrays[wrt].shape)
    g, second = _hessian_vector(ours, leaves, w, v, wrt)
    assert isinstance(g, dg.Tensor) and g.requires_grad
    (gt,) = torch.autograd.grad((theirs(*tleaves) * torch.tensor(w)).sum(), tleaves[wrt], create_graph=True)
    second_t = torch.autograd.grad((gt * torch.tensor(v)).sum(), tleaves, allow_unused=True, materialize_grads=True)
    np.testing.assert_allclose(g.data, gt.detach().numpy(), rtol=1e-9, atol=1e-11)
    for k, (a, b) in enumerate(zip(second, second_t)):
        a = np.zeros(b.shape) if a is None else a
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-9, atol=1e-11, err_msg=f"input {k}")
    assert max(np.abs(s).max() for s in second if s is not None) > 1e-6  # the check is not of zeros

    def first(values):
        ls = [dg.Variable(a, dtype=np.float64) for a in values]
        return float((grad((ours(*ls) * w).sum(), ls[wrt]) * v).sum())

    for _ in range(directions):  # <second, e> = d/dt <g(x + t e), v> at t = 0
        e = [RNG.normal(size=a.shape) for a in arrays]
        plus = first([a + eps * d for a, d in zip(arrays, e)])
        minus = first([a - eps * d for a, d in zip(arrays, e)])
        expected = sum(float((s * d).sum()) for s, d in zip(second, e) if s is not None)
        assert (plus - minus) / (2 * eps) == pytest.approx(expected, rel=1e-5, abs=1e-6)


def _tf_same_pads(n_in, k, s, d):
    total = max((-(-n_in // s) - 1) * s + (k - 1) * d + 1 - n_in, 0)
    return total // 2, total - total // 2


@pytest.mark.parametrize("stride, padding, dilation, relu", [
    (1, "valid", 1, False), (2, "same", 1, False), (1, "same", 2, False), (3, "valid", 1, True),
])
def test_conv1d(stride, padding, dilation, relu):
    x, k, b = RNG.normal(size=(2, 9, 3)), RNG.normal(size=(3, 3, 4)), RNG.normal(size=(4,))

    def ours(x, k, b):
        y = (conv1d_relu if relu else conv1d)(x, k, b, strides=stride, padding=padding, dilation_rate=dilation)
        return dg.tanh(y)

    def theirs(x, k, b):
        xc = x.permute(0, 2, 1)
        if padding == "same":
            xc = F.pad(xc, _tf_same_pads(9, 3, stride, dilation))
        y = F.conv1d(xc, k.permute(2, 1, 0), b, stride=stride, dilation=dilation).permute(0, 2, 1)
        return torch.tanh(torch.relu(y) if relu else y)

    for wrt in (0, 1):
        check_second_order(ours, theirs, [x, k, b], wrt)


def _torch_conv(x, k, strides, padding, dilation, groups=1):
    """Keras's channels-last conv (TensorFlow's "same": the odd cell after) in PyTorch."""
    nd = x.dim() - 2
    xc = x.permute(0, nd + 1, *range(1, nd + 1))
    if padding == "same":
        pads = [_tf_same_pads(n, kk, s, d) for n, kk, s, d in zip(x.shape[1:-1], k.shape[:nd], strides, dilation)]
        xc = F.pad(xc, [p for pair in reversed(pads) for p in pair])
    conv = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    y = conv(xc, k.permute(nd + 1, nd, *range(nd)), stride=strides, dilation=dilation, groups=groups)
    return y.permute(0, *range(2, nd + 2), 1)


@pytest.mark.parametrize("x_shape, k_shape, strides, padding, dilation", [
    ((2, 7, 3), (3, 3, 4), (2,), "same", (1,)),
    ((2, 6, 5, 4), (2, 3, 2, 6), (1, 2), "valid", (1, 1)),  # two groups
    ((1, 5, 4, 4, 2), (2, 2, 2, 2, 3), (1, 1, 1), "same", (1, 2, 1)),
])
def test_conv_nd_grouped(x_shape, k_shape, strides, padding, dilation):
    x, k = RNG.normal(size=x_shape), RNG.normal(size=k_shape)
    groups = x_shape[-1] // k_shape[-2]
    ours = lambda x, k: dg.tanh(ops.conv(x, k, strides, padding, dilation_rate=dilation))
    theirs = lambda x, k: torch.tanh(_torch_conv(x, k, strides, padding, dilation, groups))
    for wrt in (0, 1):
        check_second_order(ours, theirs, [x, k], wrt)


def test_conv_channels_first_and_depthwise():
    x, k, kd = RNG.normal(size=(2, 3, 6, 5)), RNG.normal(size=(3, 2, 3, 4)), RNG.normal(size=(2, 2, 3, 2))
    ours = lambda x, k: ops.conv(x, k, 2, "same", data_format="channels_first") ** 2
    theirs = lambda x, k: _torch_conv(x.permute(0, 2, 3, 1), k, (2, 2), "same", (1, 1)).permute(0, 3, 1, 2) ** 2
    check_second_order(ours, theirs, [x, k], 0)
    xl = x.transpose(0, 2, 3, 1)
    ours_d = lambda x, k: ops.depthwise_conv(x, k, 1, "valid") ** 2
    theirs_d = lambda x, k: _torch_conv(x, k.reshape(2, 2, 1, 6), (1, 1), "valid", (1, 1), groups=3) ** 2
    check_second_order(ours_d, theirs_d, [xl, kd], 1)


def _torch_conv_transpose(x, k, strides, padding, output_padding, dilation):
    """Keras's conv_transpose in PyTorch: the full transposed convolution, cut (or zero-padded) as Keras sizes it."""
    from deepgrad.ops.convolution import transpose_crops

    nd = x.dim() - 2
    fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1]
    # Keras's kernel (*k, out, in) is PyTorch's (in, out, *k)
    y = fn(x.permute(0, nd + 1, *range(1, nd + 1)), k.permute(nd + 1, nd, *range(nd)), stride=strides,
           dilation=dilation)
    crops = transpose_crops(k.shape[:nd], strides, dilation, padding, output_padding)
    y = F.pad(y, [-c for pair in reversed(crops) for c in pair])  # a negative pad cuts
    return y.permute(0, *range(2, nd + 2), 1)


@pytest.mark.parametrize("x_shape, k_shape, strides, padding, output_padding, dilation", [
    ((2, 5, 3), (3, 2, 3), (2,), "same", (None,), (1,)),
    ((2, 4, 3, 2), (4, 3, 3, 2), (2, 1), "valid", (None, None), (1, 1)),
    ((1, 3, 4, 2), (3, 3, 2, 2), (2, 2), "same", (1, 0), (1, 1)),
    ((1, 3, 2, 3, 2), (2, 3, 2, 2, 2), (2, 1, 2), "valid", (None, None, None), (1, 2, 1)),
])
def test_conv_transpose(x_shape, k_shape, strides, padding, output_padding, dilation):
    x, k = RNG.normal(size=x_shape), RNG.normal(size=k_shape)
    op = None if output_padding[0] is None else output_padding
    ours = lambda x, k: dg.tanh(ops.conv_transpose(x, k, strides, padding, op, dilation_rate=dilation))
    theirs = lambda x, k: torch.tanh(_torch_conv_transpose(x, k, strides, padding, output_padding, dilation))
    for wrt in (0, 1):
        check_second_order(ours, theirs, [x, k], wrt)


def test_third_order_of_conv_transpose_closes():
    x, k = RNG.normal(size=(1, 3, 3, 2)), RNG.normal(size=(3, 3, 2, 2))
    (xo, ko), (xt, kt) = _leaves([x, k])
    y = ops.conv_transpose(xo, ko, 2, "same")
    g1 = grad((y * y * y).sum(), xo, create_graph=True)
    g2 = grad((g1 * g1).sum(), ko, create_graph=True)
    g3 = grad((g2 * g2).sum(), [xo, ko])
    yt = _torch_conv_transpose(xt, kt, (2, 2), "same", (None, None), (1, 1))
    (t1,) = torch.autograd.grad((yt ** 3).sum(), xt, create_graph=True)
    (t2,) = torch.autograd.grad((t1 * t1).sum(), kt, create_graph=True)
    for a, b in zip(g3, torch.autograd.grad((t2 * t2).sum(), [xt, kt])):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-9, atol=1e-10)


def test_batch_norm_training_and_layer_norm():
    from deepgrad.ops.normalization import batch_norm, layer_norm

    x, gamma, beta = RNG.normal(size=(6, 3, 4)), RNG.normal(size=(4,)), RNG.normal(size=(4,))
    ours = lambda x, gm, bt: dg.tanh(batch_norm(x, gm, bt, axis=-1, epsilon=1e-3)[0])
    theirs = lambda x, gm, bt: torch.tanh(F.batch_norm(x.permute(0, 2, 1), None, None, gm, bt, training=True,
                                                       eps=1e-3).permute(0, 2, 1))
    for wrt in (0, 1):
        check_second_order(ours, theirs, [x, gamma, beta], wrt)
    ours_ln = lambda x, gm, bt: dg.tanh(layer_norm(x, gm, bt, axis=-1, epsilon=1e-3))
    theirs_ln = lambda x, gm, bt: torch.tanh(F.layer_norm(x, (4,), gm, bt, eps=1e-3))
    check_second_order(ours_ln, theirs_ln, [x, gamma, beta], 0)


def test_batch_normalization_layer_in_training_matches_torch():
    """The BatchNormalization layer's training call (what a GAN's generator runs) differentiated twice."""
    layer = dg.layers.BatchNormalization(epsilon=1e-3, dtype="float64")
    x = RNG.normal(size=(5, 3))
    layer.build((None, 3))
    layer.gamma.assign(RNG.normal(size=3))
    ours = lambda x: dg.tanh(layer(x, training=True))
    theirs = lambda x: torch.tanh(F.batch_norm(x, None, None, torch.tensor(layer.gamma.numpy()),
                                               torch.zeros(3, dtype=torch.float64), training=True, eps=1e-3))
    check_second_order(ours, theirs, [x])


def test_batch_normalization_with_given_statistics():
    x, mean, var = RNG.normal(size=(4, 3)), RNG.normal(size=(3,)), RNG.uniform(0.5, 2, size=(3,))
    offset, scale = RNG.normal(size=(3,)), RNG.normal(size=(3,))
    ours = lambda x, m, v, o, s: dg.tanh(ops.batch_normalization(x, m, v, axis=-1, offset=o, scale=s, epsilon=1e-3))
    theirs = lambda x, m, v, o, s: torch.tanh((x - m) / torch.sqrt(v + 1e-3) * s + o)
    for wrt in (0, 2, 4):
        check_second_order(ours, theirs, [x, mean, var, offset, scale], wrt)


ACTIVATIONS = [
    ("softplus", ops.softplus, F.softplus, None),
    ("elu", lambda a: ops.elu(a, 0.7), lambda a: F.elu(a, 0.7), None),
    ("selu", ops.selu, F.selu, None),
    ("gelu", lambda a: ops.gelu(a, approximate=False), lambda a: F.gelu(a), None),
    ("gelu_tanh", lambda a: ops.gelu(a, approximate=True), lambda a: F.gelu(a, approximate="tanh"), None),
    ("silu", ops.silu, F.silu, None),
    ("log_sigmoid", ops.log_sigmoid, F.logsigmoid, None),
    ("softsign", ops.softsign, F.softsign, None),
    ("softmax", lambda a: ops.softmax(a, axis=-1), lambda a: torch.softmax(a, -1), None),
    ("log_softmax", lambda a: ops.log_softmax(a, axis=0), lambda a: torch.log_softmax(a, 0), None),
    ("sin", ops.sin, torch.sin, None), ("cos", ops.cos, torch.cos, None), ("tan", ops.tan, torch.tan, None),
    ("sinh", ops.sinh, torch.sinh, None), ("cosh", ops.cosh, torch.cosh, None),
    ("arctan", ops.arctan, torch.arctan, None), ("arcsinh", ops.arcsinh, torch.arcsinh, None),
    ("arcsin", lambda a: ops.arcsin(a / 3), lambda a: torch.arcsin(a / 3), None),
    ("arccos", lambda a: ops.arccos(a / 3), lambda a: torch.arccos(a / 3), None),
    ("arctanh", lambda a: ops.arctanh(a / 3), lambda a: torch.arctanh(a / 3), None),
    ("arccosh", ops.arccosh, torch.arccosh, 1.5),
    ("expm1", ops.expm1, torch.expm1, None), ("log1p", ops.log1p, torch.log1p, 0.5),
    ("log2", ops.log2, torch.log2, 0.5), ("log10", ops.log10, torch.log10, 0.5),
    ("reciprocal", ops.reciprocal, torch.reciprocal, 0.5), ("rsqrt", ops.rsqrt, torch.rsqrt, 0.5),
    ("erf", ops.erf, torch.erf, None),
    ("relu6", lambda a: ops.relu6(2 * a + 3), lambda a: F.relu6(2 * a + 3), None),
    ("clip", lambda a: ops.clip(a, -0.5, 0.8), lambda a: torch.clamp(a, -0.5, 0.8), None),
]


@pytest.mark.parametrize("name, ours, theirs, low", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_second_order(name, ours, theirs, low):
    a = RNG.uniform(low, 2.5, size=(3, 4)) if low is not None else RNG.normal(size=(3, 4))
    # f^2 + a f: a piecewise-linear op (relu6, clip) still has a second derivative
    check_second_order(lambda a: ours(a) * ours(a) + a * ours(a), lambda a: theirs(a) * theirs(a) + a * theirs(a), [a])


def test_max_min_stack_and_step_functions():
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    ours = lambda a, b: ops.stack([dg.ops.max(a * b, axis=1), dg.ops.min(a, axis=0)[:3]], axis=1) ** 2 * a[:, :2]
    theirs = lambda a, b: torch.stack([torch.amax(a * b, 1), torch.amin(a, 0)[:3]], 1) ** 2 * a[:, :2]
    for wrt in (0, 1):
        check_second_order(ours, theirs, [a, b], wrt)
    steps = lambda a, b: (ops.floor(a) + ops.sign(b) + ops.round(a)) * a * b
    steps_t = lambda a, b: (torch.floor(a) + torch.sign(b) + torch.round(a)) * a * b
    check_second_order(steps, steps_t, [a, b], 0)
