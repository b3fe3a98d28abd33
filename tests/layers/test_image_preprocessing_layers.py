"""Image preprocessing layers: the standard layer checks, the distribution of the random
transforms over many draws, training-only augmentation inside ``fit``, and save/load."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers
from layer_test import run_layer_test

SHAPE = (2, 8, 10, 3)


@pytest.mark.parametrize("cls,kwargs,out_shape", [
    (layers.Rescaling, dict(scale=1 / 255.0, offset=0.1), SHAPE),
    (layers.Resizing, dict(height=4, width=6), (2, 4, 6, 3)),
    (layers.Resizing, dict(height=5, width=5, pad_to_aspect_ratio=True), (2, 5, 5, 3)),
    (layers.CenterCrop, dict(height=4, width=6), (2, 4, 6, 3)),
    (layers.CenterCrop, dict(height=12, width=6), (2, 12, 6, 3)),
    (layers.RandomFlip, dict(seed=1), SHAPE),
    (layers.RandomRotation, dict(factor=0.1, seed=1), SHAPE),
    (layers.RandomZoom, dict(height_factor=0.1, seed=1), SHAPE),
    (layers.RandomTranslation, dict(height_factor=0.1, width_factor=0.2, seed=1), SHAPE),
    (layers.RandomContrast, dict(factor=0.2, seed=1), SHAPE),
    (layers.RandomBrightness, dict(factor=0.2, seed=1), SHAPE),
    (layers.RandomGrayscale, dict(seed=1), SHAPE),
    (layers.RandomInvert, dict(seed=1), SHAPE),
    (layers.RandomShear, dict(x_factor=0.2, seed=1), SHAPE),
    (layers.Solarization, dict(addition_factor=0.2, threshold_factor=0.5, seed=1), SHAPE),
    (layers.AutoContrast, dict(), SHAPE),
])
def test_layer_checks(cls, kwargs, out_shape):
    run_layer_test(cls, kwargs, input_shape=SHAPE, expected_output_shape=out_shape,
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0)


def test_random_crop_shape_in_training_and_inference():
    x = np.random.default_rng(0).standard_normal(SHAPE).astype("float32")
    layer = layers.RandomCrop(4, 6, seed=0)
    assert layer(x, training=True).shape == (2, 4, 6, 3)
    np.testing.assert_array_equal(layer(x, training=False).data, x)  # as Keras 3.15
    assert layer.compute_output_shape((None, 8, 10, 3)) == (None, 4, 6, 3)
    # every crop is a window of the input
    out = layer(x, training=True).data
    windows = [x[:, i:i + 4, j:j + 6] for i in range(5) for j in range(5)]
    assert any(np.array_equal(out, w) for w in windows)


def _dot_images(n, size=33, row=4, col=16):
    x = np.zeros((n, size, size, 1), "float32")
    x[:, row, col] = 1.0
    return x


def _centroids(out):
    out = out[..., 0]
    grid_r, grid_c = np.meshgrid(np.arange(out.shape[1]), np.arange(out.shape[2]), indexing="ij")
    mass = out.sum(axis=(1, 2))
    return (out * grid_r).sum(axis=(1, 2)) / mass, (out * grid_c).sum(axis=(1, 2)) / mass


def test_rotation_angles_are_uniform_over_factor():
    # a dot 12 px above the centre moves to angle theta; factor 0.1 gives theta ~ U(-36, 36) deg
    out = layers.RandomRotation(0.1, fill_mode="constant", seed=0)(_dot_images(400), training=True).data
    r, c = _centroids(out)
    theta = np.degrees(np.arctan2(c - 16, 16 - r))
    assert np.abs(theta).max() <= 36.5 and np.abs(theta).max() > 33
    assert abs(theta.mean()) < 3.0
    assert abs(theta.std() - 72 / np.sqrt(12)) < 2.0


def test_rotation_by_exactly_factor_times_two_pi():
    out = layers.RandomRotation((0.125, 0.125), fill_mode="constant")(_dot_images(1), training=True).data
    r, c = _centroids(out)
    # a positive factor turns counter-clockwise: the dot above the centre moves left
    np.testing.assert_allclose(np.degrees(np.arctan2(c - 16, 16 - r)), -45.0, atol=0.5)


def test_zoom_scales_distances_by_one_over_z():
    out = layers.RandomZoom(0.1, fill_mode="constant", seed=0)(_dot_images(400, row=16, col=24),
                                                              training=True).data
    r, c = _centroids(out)
    dist = c - 16  # 8 / z with z ~ U(0.9, 1.1)
    assert dist.min() >= 8 / 1.1 - 0.05 and dist.max() <= 8 / 0.9 + 0.05
    assert dist.max() - dist.min() > 1.3
    np.testing.assert_allclose(r, 16.0, atol=1e-4)


def test_translation_shifts_by_factor_times_size():
    out = layers.RandomTranslation(0.0, (0.1, 0.2), fill_mode="constant", seed=0)(
        _dot_images(400, row=16, col=10), training=True).data
    r, c = _centroids(out)
    shift = c - 10  # ~ U(0.1, 0.2) * 33
    assert shift.min() >= 3.3 - 1e-3 and shift.max() <= 6.6 + 1e-3
    assert abs(shift.mean() - 4.95) < 0.2


def test_flip_probability_is_one_half():
    x = np.random.default_rng(0).standard_normal((2000, 3, 4, 1)).astype("float32")
    out = layers.RandomFlip("horizontal", seed=0)(x, training=True).data
    flipped = np.all(out == x[:, :, ::-1], axis=(1, 2, 3))
    kept = np.all(out == x, axis=(1, 2, 3))
    assert np.all(flipped | kept)
    assert abs(flipped.mean() - 0.5) < 0.04


def test_brightness_and_contrast_statistics():
    x = np.full((2000, 4, 4, 3), 150.0, "float32")
    x[:, :2] = 100.0
    delta = layers.RandomBrightness(0.2, seed=0)(x, training=True).data - x
    d = delta[:, 0, 0, 0]
    np.testing.assert_allclose(delta, np.broadcast_to(d[:, None, None, None], delta.shape), atol=1e-4)
    assert d.min() >= -51.0 and d.max() <= 51.0 and abs(d.mean()) < 2.0
    out = layers.RandomContrast((-0.5, 0.5), seed=0)(x, training=True).data
    np.testing.assert_allclose(out[:, 0, 0, 0], 125 - 25 * 1.5, rtol=1e-5)  # c = 1.5 exactly
    out = layers.RandomContrast(0.5, seed=0)(x, training=True).data
    c = (out[:, 2, 0, 0] - 125) / 25  # c ~ U(1, 1.5) (Keras's reading of a single number)
    assert c.min() >= 1.0 - 1e-5 and c.max() <= 1.5 + 1e-5 and abs(c.mean() - 1.25) < 0.02


def test_seed_repeats_and_draws_differ_between_calls():
    x = np.random.default_rng(0).uniform(0, 1, (4, 8, 8, 3)).astype("float32")
    a = layers.RandomRotation(0.2, seed=5)
    b = layers.RandomRotation(0.2, seed=5)
    first = a(x, training=True).data
    np.testing.assert_array_equal(first, b(x, training=True).data)
    assert not np.allclose(first, a(x, training=True).data)
    dg.utils.set_random_seed(3)
    unseeded = layers.RandomRotation(0.2)(x, training=True).data
    dg.utils.set_random_seed(3)
    np.testing.assert_array_equal(unseeded, layers.RandomRotation(0.2)(x, training=True).data)


def test_gradient_reaches_the_input():
    x = dg.Tensor(np.random.default_rng(0).uniform(0, 1, (2, 6, 6, 1)).astype("float64"), requires_grad=True)
    layer = layers.RandomRotation(0.1, seed=0, dtype="float64")
    out = layer(x, training=True)
    (out * out).sum().backward()
    assert x.grad is not None and np.abs(x.grad).sum() > 0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="RandomRotation.*factor"):
        layers.RandomRotation(1.5)
    with pytest.raises(ValueError, match="RandomFlip.*mode"):
        layers.RandomFlip("diagonal")
    with pytest.raises(ValueError, match="RandomContrast.*value_range"):
        layers.RandomContrast(0.1, value_range=(0, 1, 2))
    with pytest.raises(NotImplementedError, match="RandomZoom.*fill_mode"):
        layers.RandomZoom(0.1, fill_mode="mirror2")


def _augmented_model():
    return dg.Sequential([
        layers.Input((4, 4, 1)),
        layers.RandomBrightness((0.5, 0.5), value_range=(0, 1000)),  # adds 500 in training
        layers.Flatten(),
        layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
    ])


def test_augmentation_runs_in_fit_not_in_predict(tmp_path):
    x = np.zeros((16, 4, 4, 1), "float32")
    y = np.ones((16, 1), "float32")
    model = _augmented_model()
    model.compile(optimizer=dg.optimizers.SGD(1e-8), loss="mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    kernel = model.layers[-1].get_weights()[0]
    # zero images give the kernel a gradient only through the +500 of the augmentation
    assert np.all(kernel > 0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), 0.0)
    path = tmp_path / "augmented.keras"
    model.save(path)
    loaded = dg.models.load_model(path)
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    assert loaded.layers[0].get_config() == model.layers[0].get_config()
    ones = np.ones((3, 4, 4, 1), "float32")
    np.testing.assert_allclose(loaded.predict(ones, verbose=0), model.predict(ones, verbose=0), rtol=1e-6)


def test_augmented_cnn_trains_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (64, 12, 12, 1)).astype("float32")
    y = (x[:, 3:9, 3:9].mean(axis=(1, 2, 3)) > 0.5).astype("float32")[:, None]
    model = dg.Sequential([
        layers.Input((12, 12, 1)), layers.Rescaling(2.0, offset=-1.0), layers.RandomFlip(seed=0),
        layers.RandomRotation(0.1, seed=0), layers.RandomZoom(0.1, seed=0), layers.Resizing(10, 10),
        layers.Conv2D(4, 3, activation="relu"), layers.Flatten(), layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    first = model.predict(x, verbose=0)
    np.testing.assert_array_equal(first, model.predict(x, verbose=0))  # inference is deterministic
    path = tmp_path / "cnn.keras"
    model.save(path)
    np.testing.assert_allclose(dg.models.load_model(path).predict(x, verbose=0), first, rtol=1e-5, atol=1e-6)
