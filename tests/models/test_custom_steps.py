"""The three Keras 3 ways of customising a training step, each as Keras documents it."""
import numpy as np
import pytest

import deepgrad as keras
from deepgrad.compat import tensorflow as tf


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    return x, (x @ rng.normal(size=(8, 1))).astype("float32")


def _dense_model(cls):
    inputs = keras.Input(shape=(8,))
    return cls(inputs, keras.layers.Dense(1)(inputs))


class TorchStyle(keras.Model):
    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with keras.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class TensorFlowStyle(keras.Model):
    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self._loss_tracker.update_state(loss)
        return self.compute_metrics(x, y, y_pred, sample_weight)


@pytest.mark.parametrize("cls", [TorchStyle, TensorFlowStyle])
def test_a_custom_step_trains_as_the_builtin_one(cls):
    x, y = _data()
    keras.utils.set_random_seed(0)
    custom = _dense_model(cls)
    keras.utils.set_random_seed(0)
    builtin = _dense_model(keras.Model)
    for m in (custom, builtin):
        m.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    h1 = custom.fit(x, y, epochs=3, batch_size=64, shuffle=False, verbose=0)
    h2 = builtin.fit(x, y, epochs=3, batch_size=64, shuffle=False, verbose=0)
    # one batch per epoch: the tracker's mean is that batch's loss, as the built-in step logs it
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(h1.history["mae"], h2.history["mae"], rtol=1e-6)
    for a, b in zip(custom.get_weights(), builtin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert h1.history["loss"][-1] < h1.history["loss"][0]


def test_zero_grad_clears_what_backward_accumulated():
    model = _dense_model(keras.Model)
    x, y = _data(8)
    (model(x) ** 2).mean().backward()
    assert all(w.grad is not None for w in model.trainable_weights)
    model.zero_grad()
    assert all(w.grad is None for w in model.trainable_weights)


class Trackers(keras.Model):
    """The "going lower-level" pattern: own trackers listed in a metrics property, compile() with no loss."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()
        self.steps_seen = []

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.loss_fn(y, y_pred)
        self.optimizer.apply_gradients(zip(tape.gradient(loss, self.trainable_weights), self.trainable_weights))
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        self.steps_seen.append(self.loss_tracker.count)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


def test_listed_trackers_are_reset_every_epoch_and_reported_in_history():
    x, y = _data(64)
    model = _dense_model(Trackers)
    model.compile(optimizer="adam")
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert model.steps_seen == [1, 2, 3, 4] * 3  # 4 steps an epoch, counted from 0 each epoch
    assert set(history.history) == {"loss", "mae"} and len(history.history["loss"]) == 3
    assert all(isinstance(v, float) for v in history.history["loss"])
    # the epoch's value is the mean of its 4 batch losses, not a running mean over all epochs
    assert history.history["loss"][-1] == pytest.approx(model.loss_tracker.result())


class AssignedTrackers(keras.Model):
    """Trackers assigned as attributes but not listed: Keras still tracks them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gap = keras.metrics.Mean(name="gap")

    def train_step(self, data):
        self.gap.update_state(np.ones(4))
        return {"gap": self.gap.result()}


def test_a_metric_assigned_to_the_model_is_tracked_and_reset():
    model = _dense_model(AssignedTrackers)
    model.compile(optimizer="adam")
    assert model.gap in model.metrics
    x, y = _data(32)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert model.gap.count == 16  # 4 steps of 4 values, this epoch only


class GANLike(keras.Model):
    def __init__(self, a, b):
        super().__init__()
        self.a, self.b = a, b

    def compile(self, a_optimizer, b_optimizer, loss_fn, **kwargs):
        super().compile(**kwargs)
        self.a_optimizer, self.b_optimizer, self.loss_fn = a_optimizer, b_optimizer, loss_fn

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        for model, optimizer in ((self.a, self.a_optimizer), (self.b, self.b_optimizer)):
            with tf.GradientTape() as tape:
                loss = self.loss_fn(np.zeros((x.shape[0], 1), "float32"), model(x, training=True))
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_weights), model.trainable_weights))
        return {"loss": loss}


def test_compile_with_the_models_own_keyword_arguments_and_two_optimizers():
    a, b = _dense_model(keras.Model), _dense_model(keras.Model)
    gan = GANLike(a, b)
    gan.compile(a_optimizer=keras.optimizers.SGD(0.1), b_optimizer=keras.optimizers.Adam(1e-2),
                loss_fn=keras.losses.MeanSquaredError())
    x, _ = _data(32)
    before = [w.copy() for w in a.get_weights() + b.get_weights()]
    history = gan.fit(x, epochs=2, batch_size=16, verbose=0)  # no targets: the step gets x alone
    after = a.get_weights() + b.get_weights()
    assert all(np.abs(p - q).max() > 0 for p, q in zip(before, after))
    assert gan.a_optimizer.iterations == 4 and gan.b_optimizer.iterations == 4
    assert len(history.history["loss"]) == 2


def test_steps_receive_data_packed_as_keras_packs_it():
    seen = {}

    class Probe(keras.Model):
        def train_step(self, data):
            seen.setdefault("train", []).append(type(data).__name__ if not isinstance(data, tuple) else len(data))
            return {}

        def test_step(self, data):
            seen["test"] = len(data)
            return {}

        def predict_step(self, data):
            seen["predict"] = type(data).__name__
            return super().predict_step(data)

    model = _dense_model(Probe)
    model.compile(optimizer="sgd", loss="mse")
    x, y = _data(8)
    model.fit(x, epochs=1, batch_size=8, verbose=0)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.fit(x, y, sample_weight=np.ones(8), epochs=1, batch_size=8, verbose=0)
    model.evaluate(x, y, verbose=0)
    out = model.predict(x, verbose=0)
    assert seen["train"] == ["ndarray", 2, 3] and seen["test"] == 2 and seen["predict"] == "ndarray"
    assert out.shape == (8, 1)


def test_compute_metrics_updates_the_compiled_metrics():
    model = _dense_model(keras.Model)
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x, y = _data(8)
    y_pred = model(x)
    logs = model.compute_metrics(x, y, y_pred)
    assert logs["mae"] == pytest.approx(float(np.abs(y - y_pred.data).mean()), rel=1e-6)
