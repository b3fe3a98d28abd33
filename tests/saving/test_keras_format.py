"""Keras 3's own files, both ways: ``.keras`` archives and ``.weights.h5``, with Keras as the oracle.

Keras writes, deepgrad reads (and the other way round), and the predictions agree; the
files deepgrad writes have Keras's exact weight paths and config objects; compiled models
keep their optimiser state.
"""
import json
import os
import shutil
import zipfile

import h5py
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers
from deepgrad.files.keras_paths import optimizer_arrays

keras = pytest.importorskip("keras")
K = keras.layers


def keras_models():
    def seq():
        return keras.Sequential([K.Input((8, 8, 2)), K.Conv2D(3, 3, activation="relu"), K.BatchNormalization(),
                                 K.Flatten(), K.Dropout(0.2), K.Dense(4)])

    def func():
        i = K.Input((5,), dtype="int32")
        e = K.Embedding(10, 4)(i)
        a = K.LSTM(3, return_sequences=True)(e)
        b = K.Bidirectional(K.GRU(2))(a)
        c = K.SimpleRNN(2)(e)
        return keras.Model(i, K.Dense(2)(K.Concatenate()([b, c])))

    def nested():
        inner = keras.Sequential([K.Input((3,)), K.Dense(4, activation="tanh"), K.Dense(4)], name="inner")
        i = K.Input((3,))
        return keras.Model(i, K.Dense(1)(inner(i)))

    return {"seq": seq, "func": func, "nested": nested}


def deepgrad_models():
    def seq():
        return dg.Sequential([layers.Input((8, 8, 2)), layers.Conv2D(3, 3, activation="relu"),
                              layers.BatchNormalization(), layers.Flatten(), layers.Dropout(0.2), layers.Dense(4)])

    def func():
        i = layers.Input((5,), dtype="int32")
        e = layers.Embedding(10, 4)(i)
        a = layers.LSTM(3, return_sequences=True)(e)
        b = layers.Bidirectional(layers.GRU(2))(a)
        c = layers.SimpleRNN(2)(e)
        return dg.Model(i, layers.Dense(2)(layers.Concatenate()([b, c])))

    def nested():
        inner = dg.Sequential([layers.Input((3,)), layers.Dense(4, activation="tanh"), layers.Dense(4)], name="inner")
        i = layers.Input((3,))
        return dg.Model(i, layers.Dense(1)(inner(i)))

    return {"seq": seq, "func": func, "nested": nested}


def inputs(name):
    rng = np.random.default_rng(3)
    if name == "seq":
        return rng.standard_normal((4, 8, 8, 2)).astype("float32")
    if name == "func":
        return rng.integers(0, 10, (4, 5)).astype("int32")
    return rng.standard_normal((4, 3)).astype("float32")


def randomized(model, seed=0):
    """Weights away from their initial values (moving variances kept positive)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        value = rng.standard_normal(tuple(w.shape)).astype("float32") * 0.3
        if "variance" in (getattr(w, "path", None) or w.name):
            value = np.abs(value) + 0.5
        w.assign(value)
    return model


def keras_predict(model, x):
    return keras.ops.convert_to_numpy(model.predict(x, verbose=0))


def h5_layout(data_or_path):
    """{dataset path: shape} and {group path: name attribute} of a Keras weights file."""
    shapes, names = {}, {}
    with h5py.File(data_or_path, "r") as f:
        def visit(path, obj):
            if isinstance(obj, h5py.Dataset):
                shapes[path] = obj.shape
            elif "name" in obj.attrs:
                names[path] = obj.attrs["name"]
        f.visititems(visit)
    return shapes, names


def weights_member(path):
    import io
    with zipfile.ZipFile(path) as zf:
        return io.BytesIO(zf.read("model.weights.h5"))


NAMES = ["seq", "func", "nested"]


@pytest.mark.parametrize("name", NAMES)
def test_keras_writes_deepgrad_reads(tmp_path, name):
    km = randomized(keras_models()[name]())
    km.save(tmp_path / "m.keras")
    km.save_weights(tmp_path / "m.weights.h5")
    x = inputs(name)
    expected = keras_predict(km, x)
    loaded = dg.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    fresh = deepgrad_models()[name]()
    fresh.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_deepgrad_writes_keras_reads(tmp_path, name):
    dm = randomized(deepgrad_models()[name](), seed=1)
    x = inputs(name)
    expected = dm.predict(x, verbose=0)
    dm.save(tmp_path / "m.keras")
    dm.save_weights(tmp_path / "m.weights.h5")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(keras_predict(loaded, x), expected, rtol=1e-5, atol=1e-5)
    fresh = keras_models()[name]()
    fresh.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(keras_predict(fresh, x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_weight_paths_and_config_objects_are_keras_own(tmp_path, name):
    km, dm = keras_models()[name](), deepgrad_models()[name]()
    km.save(tmp_path / "k.keras")
    dm.save(tmp_path / "d.keras")
    k_shapes, k_names = h5_layout(weights_member(tmp_path / "k.keras"))
    d_shapes, d_names = h5_layout(weights_member(tmp_path / "d.keras"))
    assert d_shapes == k_shapes
    assert set(d_names) == set(k_names)
    with zipfile.ZipFile(tmp_path / "d.keras") as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        config = json.loads(zf.read("config.json"))
        metadata = json.loads(zf.read("metadata.json"))
    with zipfile.ZipFile(tmp_path / "k.keras") as zf:
        k_config = json.loads(zf.read("config.json"))
    assert set(metadata) >= {"keras_version", "date_saved"}
    assert {k: config[k] for k in ("module", "class_name", "registered_name")} == \
        {k: k_config[k] for k in ("module", "class_name", "registered_name")}
    assert config["build_config"] == k_config["build_config"]
    d_layers, k_layers = config["config"]["layers"], k_config["config"]["layers"]
    assert [(e["module"], e["class_name"]) for e in d_layers] == [(e["module"], e["class_name"]) for e in k_layers]
    for d_entry, k_entry in zip(d_layers, k_layers):
        if d_entry["class_name"] in ("Dense", "Conv2D", "LSTM", "Embedding"):
            assert d_entry["config"]["dtype"] == {"module": "keras", "class_name": "DTypePolicy",
                                                  "config": {"name": "float32"}, "registered_name": None}
            assert d_entry.get("build_config") == k_entry.get("build_config")
        for key, value in d_entry["config"].items():
            if key.endswith("_initializer") and isinstance(value, dict):
                assert value["module"] == "keras.initializers"
                assert value["class_name"] == k_entry["config"][key]["class_name"]
        assert len(d_entry.get("inbound_nodes", [])) == len(k_entry.get("inbound_nodes", []))
        if d_entry.get("inbound_nodes"):
            d_args = json.dumps(d_entry["inbound_nodes"][0]["args"])
            k_args = json.dumps(k_entry["inbound_nodes"][0]["args"])
            assert d_args.count("__keras_tensor__") == k_args.count("__keras_tensor__")


@pytest.mark.parametrize("name", ["func", "nested"])
def test_compiled_model_keeps_optimizer_state_both_ways(tmp_path, name):
    dm = randomized(deepgrad_models()[name](), seed=2)
    x = inputs(name)
    y = dm.predict(x, verbose=0) + 0.5
    dm.compile(optimizer=dg.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    dm.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False)
    dm.save(tmp_path / "d.keras")
    km = keras.saving.load_model(tmp_path / "d.keras")
    assert int(keras.ops.convert_to_numpy(km.optimizer.iterations)) == 2
    k_state = [keras.ops.convert_to_numpy(v) for v in km.optimizer.variables]
    d_state = optimizer_arrays(dm.optimizer)
    assert len(k_state) == len(d_state) > 2
    for a, b in zip(k_state, d_state):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=1e-6, atol=1e-7)
    assert km.loss == "mse"
    # one more step in each, from the same state, lands on the same weights
    km.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    dm.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    np.testing.assert_allclose(keras_predict(km, x), dm.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    km.save(tmp_path / "k.keras")
    back = dg.models.load_model(tmp_path / "k.keras")
    assert back.optimizer.iterations == 3
    assert back.optimizer.learning_rate == pytest.approx(0.01)
    for a, b in zip(optimizer_arrays(back.optimizer), [keras.ops.convert_to_numpy(v) for v in km.optimizer.variables]):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=1e-6, atol=1e-7)
    back.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    km.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    np.testing.assert_allclose(back.predict(x, verbose=0), keras_predict(km, x), rtol=1e-5, atol=1e-5)


def test_uncompiled_keras_file_and_compile_false(tmp_path):
    km = randomized(keras_models()["nested"]())
    km.compile(optimizer="sgd", loss="mae")
    km.save(tmp_path / "m.keras")
    assert dg.models.load_model(tmp_path / "m.keras", compile=False).optimizer is None
    loaded = dg.models.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer).__name__ == "SGD"


def test_old_deepgrad_keras_files_still_load(tmp_path):
    dm = randomized(deepgrad_models()["nested"]())
    dm.save(tmp_path / "m.deepgrad")
    shutil.copy(tmp_path / "m.deepgrad", tmp_path / "old.keras")   # what earlier versions wrote as .keras
    with zipfile.ZipFile(tmp_path / "old.keras") as zf:
        assert "model.weights.safetensors" in zf.namelist()
    x = inputs("nested")
    np.testing.assert_allclose(dg.models.load_model(tmp_path / "old.keras").predict(x, verbose=0),
                               dm.predict(x, verbose=0), rtol=0, atol=0)
    fresh = deepgrad_models()["nested"]()
    fresh.load_weights(tmp_path / "old.keras")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), dm.predict(x, verbose=0), rtol=0, atol=0)


def test_skip_mismatch_leaves_mismatched_objects(tmp_path):
    small = randomized(dg.Sequential([layers.Input((3,)), layers.Dense(4), layers.Dense(2)]))
    small.save_weights(tmp_path / "w.weights.h5")
    other = dg.Sequential([layers.Input((3,)), layers.Dense(4), layers.Dense(5)])
    before = other.layers[1].get_weights()
    with pytest.raises(ValueError, match="shape"):
        other.load_weights(tmp_path / "w.weights.h5")
    other.load_weights(tmp_path / "w.weights.h5", skip_mismatch=True)
    np.testing.assert_array_equal(other.layers[0].get_weights()[0], small.layers[0].get_weights()[0])
    np.testing.assert_array_equal(other.layers[1].get_weights()[0], before[0])


def _mha():
    i = layers.Input((4, 8))
    return dg.Model(i, layers.Dense(2)(layers.MultiHeadAttention(2, 4)(i, i)))


def _masked_embedding():
    i = layers.Input((4,), dtype="int32")
    return dg.Model(i, layers.LSTM(2)(layers.Embedding(20, 3, mask_zero=True)(i)))


MORE = {
    "conv1d": ((10, 3), lambda: [layers.Conv1D(4, 3, padding="same"), layers.MaxPooling1D(2),
                                 layers.GlobalAveragePooling1D()]),
    "conv2d": ((8, 8, 3), lambda: [layers.Conv2D(4, 3), layers.MaxPooling2D(), layers.AveragePooling2D(2),
                                   layers.Flatten(), layers.Dense(2)]),
    "transposed": ((6, 6, 2), lambda: [layers.Conv2DTranspose(3, 3), layers.DepthwiseConv2D(3),
                                       layers.SeparableConv2D(2, 3)]),
    "norms": ((5,), lambda: [layers.Dense(4), layers.LayerNormalization(), layers.UnitNormalization(),
                             layers.GroupNormalization(groups=2)]),
    "time_distributed": ((4, 3), lambda: [layers.TimeDistributed(layers.Dense(2))]),
    "bidirectional_sum": ((5, 3), lambda: [layers.Bidirectional(layers.LSTM(2, return_sequences=True),
                                                                merge_mode="sum"), layers.GlobalMaxPooling1D()]),
    "conv_lstm": ((3, 5, 5, 1), lambda: [layers.ConvLSTM2D(2, 3)]),
    "activations": ((6,), lambda: [layers.Dense(3, kernel_regularizer="l2"), layers.LeakyReLU(0.2),
                                   layers.PReLU(), layers.Softmax()]),
    "rnn_of_a_cell": ((5, 3), lambda: [layers.RNN(layers.LSTMCell(3))]),
    "rnn_of_stacked_cells": ((5, 3), lambda: [layers.RNN([layers.GRUCell(2), layers.SimpleRNNCell(2)])]),
    "attention": (None, _mha),
    "masked_embedding": (None, _masked_embedding),
}


@pytest.mark.parametrize("name", sorted(MORE))
def test_more_layer_kinds_through_keras_and_back(tmp_path, name):
    shape, build = MORE[name]
    rng = np.random.default_rng(11)
    model = dg.Sequential([layers.Input(shape)] + build()) if shape is not None else build()
    if name == "masked_embedding":
        x = np.array([[3, 5, 0, 0], [1, 2, 3, 4]], "int32")
    else:
        x = rng.standard_normal((2,) + tuple(model.input_shape[1:])).astype("float32")
    randomized(model, seed=5)
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "d.keras")
    km = keras.saving.load_model(tmp_path / "d.keras")
    np.testing.assert_allclose(keras_predict(km, x), expected, rtol=1e-5, atol=1e-5)
    km.save(tmp_path / "k.keras")
    back = dg.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(back.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)


def _classifier(kind):
    dg.backend.seed(0)
    inputs = layers.Input(shape=(5,))
    if kind == "sequential":
        return dg.Sequential([inputs, layers.Dense(8, activation="relu"), layers.BatchNormalization(),
                              layers.Dense(2, activation="softmax")])
    hidden = layers.Dense(6, activation="tanh")(inputs)
    return dg.Model(inputs, layers.Dense(2, activation="softmax")(layers.Add()([hidden, layers.Dense(6)(inputs)])))


@pytest.mark.parametrize("kind", ["sequential", "functional"])
@pytest.mark.parametrize("optimizer", [lambda: dg.optimizers.Adam(0.01, amsgrad=True),
                                       lambda: dg.optimizers.SGD(0.1, momentum=0.9),
                                       lambda: dg.optimizers.RMSprop(0.01, momentum=0.5, centered=True)])
def test_deepgrad_round_trip_through_the_keras_format_is_exact(tmp_path, kind, optimizer):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 5)).astype(np.float32)
    y = (x[:, :2].sum(1) > 0).astype(np.int64)
    model = _classifier(kind)
    model.compile(optimizer=optimizer(), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", dg.metrics.SparseTopKCategoricalAccuracy(k=1, name="top1")])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = dg.models.load_model(tmp_path / "m.keras")
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [m.name for m in loaded.metrics] == [m.name for m in model.metrics]
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    model.train_on_batch(x[:8], y[:8])
    loaded.train_on_batch(x[:8], y[:8])
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    state, loaded_state = model.optimizer.get_state(), loaded.optimizer.get_state()
    assert sorted(state) == sorted(loaded_state) and int(state["iterations"]) == 11
    for key in state:
        np.testing.assert_allclose(state[key], loaded_state[key], rtol=1e-6, err_msg=key)


def test_multi_output_compile_config_through_the_keras_format(tmp_path):
    dg.backend.seed(0)
    inputs = layers.Input(shape=(4,))
    model = dg.Model(inputs, [layers.Dense(3, activation="softmax", name="cls")(inputs),
                              layers.Dense(1, name="reg")(inputs)])
    model.compile(optimizer="adam", loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  metrics={"cls": ["accuracy"], "reg": ["mae"]}, loss_weights={"cls": 1.0, "reg": 0.5})
    rng = np.random.default_rng(0)
    x = rng.random((16, 4), dtype=np.float32)
    y = {"cls": rng.integers(0, 3, 16), "reg": rng.random((16, 1), dtype=np.float32)}
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "multi.keras")
    loaded = dg.models.load_model(tmp_path / "multi.keras")
    assert [m.name for m in loaded.metrics] == ["loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae"]
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-6)
    km = keras.saving.load_model(tmp_path / "multi.keras")
    outs = km.predict(x, verbose=0)
    ours = model.predict(x, verbose=0)
    for a, b in zip(outs if isinstance(outs, list) else list(outs.values()), ours):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a), b, rtol=1e-5, atol=1e-6)


def test_custom_function_needs_custom_objects_in_the_keras_format(tmp_path):
    def doubled_error(y_true, y_pred):
        return 2 * np.abs(y_true - y_pred).mean(axis=-1)

    model = _classifier("sequential")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=[doubled_error])
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="custom_objects=.*doubled_error"):
        dg.models.load_model(tmp_path / "m.keras")
    loaded = dg.models.load_model(tmp_path / "m.keras", custom_objects={"doubled_error": doubled_error})
    assert [m.name for m in loaded.metrics] == [m.name for m in model.metrics] == ["loss", "doubled_error"]


@pytest.mark.parametrize("optimizer", [
    lambda: dg.optimizers.Adam(0.01, amsgrad=True), lambda: dg.optimizers.AdamW(0.01),
    lambda: dg.optimizers.SGD(0.1, momentum=0.9, nesterov=True), lambda: dg.optimizers.SGD(0.1),
    lambda: dg.optimizers.RMSprop(0.01, momentum=0.5, centered=True), lambda: dg.optimizers.Adagrad(0.1),
    lambda: dg.optimizers.Adamax(0.01), lambda: dg.optimizers.Nadam(0.01), lambda: dg.optimizers.Adadelta(0.5),
], ids=["adam_amsgrad", "adamw", "sgd_nesterov", "sgd", "rmsprop_centered", "adagrad", "adamax", "nadam", "adadelta"])
def test_every_optimizer_state_is_in_keras_order(tmp_path, optimizer):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 3)).astype("float32"), rng.standard_normal((8, 2)).astype("float32")
    dg.backend.seed(0)
    model = dg.Sequential([layers.Input((3,)), layers.Dense(4, activation="tanh"), layers.Dense(2)])
    model.compile(optimizer=optimizer(), loss="mse")
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False)
    model.save(tmp_path / "o.keras")
    km = keras.saving.load_model(tmp_path / "o.keras")
    theirs = [keras.ops.convert_to_numpy(v) for v in km.optimizer.variables]
    ours = optimizer_arrays(model.optimizer)
    assert len(theirs) == len(ours)
    for a, b in zip(theirs, ours):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=1e-6, atol=1e-7)
    km.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    np.testing.assert_allclose(keras_predict(km, x), model.predict(x, verbose=0), rtol=1e-5, atol=2e-6)


def test_failed_keras_writes_leave_the_previous_file(tmp_path, monkeypatch):
    model = randomized(deepgrad_models()["nested"]())
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    before = {name: (tmp_path / name).read_bytes() for name in ("m.keras", "m.weights.h5")}

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    randomized(model, seed=9)
    with pytest.raises(OSError, match="No space"):
        model.save(tmp_path / "m.keras")
    with pytest.raises(OSError, match="No space"):
        model.save_weights(tmp_path / "m.weights.h5")
    assert sorted(os.listdir(tmp_path)) == ["m.keras", "m.weights.h5"]
    assert {name: (tmp_path / name).read_bytes() for name in before} == before


def test_user_classes_keep_their_module_and_registered_name(tmp_path):
    @dg.saving.register_keras_serializable(package="test_keras_format")
    class Scale(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def build(self, input_shape):
            self.w = self.add_weight(name="w", shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.w * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    model = dg.Sequential([layers.Input((3,)), Scale(3.0), layers.Dense(2)])
    model.layers[0].w.assign(np.array([1.0, 2.0, 3.0], "float32"))
    model.save(tmp_path / "c.keras")
    with zipfile.ZipFile(tmp_path / "c.keras") as zf:
        entry = json.loads(zf.read("config.json"))["config"]["layers"][1]
    assert entry["module"] == Scale.__module__ and entry["registered_name"] == "test_keras_format>Scale"
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(dg.models.load_model(tmp_path / "c.keras").predict(x, verbose=0),
                                  model.predict(x, verbose=0))
