"""Patterns of the Keras documentation's vision examples (keras-team/keras-io, examples/vision:
ViT's ModelCheckpoint to a ``.weights.h5`` file, CCT's position embedding added to a symbolic
tensor, involution's visualisation model over layers with two outputs, knowledge distillation's
``compiled_metrics``, Grad-CAM's ``model.layers[-1].activation = None``), written here in small
form and checked against Keras 3 (torch backend) where Keras gives the number."""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import layers  # noqa: E402
from deepgrad.compat import tensorflow as tf  # noqa: E402


def _small_classifier(lib):
    inputs = lib.Input((6,))
    hidden = lib.layers.Dense(5, activation="relu")(inputs)
    return lib.Model(inputs, lib.layers.Dense(3, activation="softmax")(hidden))


def test_model_checkpoint_writes_keras_weights_file_that_keras_reads(tmp_path):
    dg.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 6)).astype("float32"), rng.integers(0, 3, 40)
    model = _small_classifier(dg)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    path = str(tmp_path / "best.weights.h5")
    model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0,
              callbacks=[dg.callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True,
                                                      save_weights_only=True)])
    assert os.path.exists(path)
    expected = model.predict(x, verbose=0)
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    model.load_weights(path)
    twin = _small_classifier(keras)
    twin.load_weights(path)  # the file is Keras's own format
    np.testing.assert_allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    # the best epoch may be the first; either way the loaded weights are the saved ones
    assert model.predict(x, verbose=0).shape == expected.shape
    for bad in ("/tmp/checkpoint", "w.keras"):  # Keras: only a .weights.h5 path with save_weights_only
        with pytest.raises(ValueError, match="weights"):
            dg.callbacks.ModelCheckpoint(bad, save_weights_only=True)
        with pytest.raises(ValueError, match="weights.h5"):
            keras.callbacks.ModelCheckpoint(bad, save_weights_only=True)


def test_concrete_tensor_added_to_symbolic_one_is_a_constant_of_the_graph():
    dg.utils.set_random_seed(1)
    inputs = dg.Input((4, 3))
    seq = layers.Dense(3)(inputs)
    embed = layers.Embedding(4, 3)
    positions = embed(tf.range(start=0, limit=4, delta=1))  # computed now, on a concrete tensor
    model = dg.Model(inputs, seq + positions)
    table = embed.get_weights()[0].copy()
    assert len(model.trainable_weights) == 2  # the Dense only: the Embedding is not in the graph
    model.compile("sgd", "mse")
    x = np.random.default_rng(1).standard_normal((8, 4, 3)).astype("float32")
    history = model.fit(x, np.zeros((8, 4, 3), "float32"), epochs=3, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]  # two steps an epoch, no graph reuse error
    np.testing.assert_array_equal(embed.get_weights()[0], table)
    dense = model.layers[1]
    np.testing.assert_allclose(model.predict(x, verbose=0), dense(x).data + table, rtol=1e-5, atol=1e-6)


class _TwoOutputs(layers.Layer):
    """One call giving a feature map and a second tensor of another rank, as involution's layer does."""

    def call(self, x):
        return x * 2.0, dg.ops.expand_dims(x, -1) + 1.0


def test_predict_keeps_nested_outputs_of_intermediate_layers():
    inputs = dg.Input((3, 2))
    a = _TwoOutputs(name="first")(inputs)
    b = _TwoOutputs(name="second")(a[0])
    model = dg.Model(inputs, b[0])
    probe = dg.Model(model.input, [model.get_layer("first").output, model.get_layer("second").output])
    x = np.random.default_rng(2).standard_normal((5, 3, 2)).astype("float32")
    (a0, a1), (b0, b1) = probe.predict(x, batch_size=2, verbose=0)  # three batches joined per leaf
    np.testing.assert_allclose(a0, x * 2)
    np.testing.assert_allclose(a1, x[..., None] + 1)
    np.testing.assert_allclose(b0, x * 4)
    assert b1.shape == (5, 3, 2, 1)


def test_compiled_metrics_update_state_updates_the_compiled_metrics():
    model = _small_classifier(dg)
    model.compile(optimizer="adam", metrics=[dg.metrics.SparseCategoricalAccuracy()])
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.9, 0.05, 0.05]], "float32")
    labels = np.array([0, 2, 2, 1])
    model.compiled_metrics.update_state(labels, probs)
    accuracy = keras.metrics.SparseCategoricalAccuracy()
    accuracy.update_state(labels, probs)
    # Keras's TensorFlow trainer gives a mean metric (the loss tracker) y_pred alone
    mean = keras.metrics.Mean()
    mean.update_state(probs)
    got = {m.name: float(m.result()) for m in model.metrics}
    assert got["sparse_categorical_accuracy"] == pytest.approx(float(accuracy.result())) == 0.5
    assert got["loss"] == pytest.approx(float(mean.result()), rel=1e-6)


@pytest.mark.parametrize("kind", ["dense", "conv", "depthwise"])
def test_activation_set_to_none_gives_the_pre_activation_as_keras(kind):
    rng = np.random.default_rng(3)
    if kind == "dense":
        make, x = (lambda lib: lib.layers.Dense(4, activation="softmax")), rng.standard_normal((3, 5))
    elif kind == "conv":
        make, x = (lambda lib: lib.layers.Conv2D(2, 3, activation="sigmoid")), rng.standard_normal((2, 5, 5, 3))
    else:
        make, x = (lambda lib: lib.layers.DepthwiseConv2D(3, activation="relu")), rng.standard_normal((2, 5, 5, 3))
    x = x.astype("float32")
    ours, theirs = make(dg), make(keras)
    ours(x), theirs(x)
    theirs.set_weights([rng.standard_normal(w.shape).astype("float32") for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    ours.activation = None
    theirs.activation = None
    expected = keras.ops.convert_to_numpy(theirs(x))
    np.testing.assert_allclose(ours(x).data, expected, rtol=1e-5, atol=1e-5)
    assert expected.min() < 0  # really the linear part: no softmax, sigmoid or relu applied


def _moe_style_step(lib):
    """mnist_moe.py's steps: every metric (the loss tracker too) updated with ``(y, y_pred)`` and
    an extra key in the logs."""

    class Stepper(lib.Model):
        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            for metric in self.metrics:
                metric.update_state(y, y_pred)
            return {"aux_loss": lib.ops.sum(y_pred) * 0.0 + 7.0, **{m.name: m.result() for m in self.metrics}}

    inputs = lib.Input((4,))
    return Stepper(inputs, lib.layers.Dense(3, activation="softmax")(inputs))


def test_custom_step_updating_every_metric_and_evaluate_order_match_keras():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((10, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 10)]
    ours, theirs = _moe_style_step(dg), _moe_style_step(keras)
    theirs.set_weights([rng.standard_normal(w.shape).astype("float32") for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    for m in (ours, theirs):
        m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    got = ours.evaluate(x, y, batch_size=4, verbose=0)
    want = theirs.evaluate(x, y, batch_size=4, verbose=0)
    # Keras's order: the metrics' names (loss, accuracy), then the other keys sorted (aux_loss);
    # its loss tracker, a Mean, takes y as values and y_pred as sample weights
    assert len(got) == len(want) == 3
    np.testing.assert_allclose(got, [float(v) for v in want], rtol=1e-5, atol=1e-6)
    assert got[2] == pytest.approx(7.0)


def test_integer_scalar_tensor_indexes_a_list_as_tf_and_torch_tensors_do():
    experts = ["a", "b", "c"]
    index = tf.unique(np.array([2, 2, 0]))[0]
    assert [experts[i] for i in index] == ["c", "a"]
    assert list(range(dg.Tensor(np.array(3), dtype=np.int64))) == [0, 1, 2]
    for bad in (dg.Tensor(1.0), dg.Tensor(np.array([1]), dtype=np.int64)):
        with pytest.raises(TypeError):
            experts[bad]


def test_compiled_loss_is_compute_loss_with_the_models_own_losses():
    inputs = dg.Input((4,))
    outputs = layers.Dense(2, kernel_regularizer=dg.regularizers.l2(0.1))(inputs)
    model = dg.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mae")
    x = np.random.default_rng(9).standard_normal((5, 4)).astype("float32")
    y = np.zeros((5, 2), "float32")
    y_pred = model(x)
    got = float(model.compiled_loss(y, y_pred, regularization_losses=model.losses).data)
    kernel = model.layers[1].get_weights()[0]
    expected = np.abs(y_pred.data).mean() + 0.1 * (kernel ** 2).sum()
    assert got == pytest.approx(float(expected), rel=1e-5)
    assert got == pytest.approx(float(model.compute_loss(x, y, y_pred).data), rel=1e-6)
