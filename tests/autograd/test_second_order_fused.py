"""Second derivatives of the ops whose fast backward is NumPy code: pooling, normalization
statistics, logsumexp, einsum, running sums and products, the fused recurrent kernels and
dot-product attention. Each is compared with PyTorch's ``create_graph=True`` in float64 (the
first derivative, and a Hessian-vector product with respect to every input) and with central
differences of the first derivative (``check_second_order``)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad import ops
from deepgrad.autograd import grad

from test_second_order_ops import _tf_same_pads, check_second_order

RNG = np.random.default_rng(15)


def _distinct(*shape):
    """Well-separated values in a random order: no ties inside a pooling window."""
    n = int(np.prod(shape))
    return (RNG.permutation(n) * (3.0 / n) - 1.5).reshape(shape) + RNG.uniform(0, 0.1 / n, shape)


def _torch_pool(x, kind, pool, strides, padding):
    """Keras's channels-last pooling in PyTorch: "same" pads as TensorFlow; the average counts
    only the real cells of a window."""
    nd = x.dim() - 2
    xc = x.permute(0, nd + 1, *range(1, nd + 1))
    pads = [_tf_same_pads(n, k, s, 1) if padding == "same" else (0, 0)
            for n, k, s in zip(x.shape[1:-1], pool, strides)]
    flat = [p for pair in reversed(pads) for p in pair]
    if kind == "max":
        y = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[nd - 1](F.pad(xc, flat, value=-float("inf")), pool, strides)
    else:
        avg = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[nd - 1]
        y = avg(F.pad(xc, flat), pool, strides) / avg(F.pad(torch.ones_like(xc), flat), pool, strides)
    return y.permute(0, *range(2, nd + 2), 1)


POOLS = [  # (function, kind, input shape, pool, strides, padding)
    (lambda x: ops.max_pool2d(x, 2), "max", (2, 4, 6, 2), (2, 2), (2, 2), "valid"),
    (lambda x: ops.max_pool2d(x, 3, 2, "same"), "max", (2, 5, 5, 2), (3, 3), (2, 2), "same"),
    (lambda x: ops.avg_pool2d(x, 2, 1), "avg", (1, 4, 5, 3), (2, 2), (1, 1), "valid"),
    (lambda x: ops.avg_pool2d(x, 3, 2, "same"), "avg", (2, 5, 4, 2), (3, 3), (2, 2), "same"),
    (lambda x: ops.max_pool1d(x, 3, 2, "same"), "max", (2, 7, 3), (3,), (2,), "same"),
    (lambda x: ops.avg_pool1d(x, 2), "avg", (2, 6, 3), (2,), (2,), "valid"),
    (lambda x: ops.max_pool(x, (2, 3), (1, 2), "same"), "max", (2, 4, 5, 2), (2, 3), (1, 2), "same"),
    (lambda x: ops.average_pool(x, 2, 1, "same"), "avg", (2, 5, 3), (2,), (1,), "same"),
    (lambda x: ops.max_pool(x, 2), "max", (1, 4, 4, 4, 2), (2, 2, 2), (2, 2, 2), "valid"),
    (lambda x: ops.average_pool(x, (2, 2, 3), (1, 2, 1), "same"), "avg", (1, 3, 4, 4, 2), (2, 2, 3), (1, 2, 1), "same"),
]


@pytest.mark.parametrize("k", range(len(POOLS)))
def test_pooling(k):
    fn, kind, shape, pool, strides, padding = POOLS[k]
    x = _distinct(*shape)
    check_second_order(lambda x: dg.tanh(fn(dg.tanh(x))),
                       lambda x: torch.tanh(_torch_pool(torch.tanh(x), kind, pool, strides, padding)), [x])


def test_adaptive_pooling():
    x = _distinct(2, 5, 7, 2)
    check_second_order(lambda x: dg.tanh(ops.adaptive_max_pool(dg.tanh(x), (2, 3))),
                       lambda x: torch.tanh(F.adaptive_max_pool2d(torch.tanh(x).permute(0, 3, 1, 2), (2, 3))
                                            .permute(0, 2, 3, 1)), [x])
    check_second_order(lambda x: dg.tanh(ops.adaptive_average_pool(x * x, (3, 2))),
                       lambda x: torch.tanh(F.adaptive_avg_pool2d((x * x).permute(0, 3, 1, 2), (3, 2))
                                            .permute(0, 2, 3, 1)), [x])


# ------------------------------------------------------------------ reductions and statistics
@pytest.mark.parametrize("axis, keepdims", [(1, False), ((0, 2), True), (None, False)])
def test_var_std_logsumexp(axis, keepdims):
    x, y = RNG.normal(size=(3, 4, 5)), RNG.normal(size=(5,))  # x * y: the gradient reaches a broadcast input
    dims = tuple(range(3)) if axis is None else axis
    for ours, theirs in [
        (lambda x, y: ops.var(x * y, axis=axis, keepdims=keepdims) ** 2,
         lambda x, y: torch.var(x * y, dim=dims, keepdim=keepdims, unbiased=False) ** 2),
        (lambda x, y: ops.std(x * y, axis=axis, keepdims=keepdims),
         lambda x, y: torch.std(x * y, dim=dims, keepdim=keepdims, unbiased=False)),
        (lambda x, y: dg.tanh(ops.logsumexp(x * y, axis=axis, keepdims=keepdims)),
         lambda x, y: torch.tanh(torch.logsumexp(x * y, dim=dims, keepdim=keepdims))),
    ]:
        for wrt in (0, 1):
            check_second_order(ours, theirs, [x, y], wrt)


def test_var_with_ddof_and_moments():
    x = RNG.normal(size=(4, 3, 2))
    check_second_order(lambda x: dg.ops.var(x, axis=0, ddof=1) ** 2,
                       lambda x: torch.var(x, dim=0, unbiased=True) ** 2, [x])

    def ours(x):
        mean, var = ops.moments(x, axes=[0, 2])
        return mean * var + var * var

    def theirs(x):
        mean, var = x.mean(dim=(0, 2)), x.var(dim=(0, 2), unbiased=False)
        return mean * var + var * var

    check_second_order(ours, theirs, [x])
    mean_only = lambda x: ops.moments(x, axes=[1], keepdims=True)[0] ** 3  # the unused output's gradient is zeros
    check_second_order(mean_only, lambda x: x.mean(dim=1, keepdim=True) ** 3, [x])


@pytest.mark.parametrize("zeros", [False, True])
def test_cumsum_cumprod_prod(zeros):
    x = RNG.uniform(0.5, 1.5, size=(3, 5)) * RNG.choice([-1, 1], size=(3, 5))
    if zeros:  # one zero and two zeros along a row: the exact rules at zeros
        x[0, 2] = 0.0
        x[1, 1] = x[1, 3] = 0.0
    y = RNG.normal(size=(5,))
    cases = [
        (lambda x, y: dg.tanh(ops.cumsum(x * y, axis=1)), lambda x, y: torch.tanh(torch.cumsum(x * y, 1))),
        (lambda x, y: ops.cumprod(x, axis=1) * y, lambda x, y: torch.cumprod(x, 1) * y),
        (lambda x, y: ops.cumprod(x, axis=0) * y, lambda x, y: torch.cumprod(x, 0) * y),
        (lambda x, y: ops.prod(x, axis=1) * y[:3], lambda x, y: torch.prod(x, 1) * y[:3]),
        (lambda x, y: ops.prod(x[:2, :3]) * y, lambda x, y: torch.prod(x[:2, :3]) * y),  # two zeros
    ]
    for ours, theirs in cases:
        check_second_order(ours, theirs, [x, y], 0)


def test_third_order_of_cumprod_with_a_zero():
    x = RNG.uniform(0.5, 1.5, size=(4,))
    x[1] = 0.0
    (xo,), xt = [dg.Variable(x, dtype=np.float64)], torch.tensor(x, requires_grad=True)
    y = ops.cumprod(xo, axis=0)
    g1 = grad((y * y).sum(), xo, create_graph=True)
    g2 = grad((g1 * g1).sum(), xo, create_graph=True)
    g3 = grad((g2 * g2 * g2).sum(), xo)
    (t1,) = torch.autograd.grad((torch.cumprod(xt, 0) ** 2).sum(), xt, create_graph=True)
    (t2,) = torch.autograd.grad((t1 * t1).sum(), xt, create_graph=True)
    (t3,) = torch.autograd.grad((t2 * t2 * t2).sum(), xt)
    np.testing.assert_allclose(g3, t3.numpy(), rtol=1e-9, atol=1e-10)
    assert np.abs(g3).max() > 1e-3


# ------------------------------------------------------------------ einsum
EINSUMS = [
    ("ij,jk->ik", [(3, 4), (4, 2)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 3)]),
    ("ii->i", [(4, 4)]),
    ("ij->", [(3, 4)]),
    ("ij,j->i", [(3, 4), (4,)]),
    ("...ij,jk->...ik", [(2, 3, 4), (4, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("bi,bj->bij", [(2, 3), (2, 4)]),
    ("iij,jk->ik", [(3, 3, 2), (2, 4)]),  # a diagonal and a contraction
    ("ij,ij->i", [(3, 4), (1, 4)]),  # a size-1 axis broadcast against its index's size
]


@pytest.mark.parametrize("subscripts, shapes", EINSUMS, ids=[e[0] for e in EINSUMS])
def test_einsum(subscripts, shapes):
    arrays = [0.5 * RNG.normal(size=s) for s in shapes]  # small: tanh of the sum is not saturated
    ours = lambda *a: dg.tanh(ops.einsum(subscripts, *[t * t if i == 0 else t for i, t in enumerate(a)]))
    theirs = lambda *a: torch.tanh(torch.einsum(subscripts, *[t * t if i == 0 else t for i, t in enumerate(a)]))
    for wrt in range(len(arrays)):
        check_second_order(ours, theirs, arrays, wrt, directions=1)


def test_tensordot_and_index_maps():
    a, b = RNG.normal(size=(3, 4, 2)), RNG.normal(size=(4, 2, 5))
    check_second_order(lambda a, b: dg.tanh(ops.tensordot(a, b, axes=2)),
                       lambda a, b: torch.tanh(torch.tensordot(a, b, dims=2)), [a, b], 1)
    x = RNG.normal(size=(3, 4))
    cases = [  # rearrangements read through an index map: flips, repeats, triangles, gathers
        (lambda x: ops.flip(x, 1) * x, lambda x: torch.flip(x, [1]) * x),
        (lambda x: ops.repeat(x, 2, axis=0) ** 3, lambda x: torch.repeat_interleave(x, 2, 0) ** 3),
        (lambda x: ops.tril(x * x, -1) * x, lambda x: torch.tril(x * x, -1) * x),
        (lambda x: ops.take_along_axis(x, np.array([[0, 0, 3, 1]] * 3), axis=1) ** 3,
         lambda x: torch.take_along_dim(x, torch.tensor([[0, 0, 3, 1]] * 3), 1) ** 3),
    ]
    for ours, theirs in cases:
        check_second_order(ours, theirs, [x])


# ------------------------------------------------------------------ normalization
def test_layer_rms_and_l2_normalization():
    x, gamma, beta = RNG.normal(size=(3, 2, 5)), RNG.normal(size=(5,)), RNG.normal(size=(5,))
    cases = [
        (lambda x, gm, bt: dg.tanh(ops.layer_normalization(x, gm, bt, axis=-1, epsilon=1e-3)),
         lambda x, gm, bt: torch.tanh(F.layer_norm(x, (5,), gm, bt, eps=1e-3))),
        (lambda x, gm, bt: dg.tanh(ops.rms_normalization(x, gm, axis=-1, epsilon=1e-3)) + bt,
         lambda x, gm, bt: torch.tanh(x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-3) * gm) + bt),
        (lambda x, gm, bt: dg.tanh(ops.layer_normalization(x, gm, None, axis=-1, epsilon=1e-3, rms_scaling=True)) + bt,
         lambda x, gm, bt: torch.tanh(x / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + 1e-3) * gm) + bt),
        (lambda x, gm, bt: dg.tanh(ops.normalize(x * gm, axis=-1)) + bt,
         lambda x, gm, bt: torch.tanh(F.normalize(x * gm, dim=-1)) + bt),
        (lambda x, gm, bt: dg.tanh(ops.normalize(x + gm, axis=1, order=3)) + bt,
         lambda x, gm, bt: torch.tanh(F.normalize(x + gm, p=3, dim=1)) + bt),
    ]
    for ours, theirs in cases:
        for wrt in (0, 1):
            check_second_order(ours, theirs, [x, gamma, beta], wrt, directions=1)
    # over two axes at once
    check_second_order(lambda x: ops.layer_normalization(x, axis=[1, 2], epsilon=1e-3) ** 3,
                       lambda x: F.layer_norm(x, (2, 5), eps=1e-3) ** 3, [x])


def test_group_and_layer_normalization_layers():
    x = RNG.normal(size=(2, 3, 4))
    group = dg.layers.GroupNormalization(groups=2, epsilon=1e-3, dtype="float64")
    layer = dg.layers.LayerNormalization(epsilon=1e-3, dtype="float64")
    for lay in (group, layer):
        lay.build((None, 3, 4))
        lay.gamma.assign(RNG.normal(size=4))
        lay.beta.assign(RNG.normal(size=4))
    gg, gb = (torch.tensor(v.numpy()) for v in (group.gamma, group.beta))
    lg, lb = (torch.tensor(v.numpy()) for v in (layer.gamma, layer.beta))
    check_second_order(lambda x: dg.tanh(group(x)),
                       lambda x: torch.tanh(F.group_norm(x.permute(0, 2, 1), 2, gg, gb, eps=1e-3).permute(0, 2, 1)),
                       [x])
    check_second_order(lambda x: dg.tanh(layer(x)), lambda x: torch.tanh(F.layer_norm(x, (4,), lg, lb, eps=1e-3)), [x])


# ------------------------------------------------------------------ attention
def _torch_attention(q, k, v, bias=None, allowed=None, scale=None, cap=None):
    """softmax(q k^T scale + bias) v over (batch, time, heads, head_dim), grouped heads repeated."""
    groups = q.shape[2] // k.shape[2]
    k, v = torch.repeat_interleave(k, groups, 2), torch.repeat_interleave(v, groups, 2)
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    logits = torch.einsum("btnh,bsnh->bnts", q, k) * scale
    if bias is not None:
        logits = logits + bias
    if cap is not None:
        logits = cap * torch.tanh(logits / cap)
    if allowed is not None:
        logits = logits.masked_fill(~torch.as_tensor(allowed), -0.7 * 3.38953e38)
    return torch.einsum("bnts,bsnh->btnh", torch.softmax(logits, -1), v)


@pytest.mark.parametrize("variant", ["plain", "mask", "bias", "causal-gqa-cap"])
def test_dot_product_attention(variant):
    q, k, v = RNG.normal(size=(2, 3, 2, 4)), RNG.normal(size=(2, 4, 2, 4)), RNG.normal(size=(2, 4, 2, 3))
    arrays, extra, t_extra = [q, k, v], {}, {}
    if variant == "mask":
        allowed = RNG.uniform(size=(2, 1, 3, 4)) > 0.3
        allowed[..., 0] = True
        extra, t_extra = {"mask": allowed}, {"allowed": allowed}
    if variant == "bias":
        arrays.append(RNG.normal(size=(1, 2, 3, 4)))  # broadcast over the batch
    if variant == "causal-gqa-cap":
        q = RNG.normal(size=(2, 4, 4, 4))
        arrays[0] = q
        extra = {"is_causal": True, "attn_logits_soft_cap": 1.5}
        t_extra = {"allowed": np.tril(np.ones((4, 4), dtype=bool)), "cap": 1.5}

    def ours(q, k, v, *bias):
        return dg.tanh(ops.dot_product_attention(q, k, v, bias=bias[0] if bias else None, **extra))

    def theirs(q, k, v, *bias):
        return torch.tanh(_torch_attention(q, k, v, bias=bias[0] if bias else None, **t_extra))

    for wrt in range(len(arrays)):
        check_second_order(ours, theirs, arrays, wrt, directions=1)


def test_multi_head_attention_layer():
    mha = dg.layers.MultiHeadAttention(num_heads=2, key_dim=3, dtype="float64")
    x, y = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 5, 4))
    mha(dg.Tensor(x), dg.Tensor(y))
    weights = [torch.tensor(w.numpy()) for w in mha.weights]  # q, k, v, output: kernel then bias

    def theirs(x, y):
        qk, qb, kk, kb, vk, vb, ok, ob = weights
        q = torch.einsum("btd,dnh->btnh", x, qk) + qb
        k = torch.einsum("btd,dnh->btnh", y, kk) + kb
        v = torch.einsum("btd,dnh->btnh", y, vk) + vb
        return torch.tanh(torch.einsum("btnh,nhd->btd", _torch_attention(q, k, v), ok) + ob)

    for wrt in (0, 1):
        check_second_order(lambda x, y: dg.tanh(mha(x, y)), theirs, [x, y], wrt, directions=1)


# ------------------------------------------------------------------ recurrent kernels
def _torch_scan(cell, x, states, mask=None, go_backwards=False):
    """Keras's RNN loop in PyTorch: a masked step keeps the states; outputs in the order run."""
    steps = range(x.shape[1])
    outputs = []
    for t in (reversed(steps) if go_backwards else steps):
        new = cell(x[:, t], *states)
        if mask is not None:
            keep = torch.as_tensor(mask[:, t:t + 1])
            new = tuple(torch.where(keep, n, s) for n, s in zip(new, states))
        states = new
        outputs.append(states[0])
    return (torch.stack(outputs, 1), *states)


def _torch_lstm(x, kernel, recurrent, bias, h0, c0, mask=None, go_backwards=False):
    def cell(x_t, h, c):
        i, f, cc, o = (x_t @ kernel + h @ recurrent + bias).chunk(4, -1)  # Keras's gate order i, f, c, o
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(cc)
        return torch.sigmoid(o) * torch.tanh(c), c
    return _torch_scan(cell, x, (h0, c0), mask, go_backwards)


def _torch_gru(x, kernel, recurrent, bias, h0, mask=None, go_backwards=False, reset_after=True):
    def cell(x_t, h):
        xz, xr, xh = (x_t @ kernel + (bias[0] if reset_after else bias)).chunk(3, -1)
        uz, ur, uh = recurrent.chunk(3, -1)
        if reset_after:
            rz, rr, rh = (h @ recurrent + bias[1]).chunk(3, -1)
            z, r = torch.sigmoid(xz + rz), torch.sigmoid(xr + rr)
            cand = torch.tanh(xh + r * rh)
        else:
            z, r = torch.sigmoid(xz + h @ uz), torch.sigmoid(xr + h @ ur)
            cand = torch.tanh(xh + (r * h) @ uh)
        return (z * h + (1 - z) * cand,)
    return _torch_scan(cell, x, (h0,), mask, go_backwards)


def _torch_simple_rnn(x, kernel, recurrent, bias, h0, mask=None, go_backwards=False, activation="tanh"):
    act = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "linear": lambda a: a}[activation]
    return _torch_scan(lambda x_t, h: (act(x_t @ kernel + h @ recurrent + bias),), x, (h0,), mask, go_backwards)


def _sequence_mask():
    mask = np.ones((2, 4), dtype=bool)
    mask[0, 2:] = False
    mask[1, 1] = False
    return mask


def _summary(outputs, lib):
    """A scalar-friendly mix of every output, so each one's gradient is used."""
    seq, *last = outputs
    tanh = torch.tanh if lib == "torch" else dg.tanh
    total = tanh(seq) * 1.0
    for s in last:
        total = total + tanh(s)[:, None, :]
    return total


RECURRENT = [
    ("lstm", dict(mask=None, go_backwards=False)),
    ("lstm", dict(mask=_sequence_mask(), go_backwards=True)),
    ("gru", dict(mask=None, go_backwards=False, reset_after=True)),
    ("gru", dict(mask=_sequence_mask(), go_backwards=False, reset_after=False)),
    ("simple_rnn", dict(mask=_sequence_mask(), go_backwards=True, activation="tanh")),
    ("simple_rnn", dict(mask=None, go_backwards=False, activation="sigmoid")),
]


@pytest.mark.parametrize("op, kwargs", RECURRENT, ids=[f"{op}-{k}" for k, (op, _) in enumerate(RECURRENT)])
def test_recurrent_kernels(op, kwargs):
    units, gates = 2, {"lstm": 4, "gru": 3, "simple_rnn": 1}[op]
    x = RNG.normal(size=(2, 4, 3))
    kernel, recurrent = 0.6 * RNG.normal(size=(3, gates * units)), 0.6 * RNG.normal(size=(units, gates * units))
    bias = RNG.normal(size=(2, 3 * units) if kwargs.get("reset_after") else (gates * units,)) * 0.3
    states = [RNG.normal(size=(2, units)) for _ in range(2 if op == "lstm" else 1)]
    ours_op = getattr(ops, op)
    theirs_op = {"lstm": _torch_lstm, "gru": _torch_gru, "simple_rnn": _torch_simple_rnn}[op]
    ours = lambda *a: _summary(ours_op(*a, **kwargs), "dg")
    theirs = lambda *a: _summary(theirs_op(*a, **kwargs), "torch")
    arrays = [x, kernel, recurrent, bias, *states]
    for wrt in (0, 2):  # the input (a gradient penalty's) and the recurrent kernel
        check_second_order(ours, theirs, arrays, wrt, directions=1)


def test_first_order_gradients_keep_the_numpy_backward(monkeypatch):
    """A plain gradient never runs a graph backward (nor recomputes a forward); create_graph=True does."""
    from deepgrad.ops.pool import MaxPool2D
    from deepgrad.ops.recurrent.lstm import LSTM

    calls = []
    for cls in (LSTM, MaxPool2D):
        original = cls.graph_backward
        monkeypatch.setattr(cls, "graph_backward", lambda self, g, _f=original: calls.append(self.name) or _f(self, g))
    x = dg.Variable(RNG.normal(size=(2, 4, 4, 1)), dtype=np.float64)
    k, r = RNG.normal(size=(1, 8)), RNG.normal(size=(2, 8))

    def model(x):
        pooled = ops.max_pool2d(x, 2)  # (2, 2, 2, 1)
        return ops.lstm(ops.reshape(pooled, (2, 4, 1)), k, r)[1].sum()

    g = grad(model(x), x)
    assert calls == [] and isinstance(g, np.ndarray)
    g2 = grad(model(x), x, create_graph=True)
    assert calls == ["LSTM", "MaxPool2D"]
    np.testing.assert_allclose(g2.data, g, rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------ a gradient penalty through a model
def test_gradient_penalty_through_a_critic_with_bn_ln_pooling_and_lstm_matches_torch():
    """WGAN-GP's mean((|dD/dx| - 1)^2) through Conv2D, BatchNormalization (training), max and
    average pooling, LayerNormalization, an LSTM and Dense, differentiated for every weight."""
    from deepgrad import layers
    from deepgrad.compat import tensorflow as tf

    conv = layers.Conv2D(3, 3, padding="same", dtype="float64")
    bn = layers.BatchNormalization(epsilon=1e-3, dtype="float64")
    max_pool, avg_pool = layers.MaxPooling2D(2, dtype="float64"), layers.AveragePooling2D(2, 1, dtype="float64")
    ln = layers.LayerNormalization(epsilon=1e-3, dtype="float64")
    lstm, dense = layers.LSTM(4, dtype="float64"), layers.Dense(1, dtype="float64")

    def critic(x):
        h = dg.tanh(bn(conv(x), training=True))  # (3, 6, 6, 3)
        h = avg_pool(max_pool(h))                 # (3, 2, 2, 3)
        h = ln(dg.ops.reshape(h, (3, 4, 3)))      # a sequence of 4 steps
        return dense(lstm(h))

    real, fake = RNG.normal(size=(3, 6, 6, 2)), RNG.normal(size=(3, 6, 6, 2))
    alpha = RNG.uniform(size=(3, 1, 1, 1))
    critic(dg.Tensor(real))  # builds the layers
    for v in bn.weights[:2] + ln.weights:  # gamma and beta away from 1 and 0
        v.assign(RNG.uniform(0.5, 1.5, size=v.shape) if "gamma" in v.name else RNG.normal(size=v.shape) * 0.3)
    variables = [conv.kernel, conv.bias, bn.gamma, bn.beta, ln.gamma, ln.beta, *lstm.trainable_weights,
                 dense.kernel, dense.bias]

    with tf.GradientTape() as tape:
        interpolated = dg.Tensor(real + alpha * (fake - real))
        with tf.GradientTape() as gp_tape:
            gp_tape.watch(interpolated)
            pred = critic(interpolated)
        grads = gp_tape.gradient(pred, interpolated)
        gp = dg.ops.mean((dg.ops.sqrt(dg.ops.sum(grads * grads, axis=[1, 2, 3])) - 1.0) ** 2)
    ours = tape.gradient(gp, variables)

    tv = [torch.tensor(v.numpy(), requires_grad=True) for v in variables]
    ck, cb, bg, bb, lg, lb, lk, lr, lbias, dk, db = tv
    xt = torch.tensor(real + alpha * (fake - real), requires_grad=True)
    h = F.conv2d(F.pad(xt.permute(0, 3, 1, 2), (1, 1, 1, 1)), ck.permute(3, 2, 0, 1), cb)
    h = torch.tanh(F.batch_norm(h, None, None, bg, bb, training=True, eps=1e-3))
    h = F.avg_pool2d(F.max_pool2d(h, 2), 2, 1).permute(0, 2, 3, 1).reshape(3, 4, 3)
    h = F.layer_norm(h, (3,), lg, lb, eps=1e-3)
    zeros = torch.zeros(3, 4, dtype=torch.float64)
    pred_t = _torch_lstm(h, lk, lr, lbias, zeros, zeros)[1] @ dk + db
    (gt,) = torch.autograd.grad(pred_t.sum(), xt, create_graph=True)
    gp_t = ((gt.pow(2).sum((1, 2, 3)).sqrt() - 1) ** 2).mean()
    theirs = torch.autograd.grad(gp_t, tv, allow_unused=True, materialize_grads=True)
    np.testing.assert_allclose(pred.data, pred_t.detach().numpy(), rtol=1e-10)
    assert float(gp.data) == pytest.approx(float(gp_t.detach()), rel=1e-10)
    for v, a, t in zip(variables, ours, theirs):
        np.testing.assert_allclose(np.zeros(t.shape) if a is None else a, t.numpy(), rtol=1e-8, atol=1e-12,
                                   err_msg=v.name)
    # dD/dx depends on every weight but the biases that BatchNormalization cancels and the last
    reached = [a for v, a in zip(variables, ours) if v is not conv.bias and v is not dense.bias]
    assert min(np.abs(a).max() for a in reached) > 1e-6


# ------------------------------------------------------------------ element-wise ops and activations
UNARY = [  # (name, ours, theirs, low): inputs uniform in (low, 2.5), or normal when low is None
    ("cbrt", ops.cbrt, lambda a: torch.sign(a) * a.abs() ** (1 / 3), 0.3),
    ("exp2", ops.exp2, torch.exp2, None),
    ("fabs", lambda a: ops.fabs(a) * a, lambda a: a.abs() * a, None),
    ("deg2rad", lambda a: ops.deg2rad(40 * a), lambda a: torch.deg2rad(40 * a), None),
    ("rad2deg", lambda a: ops.rad2deg(a / 40), lambda a: torch.rad2deg(a / 40), None),
    ("sinc", ops.sinc, torch.sinc, None),
    ("nan_to_num", lambda a: ops.nan_to_num(a) ** 3, lambda a: torch.nan_to_num(a) ** 3, None),
    # PyTorch's own celu derivative is off by 1e-9 in float64: its formula is the oracle
    ("celu", lambda a: ops.celu(a, 0.7), lambda a: torch.where(a > 0, a, 0.7 * torch.expm1(a / 0.7)), None),
    ("glu", lambda a: ops.glu(a, axis=0), lambda a: F.glu(a, 0), None),
    ("hard_silu", lambda a: ops.hard_silu(2 * a), lambda a: F.hardswish(2 * a), None),
    ("hard_sigmoid", lambda a: ops.hard_sigmoid(2 * a), lambda a: torch.clamp(2 * a / 6 + 0.5, 0, 1), None),
    ("soft_shrink", lambda a: ops.soft_shrink(a, 0.3), lambda a: F.softshrink(a, 0.3), None),
    ("hard_shrink", lambda a: ops.hard_shrink(a, 0.3), lambda a: F.hardshrink(a, 0.3), None),
    ("sparse_plus", lambda a: ops.sparse_plus(a), lambda a: torch.where(a <= -1, 0 * a, torch.where(
        a < 1, (a + 1) ** 2 / 4, a)), None),
    ("sparse_sigmoid", lambda a: ops.sparse_sigmoid(a), lambda a: torch.clamp((a + 1) / 2, 0, 1), None),
    ("squareplus", lambda a: ops.squareplus(a, 3), lambda a: (a + torch.sqrt(a * a + 3)) / 2, None),
    ("tanh_shrink", ops.tanh_shrink, F.tanhshrink, None),
    ("threshold", lambda a: ops.threshold(a, 0.2, -1.0), lambda a: F.threshold(a, 0.2, -1.0), None),
    ("sparsemax", lambda a: ops.sparsemax(a, axis=-1), None, None),
]


@pytest.mark.parametrize("name, ours, theirs, low", UNARY, ids=[u[0] for u in UNARY])
def test_unary_second_order(name, ours, theirs, low):
    a = RNG.uniform(low, 2.5, size=(4, 4)) if low is not None else RNG.normal(size=(4, 4))
    if name == "sparsemax":  # y = max(a - tau, 0), tau the threshold that sums the support to 1
        def theirs(a):
            z, _ = torch.sort(a, -1, descending=True)
            k = torch.arange(1, 5, dtype=a.dtype)
            support = (z - (torch.cumsum(z, -1) - 1) / k > 0).sum(-1, keepdim=True)
            tau = (torch.gather(torch.cumsum(z, -1), -1, support - 1) - 1) / support
            return torch.clamp(a - tau, min=0)
    # y^2 (1 + y): a piecewise-linear op still has a second derivative
    check_second_order(lambda a: ours(a) * ours(a) * (1 + ours(a)), lambda a: theirs(a) * theirs(a) * (1 + theirs(a)),
                       [a])


def test_sinc_at_its_removable_singularity():
    """sinc''(0) = -pi^2 / 3 (PyTorch gives nan there): the derivative's Taylor term carries it."""
    x = dg.Variable(np.array([0.0, 0.5]), dtype=np.float64)
    g = grad(ops.sinc(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data[0], 0.0, atol=1e-15)
    second = grad(g.sum(), x)
    np.testing.assert_allclose(second[0], -np.pi ** 2 / 3, rtol=1e-12)
    t = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.sinc(t), t, create_graph=True)
    np.testing.assert_allclose(second[1], torch.autograd.grad(gt, t)[0].item(), rtol=1e-12)


BINARY = [
    ("arctan2", ops.arctan2, torch.atan2),
    ("logaddexp", ops.logaddexp, torch.logaddexp),
    ("logaddexp2", ops.logaddexp2, torch.logaddexp2),
    ("hypot", ops.hypot, torch.hypot),
    ("divide_no_nan", ops.divide_no_nan, lambda a, b: torch.where(b == 0, 0 * a, a / torch.where(b == 0, 1, b))),
    ("fmod", ops.fmod, torch.fmod),
    ("mod", ops.mod, torch.remainder),
    ("fmax", ops.fmax, torch.fmax),
    ("fmin", ops.fmin, torch.fmin),
]


@pytest.mark.parametrize("name, ours, theirs", BINARY, ids=[b[0] for b in BINARY])
def test_binary_second_order(name, ours, theirs):
    a, b = RNG.normal(size=(3, 4)), RNG.uniform(0.4, 2, size=(4,)) * RNG.choice([-1, 1], size=4)
    for wrt in (0, 1):
        check_second_order(lambda a, b: ours(a, b) * ours(a, b) * a, lambda a, b: theirs(a, b) * theirs(a, b) * a,
                           [a, b], wrt, directions=1)


def test_divide_no_nan_at_a_zero_divisor():
    """Where the divisor is 0 the result is the constant 0: no gradient of any order reaches a or b there."""
    a, b = dg.Variable(RNG.normal(size=(2, 3)), dtype=np.float64), dg.Variable(np.array([0.0, 2.0, -1.5]))
    y = ops.divide_no_nan(a, b)
    ga = grad((y * y * a).sum(), a, create_graph=True)
    second = grad((ga * ga).sum(), [a, b])
    at, bt = torch.tensor(a.data, requires_grad=True), torch.tensor(b.data, requires_grad=True)
    yt = torch.where(bt == 0, 0 * at, at / torch.where(bt == 0, 1, bt))
    (gt,) = torch.autograd.grad((yt * yt * at).sum(), at, create_graph=True)
    for ours, theirs in zip(second, torch.autograd.grad((gt * gt).sum(), [at, bt])):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-12)
    assert np.all(second[0][:, 0] == 0) and second[1][0] == 0 and np.abs(second[0][:, 1:]).min() > 0


# ------------------------------------------------------------------ losses, embeddings, indexing
def test_cross_entropies():
    z = RNG.normal(size=(3, 4))
    labels = np.array([2, 0, 3])
    soft = RNG.dirichlet(np.ones(4), 3)
    probs = RNG.dirichlet(np.ones(4), 3) * 0.8 + 0.05
    t_binary = RNG.uniform(size=(3, 4))
    cases = [
        (lambda z, y: ops.softmax_cross_entropy(z * z, labels) ** 2,
         lambda z, y: F.cross_entropy(z * z, torch.tensor(labels), reduction="none") ** 2, [z, soft]),
        (lambda z, y: ops.softmax_cross_entropy(z * z, y, axis=0) ** 2,  # classes on axis 0
         lambda z, y: (-(y * torch.log_softmax(z * z, 0)).sum(0)) ** 2, [z.T, soft.T]),
        (lambda p, y: ops.categorical_crossentropy(y, p * p) ** 2,
         lambda p, y: (-(y * torch.log(p * p / (p * p).sum(-1, keepdim=True))).sum(-1)) ** 2, [probs, soft]),
        (lambda p, y: ops.sparse_categorical_crossentropy(labels, p * p) ** 2,
         lambda p, y: (-torch.log(p * p / (p * p).sum(-1, keepdim=True))[torch.arange(3), labels]) ** 2, [probs, soft]),
        (lambda z, t: ops.binary_crossentropy(t, z, from_logits=True) ** 2,
         lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction="none") ** 2, [z, t_binary]),
        (lambda p, t: ops.binary_crossentropy(t, p) ** 2,
         lambda p, t: F.binary_cross_entropy(p, t, reduction="none") ** 2, [probs, t_binary]),
    ]
    for k, (ours, theirs, arrays) in enumerate(cases):
        for wrt in (0,) if k in (0, 3) else (0, 1):  # the sparse cases take integer labels
            check_second_order(ours, theirs, arrays, wrt, directions=1)


def test_embedding_split_select_and_scatters():
    table, ids = RNG.normal(size=(5, 3)), np.array([[0, 2, 2], [4, 0, 1]])
    check_second_order(lambda t: dg.tanh(ops.embedding(ids, t * t)), lambda t: torch.tanh(F.embedding(
        torch.tensor(ids), t * t)), [table])
    x, y = RNG.normal(size=(3, 6)), RNG.normal(size=(3, 6))
    check_second_order(lambda x: ops.split(x * x, [1, 4], axis=1)[1] ** 3,
                       lambda x: torch.tensor_split(x * x, [1, 4], dim=1)[1] ** 3, [x])
    conds = [x > 0.5, x < -0.5]
    check_second_order(lambda x, y: ops.select(conds, [x * y, y * y], x) ** 2,
                       lambda x, y: torch.where(torch.tensor(conds[0]), x * y, torch.where(
                           torch.tensor(conds[1]), y * y, x)) ** 2, [x, y], 0)
    u = RNG.normal(size=(2, 3))
    check_second_order(lambda x, u: ops.slice_update(x * x, (1, 2), u * u) ** 2,
                       lambda x, u: torch.cat([(x * x)[:1], torch.cat([(x * x)[1:, :2], u * u, (x * x)[1:, 5:]], 1)],
                                              0) ** 2, [x, u], 1)
    idx = np.array([[0, 1], [2, 5], [0, 1]])  # a repeated index adds up
    v = RNG.normal(size=(3,))
    check_second_order(lambda v: ops.scatter(idx, v * v, (3, 6)) ** 2,
                       lambda v: torch.zeros(3, 6, dtype=torch.float64).index_put(
                           (torch.tensor(idx[:, 0]), torch.tensor(idx[:, 1])), v * v, accumulate=True) ** 2, [v])
    rows = np.array([[1, 0], [2, 3]])
    w = RNG.normal(size=(2,))
    for reduction in (None, "add"):
        check_second_order(lambda x, w: ops.scatter_update(x * x, rows, w * w, reduction=reduction) ** 2,
                           lambda x, w: (x * x).index_put((torch.tensor(rows[:, 0]), torch.tensor(rows[:, 1])), w * w,
                                                          accumulate=reduction == "add") ** 2, [x, w], 0)


def check_against_differences(ours, arrays, wrt=0, eps=1e-6):
    """For an op without a PyTorch twin: the differentiable first derivative equals the plain one,
    and its derivative along random directions equals central differences of the plain one."""
    arrays = [np.asarray(a, np.float64) for a in arrays]
    leaves = [dg.Variable(a, dtype=np.float64) for a in arrays]
    w = RNG.normal(size=ours(*leaves).shape)
    v = RNG.normal(size=arrays[wrt].shape)
    g = grad((ours(*leaves) * w).sum(), leaves[wrt], create_graph=True)
    second = grad((g * v).sum(), leaves)

    def first(values):
        ls = [dg.Variable(a, dtype=np.float64) for a in values]
        return grad((ours(*ls) * w).sum(), ls[wrt])

    np.testing.assert_allclose(g.data, first(arrays), rtol=1e-12, atol=1e-14)
    assert max(np.abs(s).max() for s in second if s is not None) > 1e-6
    for _ in range(2):
        e = [RNG.normal(size=a.shape) for a in arrays]
        plus = float((first([a + eps * d for a, d in zip(arrays, e)]) * v).sum())
        minus = float((first([a - eps * d for a, d in zip(arrays, e)]) * v).sum())
        expected = sum(float((s * d).sum()) for s, d in zip(second, e) if s is not None)
        assert (plus - minus) / (2 * eps) == pytest.approx(expected, rel=1e-5, abs=1e-6)


# ------------------------------------------------------------------ linear algebra and special functions
def test_linear_algebra():
    a = RNG.normal(size=(2, 3, 3)) + 3 * np.eye(3)
    b, bv = RNG.normal(size=(2, 3, 2)), RNG.normal(size=(2, 3))
    spd = a @ a.transpose(0, 2, 1)
    x, y = RNG.normal(size=(2, 4, 3)), RNG.normal(size=(2, 5, 3))
    cases = [
        (lambda a: ops.inv(a) ** 2, lambda a: torch.linalg.inv(a) ** 2, [a]),
        (lambda a, b: ops.solve(a, b) ** 2, lambda a, b: torch.linalg.solve(a, b) ** 2, [a, b]),
        (lambda a, b: ops.solve(a, b) ** 2, lambda a, b: torch.linalg.solve(a, b) ** 2, [a, bv]),
        (lambda a, b: ops.solve_triangular(a, b, lower=True) ** 2,
         lambda a, b: torch.linalg.solve_triangular(torch.tril(a), b, upper=False) ** 2, [a, b]),
        (lambda a, b: ops.solve_triangular(a, b) ** 2,
         lambda a, b: torch.linalg.solve_triangular(torch.triu(a), b, upper=True) ** 2, [a, b]),
        (lambda a: ops.det(a) ** 2, lambda a: torch.linalg.det(a) ** 2, [a]),
        (lambda a: ops.slogdet(a)[1] ** 2, lambda a: torch.linalg.slogdet(a)[1] ** 2, [a]),
        (lambda a: ops.logdet(a) ** 2, lambda a: torch.logdet(a) ** 2, [spd]),
        # a symmetric input, so that every direction of the differences is one the factor sees
        (lambda a: ops.cholesky((a + a.swapaxes(-1, -2)) / 2) ** 3,
         lambda a: torch.linalg.cholesky((a + a.mT) / 2) ** 3, [spd]),
        (lambda a: ops.cholesky((a + a.swapaxes(-1, -2)) / 2, upper=True) ** 3,
         lambda a: torch.linalg.cholesky((a + a.mT) / 2, upper=True) ** 3, [spd]),
        (lambda x: ops.norm(x, axis=-1) ** 3, lambda x: torch.linalg.norm(x, dim=-1) ** 3, [x]),
        (lambda x, y: ops.cdist(x, y) ** 3,  # PyTorch's cdist has no second derivative: its formula
         lambda x, y: (((x[:, :, None] - y[:, None]) ** 2).sum(-1).sqrt()) ** 3, [x, y]),
    ]
    for ours, theirs, arrays in cases:
        for wrt in range(len(arrays)):
            check_second_order(ours, theirs, arrays, wrt, directions=1)


def test_special_functions_and_transforms():
    x = RNG.uniform(-0.8, 0.8, size=(3, 4))
    check_second_order(lambda x: ops.erfc(x) ** 2, lambda x: torch.special.erfc(x) ** 2, [x])
    check_second_order(lambda x: ops.erfinv(x) ** 2, lambda x: torch.special.erfinv(x) ** 2, [x])
    re, im = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 3, 4))
    for ours_fn, torch_fn in [(ops.fft, torch.fft.fft), (ops.fft2, torch.fft.fft2), (ops.ifft2, torch.fft.ifft2)]:
        def ours(re, im, fn=ours_fn):
            yr, yi = fn((re, im))
            return yr * yr * yi

        def theirs(re, im, fn=torch_fn):
            y = fn(torch.complex(re, im))
            return y.real * y.real * y.imag

        for wrt in (0, 1):
            check_second_order(ours, theirs, [re, im], wrt, directions=1)
    signal = RNG.normal(size=(2, 7))
    for n in (None, 5, 10):
        def ours(s, n=n):
            yr, yi = ops.rfft(s, n)
            return yr * yr * yi

        def theirs(s, n=n):
            y = torch.fft.rfft(s, n)
            return y.real * y.real * y.imag

        check_second_order(ours, theirs, [signal], directions=1)
    for n in (None, 7, 4):
        check_second_order(lambda r, i, n=n: ops.irfft((r, i), n) ** 3,
                           lambda r, i, n=n: torch.fft.irfft(torch.complex(r, i), n) ** 3, [re, im], 1, directions=1)


def test_stft_istft_segments_and_statistics():
    signal = RNG.normal(size=(2, 16))
    check_against_differences(lambda s: ops.stft(s, 6, 3, 8)[0] ** 2 * ops.stft(s, 6, 3, 8)[1], [signal])
    frames = RNG.normal(size=(2, 4, 5)), RNG.normal(size=(2, 4, 5))
    check_against_differences(lambda r, i: ops.istft((r, i), 8, 4, 8) ** 3, list(frames), 0)
    data, ids = _distinct(6, 2), np.array([0, 2, 2, 1, 0, 5])
    check_against_differences(lambda d: ops.segment_sum(d * d, ids, 4) ** 2, [data])
    check_against_differences(lambda d: ops.segment_max(d * d, ids, 4) ** 2, [data])
    x = _distinct(3, 5)
    check_second_order(lambda x: ops.quantile(x * x, [0.3, 0.5], axis=1) ** 2,
                       lambda x: torch.quantile(x * x, torch.tensor([0.3, 0.5], dtype=torch.float64), dim=1) ** 2,
                       [x])
    check_second_order(lambda x: ops.median(x, axis=0) ** 3, lambda x: torch.quantile(x, 0.5, dim=0) ** 3, [x])
    x_nan = x.copy()
    x_nan[1, 2] = np.nan
    check_against_differences(lambda x: ops.nanmean(x, axis=1) ** 3, [x_nan])
    v = RNG.normal(size=(4,))
    check_second_order(lambda v: ops.vander(v, 4) * v[:, None], lambda v: torch.stack([v ** 3, v ** 2, v, v ** 0], 1) * v[:, None], [v])


def test_unfold_fold_depth_to_space_psnr_and_image_resampling():
    x = RNG.normal(size=(2, 2, 5, 4))
    check_second_order(lambda x: ops.unfold(x, (2, 3), padding=1, stride=(2, 1)) ** 3,
                       lambda x: F.unfold(x, (2, 3), padding=1, stride=(2, 1)) ** 3, [x])
    cols = RNG.normal(size=(2, 2 * 6, 12))
    check_second_order(lambda c: ops.fold(c, (5, 4), (2, 3), padding=1, stride=(2, 1)) ** 3,
                       lambda c: F.fold(c, (5, 4), (2, 3), padding=1, stride=(2, 1)) ** 3, [cols])
    check_second_order(lambda x: ops.depth_to_space(x, 2, data_format="channels_first") ** 3,
                       lambda x: F.pixel_shuffle(x, 2) ** 3, [RNG.normal(size=(1, 8, 2, 3))])
    a, b = RNG.uniform(size=(2, 4, 4, 1)), RNG.uniform(size=(2, 4, 4, 1))
    for wrt in (0, 1):
        check_second_order(lambda a, b: ops.psnr(a, b, 1.0), lambda a, b: 20 * np.log10(1.0) - 10 * torch.log10(
            ((a - b) ** 2).mean()), [a, b], wrt)
    images = RNG.normal(size=(1, 5, 6, 2))
    check_against_differences(lambda x: ops.image.resize(x * x, (3, 4)) ** 2, [images])
    check_against_differences(lambda x: ops.image.gaussian_blur(x, (3, 3), (1.0, 1.0)) ** 3, [images])
    coords = RNG.uniform(0, 4, size=(2, 3, 3))
    check_against_differences(lambda x: ops.image.map_coordinates(x * x, coords, 1) ** 2, [RNG.normal(size=(5, 5))])
    check_against_differences(lambda x: ops.image.affine_transform(x, np.array([1.1, 0.2, 0.3, -0.1, 0.9, 0.4, 0, 0]))
                              ** 3, [images])


def test_decompositions():
    a_sym = RNG.normal(size=(2, 3, 3))
    wide, tall = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 3))

    def eigh_ours(a):
        w, v = ops.eigh((a + a.swapaxes(-1, -2)) / 2)
        return w.expand_dims(-2) * v * v  # v * v: each eigenvector's sign drops out

    def eigh_theirs(a):
        w, v = torch.linalg.eigh((a + a.mT) / 2)
        return w[..., None, :] * v * v

    check_second_order(eigh_ours, eigh_theirs, [a_sym])
    for a in (wide, tall):
        def svd_ours(a):
            u, s, vt = ops.svd(a, full_matrices=False)
            return ops.concatenate([ops.reshape(u * u * s, (-1,)), ops.reshape(vt * vt * s[:, None], (-1,))])

        def svd_theirs(a):
            u, s, vt = torch.linalg.svd(a, full_matrices=False)
            return torch.cat([(u * u * s).reshape(-1), (vt * vt * s[:, None]).reshape(-1)])

        check_second_order(svd_ours, svd_theirs, [a])
        check_second_order(lambda a: ops.svd(a, compute_uv=False) ** 3, lambda a: torch.linalg.svdvals(a) ** 3, [a])
        check_second_order(lambda a: ops.pinv(a) ** 3, lambda a: torch.linalg.pinv(a) ** 3, [a])
    check_second_order(lambda a: ops.concatenate([ops.reshape(t * t, (-1,)) for t in ops.qr(a)]) ** 2,
                       lambda a: torch.cat([(t * t).reshape(-1) for t in torch.linalg.qr(a)]) ** 2, [tall])


def test_fake_quantization_routes_the_gradient_by_constant_masks():
    x = dg.Variable(RNG.uniform(-1.5, 1.5, size=(4, 3)), dtype=np.float64)
    lo, hi = dg.Variable(np.array(-1.0)), dg.Variable(np.array(1.0))
    c = dg.Variable(RNG.normal(size=(4, 3)), dtype=np.float64)  # upstream weights, differentiated again
    out = dg.quantizers.fake_quant_with_min_max_vars(x, lo, hi)
    gx, glo, ghi = grad((out * c).sum(), [x, lo, hi], create_graph=True)
    inside, below, above = np.abs(x.data) <= 1.0, x.data <= -1.0, x.data >= 1.0
    np.testing.assert_allclose(gx.data, c.data * inside, rtol=1e-12)
    assert float(glo.data) == pytest.approx(float((c.data * below).sum()), rel=1e-12)
    # second order: each gradient is its mask applied to the upstream weights
    v = RNG.normal(size=(4, 3))
    np.testing.assert_allclose(grad((gx * v).sum(), c, retain_graph=True), v * inside, rtol=1e-12)
    np.testing.assert_allclose(grad(glo + 2 * ghi, c), below + 2.0 * above, rtol=1e-12)
    assert below.any() and above.any() and inside.any()


def test_int8_products_differentiate_again_through_the_dequantized_kernel():
    from deepgrad.ops.quantized import quantized_einsum, quantized_linear

    kernel, scale = RNG.integers(-127, 128, (4, 2)).astype(np.int8), RNG.uniform(50, 200, 2)
    x, c = dg.Variable(RNG.normal(size=(3, 4)), dtype=np.float64), dg.Variable(RNG.normal(size=(3, 2)), dtype=np.float64)
    gx = grad((quantized_linear(x, kernel, scale) * c).sum(), x, create_graph=True)
    w = kernel / scale
    np.testing.assert_allclose(gx.data, c.data @ w.T, rtol=1e-12)
    v = RNG.normal(size=(3, 4))
    np.testing.assert_allclose(grad((gx * v).sum(), c), v @ w, rtol=1e-12)

    kernel3, scale3 = RNG.integers(-127, 128, (4, 2, 3)).astype(np.int8), RNG.uniform(50, 200, (1, 1, 2, 3))
    x3, c3 = dg.Variable(RNG.normal(size=(2, 3, 4)), dtype=np.float64), dg.Variable(RNG.normal(size=(2, 3, 2, 3)),
                                                                                   dtype=np.float64)
    gx3 = grad((quantized_einsum(x3, kernel3, scale3, ("abc", "cde", "abde")) * c3).sum(), x3, create_graph=True)
    w3 = kernel3 / scale3[0]
    np.testing.assert_allclose(gx3.data, np.einsum("abde,cde->abc", c3.data, w3), rtol=1e-12)
    v3 = RNG.normal(size=(2, 3, 4))
    np.testing.assert_allclose(grad((gx3 * v3).sum(), c3), np.einsum("abc,cde->abde", v3, w3), rtol=1e-12)


# ------------------------------------------------------------------ which ops stop at first order
# every other op of the package differentiates its gradient again; these give the right first
# derivative and refuse a second one with an error that names them (FirstOrderOnly)
FIRST_ORDER_ONLY = {
    "I0": "its derivative I1 is no op here",
    "CTCLoss": "its backward is the NumPy forward-backward recursion",
    "_CustomGradient": "the user's grad_fn reads values the forward captured without a graph, so a "
                       "second derivative through it would miss their dependence: refused, never wrong",
    "QuantizedConv": "int8 inference; the dequantized convolution's adjoint is not written as an op",
    "TorchForward": "PyTorch computes the wrapped module's backward",
}


def _functions_of_the_package():
    import importlib
    import pkgutil

    import deepgrad.ops
    from deepgrad.autograd import FloatMath, Function

    for info in pkgutil.walk_packages(deepgrad.ops.__path__, "deepgrad.ops."):
        importlib.import_module(info.name)
    importlib.import_module("deepgrad.quantizers")
    found, stack = set(), list(Function.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("deepgrad.") and not getattr(cls, "refuses_backward", False) \
                and not ((cls.__name__.startswith("_") or cls is FloatMath) and cls.__subclasses__()):
            found.add(cls)
    return found


def test_every_op_differentiates_twice_or_is_listed():
    functions = _functions_of_the_package()
    without = sorted(c.__name__ for c in functions if not hasattr(c, "graph_backward"))
    assert without == sorted(FIRST_ORDER_ONLY), f"ops without graph_backward: {without}"
    assert len(functions) > 150


def test_a_first_order_only_op_refuses_a_second_derivative_by_name():
    x = dg.Variable(RNG.uniform(0.5, 2, size=(3,)), dtype=np.float64)
    g = grad(ops.i0(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, torch.special.i1(torch.tensor(x.data)).numpy(), rtol=1e-10)
    with pytest.raises(RuntimeError, match="I0 has no second derivative"):
        grad((g * g).sum(), x)
