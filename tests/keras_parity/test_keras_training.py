"""Training parity: seed 003's MLP, the same initial weights, two epochs: Keras fit and deepgrad fit agree.

The MLP is seed 003's (Dense 128 relu, Dense 10 softmax) on 512 images of the UCI 8x8
digits, so it takes 64 inputs instead of 784; no shuffling, batches of 32.
"""
import keras
import numpy as np
import pytest

import deepgrad as dg


def mlp(K, features):
    L = K.layers
    return K.Sequential([K.Input((features,)), L.Dense(128, activation="relu"), L.Dense(10, activation="softmax")])


@pytest.fixture(scope="module")
def digits():
    (x, y), _ = dg.datasets.digits.load_data()
    return x[:512].reshape(512, -1).astype("float32") / 255, y[:512].astype("int64")


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_fit_matches_keras(digits, optimizer):
    x, y = digits
    k_model, d_model = mlp(keras, x.shape[1]), mlp(dg, x.shape[1])
    d_model.set_weights(k_model.get_weights())
    kwargs = dict(learning_rate=0.1) if optimizer == "SGD" else dict(learning_rate=1e-3)
    k_model.compile(optimizer=getattr(keras.optimizers, optimizer)(**kwargs),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    d_model.compile(optimizer=getattr(dg.optimizers, optimizer)(**kwargs),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    k_history = k_model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    d_history = d_model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)

    for i, (d, k) in enumerate(zip(d_model.get_weights(), k_model.get_weights())):
        np.testing.assert_allclose(d, k, rtol=1e-4, atol=1e-4, err_msg=f"weight {i} after two epochs")
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(d_history.history[key], k_history.history[key], rtol=1e-4, atol=1e-5,
                                   err_msg=f"history[{key!r}]")
    assert d_history.history["loss"][1] < d_history.history["loss"][0]
    np.testing.assert_allclose(d_model.evaluate(x, y, verbose=0), k_model.evaluate(x, y, verbose=0),
                               rtol=1e-4, atol=1e-5)


def small_cnn(K):
    L = K.layers
    return K.Sequential([K.Input((6, 6, 2)), L.Conv2D(3, 3, padding="same", activation="relu"),
                         L.BatchNormalization(), L.MaxPooling2D(), L.Flatten(), L.Dense(3, activation="softmax")])


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("weighting", ["sample_weight", "class_weight"])
def test_fit_with_weights_and_validation_split(weighting):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6, 6, 2)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 40)]
    weights = ({"sample_weight": rng.uniform(0.2, 2, 40).astype("float32")} if weighting == "sample_weight"
               else {"class_weight": {0: 0.5, 1: 2.0, 2: 1.0}})
    k_model, d_model = small_cnn(keras), small_cnn(dg)
    d_model.set_weights(k_model.get_weights())
    for model, K in ((k_model, keras), (d_model, dg)):
        model.compile(optimizer=K.optimizers.Adam(0.01), loss="categorical_crossentropy",
                      metrics=["accuracy"])
    k_history = k_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, validation_split=0.25, verbose=0, **weights)
    d_history = d_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, validation_split=0.25, verbose=0, **weights)
    assert set(d_history.history) == set(k_history.history)
    for key in k_history.history:
        np.testing.assert_allclose(d_history.history[key], k_history.history[key], rtol=1e-4, atol=1e-5,
                                   err_msg=f"history[{key!r}]")
    for i, (d, k) in enumerate(zip(d_model.get_weights(), k_model.get_weights())):
        np.testing.assert_allclose(d, k, rtol=1e-4, atol=1e-4, err_msg=f"weight {i}")
