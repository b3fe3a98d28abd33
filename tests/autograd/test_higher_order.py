"""Higher-order gradients (``grad(..., create_graph=True)``, nested GradientTapes) against
PyTorch's ``create_graph=True``, in float64."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad.autograd import Function, Tensor, grad
from deepgrad.compat import tensorflow as tf
from deepgrad.ops.im2col import conv2d
from deepgrad.ops.nn import linear

RNG = np.random.default_rng(7)


def _pair(*shapes, low=None):
    """The same float64 values as deepgrad Variables and as torch leaves."""
    arrays = [RNG.uniform(low, 2.0, size=s) if low is not None else RNG.normal(size=s) for s in shapes]
    ours = [dg.Variable(a, dtype=np.float64) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    return ours, theirs


def _second_order(fn_ours, fn_torch, ours, theirs, wrt=0):
    """d/d(all) of sum(d(sum f)/d(inputs[wrt])^2): a gradient of a gradient."""
    g = grad(fn_ours(*ours).sum(), ours[wrt], create_graph=True)
    ours_grads = grad((g * g).sum(), ours)
    (gt,) = torch.autograd.grad(fn_torch(*theirs).sum(), theirs[wrt], create_graph=True)
    torch_grads = torch.autograd.grad((gt * gt).sum(), theirs, allow_unused=True, materialize_grads=True)
    np.testing.assert_allclose(g.data, gt.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(ours_grads, torch_grads):
        a = np.zeros(b.shape) if a is None else a
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name, ours, theirs, low", [
    ("mul", lambda a, b: a * b * a, lambda a, b: a * b * a, None),
    ("div", lambda a, b: a / b, lambda a, b: a / b, 0.5),
    ("pow", lambda a, b: a ** b, lambda a, b: a ** b, 0.5),
    ("exp_log", lambda a, b: dg.exp(a) * dg.log(b), lambda a, b: torch.exp(a) * torch.log(b), 0.5),
    ("sqrt_sub", lambda a, b: dg.sqrt(a) - b * b, lambda a, b: torch.sqrt(a) - b * b, 0.5),
    ("tanh_sigmoid", lambda a, b: dg.tanh(a * b) + dg.sigmoid(a - b),
     lambda a, b: torch.tanh(a * b) + torch.sigmoid(a - b), None),
    ("broadcast", lambda a, b: (a * b[0]) ** 2, lambda a, b: (a * b[0]) ** 2, None),
])
def test_second_order_elementwise_matches_torch(name, ours, theirs, low):
    (a, b), (at, bt) = _pair((3, 4), (3, 4), low=low)
    for wrt in (0, 1):
        _second_order(ours, theirs, [a, b], [at, bt], wrt)


def test_second_order_through_reductions_shapes_and_matmul():
    (a, w), (at, wt) = _pair((2, 3, 4), (4, 5))

    def ours(a, w):
        h = dg.tanh(a @ w).transpose((0, 2, 1)).reshape((2, -1))
        return h.mean(axis=1, keepdims=True) * h.sum(axis=0)

    def theirs(a, w):
        h = torch.tanh(a @ w).permute(0, 2, 1).reshape(2, -1)
        return h.mean(1, keepdim=True) * h.sum(0)

    for wrt in (0, 1):
        _second_order(ours, theirs, [a, w], [at, wt], wrt)


def test_second_order_through_dense_with_fused_relu_and_leaky_relu():
    (x, k, b), (xt, kt, bt) = _pair((5, 3), (3, 4), (4,))
    ours = lambda x, k, b: dg.leaky_relu(linear(dg.tanh(x), k, b), 0.2) ** 2
    theirs = lambda x, k, b: F.leaky_relu(torch.tanh(x) @ k + b, 0.2) ** 2
    _second_order(ours, theirs, [x, k, b], [xt, kt, bt], 0)
    ours_relu = lambda x, k, b: dg.ops.nn.linear_relu(dg.tanh(x), k, b) ** 2
    theirs_relu = lambda x, k, b: torch.relu(torch.tanh(x) @ k + b) ** 2
    _second_order(ours_relu, theirs_relu, [x, k, b], [xt, kt, bt], 0)


@pytest.mark.parametrize("strides, padding, dilation", [
    ((1, 1), "valid", (1, 1)), ((2, 2), "same", (1, 1)), ((2, 1), "valid", (1, 1)), ((1, 1), "same", (2, 2)),
    ((3, 3), "valid", (1, 1)),
])
def test_second_order_through_conv2d_matches_torch(strides, padding, dilation):
    (x, k, b), (xt, kt, bt) = _pair((2, 7, 8, 3), (3, 3, 3, 4), (4,))

    def ours(x, k, b):
        return dg.tanh(conv2d(x, k, b, strides=strides, padding=padding, dilation_rate=dilation))

    def theirs(x, k, b):
        xc = x.permute(0, 3, 1, 2)
        if padding == "same":  # TensorFlow's "same": the odd cell after
            pads = []
            for n, kk, s, d in zip(x.shape[1:3], k.shape[:2], strides, dilation):
                total = max((-(-n // s) - 1) * s + (kk - 1) * d + 1 - n, 0)
                pads.append((total // 2, total - total // 2))
            xc = F.pad(xc, (pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
        return torch.tanh(F.conv2d(xc, k.permute(3, 2, 0, 1), b, stride=strides, dilation=dilation))

    for wrt in (0, 1):
        _second_order(ours, lambda *a: theirs(*a).permute(0, 2, 3, 1), [x, k, b], [xt, kt, bt], wrt)


def test_third_order_of_conv2d_closes():
    """d^3/dx^3 through the three conv ops (conv, its input gradient, its kernel gradient)."""
    (x, k), (xt, kt) = _pair((1, 5, 5, 2), (2, 2, 2, 3))
    y = conv2d(x, k, strides=(2, 2), padding="same")
    g1 = grad((y * y * y).sum(), x, create_graph=True)
    g2 = grad((g1 * g1).sum(), k, create_graph=True)
    g3 = grad((g2 * g2).sum(), [x, k])
    yt = F.conv2d(F.pad(xt.permute(0, 3, 1, 2), (0, 1, 0, 1)), kt.permute(3, 2, 0, 1), stride=2)
    (t1,) = torch.autograd.grad((yt ** 3).sum(), xt, create_graph=True)
    (t2,) = torch.autograd.grad((t1 * t1).sum(), kt, create_graph=True)
    t3 = torch.autograd.grad((t2 * t2).sum(), [xt, kt])
    for a, b in zip(g3, t3):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-9, atol=1e-10)


def test_gradient_penalty_with_nested_tapes_matches_torch():
    """WGAN-GP's penalty mean((|dD/dx| - 1)^2), x between real and fake, differentiated for D's weights."""
    (k, b, w, c, real, fake), (kt, bt, wt, ct, realt, faket) = _pair(
        (3, 3, 1, 4), (4,), (4 * 4 * 4, 1), (1,), (3, 8, 8, 1), (3, 8, 8, 1))
    alpha = RNG.uniform(size=(3, 1, 1, 1))

    def critic(x):
        h = dg.leaky_relu(conv2d(x, k, b, strides=(2, 2), padding="same"), 0.2)
        return linear(h.reshape((h.shape[0], -1)), w, c)

    with tf.GradientTape() as tape:
        interpolated = real + alpha * (fake - real)
        with tf.GradientTape() as gp_tape:
            gp_tape.watch(interpolated)
            pred = critic(interpolated)
        grads = gp_tape.gradient(pred, [interpolated])[0]
        norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
        gp = tf.reduce_mean((norm - 1.0) ** 2)
    ours = tape.gradient(gp, [k, b, w, c, real, fake])

    xt = realt + torch.tensor(alpha) * (faket - realt)
    h = F.conv2d(F.pad(xt.permute(0, 3, 1, 2), (0, 1, 0, 1)), kt.permute(3, 2, 0, 1), bt, stride=2)
    pred_t = F.leaky_relu(h, 0.2).permute(0, 2, 3, 1).reshape(3, -1) @ wt + ct
    (gt,) = torch.autograd.grad(pred_t.sum(), xt, create_graph=True)
    gp_t = ((gt.pow(2).sum((1, 2, 3)).sqrt() - 1) ** 2).mean()
    theirs = torch.autograd.grad(gp_t, [kt, bt, wt, ct, realt, faket], allow_unused=True, materialize_grads=True)
    assert float(gp.data) == pytest.approx(float(gp_t.detach()), rel=1e-12)
    assert isinstance(grads, dg.Tensor) and grads.requires_grad  # recorded for the outer tape
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(np.zeros(t.shape) if a is None else a, t.numpy(), rtol=1e-9, atol=1e-12)
    assert np.abs(ours[0]).max() > 1e-3  # the penalty does reach the kernel


def test_a_tape_alone_records_no_graph_of_its_gradient():
    (x,), _ = _pair((3,))
    with tf.GradientTape() as tape:
        y = (x * x).sum()
    g = tape.gradient(y, x)
    assert isinstance(g, Tensor) and not g.requires_grad and g._ctx is None  # a plain value, as TF's
    np.testing.assert_allclose(g, 2 * x.data)


class PlainExp2(Function):
    """2^x with a NumPy backward only (no ``graph_backward``), as an op of a user's may be."""

    def forward(self, x):
        out = np.exp2(x)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        return g * self.saved[0] * np.log(2)


def test_an_op_without_a_second_derivative_names_itself():
    (x,), _ = _pair((4, 3))
    g = grad(PlainExp2.apply(x).sum(), x, create_graph=True)  # first order is right ...
    np.testing.assert_allclose(g.data, 2 ** x.data * np.log(2), rtol=1e-12)
    with pytest.raises(RuntimeError, match="PlainExp2"):  # ... a second one says which op stops it
        grad((g * g).sum(), x)


def test_create_graph_runs_only_the_ops_that_lead_to_the_inputs():
    """Ops upstream of the differentiated tensor are not walked (their gradients are not needed)."""
    (w, x), _ = _pair((3, 3), (2, 3))
    upstream = PlainExp2.apply(x @ w)     # no graph_backward: walking it would add a FirstOrderOnly node
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(upstream)
            y = (dg.tanh(upstream) ** 2).sum()
        g = inner.gradient(y, upstream)
        penalty = (g * g).sum()
    gw = outer.gradient(penalty, w)        # passes through PlainExp2's first-order backward only
    t = torch.tensor(upstream.data, requires_grad=True)
    (gt,) = torch.autograd.grad((torch.tanh(t) ** 2).sum(), t, create_graph=True)
    (dt,) = torch.autograd.grad((gt * gt).sum(), t)
    slope = 2 ** (x.data @ w.data) * np.log(2)  # d 2^z / dz
    np.testing.assert_allclose(gw, x.data.T @ (dt.numpy() * slope), rtol=1e-9)


@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0, 3.0, 2.5])
@pytest.mark.parametrize("exponent_is_variable", [False, True])
def test_pow_derivatives_up_to_third_order_at_base_zero_match_torch(exponent, exponent_is_variable):
    """d^k(a^b)/da^k at a = 0 and beside it: PyTorch takes the term b a^(b-1) as 0 where b == 0,
    so x^2's third derivative is 0, not 0 * 0^-1 = nan."""
    base = np.array([0.0, 0.7, -1.3])
    a = dg.Variable(base, dtype=np.float64)
    b = dg.Variable(np.full(3, exponent), dtype=np.float64) if exponent_is_variable else exponent
    ta = torch.tensor(base, requires_grad=True)
    tb = torch.full((3,), exponent, dtype=torch.float64, requires_grad=True) if exponent_is_variable else exponent
    ours, theirs = (a ** b).sum(), (ta ** tb).sum()
    for order in range(3):
        last = order == 2
        g = grad(ours, a, create_graph=not last)
        (gt,) = torch.autograd.grad(theirs, ta, create_graph=not last)
        g_data = g if isinstance(g, np.ndarray) else g.data
        expected = gt.detach().numpy()
        if exponent_is_variable and exponent in (0.0, 1.0):
            # PyTorch masks b a^(b-1) with a where on a tensor exponent, and its double backward
            # sends 0 * inf = nan through the mask at a = 0; the derivative of the constant
            # there is 0, which deepgrad gives
            expected = np.where(np.isnan(expected), 0.0, expected)
        np.testing.assert_allclose(g_data, expected, rtol=1e-12, atol=0, equal_nan=True)
        if not gt.requires_grad:  # a constant derivative (b = 0 or 1): the next ones are 0
            assert not isinstance(g, dg.Tensor) or not g.requires_grad or \
                np.all(grad(g.sum(), a) == 0)
            break
        ours, theirs = g.sum(), gt.sum()
