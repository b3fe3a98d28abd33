"""GradientTape: the TensorFlow custom-loop idiom, checked against the gradients written out."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers, optimizers


def test_gradient_of_a_model_matches_the_formula():
    model = dg.Sequential([layers.Input(shape=(3,)), layers.Dense(1)])
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    y = np.random.default_rng(1).normal(size=(5, 1)).astype("float32")
    with dg.GradientTape() as tape:
        loss = dg.mean((model(x, training=True) - y) ** 2)
    g_kernel, g_bias = tape.gradient(loss, model.trainable_variables)
    residual = x @ model.layers[0].kernel.data + model.layers[0].bias.data - y
    # d mean(r^2) / dW = 2 x^T r / N ; d / db = 2 sum(r) / N
    np.testing.assert_allclose(g_kernel, 2 * x.T @ residual / 5, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g_bias, 2 * residual.sum(0) / 5, rtol=1e-5, atol=1e-6)
    assert isinstance(g_kernel, dg.Tensor) and not g_kernel.requires_grad and model.layers[0].kernel.grad is None


def test_watch_gives_input_gradients():
    x = dg.Tensor(np.array([1.0, 2.0, 3.0], "float32"))
    with dg.GradientTape() as tape:
        tape.watch(x)
        y = dg.sum(x ** 3)
    np.testing.assert_allclose(tape.gradient(y, x), 3 * x.data ** 2)


def test_unconnected_sources_and_one_shot_tapes():
    a = dg.Variable(np.ones(2, "float32"))
    b = dg.Variable(np.ones(2, "float32"))
    with dg.GradientTape() as tape:
        loss = dg.sum(a * 2.0)
    grads = tape.gradient(loss, {"a": a, "b": b})
    np.testing.assert_allclose(grads["a"], [2.0, 2.0])
    assert grads["b"] is None
    with pytest.raises(RuntimeError, match="only be called once"):
        tape.gradient(loss, [a])
    with dg.GradientTape(persistent=True) as tape:
        loss = dg.sum(a * b * 3.0)
    np.testing.assert_allclose(tape.gradient(loss, a), [3.0, 3.0])
    np.testing.assert_allclose(tape.gradient(loss, [b], unconnected_gradients="zero")[0], [3.0, 3.0])


def test_custom_training_loop_learns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 2)).astype("float32")
    y = (x[:, :1] * x[:, 1:] > 0).astype("float32")  # XOR of the signs: needs the hidden layer
    model = dg.Sequential([layers.Input(shape=(2,)), layers.Dense(16, activation="tanh"),
                           layers.Dense(1, activation="sigmoid")])
    optimizer = optimizers.Adam(0.03)
    loss_fn = dg.losses.BinaryCrossentropy()
    first = None
    for step in range(300):
        with dg.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        first = float(loss.data) if first is None else first
    accuracy = np.mean((model.predict(x, verbose=0) > 0.5) == y)
    assert float(loss.data) < first / 3 and accuracy > 0.9


def test_gradient_tape_is_one_class_under_every_name():
    from deepgrad.compat import tensorflow as tf
    from deepgrad.compat.gradient_tape import GradientTape

    assert dg.GradientTape is GradientTape and tf.GradientTape is GradientTape
