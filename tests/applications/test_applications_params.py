"""Every architecture of keras.applications: deepgrad's twin has Keras's parameter count and
Keras's weights (names, shapes, order), built at the smallest input Keras accepts."""
from __future__ import annotations

import inspect

import keras
import pytest
from applications_oracle import ARCHITECTURES, keras_builder, min_shape, pair, weight_key

import deepgrad.applications as dga

# Keras builds these in a few seconds at most; the rest are marked slow
FAST = {"ResNet50", "MobileNet", "MobileNetV2", "MobileNetV3Small"}


def test_every_architecture_is_there():
    assert len(ARCHITECTURES) == 40
    missing = [n for n in ARCHITECTURES if not hasattr(dga, n)]
    assert missing == []


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_signature_matches_keras(name):
    ours = inspect.signature(getattr(dga, name))
    theirs = inspect.signature(getattr(keras.applications, name))
    assert list(ours.parameters) == list(theirs.parameters)
    assert [p.default for p in ours.parameters.values()] == [p.default for p in theirs.parameters.values()]


@pytest.mark.parametrize("name", [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in ARCHITECTURES])
def test_parameter_count_and_weights_match_keras(name):
    km, dm = pair(name, classifier_activation=None)
    assert dm.count_params() == km.count_params()
    assert [tuple(w.shape) for w in dm.weights] == [tuple(w.shape) for w in km.weights]
    assert [weight_key(w.path) for w in dm.weights] == [weight_key(w.path) for w in km.weights]
    assert dm.name == km.name
    assert tuple(dm.output.shape) == tuple(km.output.shape)


def test_min_shape_is_keras_minimum():
    """One pixel less than the minimum is refused by Keras and by deepgrad alike."""
    for name in ("ResNet50", "Xception", "InceptionV3"):
        side = min_shape(name)[0] - 1
        with pytest.raises(ValueError, match=f"Input size must be at least {side + 1}x{side + 1}"):
            keras_builder(name)(weights=None, include_top=False, input_shape=(side, side, 3))
        with pytest.raises(ValueError, match=f"Input size must be at least {side + 1}x{side + 1}"):
            getattr(dga, name)(weights=None, include_top=False, input_shape=(side, side, 3))


def test_submodules_have_kerass_names():
    for module in [n for n in dir(keras.applications) if n[0].islower() and not n.startswith("_")]:
        public = [n for n in dir(getattr(keras.applications, module)) if not n.startswith("_")]
        ours = getattr(dga, module)
        assert [n for n in public if not hasattr(ours, n)] == [], module
        for fn in ("preprocess_input", "decode_predictions"):
            if fn in public:
                assert (list(inspect.signature(getattr(ours, fn)).parameters)
                        == list(inspect.signature(getattr(getattr(keras.applications, module), fn)).parameters))
