"""Each of the 40 applications loads the weights file Keras writes for it and predicts as Keras:
``.weights.h5`` (``weights=PATH``), ``.keras`` archives (``load_weights`` and ``load_model``),
sharded ``.weights.json``, and ``weights="imagenet"`` from Keras's cache under Keras's exact
file name for every family (Keras names the file: its download is replaced by the test's file).

Keras builds each model with ``weights=None`` at the smallest input it accepts, with every
weight drawn away from its initial value; a few small ones run in the fast suite, the others with
the slow tests (EfficientNetV2L only with DEEPGRAD_TEST_ALL_APPLICATIONS=1, see ``chaotic``)."""
from __future__ import annotations

import gc
import os

import h5py
import keras
import numpy as np
import pytest
from applications_oracle import ARCHITECTURES, images, keras_builder, min_shape, random_weights
from keras.src.legacy.saving import legacy_h5_format
from keras.src.utils import file_utils as keras_file_utils

import deepgrad as dg
import deepgrad.applications as dga
from deepgrad.applications import weights_cache
from deepgrad.utils.file_utils import DownloadError

slow = pytest.mark.slow
FAST = ("MobileNetV3Small", "MobileNetV2")
# EfficientNetV2L's 1,000 layers with random weights amplify float32 rounding: deepgrad's and Keras's
# activations part layer by layer (1e-7 at the stem, 2e-3 by block 5d, order 1 at the logits) with no
# layer where they jump, so its logits cannot be compared; its loaded weights are compared instead
CHAOTIC = ("EfficientNetV2L",)
assert len(ARCHITECTURES) == 40


def _params(names):
    return [pytest.param(n, marks=() if n in FAST else (slow,), id=n)
            for n in names]


def keras_predict(km, x):
    return keras.ops.convert_to_numpy(km(x, training=False))


def assert_same(got, expected):
    assert got.shape == expected.shape
    scale = float(np.max(np.abs(expected)))
    assert scale > 1e-3  # not two near-zero outputs
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * scale)


def keras_twin(name, seed=0, **kwargs):
    """Keras's model with weights=None and random weights, and the input it is compared on."""
    km = keras_builder(name)(weights=None, **kwargs)
    km.set_weights(random_weights(km, seed))
    return km, images(km.input.shape[1:], batch=2, seed=seed)


@pytest.mark.parametrize("name", _params(ARCHITECTURES))
def test_weights_h5_written_by_keras_loads_with_weights_path(name, tmp_path):
    """The whole classifier (logits) at the smallest input: Keras's ``save_weights``, then
    deepgrad's ``weights=PATH``."""
    kwargs = {"input_shape": min_shape(name), "classifier_activation": None}
    km, x = keras_twin(name, **kwargs)
    path = str(tmp_path / f"{name}.weights.h5")
    km.save_weights(path)
    expected = km.get_weights() if name in CHAOTIC else keras_predict(km, x)
    del km
    gc.collect()
    dm = getattr(dga, name)(weights=path, **kwargs)
    if name in CHAOTIC:
        assert len(dm.get_weights()) == len(expected)
        for ours, theirs in zip(dm.get_weights(), expected):
            np.testing.assert_array_equal(ours, np.asarray(theirs))
    else:
        assert_same(dm.predict(x, verbose=0), expected)


KERAS_ARCHIVES = _params(["MobileNetV2", "ConvNeXtTiny", "EfficientNetV2B0", "NASNetMobile", "EfficientNetB0",
                          "InceptionResNetV2"])


@pytest.mark.parametrize("name", KERAS_ARCHIVES)
def test_keras_archive_loads_as_weights_and_as_a_model(name, tmp_path):
    kwargs = {"input_shape": min_shape(name), "include_top": False, "pooling": "avg"}
    km, x = keras_twin(name, seed=1, **kwargs)
    path = str(tmp_path / f"{name}.keras")
    km.save(path)
    expected = keras_predict(km, x)
    dm = getattr(dga, name)(weights=None, **kwargs)
    dm.load_weights(path)
    assert_same(dm.predict(x, verbose=0), expected)
    loaded = dg.models.load_model(path)
    assert loaded.count_params() == km.count_params()
    assert_same(loaded.predict(x, verbose=0), expected)


@pytest.mark.parametrize("name", _params(["MobileNetV2", "ConvNeXtTiny"]))
def test_deepgrads_archive_loads_in_keras(name, tmp_path):
    """deepgrad's ``.keras`` file of an application rebuilds in Keras (ConvNeXt's LayerScale under
    Keras's module and class name) and predicts as deepgrad does."""
    kwargs = {"input_shape": min_shape(name), "include_top": False, "pooling": "avg"}
    km, x = keras_twin(name, seed=3, **kwargs)
    dm = getattr(dga, name)(weights=None, **kwargs)
    dm.set_weights(km.get_weights())
    path = str(tmp_path / f"{name}.keras")
    dm.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.count_params() == km.count_params()
    assert_same(keras_predict(loaded, x), dm.predict(x, verbose=0))


@pytest.mark.parametrize("name", _params(["MobileNetV3Small", "ResNet50", "ConvNeXtTiny"]))
def test_sharded_weights_written_by_keras_load(name, tmp_path):
    kwargs = {"input_shape": min_shape(name), "include_top": False}
    km, x = keras_twin(name, seed=2, **kwargs)
    path = str(tmp_path / f"{name}.weights.json")
    sizes = [int(np.prod(w.shape)) * 4 for w in km.weights]
    # about four shards, each able to hold the largest variable (Keras refuses a smaller limit)
    km.save_weights(path, max_shard_size=max(max(sizes) * 1.01, sum(sizes) / 4) / 1024 ** 3)
    assert len([f for f in os.listdir(tmp_path) if f.endswith(".weights.h5")]) >= 2
    dm = getattr(dga, name)(weights=None, **kwargs)
    dm.load_weights(path)
    assert_same(dm.predict(x, verbose=0), keras_predict(km, x))


# --------------------------------------------------------------------------- weights="imagenet"
# one or more configurations per family: (architecture, keyword arguments); the input sizes
# are ones Keras has ImageNet files for
IMAGENET = [
    ("MobileNetV3Small", {"include_top": False, "input_shape": (32, 32, 3)}),
    ("MobileNetV3Small", {"input_shape": (224, 224, 3), "minimalistic": True}),
    ("MobileNet", {"include_top": False, "input_shape": (128, 128, 3), "alpha": 0.25}),
    ("MobileNetV2", {"include_top": False, "input_shape": (96, 96, 3), "alpha": 0.35}),
    ("MobileNetV3Large", {"include_top": False, "input_shape": (32, 32, 3), "alpha": 0.75}),
    ("ResNet50", {"include_top": False, "input_shape": (32, 32, 3)}),
    ("ResNet101V2", {"include_top": False, "input_shape": (32, 32, 3)}),
    ("VGG16", {"include_top": False, "input_shape": (32, 32, 3)}),
    ("VGG19", {"include_top": False, "input_shape": (32, 32, 3)}),
    ("DenseNet121", {"include_top": False, "input_shape": (32, 32, 3)}),
    ("Xception", {"include_top": False, "input_shape": (71, 71, 3)}),
    ("InceptionV3", {"include_top": False, "input_shape": (75, 75, 3)}),
    ("InceptionResNetV2", {"include_top": False, "input_shape": (75, 75, 3)}),
    ("EfficientNetB0", {"include_top": False, "input_shape": (32, 32, 3)}),
    ("EfficientNetV2B0", {"include_top": False, "input_shape": (32, 32, 3)}),
    ("ConvNeXtTiny", {"include_top": False, "input_shape": (32, 32, 3)}),
    ("NASNetMobile", {"include_top": False, "input_shape": (224, 224, 3)}),
]


@pytest.fixture
def keras_cache(monkeypatch, tmp_path):
    """Keras's cache in tmp_path (never the user's home) and no network for deepgrad; Keras's
    download is replaced by writing, under the name Keras asks for, its own legacy ``.h5``
    of the model it is building with ``weights=None`` (the model is handed over by the test)."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("DEEPGRAD_HOME", str(tmp_path / "deepgrad"))
    state = {"names": []}

    def no_network(fname, origin, **kwargs):
        raise DownloadError(f"cannot download {origin}: network is unreachable")

    def keras_get_file(fname, origin, cache_subdir="datasets", file_hash=None, **kwargs):
        state["names"].append(fname)
        path = tmp_path / "keras" / cache_subdir / fname
        path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(path, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, state["source"])
        return str(path)

    def any_hash(path, file_hash, **kwargs):
        return True  # the file is the test's, not Keras's download: its hash cannot match

    monkeypatch.setattr(weights_cache, "get_file", no_network)
    monkeypatch.setattr(weights_cache, "validate_file", any_hash)
    monkeypatch.setattr(keras_file_utils, "get_file", keras_get_file)
    return state


@pytest.mark.parametrize("name, kwargs", [pytest.param(n, k, marks=() if i == 0 else slow, id=f"{n}-{i}")
                                          for i, (n, k) in enumerate(IMAGENET)])
def test_imagenet_weights_from_kerass_cache_under_kerass_file_name(name, kwargs, keras_cache):
    source, x = keras_twin(name, seed=3, **kwargs)
    keras_cache["source"] = source
    km = keras_builder(name)(weights="imagenet", **kwargs)  # Keras names and reads the file
    (fname,) = keras_cache["names"]
    expected = keras_predict(km, x)
    assert_same(keras_predict(source, x), expected)  # Keras read back what it wrote
    del km, source
    gc.collect()
    dm = getattr(dga, name)(weights="imagenet", **kwargs)
    assert os.path.basename(fname) in os.listdir(os.path.join(os.environ["KERAS_HOME"], "models"))
    assert_same(dm.predict(x, verbose=0), expected)
