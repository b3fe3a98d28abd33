"""Layers given Keras's own weights (get_weights -> set_weights) give Keras's outputs.

Each case builds the Keras layer and the deepgrad layer with the same arguments, checks the
weight shapes (in order) and count_params agree, copies the weights across and compares the
outputs on the same input.
"""
import keras
import numpy as np
import pytest

import deepgrad as dg
from conftest import to_numpy

RTOL, ATOL = 1e-5, 1e-5


def _outputs(result):
    return list(result) if isinstance(result, (list, tuple)) else [result]


def assert_same_layer(k_layer, d_layer, inputs, **call_kwargs):
    """Build both layers on ``inputs``, copy Keras's weights, compare weights and outputs."""
    inputs = inputs if isinstance(inputs, list) else [inputs]
    k_in = inputs if len(inputs) > 1 else inputs[0]
    k_out = _outputs(k_layer(k_in, **call_kwargs))
    d_in = [dg.Tensor(a) for a in inputs] if len(inputs) > 1 else dg.Tensor(inputs[0])
    d_layer(d_in, **call_kwargs)  # builds the weights
    k_weights = k_layer.get_weights()
    d_weights = d_layer.get_weights()
    assert [w.shape for w in d_weights] == [w.shape for w in k_weights]
    assert [w.name.split("/")[-1] for w in d_layer.weights] == [w.name for w in k_layer.weights]
    assert [w.trainable for w in d_layer.weights] == [w.trainable for w in k_layer.weights]
    assert d_layer.count_params() == k_layer.count_params()
    d_layer.set_weights(k_weights)
    d_out = _outputs(d_layer(d_in, **call_kwargs))
    assert len(d_out) == len(k_out)
    for i, (d, k) in enumerate(zip(d_out, k_out)):
        np.testing.assert_allclose(to_numpy(d), to_numpy(k), rtol=RTOL, atol=ATOL, err_msg=f"output {i}")
    return d_out, k_out


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh", "softmax", "elu", "selu",
                                        "softplus", "softsign", "swish", "gelu", "exponential",
                                        "hard_sigmoid", "leaky_relu", "linear"])
def test_dense_activations(activation):
    x = rand(4, 6)
    assert_same_layer(keras.layers.Dense(5, activation=activation),
                      dg.layers.Dense(5, activation=activation), x)


def test_dense_no_bias_3d_input():
    assert_same_layer(keras.layers.Dense(3, use_bias=False), dg.layers.Dense(3, use_bias=False), rand(2, 4, 5))


@pytest.mark.parametrize("kwargs", [
    dict(filters=4, kernel_size=3),
    dict(filters=4, kernel_size=(3, 2), strides=2, padding="same"),
    dict(filters=3, kernel_size=3, strides=(2, 1), padding="valid", activation="relu"),
    dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"),
    dict(filters=2, kernel_size=2, dilation_rate=(2, 1), padding="valid", use_bias=False),
    dict(filters=5, kernel_size=4, strides=3, padding="same"),
])
def test_conv2d(kwargs):
    assert_same_layer(keras.layers.Conv2D(**kwargs), dg.layers.Conv2D(**kwargs), rand(2, 9, 8, 3))


@pytest.mark.parametrize("kwargs", [
    dict(filters=4, kernel_size=3),
    dict(filters=4, kernel_size=3, strides=2, padding="same"),
    dict(filters=3, kernel_size=3, padding="causal"),
    dict(filters=3, kernel_size=2, padding="causal", dilation_rate=2, activation="tanh"),
    dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"),
])
def test_conv1d(kwargs):
    assert_same_layer(keras.layers.Conv1D(**kwargs), dg.layers.Conv1D(**kwargs), rand(2, 10, 3))


def average_pool_same(x, pool_size, strides):
    """Keras's "same" average pooling (TensorFlow/JAX backends): the mean of the window's real elements.

    Keras's PyTorch backend pads uneven windows by replicating edge values instead, so it
    is not the oracle for this case; the formula is.
    """
    n, h, w, c = x.shape
    out_h, out_w = -(-h // strides[0]), -(-w // strides[1])
    top = max(0, (out_h - 1) * strides[0] + pool_size[0] - h) // 2
    left = max(0, (out_w - 1) * strides[1] + pool_size[1] - w) // 2
    y = np.zeros((n, out_h, out_w, c), x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            r, s = i * strides[0] - top, j * strides[1] - left
            y[:, i, j] = x[:, max(r, 0):r + pool_size[0], max(s, 0):s + pool_size[1]].mean(axis=(1, 2))
    return y


POOL_2D = [dict(pool_size=2), dict(pool_size=3, strides=2), dict(pool_size=3, strides=1, padding="valid"),
           dict(pool_size=(3, 2), strides=(2, 1), padding="same"), dict(pool_size=2, strides=3, padding="same")]


@pytest.mark.parametrize("kwargs", POOL_2D)
def test_max_pooling2d(kwargs):
    assert_same_layer(keras.layers.MaxPooling2D(**kwargs), dg.layers.MaxPooling2D(**kwargs), rand(2, 7, 8, 3))


@pytest.mark.parametrize("kwargs", POOL_2D)
def test_average_pooling2d(kwargs):
    x = rand(2, 7, 8, 3)
    if kwargs.get("padding") != "same":
        assert_same_layer(keras.layers.AveragePooling2D(**kwargs), dg.layers.AveragePooling2D(**kwargs), x)
        return
    pool = (kwargs["pool_size"],) * 2 if isinstance(kwargs["pool_size"], int) else kwargs["pool_size"]
    strides = (kwargs["strides"],) * 2 if isinstance(kwargs["strides"], int) else kwargs["strides"]
    out = dg.layers.AveragePooling2D(**kwargs)(dg.Tensor(x))
    np.testing.assert_allclose(out.data, average_pool_same(x, pool, strides), rtol=RTOL, atol=ATOL)


def test_average_pooling2d_same_even_padding():
    # even padding on both sides: the PyTorch backend excludes the padding, as the formula does
    kwargs = dict(pool_size=3, strides=1, padding="same")
    assert_same_layer(keras.layers.AveragePooling2D(**kwargs), dg.layers.AveragePooling2D(**kwargs), rand(2, 5, 6, 2))


@pytest.mark.parametrize("kwargs", [dict(pool_size=2), dict(pool_size=3, strides=2),
                                    dict(pool_size=3, strides=2, padding="same")])
def test_max_pooling1d(kwargs):
    assert_same_layer(keras.layers.MaxPooling1D(**kwargs), dg.layers.MaxPooling1D(**kwargs), rand(2, 9, 3))


@pytest.mark.parametrize("kwargs", [dict(pool_size=2), dict(pool_size=3, strides=2),
                                    dict(pool_size=3, strides=1, padding="same")])
def test_average_pooling1d(kwargs):
    assert_same_layer(keras.layers.AveragePooling1D(**kwargs), dg.layers.AveragePooling1D(**kwargs), rand(2, 9, 3))


@pytest.mark.parametrize("name", ["GlobalAveragePooling2D", "GlobalMaxPooling2D",
                                  "GlobalAveragePooling1D", "GlobalMaxPooling1D"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling(name, keepdims):
    x = rand(2, 5, 4, 3) if name.endswith("2D") else rand(2, 5, 3)
    assert_same_layer(getattr(keras.layers, name)(keepdims=keepdims),
                      getattr(dg.layers, name)(keepdims=keepdims), x)


@pytest.mark.parametrize("kwargs", [dict(), dict(axis=1, momentum=0.9, epsilon=1e-5),
                                    dict(center=False, scale=False)])
def test_batch_normalization(kwargs):
    x = rand(6, 4, 3) * 3 + 1
    k_layer, d_layer = keras.layers.BatchNormalization(**kwargs), dg.layers.BatchNormalization(**kwargs)
    k_layer.build(x.shape)
    rng = np.random.default_rng(1)
    k_layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in k_layer.get_weights()])
    assert_same_layer(k_layer, d_layer, x)  # inference: the moving statistics
    assert [w.name.split("/")[-1] for w in d_layer.weights] == [w.name for w in k_layer.weights]
    # training: batch statistics in the output, and one update of the moving statistics
    k_out = k_layer(x, training=True)
    d_out = d_layer(dg.Tensor(x), training=True)
    np.testing.assert_allclose(d_out.data, to_numpy(k_out), rtol=RTOL, atol=ATOL)
    for d, k in zip(d_layer.get_weights(), k_layer.get_weights()):
        np.testing.assert_allclose(d, k, rtol=RTOL, atol=ATOL, err_msg="moving statistics after training")


def layer_norm(x, axis, epsilon, gamma, beta):
    """y = (x - mean) / sqrt(var + epsilon) * gamma + beta over ``axis``, gamma and beta along ``axis``."""
    mean = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True)
    shape = [1] * x.ndim
    for a in np.atleast_1d(axis):
        shape[a] = x.shape[a]
    return (x - mean) / np.sqrt(var + epsilon) * gamma.reshape(shape) + beta.reshape(shape)


@pytest.mark.parametrize("kwargs", [dict(), dict(axis=[1, 2], epsilon=1e-5), dict(center=False),
                                    dict(scale=False)])
def test_layer_normalization(kwargs):
    k_layer = keras.layers.LayerNormalization(**kwargs)
    k_layer.build((2, 4, 5))
    k_layer.set_weights([rand(*w.shape, seed=i + 3) for i, w in enumerate(k_layer.get_weights())])
    assert_same_layer(k_layer, dg.layers.LayerNormalization(**kwargs), rand(2, 4, 5) * 2 + 1)


def test_layer_normalization_inner_axis():
    # Keras's PyTorch backend cannot normalise over an axis that is not last; the formula can
    x = rand(2, 4, 5) * 2 + 1
    gamma, beta = rand(4, seed=3), rand(4, seed=4)
    layer = dg.layers.LayerNormalization(axis=1, epsilon=1e-5)
    layer.build(x.shape)
    assert [w.shape for w in layer.get_weights()] == [(4,), (4,)]
    layer.set_weights([gamma, beta])
    np.testing.assert_allclose(layer(dg.Tensor(x)).data, layer_norm(x, 1, 1e-5, gamma, beta), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("mask_zero", [False, True])
def test_embedding_and_mask(mask_zero):
    ids = np.array([[1, 2, 0, 4], [0, 0, 3, 9]], dtype="int32")
    k_layer = keras.layers.Embedding(10, 3, mask_zero=mask_zero)
    d_layer = dg.layers.Embedding(10, 3, mask_zero=mask_zero)
    k_out = k_layer(ids)
    d_layer(dg.Tensor(ids, dtype=ids.dtype))
    assert [w.shape for w in d_layer.get_weights()] == [w.shape for w in k_layer.get_weights()]
    d_layer.set_weights(k_layer.get_weights())
    d_out = d_layer(dg.Tensor(ids, dtype=ids.dtype))
    np.testing.assert_allclose(to_numpy(d_out), to_numpy(k_out), rtol=RTOL, atol=ATOL)
    k_mask = k_layer.compute_mask(ids)
    d_mask = d_layer.compute_mask(dg.Tensor(ids, dtype=ids.dtype))
    if mask_zero:
        np.testing.assert_array_equal(to_numpy(d_mask), to_numpy(k_mask))
    else:
        assert d_mask is None and k_mask is None


RNN_OPTIONS = [dict(), dict(return_sequences=True), dict(return_state=True),
               dict(return_sequences=True, return_state=True, go_backwards=True), dict(go_backwards=True)]


@pytest.mark.parametrize("options", RNN_OPTIONS)
@pytest.mark.parametrize("name, extra", [
    ("SimpleRNN", dict()), ("SimpleRNN", dict(activation="relu", use_bias=False)),
    ("LSTM", dict()), ("LSTM", dict(unit_forget_bias=False, activation="relu")),
    ("GRU", dict()), ("GRU", dict(reset_after=False)),
])
def test_recurrent(name, extra, options):
    kwargs = dict(units=4, **extra, **options)
    assert_same_layer(getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs), rand(3, 5, 2))


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_recurrent_with_masked_embedding(name):
    ids = np.array([[3, 1, 4, 0, 0], [2, 7, 1, 8, 2]], dtype="int32")
    k_model = keras.Sequential([keras.Input((5,), dtype="int32"), keras.layers.Embedding(10, 3, mask_zero=True),
                                getattr(keras.layers, name)(4, return_sequences=True)])
    d_model = dg.Sequential([dg.layers.Input((5,), dtype="int32"), dg.layers.Embedding(10, 3, mask_zero=True),
                             getattr(dg.layers, name)(4, return_sequences=True)])
    d_model.set_weights(k_model.get_weights())
    np.testing.assert_allclose(d_model.predict(ids, verbose=0), to_numpy(k_model(ids)), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_lstm(merge_mode, return_sequences):
    assert_same_layer(
        keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=return_sequences), merge_mode=merge_mode),
        dg.layers.Bidirectional(dg.layers.LSTM(3, return_sequences=return_sequences), merge_mode=merge_mode),
        rand(2, 4, 5))


def test_bidirectional_gru_return_state():
    assert_same_layer(keras.layers.Bidirectional(keras.layers.GRU(3, return_state=True)),
                      dg.layers.Bidirectional(dg.layers.GRU(3, return_state=True)), rand(2, 4, 5))


def test_time_distributed_dense():
    assert_same_layer(keras.layers.TimeDistributed(keras.layers.Dense(3, activation="relu")),
                      dg.layers.TimeDistributed(dg.layers.Dense(3, activation="relu")), rand(2, 4, 5))


@pytest.mark.parametrize("k_layer, d_layer, shape", [
    (lambda: keras.layers.RepeatVector(3), lambda: dg.layers.RepeatVector(3), (2, 4)),
    (lambda: keras.layers.Flatten(), lambda: dg.layers.Flatten(), (2, 3, 4, 5)),
    (lambda: keras.layers.Reshape((6, 2)), lambda: dg.layers.Reshape((6, 2)), (2, 3, 4)),
    (lambda: keras.layers.Reshape((-1, 3)), lambda: dg.layers.Reshape((-1, 3)), (2, 3, 4)),
    (lambda: keras.layers.Permute((2, 1)), lambda: dg.layers.Permute((2, 1)), (2, 3, 4)),
    (lambda: keras.layers.Permute((3, 1, 2)), lambda: dg.layers.Permute((3, 1, 2)), (2, 3, 4, 5)),
])
def test_shape_layers(k_layer, d_layer, shape):
    assert_same_layer(k_layer(), d_layer(), rand(*shape))


@pytest.mark.parametrize("name, kwargs", [
    ("Add", {}), ("Subtract", {}), ("Multiply", {}), ("Average", {}), ("Maximum", {}), ("Minimum", {}),
    ("Concatenate", {}), ("Concatenate", dict(axis=1)),
])
def test_merge(name, kwargs):
    inputs = [rand(2, 3, 4, seed=1), rand(2, 3, 4, seed=2)]
    if name not in ("Subtract",):
        inputs.append(rand(2, 3, 4, seed=3))
    assert_same_layer(getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs), inputs)


@pytest.mark.parametrize("name, n_states", [("SimpleRNN", 1), ("LSTM", 2), ("GRU", 1)])
def test_recurrent_initial_state(name, n_states):
    states = [rand(2, 4, seed=10 + i) for i in range(n_states)]
    k_layer = getattr(keras.layers, name)(4, return_sequences=True)
    d_layer = getattr(dg.layers, name)(4, return_sequences=True)
    x = rand(2, 5, 3)
    k_out = k_layer(x, initial_state=states)
    d_layer(dg.Tensor(x), initial_state=[dg.Tensor(s) for s in states])
    d_layer.set_weights(k_layer.get_weights())
    d_out = d_layer(dg.Tensor(x), initial_state=[dg.Tensor(s) for s in states])
    np.testing.assert_allclose(d_out.data, to_numpy(k_out), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("options", RNN_OPTIONS[1:])
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_recurrent_explicit_mask(name, options):
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], bool)
    assert_same_layer(getattr(keras.layers, name)(4, **options), getattr(dg.layers, name)(4, **options),
                      rand(3, 5, 2), mask=mask)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_with_mask(merge_mode, return_sequences):
    mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
    assert_same_layer(
        keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=return_sequences), merge_mode=merge_mode),
        dg.layers.Bidirectional(dg.layers.GRU(3, return_sequences=return_sequences), merge_mode=merge_mode),
        rand(2, 4, 5), mask=mask)


def test_time_distributed_conv2d():
    assert_same_layer(keras.layers.TimeDistributed(keras.layers.Conv2D(3, 3, activation="relu")),
                      dg.layers.TimeDistributed(dg.layers.Conv2D(3, 3, activation="relu")), rand(2, 3, 6, 6, 2))
