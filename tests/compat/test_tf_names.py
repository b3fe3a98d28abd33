"""The ``tf.*`` names of ``deepgrad.compat.tensorflow`` give the results TensorFlow's documentation
gives (its examples, or the formula, computed here with NumPy), with TF's dtypes and defaults."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad.compat import tensorflow as tf


def arr(t):
    return t.data if isinstance(t, dg.Tensor) else np.asarray(t)


def same(t, expected, dtype=None, **kw):
    np.testing.assert_allclose(arr(t), expected, **kw)
    if dtype is not None:
        assert arr(t).dtype == np.dtype(dtype), arr(t).dtype


# ----------------------------------------------------------------- making tensors, dtypes
def test_constant_follows_tfs_dtype_rules():
    same(tf.constant([1, 2]), [1, 2], np.int32)
    same(tf.constant(1.5), 1.5, np.float32)
    same(tf.constant(np.array([1.0, 2.0])), [1, 2], np.float64)      # a NumPy array keeps its dtype
    same(tf.constant([1, 2], dtype=tf.float32), [1, 2], np.float32)
    same(tf.constant(0, shape=(2, 3)), np.zeros((2, 3)), np.int32)
    same(tf.constant([1, 2, 3, 4], shape=(2, 2)), [[1, 2], [3, 4]])
    same(tf.convert_to_tensor([1.0, 2.0]), [1, 2], np.float32)
    same(tf.zeros([2, 3]), np.zeros((2, 3)), np.float32)
    same(tf.ones((2,), dtype=tf.int32), [1, 1], np.int32)
    same(tf.zeros_like(tf.constant([[1, 2]])), [[0, 0]], np.int32)
    same(tf.ones_like(np.zeros(3, "float64")), [1, 1, 1], np.float64)
    same(tf.fill([2, 3], 9), np.full((2, 3), 9), np.int32)
    same(tf.range(5), [0, 1, 2, 3, 4], np.int32)
    same(tf.range(3, 18, 3), [3, 6, 9, 12, 15])
    same(tf.range(3, 1, -0.5), [3, 2.5, 2, 1.5], np.float32)
    v = tf.Variable([1.0, 2.0])
    assert v.requires_grad and arr(v).dtype == np.float32
    assert tf.newaxis is None and tf.bool is np.bool_ and tf.float32 is np.float32 and tf.string is np.str_
    assert tf.is_tensor(tf.constant(1)) and not tf.is_tensor(np.ones(1))


def test_function_is_a_decorator_with_or_without_arguments():
    @tf.function
    def f(x):
        return x + 1

    @tf.function(input_signature=[tf.TensorSpec((None,), tf.float32)], jit_compile=True)
    def g(x):
        return x * 2
    assert f(1) == 2 and g(3) == 6


# ----------------------------------------------------------------- shapes and arrangement
def test_shapes_casts_and_arrangement_as_documented():
    x = tf.constant([[1, 2, 3], [4, 5, 6]])
    assert tf.shape(x) == (2, 3) and int(tf.size(x)) == 6 and int(tf.rank(x)) == 2
    same(tf.cast(tf.constant([1.8, 2.2]), tf.int32), [1, 2], np.int32)
    same(tf.reshape(x, [3, -1]), [[1, 2], [3, 4], [5, 6]])
    same(tf.transpose(x), [[1, 4], [2, 5], [3, 6]])
    same(tf.transpose(np.zeros((2, 3, 4)), perm=[1, 0, 2]), np.zeros((3, 2, 4)))
    assert tf.expand_dims(x, 0).shape == (1, 2, 3) and tf.expand_dims(x, -1).shape == (2, 3, 1)
    assert tf.squeeze(np.zeros((1, 2, 1, 3, 1, 1))).shape == (2, 3)
    assert tf.squeeze(np.zeros((1, 2, 1, 3, 1, 1)), [2, 4]).shape == (1, 2, 3, 1)
    same(tf.tile(x, [1, 2]), [[1, 2, 3, 1, 2, 3], [4, 5, 6, 4, 5, 6]])
    t1, t2 = [[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]
    same(tf.concat([t1, t2], 0), [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]])
    same(tf.concat([t1, t2], 1), [[1, 2, 3, 7, 8, 9], [4, 5, 6, 10, 11, 12]])
    a, b, c = [1, 4], [2, 5], [3, 6]
    same(tf.stack([a, b, c]), [[1, 4], [2, 5], [3, 6]])
    same(tf.stack([a, b, c], axis=1), [[1, 2, 3], [4, 5, 6]])
    assert [arr(p).tolist() for p in tf.unstack(tf.constant([[1, 2], [3, 4]]))] == [[1, 2], [3, 4]]
    value = np.zeros((5, 30))
    assert [p.shape for p in tf.split(value, [4, 15, 11], 1)] == [(5, 4), (5, 15), (5, 11)]
    assert [p.shape for p in tf.split(value, 3, 1)] == [(5, 10)] * 3
    assert [p.shape for p in tf.split(value, [4, -1], 1)] == [(5, 4), (5, 26)]
    with pytest.raises(ValueError, match="do not add up"):
        tf.split(value, [4, 5], 1)
    same(tf.pad([[1, 2, 3], [4, 5, 6]], [[1, 1], [2, 2]]),
         [[0, 0, 0, 0, 0, 0, 0], [0, 0, 1, 2, 3, 0, 0], [0, 0, 4, 5, 6, 0, 0], [0, 0, 0, 0, 0, 0, 0]])
    same(tf.reverse(x, [1]), [[3, 2, 1], [6, 5, 4]])
    same(tf.roll([0, 1, 2, 3, 4], shift=2, axis=0), [3, 4, 0, 1, 2])
    same(tf.sort([1, 10, 26.9, 2.8, 166.32, 62.3]), [1, 2.8, 10, 26.9, 62.3, 166.32], rtol=1e-6)
    same(tf.argsort([1, 10, 26.9, 2.8, 166.32, 62.3], direction="DESCENDING"), [4, 5, 2, 1, 3, 0], np.int32)


def test_indexing_ops_as_documented():
    params = tf.constant([[0, 1.0, 2.0], [10.0, 11.0, 12.0], [20.0, 21.0, 22.0], [30.0, 31.0, 32.0]])
    same(tf.gather(params, indices=[3, 1]), [[30, 31, 32], [10, 11, 12]])
    same(tf.gather(params, indices=[2, 1], axis=1), [[2, 1], [12, 11], [22, 21], [32, 31]])
    same(tf.gather_nd(indices=[[0, 0], [1, 1]], params=[[1, 2], [3, 4]]), [1, 4])
    same(tf.gather_nd(indices=[[1], [0]], params=[[1, 2], [3, 4]]), [[3, 4], [1, 2]])
    same(tf.boolean_mask([0, 1, 2, 3], np.array([True, False, True, False])), [0, 2])
    same(tf.boolean_mask([[1, 2], [3, 4], [5, 6]], np.array([True, False, True])), [[1, 2], [5, 6]])
    same(tf.where([True, False, False, True], [1, 2, 3, 4], [100]), [1, 100, 100, 4])
    same(tf.where([[True, False], [False, True]]), [[0, 0], [1, 1]], np.int64)
    same(tf.one_hot([0, 1, 2], 3), np.eye(3), np.float32)
    same(tf.one_hot([0, 2, -1, 1], 3, on_value=5.0, off_value=0.0, axis=-1),
         [[5, 0, 0], [0, 0, 5], [0, 0, 0], [0, 5, 0]])
    same(tf.one_hot([[0, 2], [1, -1]], 3, on_value=1.0, off_value=0.0, axis=-1),
         [[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [0, 0, 0]]])
    same(tf.one_hot([1, 0], 2, dtype=tf.int32), [[0, 1], [1, 0]], np.int32)


# ----------------------------------------------------------------- reductions and comparisons
def test_reductions_and_argmax_as_documented():
    x = tf.constant([[1, 1, 1], [1, 1, 1]])
    same(tf.reduce_sum(x), 6)
    same(tf.reduce_sum(x, 0), [2, 2, 2])
    same(tf.reduce_sum(x, 1, keepdims=True), [[3], [3]])
    same(tf.reduce_sum(x, [0, 1]), 6)
    y = tf.constant([[1.0, 1.0], [2.0, 2.0]])
    same(tf.reduce_mean(y), 1.5)
    same(tf.reduce_mean(y, 0), [1.5, 1.5])
    same(tf.reduce_mean(y, axis=1, name="m"), [1, 2])
    same(tf.reduce_max([[-5, 3], [7, 1]], axis=1), [3, 7])
    same(tf.reduce_min([[-5, 3], [7, 1]]), -5)
    same(tf.reduce_prod([[1.0, 2.0], [3.0, 4.0]], axis=0), [3, 8])
    b = np.array([[True, True], [False, False]])
    same(tf.reduce_any(b, 1), [True, False])
    same(tf.reduce_all(b, 0), [False, False])
    same(tf.math.reduce_logsumexp([[0.0, 0.0, 0.0]], axis=1), [np.log(3)], rtol=1e-6)
    same(tf.math.reduce_std([[1.0, 2.0], [3.0, 4.0]]), 1.1180340, rtol=1e-6)
    same(tf.math.reduce_variance([[1.0, 2.0], [3.0, 4.0]], 0), [1, 1])
    same(tf.argmax([[1, 9], [5, 3]]), [1, 0], np.int64)                     # axis 0 by default
    same(tf.argmax([2, 20, 30, 3, 6]), 2, np.int64)
    same(tf.argmin([[1, 9], [5, 3]], axis=1, output_type=tf.int32), [0, 1], np.int32)
    same(tf.equal([2, 4], 2), [True, False])
    same(tf.not_equal([2, 4], [2, 4]), [False, False])
    same(tf.math.count_nonzero([[0, 1], [2, 0]]), 2, np.int64)
    same(tf.math.cumsum([2, 4, 6, 8]), [2, 6, 12, 20])
    same(tf.math.cumsum([2, 4, 6, 8], exclusive=True), [0, 2, 6, 12])
    same(tf.math.cumsum([2, 4, 6, 8], reverse=True), [20, 18, 14, 8])
    same(tf.math.cumsum([2, 4, 6, 8], exclusive=True, reverse=True), [18, 14, 8, 0])
    result = tf.math.top_k([1.0, 5.0, 3.0, 4.0], k=2)
    same(result.values, [5, 4])
    same(result.indices, [1, 3])
    values, indices = result
    same(values, [5, 4])


def test_math_namespace_elementwise_as_documented():
    same(tf.math.floormod([5, -5], 3), [2, 1])
    same(tf.math.floordiv([7, -7], 2), [3, -4])
    same(tf.math.squared_difference([1.0, 4.0], [3.0, 1.0]), [4, 9])
    same(tf.math.pow([2.0, 3.0], 2.0), [4, 9])
    same(tf.math.log1p([0.0, np.e - 1]), [0, 1], rtol=1e-6)
    same(tf.math.rsqrt([4.0, 16.0]), [0.5, 0.25])
    same(tf.math.reciprocal([2.0, 4.0]), [0.5, 0.25])
    same(tf.math.is_nan([np.nan, 1.0]), [True, False])
    same(tf.math.l2_normalize([3.0, 4.0]), [0.6, 0.8], rtol=1e-6)
    same(tf.math.l2_normalize([[3.0, 4.0], [0.0, 0.0]], axis=1), [[0.6, 0.8], [0, 0]], rtol=1e-6)
    same(tf.clip_by_value([[-1.0, 2.0], [3.0, 10.0]], 0, 5), [[0, 2], [3, 5]])
    t = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]], "float32")
    same(tf.clip_by_norm(t, 2.0), t * 2 / np.sqrt(55), rtol=1e-6)
    same(tf.clip_by_norm(t, 100.0), t, rtol=1e-6)
    clipped, norm = tf.clip_by_global_norm([t, None, np.array([2.0], "float32")], 3.0)
    g = np.sqrt(55 + 4)
    same(norm, g, rtol=1e-6)
    assert clipped[1] is None
    same(clipped[0], t * 3 / g, rtol=1e-6)
    same(clipped[2], [2 * 3 / g], rtol=1e-6)


# ----------------------------------------------------------------- tf.nn
def test_nn_losses_and_activations_as_documented():
    logits = np.array([[4.0, 2.0, 1.0], [0.0, 5.0, 1.0]], "float32")
    labels = np.array([[1.0, 0.0, 0.0], [0.0, 0.8, 0.2]], "float32")
    same(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits), [0.16984604, 0.82474494], rtol=1e-5)
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    same(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=np.array([0, 1]), logits=logits),
         [-log_softmax[0, 0], -log_softmax[1, 1]], rtol=1e-5)
    z = np.array([1.0, -1.0, 0.0, 1.0, -1.0, 0.0, 0.0], "float32")
    y = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.5], "float32")
    same(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z),
         [1.3132616, 0.3132617, 0.6931472, 0.3132617, 1.3132616, 0.6931472, 0.6931472], rtol=1e-5)
    same(tf.nn.softmax([[1.0, 2.0, 3.0]]), np.exp([[1, 2, 3]]) / np.exp([1, 2, 3]).sum(), rtol=1e-6)
    same(tf.nn.log_softmax([[1.0, 1.0]]), [[np.log(0.5)] * 2], rtol=1e-6)
    same(tf.nn.relu([-1.0, 2.0]), [0, 2])
    same(tf.nn.leaky_relu([-10.0, 2.0]), [-2, 2])                      # alpha 0.2
    same(tf.nn.leaky_relu([-10.0, 2.0], alpha=0.1), [-1, 2])
    same(tf.nn.relu6([-1.0, 3.0, 8.0]), [0, 3, 6])
    same(tf.nn.sigmoid([0.0]), [0.5])
    same(tf.nn.l2_loss([1.0, 2.0, 3.0]), 7.0)
    mean, variance = tf.nn.moments(tf.constant([[1.0, 2.0], [3.0, 6.0]]), axes=[0])
    same(mean, [2, 4])
    same(variance, [1, 4])
    same(tf.nn.bias_add([[1.0, 2.0]], [10.0, 20.0]), [[11, 22]])
    same(tf.nn.embedding_lookup(np.arange(6.0).reshape(3, 2), [2, 0]), [[4, 5], [0, 1]])


def test_nn_conv2d_and_pooling_against_numpy_sums():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 5, 3)).astype("float32")
    w = rng.normal(size=(3, 3, 3, 4)).astype("float32")
    out = tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="VALID")
    expected = np.zeros((2, 3, 3, 4), "float32")
    for i in range(3):          # out[b, i, j, o] = sum_{di, dj, c} x[b, i+di, j+dj, c] w[di, dj, c, o]
        for j in range(3):
            expected[:, i, j] = np.einsum("bhwc,hwco->bo", x[:, i:i + 3, j:j + 3], w)
    same(out, expected, rtol=1e-4, atol=1e-5)
    assert tf.nn.conv2d(x, w, strides=2, padding="SAME").shape == (2, 3, 3, 4)
    # SAME, stride 2, 5 -> 3: one row of padding on each side, so output (1, 1) reads rows and columns 1..3
    same(tf.nn.conv2d(x, w, 2, "SAME")[:, 1:2, 1:2], tf.nn.conv2d(x[:, 1:4, 1:4], w, 1, "VALID"),
         rtol=1e-4, atol=1e-5)
    x4 = rng.normal(size=(1, 4, 4, 2)).astype("float32")
    same(tf.nn.max_pool2d(x4, ksize=2, strides=2, padding="VALID"),
         x4.reshape(1, 2, 2, 2, 2, 2).max(axis=(2, 4)), rtol=1e-6)
    same(tf.nn.avg_pool2d(x4, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID"),
         x4.reshape(1, 2, 2, 2, 2, 2).mean(axis=(2, 4)), rtol=1e-6)
    with pytest.raises(ValueError, match="'SAME' or 'VALID'"):
        tf.nn.conv2d(x, w, 1, "full")
    with pytest.raises(ValueError, match="NHWC"):
        tf.nn.conv2d(x, w, 1, "SAME", data_format="NCHW")


# ----------------------------------------------------------------- tf.linalg
def test_linalg_as_documented():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(2, 4, 3))
    s, u, v = tf.linalg.svd(a)
    same(tf.matmul(u, tf.matmul(tf.linalg.diag(s), v, transpose_b=True)), a, rtol=1e-6, atol=1e-9)
    assert s.shape == (2, 3) and u.shape == (2, 4, 3) and v.shape == (2, 3, 3)
    same(tf.linalg.diag([[1.0, 2.0]]), [[[1, 0], [0, 2]]])
    same(tf.linalg.diag_part(np.arange(8.0).reshape(2, 2, 2)), [[0, 3], [4, 7]])
    same(tf.linalg.trace(np.arange(8.0).reshape(2, 2, 2)), [3, 11])
    m = np.array([[2.0, 1.0], [1.0, 3.0]])
    same(tf.linalg.det(m), 5.0)
    same(tf.linalg.inv(m), np.linalg.inv(m))
    same(tf.linalg.solve(m, [[1.0], [2.0]]), np.linalg.solve(m, [[1.0], [2.0]]))
    same(tf.linalg.matvec(m, [1.0, 1.0]), [3, 4])
    same(tf.linalg.matrix_transpose(a), a.swapaxes(-1, -2))
    same(tf.linalg.cholesky(m), np.linalg.cholesky(m))
    same(tf.linalg.eye(2, batch_shape=[3]), np.broadcast_to(np.eye(2), (3, 2, 2)))
    same(tf.norm([3.0, 4.0]), 5.0)
    same(tf.norm([[3.0, 4.0], [0.0, 0.0]], axis=1), [5, 0])
    same(tf.matmul([[1.0, 2.0]], [[3.0, 4.0]], transpose_b=True), [[11]])
    same(tf.einsum("ij,jk->ik", [[1.0, 2.0]], [[3.0], [4.0]]), [[11]])


# ----------------------------------------------------------------- tf.random
def test_random_shapes_dtypes_seeds_and_moments():
    n = tf.random.normal([20000], mean=2.0, stddev=3.0, seed=1)
    assert arr(n).dtype == np.float32 and abs(arr(n).mean() - 2) < 0.1 and abs(arr(n).std() - 3) < 0.1
    same(tf.random.normal([3], seed=5), arr(tf.random.normal([3], seed=5)))
    u = arr(tf.random.uniform([10000], minval=-1, maxval=3, seed=2))
    assert u.min() >= -1 and u.max() < 3 and abs(u.mean() - 1) < 0.05
    k = arr(tf.random.uniform([1000], maxval=5, dtype=tf.int32, seed=3))
    assert k.dtype == np.int32 and set(k.tolist()) == {0, 1, 2, 3, 4}
    with pytest.raises(ValueError, match="maxval"):
        tf.random.uniform([2], dtype=tf.int64)
    t = arr(tf.random.truncated_normal([20000], stddev=2.0, seed=4))
    assert np.abs(t).max() <= 4.0 and 0.7 < t.std() / 2 < 0.95       # truncated at two stddev: std 0.88
    shuffled = arr(tf.random.shuffle(np.arange(10) * 10, seed=6))
    assert sorted(shuffled.tolist()) == list(range(0, 100, 10))
    draws = arr(tf.random.categorical([[0.0, 0.0, -np.inf], [-np.inf, -np.inf, 0.0]], 1000, seed=7))
    assert draws.shape == (2, 1000) and draws.dtype == np.int64 and set(draws[1].tolist()) == {2}
    assert abs((draws[0] == 0).mean() - 0.5) < 0.06 and 2 not in draws[0]
    tf.random.set_seed(11)
    first = arr(tf.random.normal([4]))
    tf.random.set_seed(11)
    same(tf.random.normal([4]), first)


# ----------------------------------------------------------------- a hand-written loop
def test_gradient_tape_through_tf_ops():
    w = tf.Variable(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    with tf.GradientTape() as tape:
        picked = tf.gather(w, [0, 2, 2])                            # row 2 twice
        loss = tf.reduce_sum(picked * tf.constant([[1.0, 1.0]]))
    grad = tape.gradient(loss, w)
    same(grad, [[1, 1], [0, 0], [2, 2]])
    with tf.GradientTape() as tape:
        logits = tf.matmul(tf.constant([[1.0, 0.0, 0.0]]), w)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[1], logits=logits))
    p = np.exp([1.0, 2.0]) / np.exp([1.0, 2.0]).sum()
    same(tape.gradient(loss, w), [[p[0], p[1] - 1], [0, 0], [0, 0]], rtol=1e-5)
    with pytest.raises(AttributeError, match="only the TensorFlow names"):
        tf.no_such_name
    assert tf.keras is dg and tf.optimizers is dg.optimizers and tf.losses is dg.losses
    assert tf.config.list_physical_devices("GPU") == []
