"""The extra TensorFlow names of ``deepgrad.compat.tensorflow``: each against the values
TensorFlow's own documentation gives for the same call (or NumPy's formula of TF's rule), and
gradients through the differentiable ones."""
import logging

import numpy as np
import pytest

from deepgrad.compat import tensorflow as tf


def test_repeat_flattens_without_axis_and_repeats_along_one():
    x = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(tf.repeat(x, repeats=[2]).numpy(), np.repeat(x, 2))
    np.testing.assert_array_equal(tf.repeat(x, repeats=[1, 3], axis=0).numpy(), np.repeat(x, [1, 3], axis=0))
    np.testing.assert_array_equal(tf.repeat(x, 2, axis=1).numpy(), np.repeat(x, 2, axis=1))


def test_sequence_mask():
    np.testing.assert_array_equal(tf.sequence_mask([1, 3, 2], 5).numpy(),
                                  [[1, 0, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0]])
    mask = tf.sequence_mask([[1, 3], [2, 0]])
    assert mask.shape == (2, 2, 3) and mask.numpy().dtype == np.bool_
    assert tf.sequence_mask([2], 3, dtype=tf.float32).numpy().tolist() == [[1.0, 1.0, 0.0]]


def test_band_part_masks_and_passes_gradients():
    a = np.arange(16, dtype="float32").reshape(4, 4) - 8
    i, j = np.indices((4, 4))
    np.testing.assert_array_equal(tf.linalg.band_part(a, 1, -1).numpy(), np.where(i - j <= 1, a, 0))
    np.testing.assert_array_equal(tf.linalg.band_part(a, 2, 1).numpy(), np.where((i - j <= 2) & (j - i <= 1), a, 0))
    np.testing.assert_array_equal(tf.linalg.band_part(a, 0, 0).numpy(), np.diag(np.diag(a)))
    x = tf.Variable(a)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.linalg.band_part(x, -1, 0) * 3.0)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), np.tril(np.full((4, 4), 3.0)))


def test_unique_keeps_first_appearance_order():
    y, idx = tf.unique([1, 1, 2, 4, 4, 4, 7, 8, 8])
    assert y.numpy().tolist() == [1, 2, 4, 7, 8] and idx.numpy().tolist() == [0, 0, 1, 2, 2, 2, 3, 4, 4]
    y, idx = tf.unique(np.array([5, 3, 5, 1]))
    assert y.numpy().tolist() == [5, 3, 1] and idx.numpy().tolist() == [0, 1, 0, 2]


def test_slice_scatter_and_meshgrid():
    x = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(tf.slice(x, [1, 0, 1], [1, -1, 2]).numpy(), x[1:2, :, 1:3])
    out = tf.scatter_nd([[4], [3], [1], [7], [4]], [9.0, 10.0, 11.0, 12.0, 1.0], [8])
    assert out.numpy().tolist() == [0, 11, 0, 10, 10, 0, 0, 12]   # duplicates add up
    t = np.ones(5, "float32")
    assert tf.tensor_scatter_nd_update(t, [[1], [3]], [9.0, 7.0]).numpy().tolist() == [1, 9, 1, 7, 1]
    assert tf.tensor_scatter_nd_add(t, [[1], [1]], [2.0, 3.0]).numpy().tolist() == [1, 6, 1, 1, 1]
    gx, gy = tf.meshgrid([1, 2, 3], [4, 5])
    np.testing.assert_array_equal(gx.numpy(), [[1, 2, 3], [1, 2, 3]])
    np.testing.assert_array_equal(gy.numpy(), [[4, 4, 4], [5, 5, 5]])
    assert tf.broadcast_to([1, 2, 3], [2, 3]).numpy().tolist() == [[1, 2, 3], [1, 2, 3]]


def test_searchsorted_per_row():
    out = tf.searchsorted([[0.0, 3, 9, 9, 10], [1, 2, 3, 4, 5]], [[2.0, 4, 10], [0, 5, 6]])
    assert out.numpy().tolist() == [[1, 2, 4], [0, 4, 5]]
    assert tf.searchsorted([1.0, 2, 2, 3], [2.0], side="right").numpy().tolist() == [3]


def test_control_flow_runs_eagerly():
    assert tf.cond(tf.constant(True), lambda: 1, lambda: 2) == 1
    assert tf.cond(3 < 2, lambda: 1, lambda: 2) == 2
    assert tf.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s + i), (0, 0)) == (5, 10)
    assert tf.while_loop(lambda i: i < 100, lambda i: i * 2, [1], maximum_iterations=3) == [8]
    np.testing.assert_array_equal(tf.map_fn(lambda x: x * x, tf.constant([1.0, 2, 3])).numpy(), [1, 4, 9])
    s, d = tf.map_fn(lambda ab: (ab[0] + ab[1], ab[0] - ab[1]), (np.array([1.0, 2]), np.array([3.0, 5])))
    assert s.numpy().tolist() == [4, 7] and d.numpy().tolist() == [-2, -3]
    x = tf.Variable(np.array([1.0, 2.0, 3.0], "float32"))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.vectorized_map(lambda v: v * v, x))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [2, 4, 6])


def test_math_extras():
    x = tf.constant([1.0, 2, 3, 4])
    assert tf.math.cumprod(x).numpy().tolist() == [1, 2, 6, 24]
    assert tf.math.cumprod(x, exclusive=True).numpy().tolist() == [1, 1, 2, 6]
    assert tf.math.cumprod(x, reverse=True).numpy().tolist() == [24, 24, 12, 4]
    assert tf.math.cumprod(x, exclusive=True, reverse=True).numpy().tolist() == [24, 12, 4, 1]
    num, den = tf.Variable(np.array([1.0, 2.0], "float32")), tf.Variable(np.array([0.0, 4.0], "float32"))
    with tf.GradientTape() as tape:
        q = tf.math.divide_no_nan(num, den)
        total = tf.reduce_sum(q)
    assert q.numpy().tolist() == [0.0, 0.5]
    g_num, g_den = tape.gradient(total, [num, den])
    np.testing.assert_allclose(g_num.numpy(), [0.0, 0.25])
    np.testing.assert_allclose(g_den.numpy(), [0.0, -2.0 / 16])
    data = np.array([[1.0, 2, 3, 4], [5, 6, 7, 8], [4, 3, 2, 1]], "float32")
    np.testing.assert_array_equal(tf.math.unsorted_segment_sum(data, [0, 1, 0], 2).numpy(),
                                  [[5, 5, 5, 5], [5, 6, 7, 8]])
    np.testing.assert_array_equal(tf.math.segment_sum(data, [0, 0, 1]).numpy(), [[6, 8, 10, 12], [4, 3, 2, 1]])
    assert tf.math.bincount([1, 1, 3, 0], minlength=5).numpy().tolist() == [1, 2, 0, 1, 0]
    m = tf.math.confusion_matrix([1, 2, 4], [2, 2, 4]).numpy()
    expected = np.zeros((5, 5), int)
    expected[1, 2] = expected[2, 2] = expected[4, 4] = 1
    np.testing.assert_array_equal(m, expected)
    np.testing.assert_allclose(tf.math.reduce_euclidean_norm(np.array([[1.0, 2, 3], [1, 1, 1]]), axis=1).numpy(),
                               [np.sqrt(14), np.sqrt(3)], rtol=1e-6)
    np.testing.assert_allclose(tf.math.log_sigmoid(np.array([0.0, 100.0], "float32")).numpy(), [-np.log(2), 0.0],
                               atol=1e-6)
    np.testing.assert_allclose(tf.math.atan2(np.array([1.0]), np.array([-1.0])).numpy(), [3 * np.pi / 4], rtol=1e-6)


def test_nn_extras():
    per_example = np.array([1.0, 2.0, 3.0, 6.0], "float32")
    assert float(tf.nn.compute_average_loss(per_example)) == 3.0
    assert float(tf.nn.compute_average_loss(per_example, global_batch_size=8)) == 1.5
    z = np.array([0.0, 1.0, 1.0], "float32")
    x = np.array([-3.0, 0.5, 40.0], "float32")
    q = 2.5
    sigmoid = 1 / (1 + np.exp(-x.astype(np.float64)))
    reference = -(z * np.log(sigmoid) * q + (1 - z) * np.log1p(-np.minimum(sigmoid, 1 - 1e-16)))
    np.testing.assert_allclose(tf.nn.weighted_cross_entropy_with_logits(z, x, q).numpy(), reference, rtol=1e-5,
                               atol=1e-7)
    a = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    mean, var = a.mean(0), a.var(0)
    out = tf.nn.batch_normalization(a, mean, var, offset=0.5, scale=2.0, variance_epsilon=1e-3)
    np.testing.assert_allclose(out.numpy(), 2.0 * (a - mean) / np.sqrt(var + 1e-3) + 0.5, rtol=1e-5, atol=1e-6)


def test_default_strategy_is_one_replica():
    strategy = tf.distribute.MirroredStrategy()
    with strategy.scope() as s:
        assert s is strategy and strategy.num_replicas_in_sync == 1
    assert strategy.run(lambda a, b: a + b, args=(2, 3)) == 5
    np.testing.assert_allclose(strategy.reduce(tf.distribute.ReduceOp.SUM, np.array([[1.0, 2.0]]), axis=0).numpy(),
                               [1.0, 2.0])
    assert strategy.experimental_distribute_dataset("data") == "data"


def test_logging_switches():
    tf.get_logger().setLevel("ERROR")
    assert tf.get_logger().level == logging.ERROR
    tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.WARN)
    assert tf.compat.v1.logging.get_verbosity() == logging.WARNING
    tf.autograph.set_verbosity(0)

    @tf.autograph.experimental.do_not_convert
    def f(x):
        return x + 1
    assert f(1) == 2


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="1-D"):
        tf.unique(np.ones((2, 2)))
    with pytest.raises(ValueError, match="side"):
        tf.searchsorted([1.0, 2.0], [1.5], side="middle")


def test_compat_text_helpers():
    assert tf.compat.as_bytes("JFIF") == b"JFIF" and tf.compat.as_bytes(b"x") == b"x"
    assert tf.compat.as_text(b"caf\xc3\xa9") == "café" and tf.compat.as_str("a") == "a"
    with pytest.raises(TypeError, match="bytes or str"):
        tf.compat.as_bytes(3)


def test_directory_datasets_take_tf_data_methods(tmp_path):
    """``image_dataset_from_directory`` gives a tf.data.Dataset in Keras: a program goes on with
    ``.take``, ``.map``, ``.prefetch`` and trains on the result."""
    from PIL import Image

    import deepgrad as dg

    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(5):
            Image.fromarray((rng.random((12, 10, 3)) * 255).astype("uint8")).save(tmp_path / label / f"{i}.png")
    train, val = dg.utils.image_dataset_from_directory(str(tmp_path), validation_split=0.2, subset="both", seed=1,
                                                       image_size=(8, 8), batch_size=4)
    assert train.class_names == ["cat", "dog"]
    images, labels = next(iter(train.take(1)))
    assert images.shape == (4, 8, 8, 3) and labels.shape == (4,)
    flipped = train.map(lambda x, y: (x[:, :, ::-1], y)).prefetch(2)
    assert int(flipped.cardinality()) == len(train) == 2
    seen = np.concatenate([y.numpy() for _, y in flipped])
    assert sorted(seen.tolist()) == sorted(np.concatenate([train[i][1] for i in range(len(train))]).tolist())
    model = dg.Sequential([dg.Input((8, 8, 3)), dg.layers.Flatten(), dg.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    history = model.fit(flipped, validation_data=val.prefetch(1), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and "val_loss" in history.history
    with pytest.raises(AttributeError, match="no attribute"):
        train.not_a_method
