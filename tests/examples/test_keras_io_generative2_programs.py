"""Patterns of the Keras documentation's generative, audio and graph programs (keras-team/keras-io)
that needed changes in deepgrad, each checked against Keras 3 (torch backend) or by numbers:

- CycleGAN's reflection padding layer, ``ops.pad(x, widths, mode="REFLECT")`` (TensorFlow's
  spelling, any case) inside a functional model, forward and input gradient;
- DDIM's ``Lambda`` over a function registered with ``register_keras_serializable``, which
  ``clone_model`` (its EMA copy) and a saved ``.keras`` file find again by registered name;
- DDIM's checkpoint round trip: an optimizer applied to only part of the model's weights (not
  the EMA copy), saved by ``ModelCheckpoint(save_weights_only=True)`` and restored by
  ``load_weights`` with its slots.
"""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers, ops
from deepgrad.compat import tensorflow as tf


class _ReflectPad(layers.Layer):
    def __init__(self, padding=(1, 1), mode="REFLECT", **kwargs):
        super().__init__(**kwargs)
        self.padding, self.mode = tuple(padding), mode

    def call(self, x):
        pw, ph = self.padding
        return ops.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]], mode=self.mode)


def test_reflection_padding_block_matches_keras():
    import keras
    import torch

    class KerasReflectPad(keras.layers.Layer):
        def call(self, x):  # Keras's torch backend takes PyTorch's lower-case mode names
            return keras.ops.pad(x, [[0, 0], [2, 2], [1, 1], [0, 0]], mode="reflect")

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 5, 3)).astype(np.float32)
    k_in = keras.Input((6, 5, 3))
    k_model = keras.Model(k_in, keras.layers.Conv2D(4, 3)(KerasReflectPad()(k_in)))
    d_in = layers.Input((6, 5, 3))
    d_model = dg.Model(d_in, layers.Conv2D(4, 3)(_ReflectPad(padding=(1, 2))(d_in)))
    d_model.set_weights([np.asarray(w) for w in k_model.get_weights()])

    xt = torch.tensor(x, requires_grad=True)
    k_out = k_model(xt)
    g = rng.standard_normal(tuple(k_out.shape)).astype(np.float32)
    (k_out * torch.tensor(g)).sum().backward()
    xd = dg.Tensor(x, requires_grad=True)
    d_out = d_model(xd)
    (d_out * dg.Tensor(g)).sum().backward()
    assert d_out.shape == (2, 8, 5, 4)
    np.testing.assert_allclose(d_out.numpy(), k_out.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xd.grad, xt.grad.numpy(), rtol=1e-5, atol=1e-5)


@dg.saving.register_keras_serializable(package="kio_generative")
def _sinusoid(x):
    freqs = ops.exp(ops.linspace(0.0, 3.0, 4))
    return ops.concatenate([ops.sin(x * freqs), ops.cos(x * freqs)], axis=-1)


def test_lambda_over_a_registered_function_clones_and_reloads(tmp_path):
    import keras

    inp = layers.Input((1, 1, 1))
    out = layers.Conv2D(2, 1)(layers.Lambda(_sinusoid, output_shape=(1, 1, 8))(inp))
    model = dg.Model(inp, out)
    x = np.random.default_rng(1).random((3, 1, 1, 1)).astype(np.float32)

    twin = dg.models.clone_model(model)
    twin.set_weights(model.get_weights())
    np.testing.assert_allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    lam = [layer for layer in twin.layers if isinstance(layer, layers.Lambda)][0]
    assert lam.function is _sinusoid

    path = str(tmp_path / "m.keras")
    model.save(path)
    again = dg.models.load_model(path)  # no custom_objects: the registered name finds the function
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)

    # the function's config is Keras's: the registered name in "config", so that each reads the other's
    @keras.saving.register_keras_serializable(package="kio_generative")
    def _sinusoid_k(x):
        return x
    theirs = keras.layers.Lambda(_sinusoid_k).get_config()["function"]
    ours = layers.Lambda(_sinusoid).get_config()["function"]
    assert {k: v for k, v in ours.items() if k != "config"} == {k: v for k, v in theirs.items() if k != "config"}
    assert ours["config"] == "kio_generative>_sinusoid" and theirs["config"] == "kio_generative>_sinusoid_k"
    keras_config = dict(theirs, config="kio_generative>_sinusoid")
    rebuilt = layers.Lambda.from_config({"function": keras_config, "name": "emb"})
    assert rebuilt.function is _sinusoid


class _EmaTrainer(dg.Model):
    """A network trained by a custom train_step and an exponential moving average copy of it."""

    def __init__(self):
        super().__init__()
        inp = layers.Input((4,))
        self.network = dg.Model(inp, layers.Dense(1)(layers.Dense(8, activation="relu")(inp)))
        self.ema_network = dg.models.clone_model(self.network)
        self.tracker = dg.metrics.Mean(name="n_loss")

    @property
    def metrics(self):
        return [self.tracker]

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = ops.mean((self.network(x, training=True) - y) ** 2)
        grads = tape.gradient(loss, self.network.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.network.trainable_weights))
        for w, ema_w in zip(self.network.weights, self.ema_network.weights):
            ema_w.assign(0.9 * ema_w + 0.1 * w)
        self.tracker.update_state(loss)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data
        self.tracker.update_state(ops.mean((self.ema_network(x) - y) ** 2))
        return {m.name: m.result() for m in self.metrics}


def test_checkpoint_of_an_optimizer_over_part_of_the_model_reloads(tmp_path):
    import h5py

    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    model = _EmaTrainer()
    model.compile(optimizer=dg.optimizers.Adam(1e-2))
    path = str(tmp_path / "best.weights.h5")
    save = dg.callbacks.ModelCheckpoint(path, save_weights_only=True, monitor="val_n_loss", mode="min")
    history = model.fit(x, y, batch_size=8, epochs=3, validation_data=(x, y), callbacks=[save], verbose=0)
    assert history.history["n_loss"][-1] < history.history["n_loss"][0]
    # Adam over the 4 weights it updated: iterations, learning rate, then m and v of each
    with h5py.File(path, "r") as f:
        assert len(f["optimizer/vars"]) == 2 + 2 * 4
        saved_m = np.asarray(f["optimizer/vars/2"])
    saved_weights = [w.copy() for w in model.get_weights()]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # move on past the checkpoint
    assert model.optimizer.iterations == 16
    model.load_weights(path)
    for w, s in zip(model.get_weights(), saved_weights):  # the network and its EMA copy
        np.testing.assert_array_equal(w, s)
    assert model.optimizer.iterations == 12
    assert len(model.optimizer._variables) == 4  # the EMA copy never joined the optimizer
    np.testing.assert_array_equal(model.optimizer._slots[0]["m"], saved_m)  # the first weight's momentum


class _MelLike(layers.Layer):
    """MelGAN's input layer: a feature transform in training, a pass-through in inference, with
    ``training=True`` as its call's default; and a batch normalisation inside, whose statistics the
    symbolic trace must leave alone."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.norm = layers.BatchNormalization(momentum=0.0)

    def call(self, audio, training=True):
        if training:
            return self.norm(ops.concatenate([audio, audio * 2.0, audio * 3.0], axis=-1), training=True)
        return audio


def test_symbolic_trace_uses_the_call_default_for_training():
    import keras

    class KerasMelLike(keras.layers.Layer):
        def call(self, audio, training=True):
            return keras.ops.concatenate([audio, audio * 2.0, audio * 3.0], axis=-1) if training else audio

    k_in = keras.Input((None, 1))
    k_out = keras.layers.Conv1D(2, 3, padding="same")(KerasMelLike()(k_in))
    d_in = layers.Input((None, 1))
    mel = _MelLike()
    d_out = layers.Conv1D(2, 3, padding="same")(mel(d_in))
    # Keras traces the training branch: the convolution is built for the transform's 3 channels
    assert tuple(k_out.shape) == tuple(d_out.shape) == (None, None, 2)
    model = dg.Model(d_in, d_out)
    assert model.layers[-1].kernel.shape == (3, 3, 2)
    # the trace ran the inner batch normalisation in training mode on zeros, and changed nothing
    np.testing.assert_array_equal(mel.norm.moving_mean.numpy(), np.zeros(3, np.float32))
    np.testing.assert_array_equal(mel.norm.moving_variance.numpy(), np.ones(3, np.float32))
    # inference passes features of the transform's width through
    x = np.random.default_rng(3).standard_normal((2, 7, 3)).astype(np.float32)
    assert model(x, training=False).shape == (2, 7, 2)
    assert model(x[..., :1], training=True).shape == (2, 7, 2)
