"""GaussianNoise, GaussianDropout, AlphaDropout, SpatialDropout1D/2D/3D, ActivityRegularization and
Dropout: identity outside training, noise statistics over many draws in training, seeds, configs."""
import numpy as np
import pytest
from layer_test import run_layer_test

import deepgrad as dg
from deepgrad import layers

ALPHA_P = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946


@pytest.mark.parametrize("cls, kwargs, shape", [
    (layers.GaussianNoise, {"stddev": 0.5}, (3, 4)), (layers.GaussianDropout, {"rate": 0.4}, (3, 4)),
    (layers.AlphaDropout, {"rate": 0.2, "noise_shape": (None, 1)}, (3, 4)),
    (layers.SpatialDropout1D, {"rate": 0.5}, (2, 3, 4)), (layers.SpatialDropout2D, {"rate": 0.5}, (2, 3, 3, 4)),
    (layers.SpatialDropout3D, {"rate": 0.5, "data_format": "channels_first"}, (2, 3, 2, 2, 2)),
    (layers.ActivityRegularization, {"l1": 0.1}, (3, 4)),
])
def test_layer_checks_and_identity_outside_training(cls, kwargs, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    layer, out = run_layer_test(cls, kwargs, input_data=x, expected_output_shape=shape, expected_num_params=0)
    np.testing.assert_array_equal(out.data, x)
    np.testing.assert_array_equal(layer(x).data, x)  # no training flag: inference


def test_gaussian_noise_statistics():
    x = np.full((200, 500), 3.0, "float32")
    out = layers.GaussianNoise(0.5, seed=1)(x, training=True).data
    noise = out - 3.0
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.5) < 0.01


def test_gaussian_dropout_statistics_and_gradient():
    x = dg.Tensor(np.full((200, 500), 2.0, "float32"), requires_grad=True)
    out = layers.GaussianDropout(0.2, seed=3)(x, training=True)
    factor = out.data / 2.0
    assert abs(factor.mean() - 1.0) < 0.01 and abs(factor.std() - np.sqrt(0.2 / 0.8)) < 0.01
    out.sum().backward()
    np.testing.assert_allclose(x.grad, factor, rtol=1e-6)  # d(x * noise)/dx = noise


def test_alpha_dropout_keeps_mean_and_variance():
    """For standard-normal inputs, the output keeps mean 0 and variance 1, and dropped cells share one value."""
    rate = 0.3
    x = np.random.default_rng(0).standard_normal((400, 500)).astype("float32")
    out = layers.AlphaDropout(rate, seed=2)(x, training=True).data
    assert abs(out.mean()) < 0.01 and abs(out.var() - 1.0) < 0.02
    a = ((1 - rate) * (1 + rate * ALPHA_P ** 2)) ** -0.5
    dropped_value = a * ALPHA_P - a * ALPHA_P * rate
    kept = np.isclose(out, a * x - a * ALPHA_P * rate, atol=1e-5)
    dropped = np.isclose(out, dropped_value, atol=1e-5)
    assert np.all(kept | dropped) and abs(dropped.mean() - rate) < 0.01


@pytest.mark.parametrize("cls, shape, axes", [(layers.SpatialDropout1D, (50, 6, 40), (1,)),
                                              (layers.SpatialDropout2D, (50, 3, 4, 40), (1, 2)),
                                              (layers.SpatialDropout3D, (50, 2, 3, 2, 40), (1, 2, 3))])
def test_spatial_dropout_drops_whole_channels(cls, shape, axes):
    x = np.ones(shape, "float32")
    out = cls(0.4, seed=0)(x, training=True).data
    per_channel = out.min(axis=axes)
    np.testing.assert_array_equal(per_channel, out.max(axis=axes))  # one value per (sample, channel)
    assert np.all(np.isclose(per_channel, 0.0) | np.isclose(per_channel, 1 / 0.6))
    assert abs((per_channel == 0).mean() - 0.4) < 0.05


def test_spatial_dropout_channels_first():
    x = np.ones((40, 30, 3, 4), "float32")
    out = layers.SpatialDropout2D(0.5, data_format="channels_first", seed=1)(x, training=True).data
    np.testing.assert_array_equal(out.min(axis=(2, 3)), out.max(axis=(2, 3)))


def test_seeded_layers_repeat_and_advance():
    x = np.ones((4, 5), "float32")
    for cls, arg in [(layers.GaussianNoise, 0.3), (layers.GaussianDropout, 0.3), (layers.AlphaDropout, 0.3)]:
        first, again = cls(arg, seed=7), cls(arg, seed=7)
        a1, a2 = first(x, training=True).data, first(x, training=True).data
        np.testing.assert_array_equal(a1, again(x, training=True).data)   # same seed, same first draw
        assert not np.array_equal(a1, a2)                                  # the next call draws anew


def test_dropout_noise_shape_and_seed():
    x = np.ones((30, 8, 20), "float32")
    out = layers.Dropout(0.5, noise_shape=(None, 1, None), seed=3)(x, training=True).data
    np.testing.assert_array_equal(out.min(axis=1), out.max(axis=1))  # the same draw along axis 1
    with pytest.raises(ValueError, match="Dropout: noise_shape"):
        layers.Dropout(0.5, noise_shape="abc")
    with pytest.raises(ValueError, match="Dropout: noise_shape"):
        layers.Dropout(0.5, noise_shape=(None, 0))


def test_activity_regularization_adds_its_loss():
    x = np.array([[1.0, -2.0], [3.0, 0.5]], "float32")
    layer = layers.ActivityRegularization(l1=0.1, l2=0.01)
    layer(x)
    expected = (0.1 * np.abs(x).sum() + 0.01 * (x ** 2).sum()) / 2
    np.testing.assert_allclose(layer.losses[0].item(), expected, rtol=1e-6)


def test_bad_rates_are_rejected():
    with pytest.raises(ValueError, match="GaussianNoise: stddev"):
        layers.GaussianNoise(1.5)
    with pytest.raises(ValueError, match="GaussianDropout: rate"):
        layers.GaussianDropout(-0.1)
    with pytest.raises(ValueError, match=r"layer 'sd'.*expected ndim=4, found ndim=3"):
        layers.SpatialDropout2D(0.5, name="sd")(np.ones((2, 3, 4), "float32"), training=True)


def test_training_model_round_trip(tmp_path):
    model = dg.Sequential([layers.Input(shape=(6, 4)), layers.GaussianNoise(0.1), layers.SpatialDropout1D(0.2),
                           layers.Flatten(), layers.AlphaDropout(0.1), layers.GaussianDropout(0.1),
                           layers.ActivityRegularization(l2=1e-3), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).standard_normal((16, 6, 4)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None]
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    model.save(tmp_path / "m.keras")
    loaded = dg.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert [layer.get_config() for layer in loaded.layers][1:] == [layer.get_config() for layer in model.layers][1:]
