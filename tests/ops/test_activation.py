"""Activations, softmax, the fused cross-entropy and dropout against PyTorch and their formulas."""
import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from oracle import check_gradients, compare_with_torch

import deepgrad as dg

DTYPES = [np.float64, np.float32]
shapes = hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)
seeds = st.integers(0, 2**16)


def normal(seed, shape, dtype=np.float64, scale=2.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


def away_from_zero(seed, shape, dtype=np.float64):
    """|x| in [0.1, 3] with random sign: relu-like kinks at 0 are never hit."""
    rng = np.random.default_rng(seed)
    return (rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 3.0, shape)).astype(dtype)


# name: (deepgrad op, PyTorch op, input data)
ELEMENTWISE = {
    "sigmoid": (dg.sigmoid, torch.sigmoid, normal),
    "tanh": (dg.tanh, torch.tanh, normal),
    "relu": (dg.relu, torch.relu, away_from_zero),
    "leaky_relu": (lambda t: dg.leaky_relu(t, 0.1), lambda t: F.leaky_relu(t, 0.1), away_from_zero),
    "leaky_relu_default": (dg.leaky_relu, lambda t: F.leaky_relu(t, 0.2), away_from_zero),  # Keras's 0.2
    "elu": (dg.elu, F.elu, away_from_zero),
    "elu_alpha": (lambda t: dg.elu(t, alpha=0.5), lambda t: F.elu(t, alpha=0.5), away_from_zero),
    "selu": (dg.selu, F.selu, away_from_zero),
    "gelu": (lambda t: dg.gelu(t, approximate=False), F.gelu, normal),
    "gelu_tanh": (lambda t: dg.gelu(t, approximate=True), lambda t: F.gelu(t, approximate="tanh"), normal),
    "softplus": (dg.softplus, F.softplus, normal),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ELEMENTWISE))
@given(shape=shapes, seed=seeds)
def test_activation_matches_torch(name, dtype, shape, seed):
    ours, theirs, make = ELEMENTWISE[name]
    x = make(seed, shape, dtype)
    compare_with_torch(ours, theirs, [x])
    if dtype == np.float64:
        check_gradients(ours, [x])


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "gelu", "gelu_tanh", "elu", "selu"])
def test_activation_is_finite_for_large_inputs(name):
    ours, theirs, _ = ELEMENTWISE[name]
    x = np.array([-1e4, -100.0, -30.0, 30.0, 100.0, 1e4], np.float32)
    compare_with_torch(ours, theirs, [x])


def test_activation_methods():
    x = away_from_zero(0, (3, 4))
    compare_with_torch(lambda t: t.relu(), torch.relu, [x])
    compare_with_torch(lambda t: t.sigmoid(), torch.sigmoid, [x])
    compare_with_torch(lambda t: t.tanh(), torch.tanh, [x])
    compare_with_torch(lambda t: t.softmax(), lambda t: t.softmax(-1), [x])
    compare_with_torch(lambda t: t.log_softmax(0), lambda t: t.log_softmax(0), [x])


@st.composite
def shape_and_axis(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    return shape, draw(st.integers(-len(shape), len(shape) - 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ours,theirs", [(dg.softmax, torch.softmax), (dg.log_softmax, torch.log_softmax)],
                         ids=["softmax", "log_softmax"])
@given(case=shape_and_axis(), seed=seeds)
def test_softmax_matches_torch(ours, theirs, dtype, case, seed):
    shape, axis = case
    x = normal(seed, shape, dtype)
    compare_with_torch(lambda t: ours(t, axis=axis), lambda t: theirs(t, dim=axis), [x])
    if dtype == np.float64:
        check_gradients(lambda t: ours(t, axis=axis), [x])


@pytest.mark.parametrize("ours,theirs", [(dg.softmax, torch.softmax), (dg.log_softmax, torch.log_softmax)],
                         ids=["softmax", "log_softmax"])
def test_softmax_is_finite_for_huge_logits(ours, theirs):
    x = np.array([[1e4, -1e4, 0.0], [5e3, 5e3, -1e4]], np.float32)
    out = compare_with_torch(lambda t: ours(t), lambda t: theirs(t, dim=-1), [x])
    assert np.all(np.isfinite(out.data))


# ------------------------------------------------------------ fused softmax cross-entropy
@st.composite
def logits_case(draw):
    batch = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)))
    classes = draw(st.integers(1, 5))
    return batch, classes


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=logits_case(), seed=seeds)
def test_cross_entropy_with_integer_labels_matches_torch(dtype, case, seed):
    batch, classes = case
    logits = normal(seed, batch + (classes,), dtype)
    labels = np.random.default_rng(seed + 1).integers(0, classes, batch)

    def theirs(z):
        # PyTorch keeps classes on axis 1; ours on the last axis
        return F.cross_entropy(z.movedim(-1, 1), torch.tensor(labels), reduction="none")

    compare_with_torch(lambda z: dg.softmax_cross_entropy(z, labels), theirs, [logits])
    if dtype == np.float64:
        check_gradients(lambda z: dg.softmax_cross_entropy(z, labels), [logits])


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=logits_case(), seed=seeds, one_hot=st.booleans())
def test_cross_entropy_with_distribution_labels_matches_torch(dtype, case, seed, one_hot):
    batch, classes = case
    logits = normal(seed, batch + (classes,), dtype)
    rng = np.random.default_rng(seed + 1)
    if one_hot:
        target = np.eye(classes)[rng.integers(0, classes, batch)].astype(dtype)
    else:
        target = rng.dirichlet(np.ones(classes), batch).astype(dtype)

    def theirs(z, y):
        return F.cross_entropy(z.movedim(-1, 1), y.movedim(-1, 1), reduction="none")

    # gradients with respect to both the logits and the (soft) targets
    compare_with_torch(dg.softmax_cross_entropy, theirs, [logits, target])
    if dtype == np.float64:
        check_gradients(dg.softmax_cross_entropy, [logits, target])


def test_cross_entropy_on_axis_1_matches_torch():
    logits = normal(0, (2, 4, 3))  # (batch, classes, positions), PyTorch's layout
    labels = np.random.default_rng(1).integers(0, 4, (2, 3))
    compare_with_torch(lambda z: dg.softmax_cross_entropy(z, labels, axis=1),
                       lambda z: F.cross_entropy(z, torch.tensor(labels), reduction="none"), [logits])


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_is_finite_for_logits_of_magnitude_1e4(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [3.0, -2.0, 1e4]], dtype)
    labels = np.array([1, 0, 0])
    out = compare_with_torch(lambda z: dg.softmax_cross_entropy(z, labels),
                             lambda z: F.cross_entropy(z, torch.tensor(labels), reduction="none"),
                             [logits], rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(out.data))
    z = dg.Tensor(logits, requires_grad=True)
    dg.softmax_cross_entropy(z, labels).sum().backward()
    assert np.all(np.isfinite(z.grad))
    # loss_i = logsumexp(z_i) - z_i[label_i], written out: the first row's is 2e4
    np.testing.assert_allclose(out.data[0], 2e4, rtol=1e-6)


@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("sparse", [True, False])
def test_cross_entropy_reusing_the_softmax_equals_computing_it(axis, sparse):
    logits = normal(3, (4, 5, 3))
    rng = np.random.default_rng(4)
    classes = logits.shape[axis]
    batch = tuple(n for i, n in enumerate(logits.shape) if i != axis % 3)
    labels = rng.integers(0, classes, batch)
    if not sparse:
        labels = np.moveaxis(rng.dirichlet(np.ones(classes), batch), -1, axis)
    weights = normal(5, batch)  # a non-uniform upstream gradient

    def run(reuse):
        z = dg.Tensor(logits, requires_grad=True)
        probs = dg.softmax(z, axis=axis)
        loss = dg.softmax_cross_entropy(z, labels, axis=axis, softmax_output=probs if reuse else None)
        (loss * weights).sum().backward()
        return loss.data, z.grad

    (fresh, fresh_grad), (reused, reused_grad) = run(False), run(True)
    np.testing.assert_allclose(reused, fresh, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(reused_grad, fresh_grad, rtol=1e-12, atol=1e-12)
    # and both against PyTorch, classes on axis 1 there
    ours = np.moveaxis(logits, axis, 1)
    target = torch.tensor(labels) if sparse else torch.tensor(np.moveaxis(labels, axis, 1))
    z = torch.tensor(ours, requires_grad=True)
    theirs = F.cross_entropy(z, target, reduction="none")
    (theirs * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(reused, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.moveaxis(reused_grad, axis, 1), z.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_cross_entropy_ignores_a_softmax_output_of_other_logits():
    logits, other = normal(6, (3, 4)), normal(7, (3, 4))
    labels = np.array([0, 3, 1])
    z = dg.Tensor(logits, requires_grad=True)
    unrelated = dg.softmax(dg.Tensor(other, requires_grad=True))
    wrong_axis = dg.softmax(z, axis=0)
    expected = dg.softmax_cross_entropy(z, labels).data
    for probs in (unrelated, wrong_axis, dg.Tensor(np.full((3, 4), 0.25))):
        np.testing.assert_array_equal(dg.softmax_cross_entropy(z, labels, softmax_output=probs).data, expected)


def test_cross_entropy_rejects_bad_labels():
    logits = dg.Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\), got values from 0 to 3"):
        dg.softmax_cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"labels of shape \(2, 4\) do not match logits of shape \(2, 3\)"):
        dg.softmax_cross_entropy(logits, np.zeros((2, 4)))


# ------------------------------------------------------------ dropout
@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_mask_keeps_one_minus_rate_and_scales(rate):
    x = dg.Tensor(np.ones((200, 250), np.float32), requires_grad=True)
    out = dg.dropout(x, rate, training=True)
    kept = out.data != 0
    # 50,000 Bernoulli draws: the kept fraction is within 5 standard deviations of 1 - rate
    sd = np.sqrt(rate * (1 - rate) / kept.size)
    assert abs(kept.mean() - (1 - rate)) < 5 * sd
    np.testing.assert_allclose(out.data[kept], 1 / (1 - rate), rtol=1e-6)
    assert out.dtype == np.float32
    # the gradient is the mask itself: 1/(1-rate) where kept, 0 where dropped
    g = np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    out.backward(g)
    np.testing.assert_allclose(x.grad, g * out.data, rtol=1e-6)


def test_dropout_is_the_identity_in_inference_and_at_rate_zero():
    x = dg.Tensor(normal(0, (3, 4)), requires_grad=True)
    for out in (dg.dropout(x, 0.5, training=False), dg.dropout(x, 0.0, training=True)):
        np.testing.assert_array_equal(out.data, x.data)
    (dg.dropout(x, 0.5, training=False) * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((3, 4), 2.0))


def test_dropout_with_a_seed_repeats_and_noise_shape_broadcasts():
    x = np.ones((4, 6))
    a = dg.dropout(x, 0.5, training=True, seed=7).data
    b = dg.dropout(x, 0.5, training=True, seed=7).data
    np.testing.assert_array_equal(a, b)
    c = dg.dropout(x, 0.5, training=True, noise_shape=(None, 1), seed=3).data
    assert np.all((c == 0).all(axis=1) | (c == 2).all(axis=1))  # whole rows kept or dropped


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_rates(rate):
    with pytest.raises(ValueError, match=r"dropout: rate must be in \[0, 1\)"):
        dg.dropout(dg.Tensor(np.ones(3)), rate)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("slope", [0.0, 0.01, 0.2, 0.3, 0.7, 1.0, 1.5, -0.5])
def test_leaky_relu_fast_path_gives_np_where_numbers_exactly(slope, dtype):
    """The max/multiply passes used for slopes in (0, 1] equal the plain ``np.where`` formula
    bit for bit, infinities, NaN and signed zeros included, forward and backward."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 100)).astype(dtype)
    a[0, :5] = [0.0, -0.0, np.inf, -np.inf, np.nan]
    g = rng.standard_normal(a.shape).astype(dtype)
    g[1, 0] = np.inf
    t = dg.Tensor(a, requires_grad=True)
    with np.errstate(invalid="ignore"):
        out = dg.leaky_relu(t, slope)
        out.backward(g)
        s = np.asarray(slope, dtype)
        expected, expected_grad = np.where(a > 0, a, a * s), np.where(a > 0, g, g * s)
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(np.signbit(out.data), np.signbit(expected))
    np.testing.assert_array_equal(t.grad, expected_grad)


# ------------------------------------------- pooled leaky_relu and dropout (the same numbers)
@pytest.mark.parametrize("slope", [0.2, 0.3, 1.0])
def test_leaky_relu_on_pooled_arrays_gives_the_formulas_numbers(slope):
    # (64, 28, 28, 64) float32 is 12.8 MB: its mask, output and gradient come from the workspace pool
    rng = np.random.default_rng(0)
    a0 = rng.standard_normal((64, 28, 28, 64)).astype(np.float32)
    a0[0, 0, 0, :3] = (0.0, -0.0, np.inf)
    g0 = rng.standard_normal(a0.shape).astype(np.float32)
    s = np.float32(slope)
    for _ in range(2):  # the second step runs on arrays handed back to the pool by the first
        a = dg.Tensor(a0, requires_grad=True)
        out = dg.leaky_relu(a, slope)
        out.backward(g0)
        np.testing.assert_array_equal(out.data, np.where(a0 > 0, a0, a0 * s))
        np.testing.assert_array_equal(a.grad, np.where(a0 > 0, g0, g0 * s))


def test_dropout_on_pooled_arrays_keeps_each_steps_own_mask():
    # two dropouts alive at once (their masks held for backward) must not share a pooled array
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal((128, 6272)).astype(np.float32)  # 3.2 MB: pooled
    g0 = rng.standard_normal(x0.shape).astype(np.float32)
    scale = np.float32(1 / (1 - 0.2))
    xs = [dg.Tensor(x0, requires_grad=True) for _ in range(2)]
    outs = [dg.dropout(x, 0.2, training=True, seed=s) for x, s in zip(xs, (3, 4))]
    for x, out, s in zip(xs, outs, (3, 4)):
        mask = (np.random.default_rng(s).random(x0.shape, dtype=np.float32) >= 0.2) * scale
        np.testing.assert_array_equal(out.data, x0 * mask)
        out.backward(g0)
        np.testing.assert_array_equal(x.grad, g0 * mask)
    assert not np.array_equal(outs[0].data, outs[1].data)
