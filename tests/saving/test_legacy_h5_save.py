"""``model.save("x.h5")``: deepgrad writes the legacy Keras HDF5 model file as Keras 3 does, and
both Keras 3 (torch backend) and deepgrad load it back with the same predictions."""
import json
import os
import warnings

import h5py
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")


def _sequential(fw):
    return fw.Sequential([fw.Input((4,)), fw.layers.Dense(3, activation="relu"), fw.layers.BatchNormalization(),
                          fw.layers.Dense(2)])


def _trained_sequential():
    model = _sequential(dg)
    model.compile(dg.optimizers.Adam(0.01), dg.losses.MeanSquaredError(), metrics=["mae"])
    rng = np.random.default_rng(0)
    x = rng.random((32, 4)).astype("float32")
    model.fit(x, rng.random((32, 2)).astype("float32"), epochs=2, verbose=0)
    return model, x


def _save(model, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)


def test_deepgrad_reads_back_its_h5_file(tmp_path):
    model, x = _trained_sequential()
    _save(model, tmp_path / "m.h5")
    loaded = dg.models.load_model(tmp_path / "m.h5")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert type(loaded.optimizer).__name__ == "Adam"
    assert np.isclose(float(loaded.optimizer.learning_rate), 0.01)
    assert [w.shape for w in loaded.weights] == [w.shape for w in model.weights]


def test_keras_reads_deepgrad_h5_files(tmp_path):
    model, x = _trained_sequential()
    _save(model, tmp_path / "m.h5")
    k_model = keras.models.load_model(tmp_path / "m.h5")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(k_model.predict(x, verbose=0)),
                               model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert type(k_model.optimizer).__name__ == "Adam"
    assert np.isclose(float(keras.ops.convert_to_numpy(k_model.optimizer.learning_rate)), 0.01)
    # a functional model with two branches
    inputs = dg.Input((4,))
    merged = layers.Add()([layers.Dense(3, name="left")(inputs), layers.Dense(3, name="right")(inputs)])
    functional = dg.Model(inputs, layers.Dense(1)(merged))
    _save(functional, tmp_path / "f.h5")
    k_functional = keras.models.load_model(tmp_path / "f.h5", compile=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(k_functional.predict(x, verbose=0)),
                               functional.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_the_file_is_laid_out_as_keras_writes_it(tmp_path):
    dg.backend.clear_session()
    keras.backend.clear_session()
    ours, theirs = _sequential(dg), _sequential(keras)
    for model in (ours, theirs):
        model.compile("adam", "mse")
    _save(ours, tmp_path / "ours.h5")
    _save(theirs, tmp_path / "theirs.h5")
    with h5py.File(tmp_path / "ours.h5") as a, h5py.File(tmp_path / "theirs.h5") as b:
        assert set(a.attrs) == set(b.attrs) == {"keras_version", "backend", "model_config", "training_config"}
        assert set(json.loads(a.attrs["training_config"])) == set(json.loads(b.attrs["training_config"]))
        names = [n.decode() if isinstance(n, bytes) else n for n in a["model_weights"].attrs["layer_names"]]
        k_names = [n.decode() if isinstance(n, bytes) else n for n in b["model_weights"].attrs["layer_names"]]
        assert names == k_names
        for name in names:
            ours_w = [n.decode() for n in a["model_weights"][name].attrs["weight_names"]]
            theirs_w = [n.decode() if isinstance(n, bytes) else n for n in b["model_weights"][name].attrs["weight_names"]]
            assert ours_w == theirs_w
            for w in ours_w:
                assert a["model_weights"][name][w].shape == b["model_weights"][name][w].shape


def test_model_checkpoint_writes_h5_models(tmp_path):
    model, x = _trained_sequential()
    y = np.random.default_rng(1).random((32, 2)).astype("float32")
    path = tmp_path / "best.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
                  callbacks=[dg.callbacks.ModelCheckpoint(str(path), save_best_only=True)])
    restored = dg.models.load_model(path)
    assert restored.predict(x, verbose=0).shape == (32, 2)


def test_saving_an_unbuilt_model_says_so(tmp_path):
    model = dg.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="not built"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists()


def test_saving_warns_that_the_format_is_legacy(tmp_path):
    model, _ = _trained_sequential()
    with pytest.warns(UserWarning, match="legacy HDF5"):
        model.save(tmp_path / "m.h5")
