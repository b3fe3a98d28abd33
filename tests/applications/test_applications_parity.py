"""Keras and deepgrad predict the same after ``set_weights(keras_model.get_weights())``:
one or two architectures per family, with and without the classifier and with each pooling."""
from __future__ import annotations

import keras
import numpy as np
import pytest
from applications_oracle import images, pair, random_weights

slow = pytest.mark.slow
CASES = [
    # (architecture, keyword arguments); the classifier is compared on logits
    ("MobileNetV2", {"classifier_activation": None}),
    ("MobileNetV2", {"include_top": False}),
    ("MobileNetV2", {"include_top": False, "pooling": "avg"}),
    ("MobileNetV2", {"include_top": False, "pooling": "max", "alpha": 0.5}),
    ("MobileNetV3Small", {"classifier_activation": None}),
    ("ResNet50", {"classifier_activation": None}),
    ("MobileNet", {"classifier_activation": None}),
    pytest.param("MobileNetV3Large", {"include_top": False, "pooling": "max", "minimalistic": True}, marks=slow),
    pytest.param("MobileNet", {"include_top": False, "pooling": "avg", "alpha": 0.25}, marks=slow),
    pytest.param("ResNet50V2", {"include_top": False, "pooling": "avg"}, marks=slow),
    pytest.param("ResNet101", {"include_top": False}, marks=slow),
    pytest.param("VGG16", {"classifier_activation": None}, marks=slow),
    pytest.param("VGG19", {"include_top": False, "pooling": "max"}, marks=slow),
    pytest.param("DenseNet121", {"classifier_activation": None}, marks=slow),
    pytest.param("DenseNet169", {"include_top": False, "pooling": "max"}, marks=slow),
    pytest.param("Xception", {"classifier_activation": None}, marks=slow),
    pytest.param("InceptionV3", {"include_top": False, "pooling": "avg"}, marks=slow),
    pytest.param("InceptionResNetV2", {"include_top": False, "pooling": "max"}, marks=slow),
    pytest.param("NASNetMobile", {"classifier_activation": None}, marks=slow),
    pytest.param("EfficientNetB0", {"classifier_activation": None}, marks=slow),
    pytest.param("EfficientNetB1", {"include_top": False, "pooling": "avg"}, marks=slow),
    pytest.param("EfficientNetV2B0", {"classifier_activation": None}, marks=slow),
    pytest.param("EfficientNetV2S", {"include_top": False, "pooling": "max"}, marks=slow),
    pytest.param("ConvNeXtTiny", {"classifier_activation": None}, marks=slow),
    pytest.param("ConvNeXtTiny", {"include_top": False}, marks=slow),
]


@pytest.mark.parametrize("name, kwargs", CASES)
def test_same_predictions_as_keras(name, kwargs):
    km, dm = pair(name, **kwargs)
    weights = random_weights(km)
    km.set_weights(weights)
    dm.set_weights(weights)
    x = images(km.input.shape[1:], batch=2)
    expected = keras.ops.convert_to_numpy(km(x, training=False))
    got = dm.predict(x, verbose=0)
    assert got.shape == expected.shape
    scale = float(np.max(np.abs(expected)))
    assert scale > 1e-3  # the comparison is not between two near-zero outputs
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * scale)


def test_softmax_classifier_matches_keras():
    """With its default softmax the classifier's probabilities match too, and sum to one."""
    km, dm = pair("MobileNetV3Small")
    weights = random_weights(km, seed=1)
    km.set_weights(weights)
    dm.set_weights(weights)
    x = images((32, 32, 3), batch=3, seed=1)
    expected = keras.ops.convert_to_numpy(km(x, training=False))
    got = dm.predict(x, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)


def test_input_tensor_builds_on_the_callers_graph():
    """``input_tensor`` puts the network on a tensor of the caller's own model."""
    import deepgrad as dg
    from deepgrad import layers

    inputs = layers.Input((48, 48, 3))
    scaled = layers.Rescaling(1.0 / 255)(inputs)
    base = dg.applications.MobileNetV2(weights=None, include_top=False, input_tensor=scaled, pooling="avg")
    assert base.inputs[0] is inputs if isinstance(base.inputs, list) else base.inputs is inputs
    x = images((48, 48, 3), batch=2)
    direct = dg.applications.MobileNetV2(weights=None, include_top=False, input_shape=(48, 48, 3), pooling="avg")
    direct.set_weights(base.get_weights())
    np.testing.assert_allclose(base.predict(x, verbose=0), direct.predict(x / 255.0, verbose=0), rtol=1e-5, atol=1e-6)
