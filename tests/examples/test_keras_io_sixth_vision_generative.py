"""Patterns of the Keras documentation's generative and vision examples (keras-team/keras-io: a
VAE sampling with ``tf.keras.backend.random_normal``, a music transformer adding its relative
embedding with ``add_weight(shape, name=...)``, a molecular-graph WGAN clearing diagonals with
``tf.linalg.set_diag``, a wine regressor called on a dict of scalar features, ...), written here
in small form and checked against Keras 3 (torch backend) or PyTorch where they give the number."""
import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
import torch  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import backend as K  # noqa: E402
from deepgrad import layers  # noqa: E402
from deepgrad.compat import tensorflow as tf  # noqa: E402

if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its torch backend for these checks", allow_module_level=True)

from keras.src.layers.merging.dot import batch_dot as keras_batch_dot  # noqa: E402


def _np(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


# ------------------------------------------------------------------ TF-Keras's backend functions
def test_legacy_backend_functions_are_reached_from_backend_and_tf_keras_backend():
    assert K.random_normal is tf.keras.backend.random_normal
    assert tuple(K.random_normal((3, 2)).shape) == (3, 2)
    assert K.floatx() == "float32"  # the floor-1 backend's own names still come first
    with pytest.raises(AttributeError):
        K.no_such_function  # noqa: B018


@pytest.mark.parametrize("xs, ys, axes", [((2, 3, 4), (2, 4, 5), None), ((4, 3), (4, 3), 1), ((4, 3), (4, 3, 5), None),
                                          ((3, 5, 1), (3, 6, 5), (1, 2)), ((2, 3, 4, 5), (2, 5, 6), (3, 1)),
                                          ((2, 3, 4), (2, 3, 4, 5), (1, 1))])
def test_batch_dot_matches_keras(xs, ys, axes):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=xs).astype("float32"), rng.normal(size=ys).astype("float32")
    ours = K.batch_dot(x, y, axes=axes)
    theirs = keras.ops.convert_to_numpy(keras_batch_dot(torch.tensor(x), torch.tensor(y), axes=axes))
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(_np(ours), theirs, rtol=1e-5, atol=1e-5)


def test_batch_dot_refuses_the_batch_axis_and_mismatched_sizes():
    with pytest.raises(ValueError, match="axis 0"):
        K.batch_dot(np.ones((2, 3)), np.ones((2, 3)), axes=(0, 0))
    with pytest.raises(ValueError, match="x.shape"):
        K.batch_dot(np.ones((2, 3)), np.ones((2, 4)), axes=1)


@pytest.mark.parametrize("kwargs", [{}, {"alpha": 0.1}, {"max_value": 6.0}, {"threshold": 1.0},
                                    {"alpha": 0.1, "max_value": 6.0, "threshold": 1.0}, {"alpha": 0.2, "max_value": 2.0}])
def test_relu_matches_keras_activations_relu(kwargs):
    x = np.array([-3.0, -0.5, 0.0, 0.5, 1.0, 1.5, 3.0, 8.0], "float32")
    theirs = keras.activations.relu(torch.tensor(x), negative_slope=kwargs.get("alpha", 0.0),
                                    max_value=kwargs.get("max_value"), threshold=kwargs.get("threshold", 0.0))
    np.testing.assert_allclose(_np(K.relu(x, **kwargs)), keras.ops.convert_to_numpy(theirs), rtol=1e-6)


def test_elementwise_rules_of_tf_keras():
    np.testing.assert_array_equal(_np(K.sqrt(np.array([-1.0, 4.0]))), [0.0, 2.0])        # negatives clipped to 0
    np.testing.assert_array_equal(_np(K.clip(np.array([1.0, 5.0]), 3, 2)), [3.0, 3.0])   # max raised to min
    np.testing.assert_allclose(_np(K.hard_sigmoid(np.array([-3.0, 0.0, 1.0]))), [0.0, 0.5, 0.7])
    np.testing.assert_allclose(_np(K.elu(np.array([-1.0, 1.0]), alpha=0.5)), [0.5 * (np.exp(-1) - 1), 1.0])
    assert _np(K.arange(5)).dtype == np.int32 and _np(K.arange(-3)).size == 0
    np.testing.assert_array_equal(_np(K.arange(1, 7, 2)), [1, 3, 5])
    assert float(_np(K.mean(np.array([True, False, True, True])))) == 0.75   # bools averaged as floatx
    x = np.array([-3.0, -0.5, 0.0, 2.0], "float32")
    for name in ("softsign", "softplus", "sigmoid", "tanh", "exp", "abs", "square", "sign", "round"):
        theirs = keras.ops.convert_to_numpy(getattr(keras.ops, name)(torch.tensor(x)))
        np.testing.assert_allclose(_np(getattr(K, name)(x)), theirs, rtol=1e-6, err_msg=name)


def test_dot_of_higher_ranks_as_keras_2():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(2, 3, 4)), rng.normal(size=(5, 4, 3))
    out = _np(K.dot(x, y))
    assert out.shape == (2, 3, 5, 3)
    np.testing.assert_allclose(out, np.einsum("abk,ckd->abcd", x, y), rtol=1e-10)


def test_variables_and_values():
    v = K.variable(np.ones((2, 2)))
    assert isinstance(v, dg.Variable) and v.dtype == np.float32
    K.set_value(v, np.full((2, 2), 3.0))
    np.testing.assert_array_equal(K.get_value(v), np.full((2, 2), 3.0))
    K.update_add(v, np.ones((2, 2)))
    np.testing.assert_array_equal(K.eval(v), np.full((2, 2), 4.0))
    K.moving_average_update(v, np.zeros((2, 2)), 0.75)                      # 4 - (4 - 0) * 0.25
    np.testing.assert_array_equal(K.get_value(v), np.full((2, 2), 3.0))
    assert isinstance(K.ones((2, 3)), dg.Variable) and isinstance(K.zeros((2, 3)), dg.Variable)
    np.testing.assert_array_equal(K.get_value(K.eye(3)), np.eye(3))
    assert K.int_shape(dg.Tensor(np.zeros((2, 5)))) == (2, 5) and K.ndim(np.zeros((2, 5, 1))) == 3
    assert K.count_params(v) == 4 and K.dtype(v) == "float32"


def test_switch_foldl_foldr_and_repeat():
    np.testing.assert_array_equal(_np(K.switch(np.array([True, False]), np.ones((2, 3)), np.zeros((2, 3)))),
                                  [[1, 1, 1], [0, 0, 0]])
    assert _np(K.switch(np.array(False), lambda: np.ones(2), lambda: np.zeros(2))).sum() == 0
    assert float(_np(K.foldl(lambda acc, v: acc + v, np.arange(5.0)))) == 10.0
    assert float(_np(K.foldr(lambda acc, v: acc * 10 + v, np.array([1.0, 2.0, 3.0])))) == 321.0
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(_np(K.repeat(a, 2)), np.repeat(a[:, None], 2, axis=1))
    np.testing.assert_array_equal(_np(K.repeat_elements(a, 2, axis=1)), np.repeat(a, 2, axis=1))


def test_rnn_with_a_mask_keeps_states_and_outputs_where_masked():
    x = np.arange(12, dtype="float32").reshape(2, 3, 2)
    mask = np.array([[1, 1, 0], [1, 0, 1]], bool)

    def step(inp, states):
        s = states[0] * 0.5 + inp
        return s * 2, [s]

    last, outs, states = K.rnn(step, x, [np.zeros((2, 2), "float32")], mask=mask)
    expected_out, expected_state = np.zeros((2, 3, 2)), np.zeros((2, 2))
    for b in range(2):
        s, o = np.zeros(2), np.zeros(2)
        for t in range(3):
            if mask[b, t]:
                s = s * 0.5 + x[b, t]
                o = s * 2
            expected_out[b, t] = o
        expected_state[b] = s
    np.testing.assert_allclose(_np(outs), expected_out)
    np.testing.assert_allclose(_np(states[0]), expected_state)
    np.testing.assert_allclose(_np(last), expected_out[:, -1])


@pytest.mark.parametrize("strides, padding", [((1, 1), "same"), ((2, 2), "same"), ((2, 2), "valid"), ((1, 2), "valid")])
def test_conv2d_matches_keras_and_conv2d_transpose_is_its_adjoint(strides, padding):
    """TF's conv2d_transpose is the gradient of conv2d for the given output shape:
    <conv2d(y, k), x> == <y, conv2d_transpose(x, k, y.shape)>, with the same kernel: conv2d's
    (h, w, in, out) is conv2d_transpose's (h, w, its output channels, its input channels)."""
    rng = np.random.default_rng(2)
    y = rng.normal(size=(2, 7, 8, 3))
    k = rng.normal(size=(3, 3, 3, 4))
    forward = _np(K.conv2d(y, k, strides=strides, padding=padding))
    theirs = keras.ops.convert_to_numpy(keras.ops.conv(torch.tensor(y), torch.tensor(k), strides, padding))
    np.testing.assert_allclose(forward, theirs, rtol=1e-6, atol=1e-6)
    x = rng.normal(size=forward.shape)
    back = _np(K.conv2d_transpose(x, k, (None,) + y.shape[1:], strides=strides, padding=padding))
    assert back.shape == y.shape
    np.testing.assert_allclose((forward * x).sum(), (y * back).sum(), rtol=1e-9)


def test_ctc_batch_cost_matches_torch_with_the_last_class_as_blank():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2, 6, 5))
    y_pred = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    labels = np.array([[1, 2, 2], [0, 3, 0]])
    label_length, input_length = np.array([[3], [2]]), np.array([[6], [5]])
    ours = _np(K.ctc_batch_cost(labels, y_pred, input_length, label_length))
    log_probs = torch.log_softmax(torch.log(torch.tensor(y_pred) + K.epsilon()), -1).transpose(0, 1)
    theirs = torch.nn.functional.ctc_loss(log_probs, torch.tensor(labels), torch.tensor(input_length[:, 0]),
                                          torch.tensor(label_length[:, 0]), blank=4, reduction="none")
    assert ours.shape == (2, 1)
    np.testing.assert_allclose(ours[:, 0], theirs.numpy(), rtol=1e-5)


def test_crossentropies_of_tf_keras():
    p = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    t = np.eye(3)[[2, 0]]
    np.testing.assert_allclose(_np(K.categorical_crossentropy(t, p)), -np.log([0.5, 0.6]), rtol=1e-6)
    np.testing.assert_allclose(_np(K.sparse_categorical_crossentropy(np.array([2, 0]), p)), -np.log([0.5, 0.6]),
                               rtol=1e-6)
    seq = np.stack([p, p])                                          # (2, 2, 3): labels of rank 2
    assert _np(K.sparse_categorical_crossentropy(np.array([[2, 0], [1, 1]]), seq)).shape == (2, 2)
    eps = K.epsilon()
    np.testing.assert_allclose(_np(K.binary_crossentropy(np.array([1.0, 0.0]), np.array([0.9, 0.2]))),
                               [-np.log(0.9 + eps), -np.log(0.8 + eps)], rtol=1e-6)


def test_gradients_flow_through_the_legacy_functions():
    w = dg.Variable(np.array([1.0, -2.0, 3.0]))
    with tf.GradientTape() as tape:
        loss = K.mean(K.square(w)) + K.sum(K.relu(w, alpha=0.5))
    grad = _np(tape.gradient(loss, w))
    np.testing.assert_allclose(grad, 2 * np.array([1.0, -2.0, 3.0]) / 3 + np.array([1.0, 0.5, 1.0]), rtol=1e-6)


def test_a_vae_sampling_with_tf_keras_backend_random_normal_trains():
    class Sampling(layers.Layer):
        def call(self, inputs):
            z_mean, z_log_var = inputs
            epsilon = tf.keras.backend.random_normal(shape=(tf.shape(z_mean)[0], tf.shape(z_mean)[1]))
            return z_mean + tf.exp(0.5 * z_log_var) * epsilon

    inputs = dg.Input(shape=(8,))
    h = layers.Dense(8, activation="relu")(inputs)
    z_mean, z_log_var = layers.Dense(2)(h), layers.Dense(2)(h)
    z = Sampling()([z_mean, z_log_var])
    out = layers.Dense(8, activation="sigmoid")(z)
    model = dg.Model(inputs, out)
    kl = -0.5 * (1 + z_log_var - z_mean ** 2 - dg.exp(z_log_var))
    model.add_loss(dg.mean(kl))
    model.compile(optimizer=dg.optimizers.Adam(0.01), loss="binary_crossentropy")
    dg.utils.set_random_seed(0)
    x = np.array([[1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1]] * 32, "float32")
    history = model.fit(x, x, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


# ------------------------------------------------------------------ Layer.add_weight
def test_add_weight_positional_shape_with_a_keyword_name_as_keras():
    class Rel(layers.Layer):
        def build(self, input_shape):
            self.rel = self.add_weight((5, 3), name="relative_embedding")
            self.idx = self.add_weight((2,), "ones", "int32", trainable=False, name="count")

    class KRel(keras.layers.Layer):
        def build(self, input_shape):
            self.rel = self.add_weight((5, 3), name="relative_embedding")
            self.idx = self.add_weight((2,), "ones", "int32", trainable=False, name="count")

    ours, theirs = Rel(), KRel()
    ours.build((1, 3))
    theirs.build((1, 3))
    for a, b in zip(ours.weights, theirs.weights):
        assert (a.name, tuple(a.shape), str(a.dtype)) == (b.name, tuple(b.shape), keras.backend.standardize_dtype(b.dtype))
    np.testing.assert_array_equal(np.asarray(ours.idx.numpy()), [1, 1])


def test_add_weight_rejects_an_argument_given_both_ways_and_defaults_int_weights_to_zeros():
    layer, klayer = layers.Layer(), keras.layers.Layer()
    with pytest.raises(ValueError, match="shape"):
        layer.add_weight((2,), shape=(3,))
    with pytest.raises(ValueError, match="shape"):
        klayer.add_weight((2,), shape=(3,))
    ours = layer.add_weight(shape=(3,), dtype="int32", trainable=False, name="n")
    theirs = klayer.add_weight(shape=(3,), dtype="int32", trainable=False, name="n")
    np.testing.assert_array_equal(np.asarray(ours.numpy()), keras.ops.convert_to_numpy(theirs))
    assert layer.add_weight("named", (2, 2)).name == "named"  # a positional name first is still taken


# ------------------------------------------------------------------ tf.linalg.set_diag
@pytest.mark.parametrize("k", [0, 1, -1, 2])
def test_set_diag_replaces_one_diagonal(k):
    x = np.arange(24.0).reshape(2, 3, 4)
    length = min(3, 4 - k) if k >= 0 else min(3 + k, 4)
    d = -np.arange(2 * length, dtype=float).reshape(2, length) - 1
    expected = x.copy()
    for b in range(2):
        for i in range(length):
            expected[b, i + max(-k, 0), i + max(k, 0)] = d[b, i]
    np.testing.assert_array_equal(_np(tf.linalg.set_diag(x, d, k=k)), expected)
    if k == 0:  # torch's diagonal_scatter is the same operation
        np.testing.assert_array_equal(expected, torch.diagonal_scatter(torch.tensor(x), torch.tensor(d),
                                                                       dim1=-2, dim2=-1).numpy())


def test_set_diag_gradients_split_between_the_input_and_the_diagonal():
    x = dg.Variable(np.ones((3, 3)))
    d = dg.Variable(np.ones(3))
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(tf.linalg.set_diag(x, d) * np.arange(9.0).reshape(3, 3))
    gx, gd = tape.gradient(out, [x, d])
    np.testing.assert_array_equal(_np(gx), np.arange(9.0).reshape(3, 3) * (1 - np.eye(3)))
    np.testing.assert_array_equal(_np(gd), [0.0, 4.0, 8.0])
    with pytest.raises(ValueError, match="entries"):
        tf.linalg.set_diag(np.zeros((3, 3)), np.zeros(2))


# ------------------------------------------------------------------ functional input ranks
def _two_feature_model(lib):
    ins = {n: lib.layers.Input(name=n, shape=(1,)) for n in "ab"}
    x = lib.layers.concatenate([ins["a"], ins["b"]])
    x = lib.layers.BatchNormalization()(x)
    out = lib.layers.Dense(1, kernel_initializer="ones")(x)
    return lib.Model(ins, out)


@pytest.mark.parametrize("shape", [(5,), (5, 1), (5, 1, 1)])
def test_a_functional_model_called_directly_adjusts_input_ranks_as_keras(shape):
    ours, theirs = _two_feature_model(dg), _two_feature_model(keras)
    rng = np.random.default_rng(4)
    data = {n: rng.normal(size=shape).astype("float32") for n in "ab"}
    got = _np(ours(data))
    want = keras.ops.convert_to_numpy(theirs(data))
    assert got.shape == want.shape == (5, 1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_functional_model_refuses_other_input_ranks_as_keras():
    ours, theirs = _two_feature_model(dg), _two_feature_model(keras)
    data = {n: np.ones((5, 2, 2), "float32") for n in "ab"}
    with pytest.raises(ValueError):
        theirs(data)
    with pytest.raises(ValueError, match="incompatible shape"):
        ours(data)


# ------------------------------------------------------------------ optimizer arguments
def test_optimizer_decay_is_ignored_with_a_warning_and_unknown_arguments_refused_as_keras():
    with pytest.warns(UserWarning, match="decay"):
        theirs = keras.optimizers.SGD(learning_rate=0.1, decay=1e-6)
    with pytest.warns(UserWarning, match="decay"):
        ours = dg.optimizers.SGD(learning_rate=0.1, decay=1e-6)
    assert float(ours.learning_rate) == pytest.approx(float(theirs.learning_rate))
    for lib in (keras, dg):  # GoogLeNet's RMSprop(lr=1e-4), a TF-Keras 1 name
        with pytest.raises(ValueError, match=r"Argument\(s\) not recognized: {'lr': 0.0001}"):
            lib.optimizers.RMSprop(lr=1e-4)


# ------------------------------------------------------------------ ImageDataGenerator (GoogLeNet, wine, ...)
from keras.src.legacy.preprocessing import image as keras_image  # noqa: E402

from deepgrad.preprocessing.image import ImageDataGenerator, apply_affine_transform  # noqa: E402


def _images(n=6, h=8, w=8, seed=5):
    return np.random.default_rng(seed).uniform(0, 255, (n, h, w, 3)).astype("float32")


@pytest.mark.parametrize("kwargs", [dict(samplewise_center=True, samplewise_std_normalization=True),
                                    dict(featurewise_center=True, featurewise_std_normalization=True),
                                    dict(zca_whitening=True), dict(rescale=1 / 255, featurewise_center=True),
                                    dict(preprocessing_function=lambda x: x[::-1], rescale=0.5)])
def test_image_data_generator_fit_and_standardize_match_keras(kwargs):
    x = _images(h=4, w=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn as the flags override each other
        ours, theirs = ImageDataGenerator(**kwargs), keras_image.ImageDataGenerator(**kwargs)
    ours.fit(x)
    theirs.fit(x)
    for image in x[:3]:
        np.testing.assert_allclose(ours.standardize(image.copy()), theirs.standardize(image.copy()),
                                   rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("params", [{"channel_shift_intensity": 30.0}, {"brightness": 0.6}, {"brightness": 1.4},
                                    {"zx": 1.3, "zy": 1.3}, {"zx": 0.7, "zy": 0.7, "flip_horizontal": True},
                                    {"flip_vertical": True, "channel_shift_intensity": -20.0}])
def test_image_data_generator_apply_transform_matches_keras(params):
    x = _images(n=1, h=9, w=9)[0]
    ours = ImageDataGenerator().apply_transform(x.copy(), params)
    theirs = keras_image.ImageDataGenerator().apply_transform(x.copy(), params)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-3)


def test_shear_and_zoom_follow_the_documented_matrix():
    """M = R T Sh Z on (row, col) about the centre, resampled by scipy as the reference."""
    from scipy import ndimage

    x = np.random.default_rng(6).random((7, 9, 2))
    shear, zx, zy = 20.0, 1.2, 0.9
    s = np.deg2rad(shear)
    m = np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]]) @ np.diag([zx, zy, 1.0])
    c = np.array([3.0, 4.0])
    offset = c - m[:2, :2] @ c
    want = np.stack([ndimage.affine_transform(x[..., k], m[:2, :2], offset, order=1, mode="nearest")
                     for k in range(2)], -1)
    np.testing.assert_allclose(apply_affine_transform(x, shear=shear, zx=zx, zy=zy), want, atol=1e-9)
    # a channels-first image through the axes arguments gives the same pixels
    first = apply_affine_transform(x.transpose(2, 0, 1), shear=shear, zx=zx, zy=zy, row_axis=1, col_axis=2,
                                   channel_axis=0)
    np.testing.assert_allclose(first.transpose(1, 2, 0), want, atol=1e-9)


def test_flow_subsets_and_sample_weights_as_keras():
    x, y, w = _images(n=10), np.arange(10) % 2, np.linspace(0.1, 1, 10)
    ours = ImageDataGenerator(validation_split=0.3)
    theirs = keras_image.ImageDataGenerator(validation_split=0.3)
    for subset in ("training", "validation"):
        a = ours.flow(x, y, batch_size=20, shuffle=False, sample_weight=w, subset=subset)[0]
        b = theirs.flow(x, y, batch_size=20, shuffle=False, sample_weight=w, subset=subset)[0]
        for u, v in zip(a[:2], b[:2]):
            np.testing.assert_allclose(u, v)
        # Keras 3.15 leaves the weights unsplit (batch i gets the whole array's first weights);
        # here they stay with their samples
        np.testing.assert_allclose(a[2], w[:3] if subset == "validation" else w[3:])
    for lib in (ImageDataGenerator, keras_image.ImageDataGenerator):  # labels sorted: the split loses a class
        with pytest.raises(ValueError, match="different number of classes"):
            lib(validation_split=0.3).flow(x, np.sort(y), subset="training")


@pytest.mark.parametrize("class_mode", ["categorical", "binary", "sparse", "input", None])
def test_flow_from_directory_matches_keras(tmp_path, class_mode):
    from PIL import Image

    rng = np.random.default_rng(7)
    for name, count in (("cat", 3), ("dog", 2)):
        (tmp_path / name).mkdir()
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (10 + i, 12, 3), dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    kwargs = dict(target_size=(6, 7), batch_size=4, shuffle=False, class_mode=class_mode)
    gen_kwargs = dict(rescale=1 / 255, validation_split=0.4)
    ours = ImageDataGenerator(**gen_kwargs).flow_from_directory(str(tmp_path), subset="training", **kwargs)
    theirs = keras_image.ImageDataGenerator(**gen_kwargs).flow_from_directory(str(tmp_path), subset="training", **kwargs)
    assert ours.class_indices == theirs.class_indices and len(ours) == len(theirs)
    assert ours.filenames == theirs.filenames and list(ours.classes) == list(theirs.classes)
    for i in range(len(ours)):
        a, b = ours[i], theirs[i]
        a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
        for u, v in zip(a, b):
            assert u.dtype == v.dtype
            np.testing.assert_allclose(u, v, rtol=1e-6)
