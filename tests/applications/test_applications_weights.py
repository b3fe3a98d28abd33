"""``weights=`` and ``decode_predictions``: argument checks with Keras's messages, Keras's and
deepgrad's caches, the error that names the file to fetch when offline, weight files by path.
Nothing is downloaded: every download attempt is replaced by a failure."""
from __future__ import annotations

import hashlib
import json
import os

import keras
from keras.src.applications import imagenet_utils as keras_utils
import numpy as np
import pytest

import deepgrad.applications as dga
from deepgrad.applications import imagenet_utils, mobilenet_v3, weights_cache
from deepgrad.models import Model
from deepgrad.utils.file_utils import DownloadError


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """Empty caches under tmp_path and a network that always fails; yields the list of URLs tried."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("DEEPGRAD_HOME", str(tmp_path / "deepgrad"))
    tried = []

    def no_network(fname, origin, **kwargs):
        tried.append(origin)
        raise DownloadError(f"cannot download {origin}: network is unreachable")
    monkeypatch.setattr(weights_cache, "get_file", no_network)
    return tried


@pytest.fixture
def loaded(monkeypatch):
    """Records the files ``Model.load_weights`` is given (Keras's .h5 reader is not this test's subject)."""
    paths = []
    monkeypatch.setattr(Model, "load_weights", lambda self, path, **kwargs: paths.append(os.fspath(path)))
    return paths


def _write(path, data: bytes) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return hashlib.md5(data).hexdigest()


NOTOP_V2 = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"


def test_offline_error_names_the_file_and_where_to_put_it(offline, tmp_path):
    with pytest.raises(OSError) as err:
        dga.MobileNetV2(weights="imagenet", include_top=False, input_shape=(96, 96, 3), alpha=0.35)
    message = str(err.value)
    url = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/" + NOTOP_V2
    assert offline == [url]
    assert url in message
    assert str(tmp_path / "keras" / "models" / NOTOP_V2) in message
    assert str(tmp_path / "deepgrad" / "models" / NOTOP_V2) in message


def test_file_in_kerass_cache_is_used(offline, loaded, tmp_path):
    path = str(tmp_path / "keras" / "models" / NOTOP_V2)
    _write(path, b"weights")  # Keras gives no hash for MobileNetV2's files
    dga.MobileNetV2(weights="imagenet", include_top=False, input_shape=(96, 96, 3), alpha=0.35)
    assert loaded == [path]
    assert offline == []


def test_file_in_deepgrads_cache_is_checked_against_kerass_hash(offline, loaded, monkeypatch, tmp_path):
    fname = "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"
    path = str(tmp_path / "deepgrad" / "models" / fname)
    md5 = _write(path, b"small notop")
    # a file whose hash is not Keras's is not used, and the error says why
    with pytest.raises(OSError, match="exists but its hash is not"):
        dga.MobileNetV3Small(weights="imagenet", include_top=False, input_shape=(224, 224, 3))
    assert loaded == []
    monkeypatch.setitem(mobilenet_v3.WEIGHTS_HASHES, "small_224_1.0_float",
                        (mobilenet_v3.WEIGHTS_HASHES["small_224_1.0_float"][0], md5))
    dga.MobileNetV3Small(weights="imagenet", include_top=False, input_shape=(224, 224, 3))
    assert loaded == [path]


def test_file_names_and_urls_are_kerass(offline):
    cases = [
        (lambda: dga.ResNet50(weights="imagenet", include_top=False, input_shape=(32, 32, 3)),
         "resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        (lambda: dga.EfficientNetB0(weights="imagenet", include_top=False, input_shape=(32, 32, 3)),
         "efficientnetb0_notop.h5"),
        (lambda: dga.EfficientNetV2B0(weights="imagenet", include_top=False, input_shape=(32, 32, 3)),
         "efficientnet_v2/efficientnetv2-b0_notop.h5"),
        (lambda: dga.MobileNet(weights="imagenet", include_top=False, input_shape=(128, 128, 3), alpha=0.25),
         "mobilenet/mobilenet_2_5_128_tf_no_top.h5"),
        (lambda: dga.NASNetMobile(weights="imagenet", include_top=False),
         "nasnet/NASNet-mobile-no-top.h5"),
        (lambda: dga.ConvNeXtTiny(weights="imagenet", include_top=False, input_shape=(32, 32, 3)),
         "convnext/convnext_tiny_notop.h5"),
    ]
    for build, tail in cases:
        with pytest.raises(OSError):
            build()
        assert offline[-1].endswith(tail), offline[-1]


def test_weights_from_a_path(tmp_path):
    source = dga.MobileNetV3Small(weights=None, input_shape=(32, 32, 3), include_top=False)
    path = str(tmp_path / "small.weights.safetensors")
    source.save_weights(path)
    model = dga.MobileNetV3Small(weights=path, input_shape=(32, 32, 3), include_top=False)
    for a, b in zip(source.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs, message", [
    ({"weights": "no/such/file.h5"}, "The `weights` argument should be either `None`"),
    ({"weights": "imagenet", "classes": 10}, "`classes` should be 1000"),
    ({"weights": "imagenet", "input_shape": (128, 128, 3)}, r"`input_shape` should be \(224, 224, 3\)"),
    ({"weights": None, "include_top": False, "input_shape": (31, 31, 3)}, "Input size must be at least 32x32"),
    ({"weights": None, "include_top": False, "input_shape": (32, 32)}, "must be a tuple of three integers"),
    ({"weights": None, "include_top": True, "input_shape": (None, None, 3)}, "static `input_shape`"),
    ({"weights": "imagenet", "classifier_activation": "relu"}, "Only `None` and `softmax` activations"),
])
def test_argument_errors_match_keras(offline, kwargs, message):
    with pytest.raises(ValueError, match=message):
        if "classifier_activation" in kwargs:  # Keras checks it after building the body: check it alone
            keras_utils.validate_activation(kwargs["classifier_activation"], "imagenet")
        else:
            keras.applications.ResNet50(**kwargs)
    with pytest.raises(ValueError, match=message):
        dga.ResNet50(**kwargs)


def test_family_specific_errors_match_keras():
    for build, message in [
        (lambda app: app.MobileNet(weights="imagenet", alpha=0.6), "alpha can be one of"),
        (lambda app: app.MobileNet(weights="imagenet", depth_multiplier=2), "depth multiplier must be 1"),
        (lambda app: app.MobileNetV2(weights="imagenet", alpha=0.6), "alpha must be one of"),
        (lambda app: app.MobileNetV3Small(weights="imagenet", minimalistic=True, alpha=0.75), "alpha can be one of"),
        (lambda app: app.MobileNetV3Small(weights=None, input_shape=(16, 16, 3)), "Input size must be at least 32x32"),
    ]:
        with pytest.raises(ValueError, match=message):
            build(keras.applications)
        with pytest.raises(ValueError, match=message):
            build(dga)


# --------------------------------------------------------------------------- decode_predictions
CLASS_INDEX = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}


@pytest.fixture
def class_index(offline, monkeypatch, tmp_path):
    """Keras's class index file in Keras's cache, with its hash; both modules start unloaded."""
    data = json.dumps(CLASS_INDEX).encode()
    md5 = _write(str(tmp_path / "keras" / "models" / "imagenet_class_index.json"), data)
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_HASH", md5)
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    monkeypatch.setattr(keras_utils, "CLASS_INDEX", CLASS_INDEX)  # Keras is given the table, not the file


def test_decode_predictions_matches_keras(class_index, offline):
    preds = np.random.default_rng(0).random((3, 1000)).astype("float32")
    for top in (1, 5):
        expected = keras.applications.resnet50.decode_predictions(preds, top=top)
        got = dga.resnet50.decode_predictions(preds, top=top)
        assert [[r[:2] for r in row] for row in got] == [[r[:2] for r in row] for row in expected]
        np.testing.assert_allclose([[r[2] for r in row] for row in got], [[r[2] for r in row] for row in expected])
    assert offline == []


def test_decode_predictions_errors(offline, monkeypatch):
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    bad = np.zeros((2, 10))
    with pytest.raises(ValueError, match=r"expects a batch of predictions .*\(2, 10\)"):
        keras.applications.imagenet_utils.decode_predictions(bad)
    with pytest.raises(ValueError, match=r"expects a batch of predictions .*\(2, 10\)"):
        dga.imagenet_utils.decode_predictions(bad)
    with pytest.raises(OSError, match="imagenet_class_index.json is not in Keras's cache"):
        dga.imagenet_utils.decode_predictions(np.zeros((1, 1000)))
