"""model.save / models.load_model / save_weights / load_weights through the model's methods."""
import numpy as np

import deepgrad as dg
from deepgrad import layers, optimizers


def _trained_model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x.sum(1) > 0).astype("int64")
    inputs = layers.Input(shape=(4,))
    outputs = layers.Dense(2, activation="softmax")(layers.Dense(8, activation="relu")(inputs))
    model = dg.Model(inputs, outputs)
    model.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    return model, x, y


def test_save_and_load_model_round_trip(tmp_path):
    model, x, _ = _trained_model()
    path = tmp_path / "model.deepgrad"
    model.save(path)
    loaded = dg.models.load_model(path, compile=False)
    assert isinstance(loaded, dg.models.Functional) and not loaded.compiled
    assert [type(layer).__name__ for layer in loaded.layers] == ["InputLayer", "Dense", "Dense"]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_save_and_load_weights(tmp_path):
    model, x, _ = _trained_model()
    path = tmp_path / "weights.safetensors"
    model.save_weights(path)
    fresh = dg.models.clone_model(model)
    assert not np.array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))
    fresh.load_weights(path)
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_loaded_compiled_model_continues_training_identically(tmp_path):
    model, x, y = _trained_model()
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = dg.models.load_model(path)
    assert loaded.compiled and [m.name for m in loaded.metrics] == [m.name for m in model.metrics]
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    # the optimiser state came back too: one more step gives identical weights
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
