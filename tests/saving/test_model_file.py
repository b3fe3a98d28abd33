"""Model and weights files: exact round trips (predictions, optimiser state, continued training),
clear errors on mismatched weights, and atomic writes."""
import json
import os
import zipfile

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers, metrics, models, optimizers, saving


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 5)).astype(np.float32)
    return x, (x[:, :2].sum(1) > 0).astype(np.int64)


def sequential():
    dg.backend.seed(0)
    return models.Sequential([layers.Input(shape=(5,)), layers.Dense(8, activation="relu"),
                              layers.BatchNormalization(), layers.Dense(2, activation="softmax")])


def functional():
    dg.backend.seed(0)
    inputs = layers.Input(shape=(5,))
    hidden = layers.Dense(6, activation="tanh")(inputs)
    skip = layers.Dense(6)(inputs)
    outputs = layers.Dense(2, activation="softmax")(layers.Add()([hidden, skip]))
    return models.Model(inputs, outputs)


def trained(build, optimizer):
    x, y = data()
    model = build()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy", metrics.SparseCategoricalCrossentropy(name="ce"),
                                                   metrics.SparseTopKCategoricalAccuracy(k=1, name="top1")])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return model


@pytest.mark.parametrize("build", [sequential, functional])
@pytest.mark.parametrize("optimizer", [lambda: optimizers.Adam(0.01), lambda: optimizers.SGD(0.1, momentum=0.9)])
def test_round_trip_predicts_and_trains_on_identically(tmp_path, build, optimizer):
    x, y = data()
    model = trained(build, optimizer())
    path = tmp_path / "model.deepgrad"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.safetensors",
                                         "optimizer.safetensors"]
    loaded = models.load_model(path)
    assert type(loaded) is type(model) and [w.name for w in loaded.weights] == [w.name for w in model.weights]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [m.name for m in loaded.metrics] == [m.name for m in model.metrics]
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    # one more step on each: identical weights and optimiser state afterwards
    model.train_on_batch(x[:8], y[:8])
    loaded.train_on_batch(x[:8], y[:8])
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    state, loaded_state = model.optimizer.get_state(), loaded.optimizer.get_state()
    assert sorted(state) == sorted(loaded_state) and int(state["iterations"]) == 2 * 5 + 1
    for key in state:
        np.testing.assert_array_equal(state[key], loaded_state[key], err_msg=key)


def test_load_without_compile_and_uncompiled_save(tmp_path):
    x, _ = data()
    model = trained(sequential, "rmsprop")
    model.save(tmp_path / "m.keras")
    loaded = models.load_model(tmp_path / "m.keras", compile=False)
    assert not loaded.compiled
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    plain = sequential()
    plain.save(tmp_path / "plain.deepgrad")
    with zipfile.ZipFile(tmp_path / "plain.deepgrad") as zf:
        assert "optimizer.safetensors" not in zf.namelist()
        assert json.loads(zf.read("config.json"))["compile_config"] is None
    assert not models.load_model(tmp_path / "plain.deepgrad").compiled


@pytest.mark.parametrize("suffix", [".weights.safetensors", ".weights.npz"])
def test_weights_round_trip(tmp_path, suffix):
    x, _ = data()
    model = trained(functional, "adam")
    path = tmp_path / f"w{suffix}"
    model.save_weights(path)
    dg.backend.seed(7)
    other = functional()   # new names (dense_3...) and new initial weights
    assert not np.array_equal(other.get_weights()[0], model.get_weights()[0])
    other.load_weights(path)
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    saving.save_model(model, tmp_path / "m.deepgrad")
    fresh = functional()
    fresh.load_weights(tmp_path / "m.deepgrad")   # the weights inside a model file
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_mismatched_weights_name_the_weight(tmp_path):
    model = sequential()
    model.save_weights(tmp_path / "w.weights.safetensors")
    wider = models.Sequential([layers.Input(shape=(5,)), layers.Dense(9, activation="relu"),
                               layers.BatchNormalization(), layers.Dense(2, activation="softmax")])
    with pytest.raises(ValueError, match=r"weight '0/sequential\w*/dense\w*/kernel' has shape \(5, 8\) but "
                                         r"model .* expects \(5, 9\)"):
        wider.load_weights(tmp_path / "w.weights.safetensors")
    smaller = models.Sequential([layers.Input(shape=(5,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="holds 8 weights but model .* has 2"):
        smaller.load_weights(tmp_path / "w.weights.safetensors")
    with pytest.raises(ValueError, match="must end in"):
        model.save_weights(tmp_path / "w.h5")


def test_failed_write_leaves_the_previous_file_and_no_temp(tmp_path, monkeypatch):
    model = sequential()
    path = tmp_path / "m.deepgrad"
    model.save(path)
    before = path.read_bytes()
    model.layers[0].kernel.assign(np.zeros((5, 8), np.float32))

    real_fsync = os.fsync

    def disk_full(fd):   # the bytes are half written when this fires
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    for save in (lambda: model.save(path), lambda: model.save_weights(tmp_path / "m.weights.npz"),
                 lambda: model.save_weights(tmp_path / "m.weights.safetensors")):
        with pytest.raises(OSError, match="No space left"):
            save()
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.deepgrad"]


def test_write_interrupted_midway_through_the_bytes(tmp_path, monkeypatch):
    path = tmp_path / "w.weights.safetensors"
    model = sequential()
    model.save_weights(path)
    before = path.read_bytes()
    import io

    class Broken(io.FileIO):
        def write(self, data):
            super().write(data[: len(data) // 2])
            raise KeyboardInterrupt

    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Broken(fd, "wb"))
    with pytest.raises(KeyboardInterrupt):
        model.save_weights(path)
    monkeypatch.setattr(os, "fdopen", real_fdopen)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["w.weights.safetensors"]


def test_overwrite_false(tmp_path):
    model = sequential()
    model.save(tmp_path / "m.deepgrad")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "m.deepgrad", overwrite=False)


def test_multi_output_compile_config_round_trip(tmp_path):
    dg.backend.seed(0)
    inputs = layers.Input(shape=(4,))
    model = models.Model(inputs, [layers.Dense(3, activation="softmax", name="cls")(inputs),
                                  layers.Dense(1, name="reg")(inputs)])
    model.compile(optimizer="adam", loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  metrics={"cls": ["accuracy"], "reg": ["mae"]}, loss_weights={"cls": 1.0, "reg": 0.5})
    rng = np.random.default_rng(0)
    x = rng.random((16, 4), dtype=np.float32)
    y = {"cls": rng.integers(0, 3, 16), "reg": rng.random((16, 1), dtype=np.float32)}
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "multi.deepgrad")
    loaded = models.load_model(tmp_path / "multi.deepgrad")
    assert [m.name for m in loaded.metrics] == ["loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae"]
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-6)
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_custom_metric_function_needs_custom_objects(tmp_path):
    def doubled_error(y_true, y_pred):
        return 2 * np.abs(y_true - y_pred).mean(axis=-1)

    model = sequential()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=[doubled_error])
    model.save(tmp_path / "m.deepgrad")
    with pytest.raises(ValueError, match="custom_objects=.*doubled_error"):
        models.load_model(tmp_path / "m.deepgrad")
    loaded = models.load_model(tmp_path / "m.deepgrad", custom_objects={"doubled_error": doubled_error})
    assert [m.name for m in loaded.metrics] == [m.name for m in model.metrics] == ["loss", "doubled_error"]
