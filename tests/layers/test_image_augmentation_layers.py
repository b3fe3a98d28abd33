"""The further image augmentation layers: the standard layer checks, the distribution of
their random draws over many images, gradients against central differences, training
inside ``fit`` and save/load."""
import json

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers
from layer_test import run_layer_test

SHAPE = (2, 12, 10, 3)


def rgb(shape=SHAPE, seed=0, high=255.0):
    return np.random.default_rng(seed).uniform(0, high, shape).astype("float32")


@pytest.mark.parametrize("cls,kwargs", [
    (layers.RandomHue, dict(factor=0.3, seed=1)), (layers.RandomSaturation, dict(factor=0.3, seed=1)),
    (layers.RandomSharpness, dict(factor=0.3, seed=1)), (layers.RandomPosterization, dict(factor=4, seed=1)),
    (layers.RandomColorJitter, dict(brightness_factor=0.2, hue_factor=0.2, seed=1)),
    (layers.RandomColorDegeneration, dict(factor=0.3, seed=1)), (layers.RandomErasing, dict(seed=1)),
    (layers.RandomGaussianBlur, dict(seed=1)), (layers.RandomPerspective, dict(seed=1)),
    (layers.RandomElasticTransform, dict(seed=1)), (layers.Equalization, dict()),
    (layers.ContrastLimitedAdaptiveHistogramEqualization, dict(tile_grid_size=(2, 2))),
    (layers.MixUp, dict(seed=1)), (layers.CutMix, dict(seed=1)), (layers.AugMix, dict(seed=1)),
    (layers.RandAugment, dict(seed=1)), (layers.MaxNumBoundingBoxes, dict(max_number=3)),
])
def test_layer_checks(cls, kwargs):
    run_layer_test(cls, kwargs, input_data=rgb(), expected_output_shape=SHAPE,
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0)
    out = cls(**kwargs)(rgb(), training=True)
    assert out.shape == SHAPE and out.dtype == np.float32
    single = cls(**kwargs)(rgb()[0], training=True)
    assert single.shape == SHAPE[1:]


def _hsv(x):
    return dg.ops.image.rgb_to_hsv(x / 255.0).data


def test_hue_shift_is_uniform_in_plus_minus_factor_over_two():
    x = np.zeros((3000, 2, 2, 3), "float32")
    x[..., 0], x[..., 1], x[..., 2] = 200.0, 80.0, 40.0  # hue 1/30
    out = layers.RandomHue(0.6, seed=0)(x, training=True).data
    shift = (_hsv(out)[:, 0, 0, 0] - _hsv(x)[:, 0, 0, 0] + 0.5) % 1.0 - 0.5
    assert np.abs(shift).max() <= 0.3 + 1e-4
    assert abs(shift.mean()) < 0.01
    np.testing.assert_allclose(np.abs(shift).mean(), 0.15, atol=0.01)  # |d| ~ U(0, 0.3)
    np.testing.assert_allclose(_hsv(out)[..., 1:], _hsv(x)[..., 1:], atol=2e-3)  # S and V kept


def test_saturation_scales_by_f_over_one_minus_f():
    x = np.zeros((2000, 2, 2, 3), "float32")
    x[..., 0], x[..., 1], x[..., 2] = 200.0, 150.0, 100.0  # saturation 0.5
    out = layers.RandomSaturation((0.2, 0.5), seed=0)(x, training=True).data
    scale = _hsv(out)[:, 0, 0, 1] / 0.5
    f = scale / (1 + scale)  # inverts s = f / (1 - f)
    assert f.min() >= 0.2 - 1e-3 and f.max() <= 0.5 + 1e-3
    np.testing.assert_allclose(f.mean(), 0.35, atol=0.01)
    np.testing.assert_allclose(layers.RandomSaturation((0.5, 0.5))(x, training=True).data, x, atol=1e-3)


def test_sharpness_and_degeneration_factors_are_uniform():
    x = rgb((1500, 6, 6, 3), seed=1, high=100.0) + 50.0  # no clipping
    out = layers.RandomSharpness((0.2, 0.9), seed=0)(x, training=True).data
    blurred = layers.RandomSharpness((0.0, 0.0))(x, training=True).data  # f = 0: x + (smooth - x)
    # out - x = (1 - 2 f)(smooth - x)
    ratio = ((out - x) * (blurred - x)).sum(axis=(1, 2, 3)) / ((blurred - x) ** 2).sum(axis=(1, 2, 3))
    f = (1 - ratio) / 2
    assert f.min() >= 0.2 - 1e-4 and f.max() <= 0.9 + 1e-4 and abs(f.mean() - 0.55) < 0.015
    out = layers.RandomColorDegeneration(0.5, seed=0)(x, training=True).data
    gray = layers.RandomColorDegeneration((1.0, 1.0))(x, training=True).data
    f = ((out - x) * (gray - x)).sum(axis=(1, 2, 3)) / ((gray - x) ** 2).sum(axis=(1, 2, 3))
    assert f.min() >= -0.5 - 1e-4 and f.max() <= 0.5 + 1e-4 and abs(f.mean()) < 0.02


def test_posterization_keeps_one_to_three_bits_for_factor_four():
    x = np.broadcast_to(np.arange(256, dtype="float32").reshape(1, 16, 16, 1), (600, 16, 16, 3))
    out = layers.RandomPosterization(4, seed=0)(x, training=True).data
    levels = np.array([len(np.unique(o)) for o in out])
    bits = np.log2(levels).astype(int)
    assert set(bits) == {1, 2, 3}  # randint(1, 4): 4 excluded, as Keras
    for b in (1, 2, 3):
        assert abs((bits == b).mean() - 1 / 3) < 0.06
    np.testing.assert_array_equal(out[bits == 1][0, 0, :, 0], np.where(np.arange(16) < 128, 0, 128))


def test_erasing_probability_and_box_size():
    x = np.full((2000, 20, 20, 1), 100.0, "float32")
    out = layers.RandomErasing(scale=(0.04, 0.25), fill_value=0.0, seed=0)(x, training=True).data
    area = (out == 0).mean(axis=(1, 2, 3))
    erased = area > 0
    assert abs(erased.mean() - 0.5) < 0.04  # p ~ U(0, 1), so P(erase) = 1/2
    # sides sqrt(s) of the image's, s ~ U(0.04, 0.25), on a grid of whole pixels
    assert area[erased].min() >= 0.01 and area[erased].max() <= 0.36
    assert abs(np.sqrt(area[erased]).mean() - 0.35) < 0.05


@pytest.mark.parametrize("cls,kwargs", [
    (layers.RandomGaussianBlur, dict()), (layers.RandomPerspective, dict()),
    (layers.RandomElasticTransform, dict()),
])
def test_apply_probability_is_one_half_by_default(cls, kwargs):
    x = rgb((800, 10, 10, 3))
    out = cls(seed=0, **kwargs)(x, training=True).data
    changed = np.abs(out - x).max(axis=(1, 2, 3)) > 1e-3
    assert abs(changed.mean() - 0.5) < 0.06
    assert cls(factor=(1.0, 1.0), seed=0, **kwargs)(x[:50], training=True).data.std() > 0


def test_mix_up_blends_images_and_labels_with_one_weight():
    x = rgb((1000, 4, 4, 3))
    labels = np.eye(1000, dtype="float32")
    out = layers.MixUp(alpha=0.2, seed=0)({"images": x, "labels": labels}, training=True)
    y = out["labels"].data
    w = y[np.arange(1000), np.arange(1000)]
    partner = np.where(np.eye(1000, dtype=bool), -1.0, y).argmax(axis=1)
    expected = w[:, None, None, None] * x + (1 - w[:, None, None, None]) * x[partner]
    np.testing.assert_allclose(out["images"].data, expected, rtol=1e-4, atol=1e-2)
    # w ~ Beta(0.2, 0.2): mean 1/2, variance 1/(4 * 1.4)
    assert abs(w.mean() - 0.5) < 0.03 and abs(w.var() - 1 / 5.6) < 0.02


def test_cut_mix_label_weight_is_the_kept_area():
    x = np.arange(300, dtype="float32").reshape(300, 1, 1, 1) * np.ones((1, 16, 16, 3), "float32")
    labels = np.eye(300, dtype="float32")
    out = layers.CutMix(seed=0)({"images": x, "labels": labels}, training=True)
    kept = (out["images"].data[..., 0] == x[..., 0]).mean(axis=(1, 2))
    np.testing.assert_allclose(out["labels"].data[np.arange(300), np.arange(300)], kept, atol=0.13)
    # labels still sum to one, and a single image is left alone
    np.testing.assert_allclose(out["labels"].data.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(layers.CutMix(seed=0)(x[0], training=True).data, x[0])


def test_aug_mix_and_rand_augment_stay_in_range_and_repeat_with_a_seed():
    x = rgb((4, 16, 16, 3))
    for cls in (layers.AugMix, layers.RandAugment):
        first = cls(seed=3)(x, training=True).data
        np.testing.assert_array_equal(first, cls(seed=3)(x, training=True).data)
        assert first.min() >= 0.0 and first.max() <= 255.0
        assert not np.allclose(first, x)
    picks = np.concatenate([layers.RandAugment(num_ops=1, seed=s).get_random_transformation(
        x, np.random.default_rng(s))[0] for s in range(1100)])
    counts = np.bincount(picks, minlength=11)
    assert counts.min() > 60 and counts.max() < 140  # about 100 each of the 11 operations


def test_rand_augment_moves_boxes_and_masks_with_its_geometric_operations():
    rng = np.random.default_rng(0)
    data = {"images": rgb((2, 16, 16, 3)), "segmentation_masks": rng.integers(0, 3, (2, 16, 16, 1)).astype("float32"),
            "bounding_boxes": {"boxes": np.array([[[2, 2, 8, 8]], [[3, 4, 10, 12]]], "float32"),
                               "labels": np.array([[1], [2]])}}
    geometric = {"random_shear", "random_translation", "random_rotation"}
    seen = set()
    for seed in range(12):
        layer = layers.RandAugment(num_ops=1, seed=seed, bounding_box_format="xyxy")
        pick = layer._AUGMENT_LAYERS[layer.get_random_transformation(data["images"], np.random.default_rng(seed))[0][0]]
        out = layer(dict(data), training=True)
        moved = not np.allclose(out["bounding_boxes"]["boxes"], data["bounding_boxes"]["boxes"])
        assert moved == (pick in geometric), pick
        assert set(np.unique(out["segmentation_masks"].data)) <= {0.0, 1.0, 2.0}  # nearest sampling
        seen.add(pick in geometric)
    assert seen == {True, False}
    # a pipeline passes the dict on, layer after layer
    pipeline = layers.Pipeline([layers.RandomFlip("horizontal", bounding_box_format="xyxy", seed=0),
                                layers.CenterCrop(8, 8, bounding_box_format="xyxy")])
    out = pipeline(dict(data))
    assert out["images"].shape == (2, 8, 8, 3) and out["bounding_boxes"]["boxes"].shape == (2, 1, 4)
    assert out["bounding_boxes"]["boxes"].max() <= 8


def _numeric_gradient(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):  # central differences, element by element (a small image)
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


@pytest.mark.parametrize("cls,kwargs,transformation", [
    (layers.RandomHue, dict(factor=0.5, value_range=(0, 1)), np.array([0.1])),
    (layers.RandomSaturation, dict(factor=0.5, value_range=(0, 1)), np.array([0.7])),
    (layers.RandomSharpness, dict(factor=0.5, value_range=(0, 10)), np.array([0.9])),
    (layers.RandomColorDegeneration, dict(factor=0.5, value_range=(0, 10)), np.array([0.3])),
    (layers.RandomGaussianBlur, dict(kernel_size=3, value_range=(0, 10)), (np.array([True]), np.array([0.8, 1.2]))),
    (layers.RandomPerspective, dict(), (np.array([True]), np.array([[[0, 0], [3, 0], [0, 4], [3, 4]]], float),
                                        np.array([[[0.3, 0.2], [2.8, 0.1], [0.2, 3.7], [3.1, 3.9]]]))),
])
def test_input_gradient_matches_central_differences(cls, kwargs, transformation):
    x = np.random.default_rng(0).uniform(0.1, 0.9, (1, 5, 4, 3))
    layer = cls(dtype="float64", **kwargs)
    weights = np.random.default_rng(1).standard_normal(x.shape)

    def loss(a):
        return float((layer.transform_images(dg.Tensor(a), transformation).data * weights).sum())

    t = dg.Tensor(x, requires_grad=True)
    (layer.transform_images(t, transformation) * dg.Tensor(weights)).sum().backward()
    np.testing.assert_allclose(t.grad, _numeric_gradient(loss, x), rtol=1e-5, atol=1e-6)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="RandomHue.*factor"):
        layers.RandomHue(1.5)
    with pytest.raises(ValueError, match="RandomPosterization.*factor"):
        layers.RandomPosterization(9)
    with pytest.raises(ValueError, match="RandomGaussianBlur.*kernel_size"):
        layers.RandomGaussianBlur(kernel_size=4)
    with pytest.raises(ValueError, match="RandomPerspective.*scale"):
        layers.RandomPerspective(scale=1.5)
    with pytest.raises(NotImplementedError, match="RandomElasticTransform.*fill_mode"):
        layers.RandomElasticTransform(fill_mode="edge")
    with pytest.raises(ValueError, match="RandomErasing.*fill_value"):
        layers.RandomErasing(fill_value=[1, 2])
    with pytest.raises(ValueError, match="RandomSaturation.*value_range"):
        layers.RandomSaturation(0.2, value_range=(0, 1, 2))


@pytest.mark.slow
def test_augmented_model_trains_saves_and_loads(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (48, 12, 12, 3)).astype("float32")
    y = (x[..., 0].mean(axis=(1, 2)) > x[..., 2].mean(axis=(1, 2))).astype("float32")[:, None]
    model = dg.Sequential([
        layers.Input((12, 12, 3)), layers.RandomHue(0.1, seed=0), layers.RandomSaturation(0.3, seed=0),
        layers.RandomSharpness(0.3, seed=0), layers.RandomGaussianBlur(0.5, seed=0),
        layers.RandomPerspective(0.5, scale=0.3, seed=0), layers.RandomErasing(0.3, seed=0),
        layers.RandAugment(num_ops=1, seed=0), layers.Equalization(),
        layers.Rescaling(1 / 255.0), layers.Conv2D(4, 3, activation="relu"), layers.Flatten(),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    first = model.predict(x, verbose=0)
    np.testing.assert_array_equal(first, model.predict(x, verbose=0))  # inference: no augmentation
    path = tmp_path / "augmented.keras"
    model.save(path)
    loaded = dg.models.load_model(path)
    assert [json.dumps(l.get_config()) for l in loaded.layers] == [json.dumps(l.get_config()) for l in model.layers]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), first, rtol=1e-5, atol=1e-6)
