"""UpSampling, ZeroPadding and Cropping (1-D to 3-D): shapes, values by formula, float64 central
differences, config round trips and a saved model."""
import numpy as np
import pytest
from layer_test import run_layer_test
from oracle import check_gradients

import deepgrad as dg
from deepgrad import layers

CASES = [
    (layers.UpSampling1D, {}, (2, 3, 4), (2, 6, 4)),
    (layers.UpSampling1D, {"size": 3}, (2, 3, 4), (2, 9, 4)),
    (layers.UpSampling2D, {}, (2, 3, 4, 2), (2, 6, 8, 2)),
    (layers.UpSampling2D, {"size": (1, 3), "interpolation": "bilinear"}, (2, 3, 4, 2), (2, 3, 12, 2)),
    (layers.UpSampling2D, {"size": 2, "data_format": "channels_first"}, (2, 2, 3, 4), (2, 2, 6, 8)),
    (layers.UpSampling3D, {"size": (2, 1, 3)}, (1, 2, 3, 2, 2), (1, 4, 3, 6, 2)),
    (layers.ZeroPadding1D, {"padding": (1, 3)}, (2, 3, 4), (2, 7, 4)),
    (layers.ZeroPadding2D, {"padding": ((1, 0), (2, 3))}, (2, 3, 4, 2), (2, 4, 9, 2)),
    (layers.ZeroPadding2D, {"padding": 1, "data_format": "channels_first"}, (2, 2, 3, 4), (2, 2, 5, 6)),
    (layers.ZeroPadding3D, {"padding": (0, 1, 2)}, (1, 2, 3, 2, 2), (1, 2, 5, 6, 2)),
    (layers.Cropping1D, {"cropping": (0, 2)}, (2, 5, 4), (2, 3, 4)),
    (layers.Cropping2D, {"cropping": ((1, 0), (2, 1))}, (2, 4, 5, 2), (2, 3, 2, 2)),
    (layers.Cropping2D, {"cropping": (1, 2), "data_format": "channels_first"}, (2, 2, 4, 5), (2, 2, 2, 1)),
    (layers.Cropping3D, {}, (1, 3, 4, 5, 2), (1, 1, 2, 3, 2)),
]


@pytest.mark.parametrize("cls, kwargs, shape, expected", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_layer_checks_and_central_differences(cls, kwargs, shape, expected):
    run_layer_test(cls, kwargs, input_shape=shape, expected_output_shape=expected, expected_num_params=0)
    layer = cls(**kwargs, dtype="float64")  # a float32 layer would cast the float64 probe down
    check_gradients(lambda x: layer(x), [np.random.default_rng(1).standard_normal(shape)])


def test_values_by_formula():
    x = np.arange(2 * 3 * 2, dtype="float32").reshape(2, 3, 2)
    np.testing.assert_array_equal(layers.UpSampling1D(2)(x).data, np.repeat(x, 2, axis=1))
    np.testing.assert_array_equal(layers.ZeroPadding1D((1, 2))(x).data, np.pad(x, ((0, 0), (1, 2), (0, 0))))
    np.testing.assert_array_equal(layers.Cropping1D((1, 1))(x).data, x[:, 1:2])
    img = np.arange(2 * 3 * 4 * 2, dtype="float32").reshape(2, 3, 4, 2)
    np.testing.assert_array_equal(layers.UpSampling2D((2, 3))(img).data, img.repeat(2, 1).repeat(3, 2))
    np.testing.assert_array_equal(layers.Cropping2D(((1, 0), (1, 2)))(img).data, img[:, 1:, 1:2])


def test_bilinear_upsampling_by_formula():
    """Half-pixel centres: output j of a x2 axis reads src = (j + 0.5) / 2 - 0.5, clamped to [0, n - 1]."""
    x = np.array([0.0, 4.0, 8.0], "float32").reshape(1, 3, 1, 1)
    out = layers.UpSampling2D((2, 1), interpolation="bilinear")(x).data.ravel()
    np.testing.assert_allclose(out, [0.0, 1.0, 3.0, 5.0, 7.0, 8.0])
    # a constant image stays constant
    np.testing.assert_allclose(layers.UpSampling2D(3, interpolation="bilinear")(np.ones((1, 2, 2, 1))).data, 1.0)


def test_unknown_sizes_in_shapes():
    assert layers.UpSampling2D().compute_output_shape((None, None, 4, 3)) == (None, None, 8, 3)
    assert layers.Cropping1D(1).compute_output_shape((None, None, 3)) == (None, None, 3)
    assert layers.ZeroPadding3D(1, data_format="channels_first").compute_output_shape((None, 2, 3, None, 5)) == \
        (None, 2, 5, None, 7)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="UpSampling2D: interpolation"):
        layers.UpSampling2D(interpolation="gaussian")
    with pytest.raises(ValueError, match="ZeroPadding2D: padding"):
        layers.ZeroPadding2D(padding=(1, 2, 3))
    with pytest.raises(ValueError, match="Cropping2D.*removes all"):
        layers.Cropping2D(cropping=((2, 2), (0, 0)), name="crop")(np.zeros((1, 4, 4, 1), "float32"))
    with pytest.raises(ValueError, match=r"layer 'pad'.*expected ndim=3, found ndim=2.*\(2, 3\)"):
        layers.ZeroPadding1D(name="pad")(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="Cropping1D: cropping"):
        layers.Cropping1D(cropping=-1)


def test_saved_model_round_trip(tmp_path):
    inputs = layers.Input(shape=(4, 5, 2))
    x = layers.ZeroPadding2D(((1, 0), (0, 2)))(inputs)
    x = layers.Conv2D(3, 2)(x)
    x = layers.UpSampling2D((2, 1), interpolation="bilinear")(x)
    x = layers.Cropping2D(((1, 1), (0, 1)))(x)
    x = layers.Reshape((-1, 3))(x)
    x = layers.UpSampling1D(2)(x)
    outputs = layers.Cropping1D((1, 0))(layers.ZeroPadding1D(1)(x))
    model = dg.Model(inputs, outputs)
    data = np.random.default_rng(0).standard_normal((2, 4, 5, 2)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = dg.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-6)
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
