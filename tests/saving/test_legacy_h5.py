"""Legacy Keras 2 / tf.keras HDF5 files: whole models and weights-only files, with Keras 3's
legacy writer (``keras.saving.save_model(m, "x.h5")``) as the oracle."""
import json

import h5py
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers

keras = pytest.importorskip("keras")
K = keras.layers
legacy_h5_format = pytest.importorskip("keras.src.legacy.saving.legacy_h5_format")


def keras_func():
    i = K.Input((6,), dtype="int32")
    e = K.Embedding(12, 4)(i)
    a = K.LSTM(3, return_sequences=True)(e)
    b = K.Bidirectional(K.GRU(2))(a)
    return keras.Model(i, K.Dense(2, activation="softmax")(K.Concatenate()([b, K.GlobalAveragePooling1D()(e)])))


def keras_seq():
    return keras.Sequential([K.Input((6, 6, 1)), K.Conv2D(2, 3), K.BatchNormalization(), K.Flatten(), K.Dense(3)])


def randomized(model, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        value = rng.standard_normal(tuple(w.shape)).astype("float32") * 0.3
        w.assign(np.abs(value) + 0.5 if "variance" in w.path else value)
    return model


def predict(model, x):
    return keras.ops.convert_to_numpy(model.predict(x, verbose=0))


@pytest.mark.parametrize("build, x", [
    (keras_func, np.random.default_rng(0).integers(0, 12, (3, 6)).astype("int32")),
    (keras_seq, np.random.default_rng(0).standard_normal((3, 6, 6, 1)).astype("float32")),
])
def test_keras_legacy_model_file_loads_with_equal_predictions(tmp_path, build, x):
    km = randomized(build())
    km.compile(optimizer=keras.optimizers.RMSprop(0.002), loss="mse", metrics=["mae"])
    keras.saving.save_model(km, tmp_path / "m.h5")
    loaded = dg.models.load_model(tmp_path / "m.h5")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), predict(km, x), rtol=1e-5, atol=1e-5)
    assert type(loaded.optimizer).__name__ == "RMSprop"
    assert loaded.optimizer.learning_rate == pytest.approx(0.002)
    assert dg.models.load_model(tmp_path / "m.h5", compile=False).optimizer is None


def write_legacy_weights(model, path):
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


def test_weights_only_legacy_file_by_order_and_by_name(tmp_path):
    km = randomized(keras.Sequential([K.Input((3,)), K.Dense(4, name="a"), K.Dense(2, name="b")]), seed=4)
    write_legacy_weights(km, tmp_path / "w.h5")
    x = np.random.default_rng(1).standard_normal((5, 3)).astype("float32")

    same = dg.Sequential([layers.Input((3,)), layers.Dense(4, name="x"), layers.Dense(2, name="y")])
    same.load_weights(tmp_path / "w.h5")            # by order: names need not match
    np.testing.assert_allclose(same.predict(x, verbose=0), predict(km, x), rtol=1e-5, atol=1e-6)

    # by name: only "a" matches; "b" has another shape and is skipped only when asked
    other = dg.Sequential([layers.Input((3,)), layers.Dense(4, name="a"), layers.Dense(5, name="b"),
                           layers.Dense(1, name="c")])
    kept = other.get_layer("b").get_weights()
    with pytest.raises(ValueError, match="'b'.*shape"):
        other.load_weights(tmp_path / "w.h5", by_name=True)
    with pytest.warns(UserWarning, match="skipping"):
        other.load_weights(tmp_path / "w.h5", by_name=True, skip_mismatch=True)
    np.testing.assert_array_equal(other.get_layer("a").get_weights()[0], km.get_layer("a").get_weights()[0])
    np.testing.assert_array_equal(other.get_layer("b").get_weights()[0], kept[0])
    with pytest.raises(ValueError, match="by_name"):
        other.load_weights(tmp_path / "w.h5", skip_mismatch=True)
    with pytest.raises(ValueError, match="2 layers"):
        other.load_weights(tmp_path / "w.h5")


def test_keras2_functional_config_with_nested_list_nodes(tmp_path):
    """tf.keras 2 wrote ``inbound_nodes`` as nested lists and ``batch_input_shape``."""
    rng = np.random.default_rng(5)
    kernel, bias = rng.standard_normal((3, 2)).astype("float32"), rng.standard_normal(2).astype("float32")
    config = {"class_name": "Functional", "config": {
        "name": "model", "layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3], "dtype": "float32",
                                                    "sparse": False, "ragged": False, "name": "input_1"},
             "name": "input_1", "inbound_nodes": []},
            {"class_name": "Dense", "config": {"name": "dense", "trainable": True, "dtype": "float32", "units": 2,
                                               "activation": "tanh", "use_bias": True,
                                               "kernel_initializer": {"class_name": "GlorotUniform",
                                                                      "config": {"seed": None}},
                                               "bias_initializer": {"class_name": "Zeros", "config": {}},
                                               "kernel_regularizer": None, "bias_regularizer": None,
                                               "activity_regularizer": None, "kernel_constraint": None,
                                               "bias_constraint": None},
             "name": "dense", "inbound_nodes": [[["input_1", 0, 0, {}]]]}],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["dense", 0, 0]]}}
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.13.1"
        f.attrs["backend"] = "tensorflow"
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [b"input_1", b"dense"]
        g.create_group("input_1").attrs["weight_names"] = np.array([], dtype="S1")
        d = g.create_group("dense")
        d.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        d["dense/kernel:0"] = kernel
        d["dense/bias:0"] = bias
    model = dg.models.load_model(tmp_path / "m.h5")
    x = rng.standard_normal((4, 3)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), np.tanh(x @ kernel + bias), rtol=1e-5, atol=1e-6)
