"""3-D pooling, adaptive pooling, channels-first pooling and global pooling options: shapes, values
by formula, float64 central differences, configs and a saved model."""
import numpy as np
import pytest
from layer_test import run_layer_test
from oracle import check_gradients

import deepgrad as dg
from deepgrad import layers

CASES = [
    (layers.MaxPooling3D, {}, (2, 4, 5, 4, 2), (2, 2, 2, 2, 2)),
    (layers.MaxPooling3D, {"pool_size": 3, "strides": 2, "padding": "same"}, (1, 5, 4, 3, 2), (1, 3, 2, 2, 2)),
    (layers.AveragePooling3D, {"pool_size": (2, 1, 2)}, (2, 4, 3, 4, 2), (2, 2, 3, 2, 2)),
    (layers.AveragePooling3D, {"pool_size": 2, "data_format": "channels_first"}, (2, 3, 4, 4, 2), (2, 3, 2, 2, 1)),
    (layers.MaxPooling2D, {"data_format": "channels_first"}, (2, 3, 4, 6), (2, 3, 2, 3)),
    (layers.AveragePooling1D, {"pool_size": 3, "strides": 1, "data_format": "channels_first"}, (2, 3, 6),
     (2, 3, 4)),
    (layers.GlobalMaxPooling3D, {}, (2, 3, 2, 4, 3), (2, 3)),
    (layers.GlobalAveragePooling3D, {"keepdims": True}, (2, 3, 2, 4, 3), (2, 1, 1, 1, 3)),
    (layers.GlobalAveragePooling2D, {"data_format": "channels_first", "keepdims": True}, (2, 3, 4, 5),
     (2, 3, 1, 1)),
    (layers.GlobalMaxPooling1D, {"data_format": "channels_first"}, (2, 3, 6), (2, 3)),
    (layers.AdaptiveAveragePooling1D, {"output_size": 3}, (2, 7, 3), (2, 3, 3)),
    (layers.AdaptiveMaxPooling2D, {"output_size": (2, 3)}, (2, 5, 7, 3), (2, 2, 3, 3)),
    (layers.AdaptiveAveragePooling3D, {"output_size": 2, "data_format": "channels_first"}, (1, 2, 5, 4, 3),
     (1, 2, 2, 2, 2)),
    (layers.AdaptiveMaxPooling3D, {"output_size": (1, 2, 3)}, (1, 3, 4, 5, 2), (1, 1, 2, 3, 2)),
]


@pytest.mark.parametrize("cls, kwargs, shape, expected", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_layer_checks_and_central_differences(cls, kwargs, shape, expected):
    run_layer_test(cls, kwargs, input_shape=shape, expected_output_shape=expected, expected_num_params=0)
    layer = cls(**kwargs, dtype="float64")
    # distinct values, so every max has one winner and the differences stay on one side of it
    x = np.random.default_rng(2).permutation(np.prod(shape)).reshape(shape) / np.prod(shape)
    check_gradients(lambda t: layer(t), [x])


def test_values_by_formula():
    x = np.random.default_rng(0).standard_normal((2, 4, 6, 2, 3)).astype("float32")
    blocks = x.reshape(2, 2, 2, 3, 2, 1, 2, 3)
    np.testing.assert_allclose(layers.MaxPooling3D()(x).data, blocks.max(axis=(2, 4, 6)), rtol=1e-6)
    np.testing.assert_allclose(layers.AveragePooling3D(2)(x).data, blocks.mean(axis=(2, 4, 6)), rtol=1e-6)
    np.testing.assert_allclose(layers.GlobalMaxPooling3D()(x).data, x.max(axis=(1, 2, 3)), rtol=1e-6)
    first = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    np.testing.assert_allclose(layers.GlobalAveragePooling3D(data_format="channels_first")(first).data,
                               x.mean(axis=(1, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(layers.MaxPooling3D(data_format="channels_first")(first).data,
                               np.moveaxis(blocks.max(axis=(2, 4, 6)), -1, 1), rtol=1e-6)
    # adaptive windows of 5 cells into 2: [0, 3) and [2, 5)
    seq = np.arange(5, dtype="float32").reshape(1, 5, 1)
    np.testing.assert_allclose(layers.AdaptiveAveragePooling1D(2)(seq).data.ravel(), [1.0, 3.0])
    np.testing.assert_allclose(layers.AdaptiveMaxPooling1D(2)(seq).data.ravel(), [2.0, 4.0])


def test_global_average_pooling1d_mask_channels_first():
    x = np.arange(12, dtype="float32").reshape(1, 3, 4)    # (batch, features, steps)
    mask = np.array([[True, False, True, False]])
    out = layers.GlobalAveragePooling1D(data_format="channels_first")(x, mask=mask).data
    np.testing.assert_allclose(out, x[:, :, [0, 2]].mean(axis=2))


def test_configs_and_errors():
    assert layers.MaxPooling3D().get_config()["strides"] == (2, 2, 2)
    assert layers.AdaptiveMaxPooling2D(3).get_config()["output_size"] == (3, 3)
    assert layers.get("MaxPool3D") is layers.MaxPooling3D and layers.get("GlobalAvgPool3D") is \
        layers.GlobalAveragePooling3D
    with pytest.raises(TypeError, match="AdaptiveAveragePooling2D: output_size"):
        layers.AdaptiveAveragePooling2D("big")
    with pytest.raises(ValueError, match="AdaptiveMaxPooling2D: output_size"):
        layers.AdaptiveMaxPooling2D((2, 2, 2))
    with pytest.raises(ValueError, match=r"layer 'p'.*expected ndim=5, found ndim=4"):
        layers.MaxPooling3D(name="p")(np.zeros((1, 4, 4, 2), "float32"))
    with pytest.raises(TypeError):
        layers.AveragePooling3D()   # pool_size is required, as in Keras
    assert layers.MaxPooling3D(padding="same").compute_output_shape((None, None, 5, 3, 2)) == (None, None, 3, 2, 2)


def test_saved_model_round_trip(tmp_path):
    inputs = layers.Input(shape=(4, 6, 4, 2))
    x = layers.MaxPooling3D((2, 2, 1))(inputs)
    a = layers.GlobalAveragePooling3D()(layers.AveragePooling3D(2, strides=1, padding="same")(x))
    b = layers.Flatten()(layers.AdaptiveMaxPooling3D((1, 2, 2))(x))
    model = dg.Model(inputs, layers.Dense(2)(layers.Concatenate()([a, b])))
    data = np.random.default_rng(0).standard_normal((3, 4, 6, 4, 2)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = dg.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-6)
