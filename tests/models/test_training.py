"""compile/fit/evaluate/predict: learning, the exact weighting formulas, splits, seeds, errors."""
import numpy as np
import pytest
from model_helpers import Linear, Recorder, separable_data

import deepgrad as dg
from deepgrad import layers, optimizers
from deepgrad.callbacks.callback import Callback


def _classifier(inputs=2, classes=2, hidden=16):
    return dg.Sequential([layers.Input(shape=(inputs,)), layers.Dense(hidden, activation="relu"),
                          layers.Dense(classes, activation="softmax")])


def _per_sample_ce(probs, labels):
    p = np.clip(probs / probs.sum(-1, keepdims=True), 1e-7, 1 - 1e-7)
    return -np.log(p[np.arange(len(labels)), labels])


def test_fit_learns_a_separable_problem():
    x, y = separable_data(256)
    model = _classifier()
    model.compile(optimizer=optimizers.Adam(0.02), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=8, verbose=0)
    assert history is model.history
    losses = history.history["loss"]
    assert len(losses) == 8 and losses[-1] < losses[0] / 3
    assert history.history["accuracy"][-1] > 0.95
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.95 and loss < 0.2


def test_epoch_loss_is_the_per_sample_average_of_batch_losses():
    # 10 samples in batches of 4, 4, 2: the logged loss weighs each batch by its size
    x, y = separable_data(10)
    model = _classifier()
    model.compile(optimizer=optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    batch_losses = [model.test_on_batch(x[s], y[s]) for s in (slice(0, 4), slice(4, 8), slice(8, 10))]
    expected = (4 * batch_losses[0] + 4 * batch_losses[1] + 2 * batch_losses[2]) / 10
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-6)


def test_validation_split_holds_out_the_last_fraction_before_shuffling():
    x = np.arange(40, dtype="float32").reshape(20, 2)
    y = np.arange(20, dtype="float32")[:, None]
    recorder = Recorder()
    model = dg.Sequential([layers.Input(shape=(2,)), recorder, Linear(1)])
    model.compile(optimizer=optimizers.SGD(0.0), loss="mse")
    history = model.fit(x, y, batch_size=4, epochs=2, validation_split=0.25, shuffle=True, verbose=0)
    seen = np.concatenate(recorder.seen)
    assert len(seen) == 2 * 15
    assert set(seen[:, 0].tolist()) == set(x[:15, 0].tolist())
    assert not np.array_equal(seen[:15], x[:15])  # shuffled within the training part
    val_loss = model.evaluate(x[15:], y[15:], verbose=0)
    np.testing.assert_allclose(history.history["val_loss"][-1], val_loss, rtol=1e-6)


def test_validation_data_and_freq():
    x, y = separable_data(64)
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:48], y[:48], epochs=4, validation_data=(x[48:], y[48:]), validation_freq=2, verbose=0)
    assert len(history.history["loss"]) == 4 and len(history.history["val_loss"]) == 2
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_sample_weight_weights_the_per_sample_losses_exactly():
    x, y = separable_data(8)
    w = np.array([0.5, 2.0, 1.0, 0.0, 3.0, 1.0, 0.25, 1.5], "float32")
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    per_sample = _per_sample_ce(model.predict(x, verbose=0), y)
    # Keras's "sum_over_batch_size": sum(w_i l_i) / N
    np.testing.assert_allclose(model.test_on_batch(x, y, sample_weight=w), np.sum(w * per_sample) / 8, rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(x, y, sample_weight=w, verbose=0), np.sum(w * per_sample) / 8,
                               rtol=1e-5)


def test_class_weight_multiplies_into_sample_weight():
    x, y = separable_data(8)
    w = np.linspace(0.5, 2.0, 8).astype("float32")
    model = _classifier()
    model.compile(optimizer=optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    per_sample = _per_sample_ce(model.predict(x, verbose=0), y)
    class_weight = {0: 0.2, 1: 3.0}
    cw = np.where(y == 0, 0.2, 3.0)
    loss = model.train_on_batch(x, y, sample_weight=w, class_weight=class_weight)
    np.testing.assert_allclose(loss, np.sum(w * cw * per_sample) / 8, rtol=1e-5)
    # one-hot targets pick the class by argmax
    model.compile(optimizer=optimizers.SGD(0.0), loss="categorical_crossentropy")
    loss = model.train_on_batch(x, np.eye(2, dtype="float32")[y], class_weight=class_weight)
    np.testing.assert_allclose(loss, np.sum(cw * per_sample) / 8, rtol=1e-5)


def test_balanced_class_weights_raise_minority_recall():
    rng = np.random.default_rng(3)
    n_major, n_minor = 950, 50
    x = np.concatenate([rng.normal(0.0, 1.0, (n_major, 2)), rng.normal(1.5, 1.0, (n_minor, 2))]).astype("float32")
    y = np.concatenate([np.zeros(n_major), np.ones(n_minor)]).astype("float32")

    def minority_recall(class_weight):
        dg.backend.seed(0)
        model = dg.Sequential([layers.Input(shape=(2,)), layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=optimizers.Adam(0.05), loss="binary_crossentropy")
        model.fit(x, y, batch_size=64, epochs=15, class_weight=class_weight, verbose=0)
        predicted = model.predict(x[n_major:], verbose=0)[:, 0] > 0.5
        return predicted.mean()

    balanced = {0: 1000 / (2 * n_major), 1: 1000 / (2 * n_minor)}
    plain, weighted = minority_recall(None), minority_recall(balanced)
    assert plain < 0.3 and weighted > 0.7, (plain, weighted)


def test_same_seed_gives_bit_identical_weights():
    x, y = separable_data(96)

    def run():
        dg.utils.set_random_seed(42)
        model = dg.Sequential([layers.Input(shape=(2,)), layers.Dense(8, activation="relu"), layers.Dropout(0.3),
                               layers.Dense(2, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=16, epochs=3, validation_split=0.1, verbose=0)
        return model.get_weights()

    first, second = run(), run()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


class _Probe(dg.Model):
    """Records the training flag and whether a graph was being built."""

    def __init__(self):
        super().__init__()
        self.dense = Linear(3)
        self.calls = []

    def call(self, x, training=None):
        self.calls.append((training, dg.is_grad_enabled()))
        return self.dense(x)


def test_predict_builds_no_graph_and_equals_the_call():
    model = _Probe()
    x = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
    out = model.predict(x, batch_size=4, verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (10, 3)
    assert model.calls == [(False, False)] * 3
    direct = model(x, training=False)
    np.testing.assert_allclose(out, direct.data, rtol=1e-6)
    with dg.no_grad():
        assert model.predict_on_batch(x).shape == (10, 3)
    assert model.dense.w.grad is None


def test_training_steps_pass_training_true():
    model = _Probe()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 2), "float32"), np.zeros((4, 3), "float32"), batch_size=4, verbose=0)
    model.evaluate(np.ones((4, 2), "float32"), np.zeros((4, 3), "float32"), verbose=0)
    assert model.calls == [(True, True), (False, False)]


def test_evaluate_return_forms():
    x, y = separable_data(16)
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    loss = model.evaluate(x, y, verbose=0)
    assert isinstance(loss, float)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    values = model.evaluate(x, y, verbose=0)
    assert isinstance(values, list) and len(values) == 2
    np.testing.assert_allclose(values[0], loss, rtol=1e-6)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(logs) == ["accuracy", "loss"]   # keys sorted, as Keras returns them
    assert model.metrics_names == ["loss", "compile_metrics"]  # Keras's: the compiled metrics as one
    accuracy = np.mean(model.predict(x, verbose=0).argmax(-1) == y)
    np.testing.assert_allclose(logs["accuracy"], accuracy, rtol=1e-6)


def test_multi_output_loss_is_the_weighted_sum():
    inputs = layers.Input(shape=(3,))
    hidden = layers.Dense(4, activation="tanh")(inputs)
    reg = layers.Dense(1, name="reg")(hidden)
    cls = layers.Dense(2, activation="softmax", name="cls")(hidden)
    model = dg.Model(inputs, [reg, cls])
    model.compile(optimizer="sgd", loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  loss_weights={"reg": 0.5, "cls": 2.0})
    rng = np.random.default_rng(0)
    x, y_reg, y_cls = rng.normal(size=(6, 3)).astype("float32"), rng.normal(size=(6, 1)).astype("float32"), \
        rng.integers(0, 2, 6)
    p_reg, p_cls = model.predict(x, verbose=0)
    mse = np.mean((p_reg - y_reg) ** 2)
    ce = np.mean(_per_sample_ce(p_cls, y_cls))
    logs = model.test_on_batch(x, [y_reg, y_cls], return_dict=True)
    np.testing.assert_allclose(logs["loss"], 0.5 * mse + 2.0 * ce, rtol=1e-5)
    np.testing.assert_allclose(logs["reg_loss"], mse, rtol=1e-5)
    np.testing.assert_allclose(logs["cls_loss"], ce, rtol=1e-5)
    history = model.fit(x, {"reg": y_reg, "cls": y_cls}, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "reg_loss", "cls_loss"}


def test_regularisation_losses_are_added():
    model = dg.Sequential([layers.Input(shape=(3,)), layers.Dense(2, kernel_regularizer=dg.regularizers.L2(0.1))])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    mse = np.mean(model.predict(x, verbose=0) ** 2)
    penalty = 0.1 * np.sum(model.layers[0].kernel.data ** 2)
    np.testing.assert_allclose(model.test_on_batch(x, y), mse + penalty, rtol=1e-5)


def test_multi_input_fit_with_dicts():
    a, b = layers.Input(shape=(2,), name="a"), layers.Input(shape=(1,), name="b")
    out = layers.Dense(1)(layers.Concatenate()([a, b]))
    model = dg.Model([a, b], out)
    model.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    rng = np.random.default_rng(1)
    xa, xb = rng.normal(size=(64, 2)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")
    y = xa[:, :1] - 2 * xb
    history = model.fit({"a": xa, "b": xb}, y, epochs=20, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.01 * history.history["loss"][0]
    assert model.predict([xa, xb], verbose=0).shape == (64, 1)


def test_generator_and_sequence_inputs():
    x, y = separable_data(128)

    def batches():
        while True:
            for i in range(0, 128, 32):
                yield x[i:i + 32], y[i:i + 32]

    class Batches:
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[i * 32:(i + 1) * 32], y[i * 32:(i + 1) * 32]

    model = _classifier()
    model.compile(optimizer=optimizers.Adam(0.02), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(batches(), steps_per_epoch=4, epochs=6, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    history = model.fit(Batches(), epochs=2, validation_data=Batches(), verbose=0)
    assert len(history.history["val_loss"]) == 2
    np.testing.assert_allclose(model.evaluate(Batches(), verbose=0)[0], model.evaluate(x, y, verbose=0)[0], rtol=1e-5)
    assert model.predict(Batches(), verbose=0).shape == (128, 2)


def test_stop_training_ends_fit_after_the_epoch():
    class StopAt(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    x, y = separable_data(32)
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=10, callbacks=[StopAt()], verbose=0)
    assert len(history.history["loss"]) == 2


def test_initial_epoch_and_resume_epoch():
    class Resume(Callback):
        def resume_epoch(self):
            return 3

    x, y = separable_data(32)
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert len(model.fit(x, y, epochs=5, initial_epoch=2, verbose=0).history["loss"]) == 3
    assert len(model.fit(x, y, epochs=5, callbacks=[Resume()], verbose=0).history["loss"]) == 2


# ----------------------------------------------------------------- bad input, rejected before training
def _compiled():
    model = _classifier(inputs=2, classes=3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_fit_before_compile():
    with pytest.raises(RuntimeError, match="must call compile"):
        _classifier().fit(np.zeros((4, 2)), np.zeros(4))


def test_length_mismatch():
    with pytest.raises(ValueError, match="x has 10 samples but y has 9"):
        _compiled().fit(np.zeros((10, 2)), np.zeros(9, "int64"), verbose=0)


def test_wrong_feature_shape_names_both_shapes():
    with pytest.raises(ValueError, match=r"expects samples of shape \(2,\).*x has samples of shape \(5,\)"):
        _compiled().fit(np.zeros((10, 5)), np.zeros(10, "int64"), verbose=0)


def test_nan_and_inf_are_located():
    x = np.zeros((10, 2), "float32")
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"x contains NaN at index \(3, 1\)"):
        _compiled().fit(x, np.zeros(10, "int64"), verbose=0)
    y = np.zeros((10, 3), "float32")
    y[7, 0] = np.inf
    model = _classifier(classes=3)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"y contains inf at index \(7, 0\)"):
        model.fit(np.zeros((10, 2)), y, verbose=0)


def test_labels_out_of_range_for_sparse_ce():
    with pytest.raises(ValueError, match=r"Labels out of range.*0 to 3.*3 classes"):
        _compiled().fit(np.zeros((4, 2)), np.array([0, 1, 2, 3]), verbose=0)


# ----------------------------------------------------------------- softmax/sigmoid + cross-entropy fusion
@pytest.mark.parametrize("loss, activation, classes", [("sparse_categorical_crossentropy", "softmax", 3),
                                                       ("categorical_crossentropy", "softmax", 3),
                                                       ("binary_crossentropy", "sigmoid", 1)])
def test_training_loss_from_logits_equals_the_probability_loss(loss, activation, classes):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype("float32")
    labels = rng.integers(0, max(classes, 2), 8)
    y = {"sparse_categorical_crossentropy": labels, "categorical_crossentropy": np.eye(3, dtype="float32")[labels],
         "binary_crossentropy": labels[:, None].astype("float32")}[loss]
    model = dg.Sequential([layers.Input(shape=(4,)), layers.Dense(classes, activation=activation)])
    model.compile(optimizer=optimizers.SGD(0.1), loss=loss)
    before = model.get_weights()
    evaluated = model.test_on_batch(x, y)            # no graph: the clipped probability formula
    trained = model.train_on_batch(x, y)             # the fused logits path
    np.testing.assert_allclose(trained, evaluated, rtol=1e-5)
    # the update equals the one from the probability formula's gradient
    reference = dg.Sequential([layers.Input(shape=(4,)), layers.Dense(classes, activation=activation)])
    reference.set_weights(before)
    probs = reference(x, training=True)
    value = dg.losses.get(loss)(y, probs).mean()
    grads = dg.grad(value, reference.trainable_weights)
    for w, w0, g in zip(model.get_weights(), before, grads):
        np.testing.assert_allclose(w, w0 - 0.1 * g, rtol=1e-4, atol=1e-6)


def test_fused_loss_keeps_learning_where_clipping_would_stop_it():
    # a confidently wrong softmax: clip(p, 1e-7) has zero gradient, the logits path does not
    model = dg.Sequential([layers.Input(shape=(1,)), layers.Dense(2, activation="softmax")])
    model.set_weights([np.array([[50.0, -50.0]], "float32"), np.zeros(2, "float32")])
    model.compile(optimizer=optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    x, y = np.ones((1, 1), "float32"), np.array([1])
    assert model.test_on_batch(x, y) == pytest.approx(-np.log(1e-7), rel=1e-4)
    assert model.train_on_batch(x, y) == pytest.approx(100.0, rel=1e-4)  # logsumexp(50, -50) - (-50)
    assert model.get_weights()[0][0, 0] < 50.0


def test_a_loss_with_its_own_dtype_trains_on_its_own_path():
    # the loss casts the float32 softmax output to float64 first: it must not be taken for logits
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 4)).astype("float32"), rng.integers(0, 3, 16)
    model = dg.Sequential([layers.Input(shape=(4,)), layers.Dense(3, activation="softmax")])
    loss = dg.losses.SparseCategoricalCrossentropy(dtype="float64")
    model.compile(optimizer=optimizers.SGD(0.1), loss=loss)
    expected = loss(y, model(x)).item()
    assert model.train_on_batch(x, y) == pytest.approx(expected, rel=1e-6)


def test_frozen_layers_are_not_updated():
    x, y = separable_data(64)
    model = _classifier()
    model.layers[0].trainable = False
    model.compile(optimizer=optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    frozen, head = model.layers[0].get_weights(), model.layers[1].get_weights()
    model.fit(x.tolist(), y.tolist(), epochs=2, verbose=0)  # plain Python lists work too
    for a, b in zip(model.layers[0].get_weights(), frozen):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(model.layers[1].get_weights()[0], head[0])


def test_batches_with_sample_weights_match_array_evaluation():
    x, y = separable_data(48)
    w = np.linspace(0.0, 2.0, 48).astype("float32")
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    batches = [(x[i:i + 16], y[i:i + 16], w[i:i + 16]) for i in range(0, 48, 16)]
    np.testing.assert_allclose(model.evaluate(iter(batches), verbose=0),
                               model.evaluate(x, y, sample_weight=w, batch_size=16, verbose=0), rtol=1e-6)


def test_an_exhausted_generator_ends_training_with_a_warning():
    x, y = separable_data(32)
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    batches = ((x[i:i + 16], y[i:i + 16]) for i in range(0, 32, 16))
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(batches, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1
