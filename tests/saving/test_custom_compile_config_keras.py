"""A model whose ``get_compile_config`` returns objects (an optimizer, a loss instance) and whose
``compile_from_config`` rebuilds them, saved and loaded as Keras 3 does (checked against Keras on
PyTorch, files crossing both ways): the saved config holds the objects serialized, the override
receives that form back, and a model that overrides ``compile`` alone loads uncompiled with Keras's
warning."""
import json
import os
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its PyTorch backend here", allow_module_level=True)

import deepgrad as dg  # noqa: E402

X = np.random.default_rng(0).random((4, 3)).astype("float32")


def _classes(K, package):
    """The same two model classes for Keras (``K = keras``) or deepgrad."""

    @K.saving.register_keras_serializable(package=package)
    class Pair(K.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.d = K.layers.Dense(2)

        def call(self, x):
            return self.d(x)

        def compile(self, optimizer, loss_fn, extra=1.0, **kwargs):
            super().compile(optimizer=optimizer, **kwargs)
            self.loss_fn, self.extra = loss_fn, extra

        def get_compile_config(self):
            return {"optimizer": self.optimizer, "loss_fn": self.loss_fn, "extra": self.extra}

        def compile_from_config(self, config):
            self.received = config
            self.compile(optimizer=K.saving.deserialize_keras_object(config["optimizer"]),
                         loss_fn=K.saving.deserialize_keras_object(config["loss_fn"]), extra=config["extra"])

    @K.saving.register_keras_serializable(package=package)
    class OnlyCompile(K.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.d = K.layers.Dense(2)

        def call(self, x):
            return self.d(x)

        def compile(self, optimizer="sgd", **kwargs):
            super().compile(optimizer=optimizer, loss="mse", **kwargs)

    return Pair, OnlyCompile


KERAS_CLASSES = _classes(keras, "compile_cfg_test")
DG_CLASSES = _classes(dg, "compile_cfg_test")


def _saved(K, classes, path):
    model = classes[0]()
    model(X)
    model.compile(K.optimizers.Adam(0.02), K.losses.MeanAbsoluteError(), extra=2.5)
    model.save(path)
    return model


def _loaded_state(model):
    received = {k: (sorted(v) if isinstance(v, dict) else v) for k, v in model.received.items()}
    return (type(model.optimizer).__name__, round(float(np.asarray(model.optimizer.learning_rate)), 6),
            type(model.loss_fn).__name__, model.extra, received)


@pytest.mark.parametrize("writer,reader", [("keras", "deepgrad"), ("deepgrad", "keras"), ("deepgrad", "deepgrad"),
                                           ("keras", "keras")])
def test_object_compile_config_round_trips_as_keras(tmp_path, writer, reader):
    path = tmp_path / "m.keras"
    source = _saved(keras if writer == "keras" else dg, KERAS_CLASSES if writer == "keras" else DG_CLASSES, path)
    saved = json.loads(zipfile.ZipFile(path).read("config.json"))["compile_config"]
    assert sorted(saved) == ["extra", "loss_fn", "optimizer"]
    assert saved["loss_fn"]["class_name"] == "MeanAbsoluteError" and saved["extra"] == 2.5
    assert saved["optimizer"]["config"]["learning_rate"] == pytest.approx(0.02)
    loaded = (keras if reader == "keras" else dg).models.load_model(path)
    assert _loaded_state(loaded) == ("Adam", 0.02, "MeanAbsoluteError", 2.5,
                                     {"extra": 2.5, "loss_fn": ["class_name", "config", "module", "registered_name"],
                                      "optimizer": ["class_name", "config", "module", "registered_name"]})
    # float32 matmuls of two libraries
    np.testing.assert_allclose(np.asarray(keras.ops.convert_to_numpy(loaded(X)) if reader == "keras"
                                          else loaded(X).data),
                               np.asarray(keras.ops.convert_to_numpy(source(X)) if writer == "keras"
                                          else source(X).data), rtol=1e-5, atol=1e-6)


def test_deepgrad_file_keeps_an_object_compile_config(tmp_path):
    """deepgrad's own format: the objects by class name (no modules), handed back to the override."""
    class Graph(DG_CLASSES[0]):   # built from its inputs and outputs, so its file rebuilds it
        def __init__(self, *args, **kwargs):
            dg.Model.__init__(self, *args, **kwargs)

    inp = dg.Input((3,))
    source = dg.Model.__new__(Graph)
    source.__init__(inp, dg.layers.Dense(2)(inp))
    source.compile(dg.optimizers.Adam(0.02), dg.losses.MeanAbsoluteError(), extra=2.5)
    source.save(tmp_path / "m.deepgrad")
    saved = json.loads(zipfile.ZipFile(tmp_path / "m.deepgrad").read("config.json"))["compile_config"]
    assert saved["loss_fn"] == {"class_name": "MeanAbsoluteError", "config": {"name": "mean_absolute_error",
                                                                             "reduction": "sum_over_batch_size"}}
    loaded = dg.models.load_model(tmp_path / "m.deepgrad", custom_objects={"Graph": Graph})
    assert isinstance(loaded, Graph)
    assert _loaded_state(loaded) == ("Adam", 0.02, "MeanAbsoluteError", 2.5,
                                     {"extra": 2.5, "loss_fn": ["class_name", "config"],
                                      "optimizer": ["class_name", "config"]})
    for got, want in zip(loaded.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("K,classes", [(keras, KERAS_CLASSES), (dg, DG_CLASSES)], ids=["keras", "deepgrad"])
def test_custom_compile_alone_loads_uncompiled_with_a_warning(tmp_path, K, classes):
    model = classes[1]()
    model(X)
    model.compile()
    model.save(tmp_path / "m.keras")
    with pytest.warns(UserWarning, match="`compile\\(\\)` was not called as part of model loading"):
        loaded = K.models.load_model(tmp_path / "m.keras")
    assert getattr(loaded, "optimizer", None) is None
