"""Weight gradients of d(sum(outputs * r)) / d(weights) agree with Keras's (PyTorch autograd on its variables)."""
import keras
import numpy as np
import pytest
import torch

import deepgrad as dg
from conftest import to_numpy


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def assert_same_gradients(k_layer, d_layer, x):
    k_out = k_layer(x)
    d_layer(dg.Tensor(x))
    d_layer.set_weights(k_layer.get_weights())
    r = rand(*k_out.shape, seed=7)
    k_loss = (k_out * torch.from_numpy(r)).sum()
    k_grads = torch.autograd.grad(k_loss, [w.value for w in k_layer.trainable_weights])

    d_loss = (d_layer(dg.Tensor(x)) * dg.Tensor(r)).sum()
    d_loss.backward()
    assert len(d_layer.trainable_weights) == len(k_grads)
    for d_w, k_w, k_g in zip(d_layer.trainable_weights, k_layer.trainable_weights, k_grads):
        np.testing.assert_allclose(d_w.grad, to_numpy(k_g), rtol=1e-4, atol=1e-5, err_msg=k_w.path)


@pytest.mark.parametrize("activation", [None, "relu", "tanh", "softmax"])
def test_dense_gradients(activation):
    assert_same_gradients(keras.layers.Dense(4, activation=activation), dg.layers.Dense(4, activation=activation),
                          rand(3, 5))


@pytest.mark.parametrize("kwargs", [dict(filters=3, kernel_size=3, activation="relu"),
                                    dict(filters=2, kernel_size=(2, 3), strides=2, padding="same"),
                                    dict(filters=2, kernel_size=3, dilation_rate=2)])
def test_conv2d_gradients(kwargs):
    assert_same_gradients(keras.layers.Conv2D(**kwargs), dg.layers.Conv2D(**kwargs), rand(2, 7, 6, 3))


@pytest.mark.parametrize("name, extra", [("SimpleRNN", {}), ("LSTM", {}), ("GRU", {}),
                                         ("GRU", dict(reset_after=False))])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_recurrent_gradients(name, extra, return_sequences):
    kwargs = dict(units=3, return_sequences=return_sequences, **extra)
    assert_same_gradients(getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs), rand(2, 5, 4))
