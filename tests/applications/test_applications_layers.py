"""The layers private to the applications (ConvNeXt's LayerScale and StochasticDepth,
InceptionResNetV2's CustomScaleLayer) against Keras's, saving and loading of application
models, and one training step through them."""
from __future__ import annotations

import os
import sys

import keras
import numpy as np
from keras.src.applications import convnext as keras_convnext
from keras.src.applications import inception_resnet_v2 as keras_irv2

import deepgrad as dg
import deepgrad.applications as dga
from deepgrad import layers
from deepgrad.applications.convnext import LayerScale, StochasticDepth
from deepgrad.applications.inception_resnet_v2 import CustomScaleLayer

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "layers"))
from layer_test import run_layer_test  # noqa: E402


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def test_layer_scale_matches_keras():
    run_layer_test(LayerScale, {"init_values": 0.5, "projection_dim": 4}, input_shape=(2, 3, 3, 4),
                   expected_output_shape=(2, 3, 3, 4), expected_weight_shapes=[(4,)], expected_num_params=4)
    ours, theirs = LayerScale(1e-6, 4), keras_convnext.LayerScale(1e-6, 4)
    x = _x((2, 3, 3, 4))
    ours(x), theirs(x)
    np.testing.assert_array_equal(ours.get_weights()[0], np.full(4, 1e-6, "float32"))
    gamma = _x((4,), seed=1)
    ours.set_weights([gamma])
    theirs.set_weights([gamma])
    np.testing.assert_allclose(ours(x).numpy(), keras.ops.convert_to_numpy(theirs(x)), rtol=1e-6)


def test_custom_scale_layer_matches_keras():
    a, b = _x((2, 4, 4, 3)), _x((2, 4, 4, 3), seed=1)
    expected = keras.ops.convert_to_numpy(keras_irv2.CustomScaleLayer(0.17)([a, b]))
    np.testing.assert_allclose(CustomScaleLayer(0.17)([a, b]).numpy(), expected, rtol=1e-6)


def test_stochastic_depth_drops_whole_samples_while_training():
    x = np.ones((4000, 2, 2, 3), "float32")
    layer = StochasticDepth(0.25)
    np.testing.assert_array_equal(layer(x).numpy(), x)  # inference: the identity
    out = layer(x, training=True).numpy()
    per_sample = out.reshape(len(x), -1)
    # each sample is either dropped (0) or kept and scaled by 1 / keep_prob
    assert set(np.unique(per_sample)) <= {0.0, np.float32(1 / 0.75)}
    assert (per_sample == per_sample[:, :1]).all()
    kept = (per_sample[:, 0] > 0).mean()
    assert abs(kept - 0.75) < 0.03  # 4000 draws: 4 standard deviations
    np.testing.assert_allclose(out.mean(), 1.0, atol=0.05)
    # rate 0 keeps everything, as Keras's does
    expected = keras.ops.convert_to_numpy(keras_convnext.StochasticDepth(0.0)(x[:4], training=True))
    np.testing.assert_array_equal(StochasticDepth(0.0)(x[:4], training=True).numpy(), expected)


def test_models_with_private_layers_save_and_load(tmp_path):
    inputs = layers.Input((8, 8, 3))
    x = layers.Conv2D(3, 1)(inputs)
    x = CustomScaleLayer(0.2)([inputs, x])
    x = LayerScale(0.1, 3)(x)
    x = StochasticDepth(0.1)(x)
    model = dg.Model(inputs, x)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = dg.models.load_model(path)
    data = _x((2, 8, 8, 3))
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-6)
    assert [type(layer).__name__ for layer in loaded.layers][-3:] == ["CustomScaleLayer", "LayerScale",
                                                                      "StochasticDepth"]


def test_application_model_saves_and_loads(tmp_path):
    model = dga.MobileNetV3Small(weights=None, input_shape=(32, 32, 3), classes=7)
    path = str(tmp_path / "small.keras")
    model.save(path)
    loaded = dg.models.load_model(path)
    data = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-5,
                               atol=1e-7)


def test_one_training_step_reaches_every_weight():
    """Transfer learning as the guides do it: a pretrained-style body, a new head, fit."""
    base = dga.EfficientNetB0(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg")
    outputs = layers.Dense(3, activation="softmax")(base.output)
    model = dg.Model(base.input, outputs)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    data = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(data, np.array([0, 1, 2, 1]))
    changed = [not np.array_equal(a, b) for a, b in zip(before, model.get_weights())]
    trainable = {id(w) for w in model.trainable_weights}
    # every trainable weight moved; the Normalization statistics (non-trainable) did not
    assert all(c for c, w in zip(changed, model.weights) if id(w) in trainable)
    statistics = [c for c, w in zip(changed, model.weights) if w.path.startswith("normalization")]
    assert len(statistics) == 3 and not any(statistics)  # mean, variance, count
