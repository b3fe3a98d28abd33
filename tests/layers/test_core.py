"""Core layers: Input, Dense, Activation, Flatten, Reshape, Permute, RepeatVector, Dropout, Lambda."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import deepgrad as dg
from deepgrad import layers
from deepgrad.ops.nn import linear, linear_relu
from layer_test import run_layer_test
from oracle import check_gradients, compare_with_torch


# ----------------------------------------------------------------- the fused linear op
@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 5), st.booleans())
def test_linear_matches_torch(batch, n_in, n_out, rank3):
    rng = np.random.default_rng(batch * 100 + n_in * 10 + n_out)
    shape = (batch, 2, n_in) if rank3 else (batch, n_in)
    x, k, b = (rng.standard_normal(s).astype("float32") for s in (shape, (n_in, n_out), (n_out,)))
    compare_with_torch(linear, lambda x, k, b: torch.nn.functional.linear(x, k.T, b), [x, k, b])
    compare_with_torch(linear_relu, lambda x, k, b: torch.relu(torch.nn.functional.linear(x, k.T, b)), [x, k, b])
    compare_with_torch(linear, lambda x, k: x @ k, [x, k])


def test_linear_central_differences():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in ((3, 2, 4), (4, 3), (3,))]
    check_gradients(linear, arrays)
    check_gradients(linear_relu, arrays)


def test_linear_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        linear(np.zeros((2, 3), "float32"), np.zeros((4, 5), "float32"))


# ----------------------------------------------------------------- Dense
def test_dense_layer_checks():
    layer, _ = run_layer_test(layers.Dense, {"units": 3, "activation": "tanh"}, input_shape=(4, 5),
                              expected_output_shape=(4, 3), expected_weight_shapes=[(5, 3), (3,)],
                              expected_num_trainable_weights=2, expected_num_non_trainable_weights=0,
                              expected_num_params=18)
    assert layer.activation_name == "tanh"
    run_layer_test(layers.Dense, {"units": 2, "use_bias": False}, input_shape=(2, 3, 4),
                   expected_output_shape=(2, 3, 2), expected_weight_shapes=[(4, 2)])


def test_dense_matches_torch_forward_and_backward():
    layer = layers.Dense(3, activation="sigmoid")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4)).astype("float32")
    layer(x)
    kernel, bias = layer.get_weights()
    xt = torch.tensor(x, requires_grad=True)
    kt, bt = torch.tensor(kernel, requires_grad=True), torch.tensor(bias, requires_grad=True)
    ref = torch.sigmoid(torch.nn.functional.linear(xt, kt.T, bt))
    xd = dg.Tensor(x, requires_grad=True)
    out = layer(xd)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = rng.standard_normal(out.shape).astype("float32")
    out.backward(g)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(xd.grad, xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.kernel.grad, kt.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.bias.grad, bt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_dense_relu_is_fused_into_one_node_and_softmax_is_separate():
    x = np.ones((2, 3), "float32")
    relu_out = layers.Dense(4, activation="relu")(dg.Tensor(x, requires_grad=True))
    assert relu_out._ctx.name == "LinearReLU"
    soft = layers.Dense(4, activation="softmax")
    soft_out = soft(dg.Tensor(x, requires_grad=True))
    assert soft_out._ctx.name == "Softmax" and soft.activation_name == "softmax"
    np.testing.assert_allclose(soft_out.data.sum(axis=1), [1, 1], rtol=1e-6)


def test_dense_argument_and_shape_errors():
    with pytest.raises(ValueError, match="units"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="activation"):
        layers.Dense(2, activation="no_such_thing")
    with pytest.raises(TypeError, match="unexpected keyword"):
        layers.Dense(2, unitz=3)
    layer = layers.Dense(2, name="head")
    layer(np.zeros((1, 3), "float32"))
    with pytest.raises(ValueError, match=r"head.*\(1, 4\)"):
        layer(np.zeros((1, 4), "float32"))
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim=1"):
        layers.Dense(2)(np.zeros((3,), "float32"))


def test_dense_regularizers_add_losses():
    layer = layers.Dense(2, kernel_regularizer="l2", activity_regularizer="l1",
                         kernel_initializer=lambda shape, dtype: np.ones(shape, dtype))
    out = layer(np.ones((1, 3), "float32"))
    values = [float(l.data) for l in layer.losses]
    # L2 default factor 0.01 on 6 ones; L1 default 0.01 on the outputs (3 each, 2 of them)
    np.testing.assert_allclose(sorted(values), sorted([0.01 * 6, 0.01 * float(np.abs(out.data).sum())]), rtol=1e-6)


def test_unique_names():
    from deepgrad.layers.base import reset_names

    reset_names()
    names = [layers.Dense(1).name for _ in range(3)] + [layers.BatchNormalization().name]
    assert names == ["dense", "dense_1", "dense_2", "batch_normalization"]
    from deepgrad.naming import to_snake_case

    # Keras's rule: a digit does not start a new word
    assert [to_snake_case(n) for n in ("Conv2D", "MaxPooling2D", "GlobalAveragePooling1D", "LSTM", "SimpleRNN")] == [
        "conv2d", "max_pooling2d", "global_average_pooling1d", "lstm", "simple_rnn"]


def test_mlp_parameter_count_by_hand():
    # Flatten 28x28 -> Dense(128, relu) -> Dense(10, softmax): 784*128+128 + 128*10+10
    stack = [layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")]
    x = np.random.default_rng(0).random((2, 28, 28)).astype("float32")
    for layer in stack:
        x = layer(x)
    assert x.shape == (2, 10)
    assert [layer.count_params() for layer in stack] == [0, 100480, 1290]
    assert sum(layer.count_params() for layer in stack) == 101770


# ----------------------------------------------------------------- Input
def test_input_makes_a_keras_tensor_with_its_input_layer():
    t = layers.Input(shape=(28, 28, 1), name="image")
    assert t.shape == (None, 28, 28, 1) and t.layer is None
    assert isinstance(t.input_layer, layers.InputLayer)
    assert t.input_layer.batch_shape == (None, 28, 28, 1)
    y = layers.Dense(5)(layers.Flatten()(t))
    assert y.shape == (None, 5)
    again = layers.InputLayer.from_config(t.input_layer.get_config())
    assert again.shape == (28, 28, 1)
    assert layers.Input(shape=(3,), dtype="int32").dtype == np.int32
    with pytest.raises(ValueError, match="shape"):
        layers.Input()


# ----------------------------------------------------------------- shape layers
def test_activation_layer():
    x = np.linspace(-2, 2, 12, dtype="float32").reshape(3, 4)
    _, out = run_layer_test(layers.Activation, {"activation": "relu"}, input_data=x, expected_output_shape=(3, 4))
    np.testing.assert_array_equal(out.data, np.maximum(x, 0))


def test_flatten_and_reshape():
    x = np.arange(24, dtype="float32").reshape(2, 3, 4)
    _, out = run_layer_test(layers.Flatten, {}, input_data=x, expected_output_shape=(2, 12))
    np.testing.assert_array_equal(out.data, x.reshape(2, 12))
    _, out = run_layer_test(layers.Reshape, {"target_shape": (4, -1)}, input_data=x, expected_output_shape=(2, 4, 3))
    np.testing.assert_array_equal(out.data, x.reshape(2, 4, 3))
    with pytest.raises(ValueError, match="at most one -1"):
        layers.Reshape((-1, -1))
    with pytest.raises(ValueError, match=r"\(5,\)"):
        layers.Reshape((5,))(x)
    assert layers.Flatten().compute_output_shape((None, 28, 28, 1)) == (None, 784)


def test_permute_counts_axes_from_one():
    x = np.arange(24, dtype="float32").reshape(2, 3, 4)
    _, out = run_layer_test(layers.Permute, {"dims": (2, 1)}, input_data=x, expected_output_shape=(2, 4, 3))
    np.testing.assert_array_equal(out.data, x.transpose(0, 2, 1))
    with pytest.raises(ValueError, match="permutation"):
        layers.Permute((0, 1))


def test_repeat_vector_and_its_gradient():
    x = dg.Tensor(np.arange(6, dtype="float32").reshape(2, 3), requires_grad=True)
    out = layers.RepeatVector(4)(x)
    assert out.shape == (2, 4, 3)
    np.testing.assert_array_equal(out.data[:, 2], x.data)
    out.backward(np.ones(out.shape, "float32"))
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 4.0))
    run_layer_test(layers.RepeatVector, {"n": 2}, input_shape=(2, 3), expected_output_shape=(2, 2, 3))


def test_dropout_only_in_training():
    x = np.ones((200, 50), "float32")
    layer = layers.Dropout(0.3, seed=1)
    np.testing.assert_array_equal(layer(x).data, x)
    np.testing.assert_array_equal(layer(x, training=False).data, x)
    out = layer(x, training=True).data
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
    assert not np.array_equal(layer(x, training=True).data, out)  # a fresh mask every step
    again = layers.Dropout(0.3, seed=1)(x, training=True).data
    np.testing.assert_array_equal(again, out)  # reproducible from the seed
    shared = layers.Dropout(0.5, noise_shape=(200, 1))(x, training=True).data
    assert np.all((shared == 0).all(axis=1) | (shared != 0).all(axis=1))
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(1.5)
    run_layer_test(layers.Dropout, {"rate": 0.5}, input_shape=(3, 4), expected_output_shape=(3, 4))


def test_lambda_runs_but_refuses_to_serialize():
    layer = layers.Lambda(lambda t: t * 2.0)
    np.testing.assert_array_equal(layer(np.ones((2, 2), "float32")).data, np.full((2, 2), 2.0))
    assert layer.compute_output_shape((None, 2)) == (None, 2)
    with pytest.raises(NotImplementedError, match="cannot be serialized"):
        layer.get_config()
