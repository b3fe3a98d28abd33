"""The workspace pool: an array is handed out again only when nothing else refers to it,
and training with the pool gives the same numbers, bit for bit, as without it."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad.ops import workspace
from deepgrad.ops.convolution import conv, conv_transpose
from deepgrad.ops.im2col import conv2d


@pytest.fixture
def pool_everything(monkeypatch):
    """Pool arrays of any size, starting empty."""
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)
    workspace.clear()
    yield
    workspace.clear()


def test_reused_only_when_released(pool_everything):
    a = workspace.empty((4, 5), np.float32)
    b = workspace.empty((4, 5), np.float32)
    assert a is not b  # a is still referred to
    view = a.reshape(-1)[2:]
    address = a.__array_interface__["data"][0]
    del a
    c = workspace.empty((4, 5), np.float32)
    assert c.__array_interface__["data"][0] != address  # a view keeps it in use
    del view
    d = workspace.empty((4, 5), np.float32)
    assert d.__array_interface__["data"][0] == address
    assert workspace.empty((4, 5), np.float64).dtype == np.float64  # another key
    z = workspace.zeros((4, 5), np.float32)
    assert not z.any()
    del b, c, d


def test_small_arrays_bypass_the_pool():
    workspace.clear()
    workspace.empty((10,), np.float32)
    assert workspace.held_bytes() == 0


def test_the_pool_stays_under_its_limit(pool_everything, monkeypatch):
    monkeypatch.setattr(workspace, "LIMIT", 10_000)
    kept = [workspace.empty((1000,), np.float32) for _ in range(3)]  # 4,000 bytes each
    assert workspace.held_bytes() == 8_000  # the third is not pooled
    del kept
    for n in range(1001, 1010):  # other shapes evict the free ones, least recently used first
        workspace.empty((n,), np.float32)
        assert workspace.held_bytes() <= 10_000


def _conv_step(x, k):
    xt, kt = dg.Tensor(x, requires_grad=True), dg.Tensor(k, requires_grad=True)
    out = conv2d(xt, kt, padding="same") * 1.5
    return xt, kt, out


def test_retained_graph_keeps_its_saved_buffers(pool_everything):
    rng = np.random.default_rng(0)
    x, k = rng.standard_normal((2, 7, 7, 3)), rng.standard_normal((3, 3, 3, 4))
    g = rng.standard_normal((2, 7, 7, 4))
    xt, kt, out = _conv_step(x, k)
    out.backward(g, retain_graph=True)
    first = xt.grad.copy(), kt.grad.copy()
    # other convolutions of the same shapes run in between and ask the pool for arrays
    for _ in range(2):
        _, _, other = _conv_step(rng.standard_normal(x.shape), rng.standard_normal(k.shape))
        other.backward(np.ones(other.shape))
    xt.grad, kt.grad = None, None
    out.backward(g)
    np.testing.assert_array_equal(xt.grad, first[0])
    np.testing.assert_array_equal(kt.grad, first[1])


def _train(steps):
    dg.utils.set_random_seed(3)
    model = dg.Sequential([
        dg.layers.Input((10, 10, 2)), dg.layers.Conv2D(6, 3, padding="same", activation="relu"),
        dg.layers.BatchNormalization(), dg.layers.Conv2DTranspose(4, 3, strides=2, padding="same"),
        dg.layers.DepthwiseConv2D(3), dg.layers.Conv2D(1, 5, padding="same"), dg.layers.Flatten(),
        dg.layers.Dense(1),
    ])
    model.compile(optimizer=dg.optimizers.Adam(1e-2), loss="mse")
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((4, 10, 10, 2)).astype(np.float32), rng.standard_normal((4, 1)).astype(np.float32)
    losses = [model.train_on_batch(x, y) for _ in range(steps)]
    return losses, [w.copy() for w in model.get_weights()], model.predict(x, verbose=0)


def test_training_is_bit_identical_with_and_without_the_pool(monkeypatch):
    monkeypatch.setattr(workspace, "MIN_BYTES", 1 << 40)  # nothing pooled
    workspace.clear()
    plain = _train(4)
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)  # everything pooled
    pooled = _train(4)
    held = workspace.held_bytes()
    workspace.clear()
    assert held > 0
    np.testing.assert_array_equal(np.array(plain[0], dtype=np.float64), np.array(pooled[0], dtype=np.float64))
    for a, b in zip(plain[1] + [plain[2]], pooled[1] + [pooled[2]]):
        np.testing.assert_array_equal(a, b)


def test_pooled_outputs_are_not_overwritten_while_held(pool_everything):
    rng = np.random.default_rng(2)
    x, k = rng.standard_normal((2, 6, 6, 3)), rng.standard_normal((3, 3, 3, 2))
    first = conv(x, k, padding="same")
    kept = first.data.copy()
    for _ in range(3):  # same shapes: would take first's arrays if they were free
        conv(rng.standard_normal(x.shape), k, padding="same")
        conv_transpose(rng.standard_normal((2, 6, 6, 2)), rng.standard_normal((3, 3, 3, 2)), strides=2)
    assert workspace.held_bytes() > 0
    np.testing.assert_array_equal(first.data, kept)


def test_inference_is_not_pooled(pool_everything):
    with dg.no_grad():
        conv(np.ones((2, 6, 6, 3)), np.ones((3, 3, 3, 2)), padding="same")
        assert workspace.empty((100,), np.float32) is not workspace.empty((100,), np.float32)
    assert workspace.held_bytes() == 0
