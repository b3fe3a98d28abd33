"""TimeDistributed: the same layer on every step, time folded into the batch."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers
from layer_test import run_layer_test


def test_time_distributed_dense():
    layer, out = run_layer_test(layers.TimeDistributed, {"layer": layers.Dense(4)}, input_shape=(2, 5, 3),
                                expected_output_shape=(2, 5, 4), expected_weight_shapes=[(3, 4), (4,)],
                                run_symbolic_check=False)
    kernel, bias = layer.get_weights()
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype("float32")
    np.testing.assert_allclose(out.data, x @ kernel + bias, rtol=1e-5, atol=1e-6)
    assert layers.TimeDistributed(layers.Dense(4))(layers.Input(shape=(5, 3))).shape == (None, 5, 4)


def test_time_distributed_gradients_sum_over_steps():
    inner = layers.Dense(2, use_bias=False)
    layer = layers.TimeDistributed(inner)
    x = np.random.default_rng(1).standard_normal((3, 4, 5)).astype("float32")
    out = layer(x)
    g = np.ones(out.shape, "float32")
    out.backward(g)
    # d kernel = sum over batch and time of x^T g
    np.testing.assert_allclose(inner.kernel.grad, x.reshape(-1, 5).T @ g.reshape(-1, 2), rtol=1e-5)


def test_time_distributed_flatten_on_images_and_errors():
    out = layers.TimeDistributed(layers.Flatten())(np.ones((2, 3, 4, 4, 1), "float32"))
    assert out.shape == (2, 3, 16)
    with pytest.raises(ValueError, match="time axis"):
        layers.TimeDistributed(layers.Dense(2))(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="Layer instance"):
        layers.TimeDistributed("dense")


def test_time_distributed_freezing_reaches_the_inner_layer():
    layer = layers.TimeDistributed(layers.Dense(2))
    layer(np.ones((1, 2, 3), "float32"))
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    assert not layer.layer.trainable
