"""Quantized models in files: deepgrad's zip and Keras's ``.keras``/``.weights.h5``, both ways,
with Keras 3 as the oracle; the int8 weights are stored as int8."""
import os
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import layers  # noqa: E402
from deepgrad.files import safetensors_format as st  # noqa: E402

RNG = np.random.default_rng(2)


def _mlp(width=512):
    return dg.Sequential([layers.Input((256,)), layers.Dense(width, activation="relu"), layers.Dense(width),
                          layers.Dense(10, activation="softmax")])


def test_deepgrad_file_stores_int8_and_reloads_identically(tmp_path):
    model = _mlp()
    model.save(tmp_path / "float.deepgrad")
    model.quantize("int8")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.save(tmp_path / "int8.deepgrad", include_optimizer=False)
    ratio = os.path.getsize(tmp_path / "float.deepgrad") / os.path.getsize(tmp_path / "int8.deepgrad")
    assert ratio >= 3.5, ratio
    with zipfile.ZipFile(tmp_path / "int8.deepgrad") as zf:
        arrays, _ = st.loads(zf.read("model.weights.safetensors"), source="int8.deepgrad")
    dtypes = {key.split("/")[-1]: value.dtype for key, value in arrays.items()}
    assert dtypes == {"bias": np.float32, "kernel": np.int8, "kernel_scale": np.float32}
    loaded = dg.models.load_model(tmp_path / "int8.deepgrad")
    assert loaded.layers[0].dtype_policy.name == "int8_from_float32"
    x = RNG.normal(size=(8, 256)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_weights_files_round_trip(tmp_path):
    model = _mlp(32)
    model.quantize("int8")
    other = _mlp(32)
    other.quantize("int8")
    x = RNG.normal(size=(4, 256)).astype(np.float32)
    for name in ("w.weights.safetensors", "w.weights.h5"):
        model.save_weights(tmp_path / name)
        other.load_weights(tmp_path / name)
        np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def _keras_model():
    i = keras.Input((5,), dtype="int32")
    e = keras.layers.Embedding(20, 8)(i)
    h = keras.layers.Dense(6, activation="relu")(keras.layers.Flatten()(e))
    return keras.Model(i, keras.layers.Dense(3, use_bias=False)(h))


def test_keras_quantized_file_loads_with_the_same_outputs(tmp_path):
    km = _keras_model()
    km.quantize("int8")
    km.save(tmp_path / "k.keras")
    dm = dg.models.load_model(tmp_path / "k.keras")
    ids = RNG.integers(0, 20, (7, 5))
    np.testing.assert_allclose(dm.predict(ids, verbose=0), keras.ops.convert_to_numpy(km.predict(ids, verbose=0)),
                               rtol=1e-5, atol=1e-5)
    assert [w.dtype for w in dm.weights].count(np.int8) == 3
    km.save_weights(tmp_path / "k.weights.h5")
    dm.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(dm.predict(ids, verbose=0), keras.ops.convert_to_numpy(km.predict(ids, verbose=0)),
                               rtol=1e-5, atol=1e-5)


def test_deepgrad_quantized_file_loads_in_keras(tmp_path):
    i = layers.Input((5,), dtype="int32")
    e = layers.Embedding(20, 8)(i)
    h = layers.Dense(6, activation="relu")(layers.Flatten()(e))
    dm = dg.Model(i, layers.Dense(3, use_bias=False)(h))
    dm.quantize("int8")
    dm.save(tmp_path / "d.keras")
    km = keras.saving.load_model(tmp_path / "d.keras")
    assert [layer.dtype_policy.name for layer in km.layers if layer.weights] == ["int8_from_float32"] * 3
    ids = RNG.integers(0, 20, (7, 5))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(km.predict(ids, verbose=0)), dm.predict(ids, verbose=0),
                               rtol=1e-5, atol=1e-5)


def test_quantized_convolutions_round_trip_through_keras_format(tmp_path):
    # deepgrad's own int8 mode (Keras 3.15.1 quantizes no convolution): its .keras file reloads here
    model = dg.Sequential([layers.Input((9, 9, 2)), layers.Conv2D(4, 3, padding="same", activation="relu"),
                           layers.Conv2D(3, 2, strides=2), layers.Flatten(), layers.Dense(2)])
    model.quantize("int8")
    model.save(tmp_path / "c.keras")
    loaded = dg.models.load_model(tmp_path / "c.keras")
    assert [w.dtype for w in loaded.weights].count(np.int8) == 3
    x = RNG.normal(size=(3, 9, 9, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_quantized_einsum_dense_files_both_ways(tmp_path):
    km = keras.Sequential([keras.Input((3, 5)), keras.layers.EinsumDense("abc,cde->abde", (None, 2, 4),
                                                                         bias_axes="de")])
    km.quantize("int8")
    km.save(tmp_path / "k.keras")
    dm = dg.models.load_model(tmp_path / "k.keras")
    x = RNG.normal(size=(4, 3, 5)).astype(np.float32)
    np.testing.assert_allclose(dm.predict(x, verbose=0), keras.ops.convert_to_numpy(km.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-5)
    dm.save(tmp_path / "d.keras")
    back = keras.saving.load_model(tmp_path / "d.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(back.predict(x, verbose=0)), dm.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)
