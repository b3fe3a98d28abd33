"""ImageDataGenerator: the affine transform against Keras's matrix formula, flips, rescale, and flow batches."""
import math

import numpy as np
import pytest

from deepgrad.preprocessing.image import ImageDataGenerator, apply_affine_transform


def keras_affine_reference(x, theta, tx, ty, mode):
    """Keras's recipe written out: M = R(theta) @ T(tx, ty), centred, applied per channel by scipy."""
    from scipy import ndimage

    t = np.deg2rad(theta)
    rotation = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    shift = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    h, w = x.shape[:2]
    cy, cx = h / 2 - 0.5, w / 2 - 0.5
    offset = np.array([[1, 0, cy], [0, 1, cx], [0, 0, 1]])
    reset = np.array([[1, 0, -cy], [0, 1, -cx], [0, 0, 1]])
    m = offset @ rotation @ shift @ reset
    return np.stack([ndimage.affine_transform(x[..., c], m[:2, :2], m[:2, 2], order=1, mode=mode)
                     for c in range(x.shape[2])], axis=-1)


@pytest.mark.parametrize("theta,tx,ty", [(0, 1.5, -2), (30, 0, 0), (-45, 1, 2), (90, 0.5, 0), (170, -1, 1)])
@pytest.mark.parametrize("fill_mode", ["nearest", "reflect"])
def test_affine_transform_matches_keras_formula(theta, tx, ty, fill_mode):
    x = np.random.default_rng(1).random((7, 9, 2))
    out = apply_affine_transform(x, theta, tx, ty, fill_mode=fill_mode)
    np.testing.assert_allclose(out, keras_affine_reference(x, theta, tx, ty, fill_mode), atol=1e-9)


def test_rotation_by_90_turns_clockwise_and_integer_shift():
    x = np.arange(9.0).reshape(3, 3, 1)
    np.testing.assert_allclose(apply_affine_transform(x, 90), np.rot90(x, k=-1), atol=1e-12)
    shifted = apply_affine_transform(x, tx=1, fill_mode="constant", cval=-1)
    np.testing.assert_array_equal(shifted[:2], x[1:])  # content moves up one row
    np.testing.assert_array_equal(shifted[2], -1)
    wrapped = apply_affine_transform(x, ty=1, fill_mode="wrap", order=0)
    np.testing.assert_array_equal(wrapped, np.roll(x, -1, axis=1))


def test_affine_argument_errors():
    with pytest.raises(ValueError, match="fill_mode must be one of"):
        apply_affine_transform(np.zeros((2, 2, 1)), 10, fill_mode="mirror")
    with pytest.raises(ValueError, match=r"one image \(h, w, c\), got shape \(2, 2\)"):
        apply_affine_transform(np.zeros((2, 2)), 10)
    with pytest.raises(ValueError, match="rotation_range must be a number >= 0"):
        ImageDataGenerator(rotation_range=-5)


def test_flips_and_rescale():
    gen = ImageDataGenerator(rescale=1 / 255)
    x = np.arange(2 * 3 * 1, dtype=np.uint8).reshape(2, 3, 1)
    np.testing.assert_array_equal(gen.apply_transform(x, {"flip_horizontal": True}), x[:, ::-1])
    np.testing.assert_array_equal(gen.apply_transform(x, {"flip_vertical": True}), x[::-1])
    out = gen.standardize(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, x / 255, rtol=1e-6)


def test_horizontal_flip_happens_about_half_the_time():
    gen = ImageDataGenerator(horizontal_flip=True)
    rng = np.random.default_rng(0)
    flips = sum(gen.get_random_transform((4, 4, 1), rng)["flip_horizontal"] for _ in range(400))
    assert 160 < flips < 240


def test_shift_ranges_are_fractions_of_the_size_or_pixels():
    rng = np.random.default_rng(0)
    frac = [ImageDataGenerator(width_shift_range=0.25, height_shift_range=0.5).get_random_transform((8, 20, 3), rng)
            for _ in range(200)]
    assert max(abs(p["ty"]) for p in frac) <= 5 and max(abs(p["ty"]) for p in frac) > 4   # 0.25 * width 20
    assert max(abs(p["tx"]) for p in frac) <= 4 and max(abs(p["tx"]) for p in frac) > 3   # 0.5 * height 8
    pixels = [ImageDataGenerator(width_shift_range=3).get_random_transform((8, 20, 3), rng) for _ in range(200)]
    assert max(abs(p["ty"]) for p in pixels) <= 3 and all(p["tx"] == 0 and p["theta"] == 0 for p in pixels)


def labelled_images(n=10):
    x = np.zeros((n, 4, 4, 1), np.float32)
    x[:, 0, 0, 0] = np.arange(n)  # each image carries its index
    return x, np.arange(n) * 10


def test_flow_batches_cover_the_epoch_with_labels_aligned():
    x, y = labelled_images(10)
    it = ImageDataGenerator().flow(x, y, batch_size=4, seed=3)
    assert len(it) == math.ceil(10 / 4)
    batches = list(it)
    assert [b[0].shape for b in batches] == [(4, 4, 4, 1), (4, 4, 4, 1), (2, 4, 4, 1)]
    ids = np.concatenate([b[0][:, 0, 0, 0] for b in batches]).astype(int)
    labels = np.concatenate([b[1] for b in batches])
    np.testing.assert_array_equal(labels, ids * 10)
    assert sorted(ids) == list(range(10)) and ids.tolist() != list(range(10))
    next_epoch = np.concatenate([b[0][:, 0, 0, 0] for b in it]).astype(int)
    assert sorted(next_epoch) == list(range(10)) and next_epoch.tolist() != ids.tolist()  # reshuffled


def test_flow_without_shuffle_or_labels_and_repeatable_seed():
    x, _ = labelled_images(5)
    it = ImageDataGenerator(rescale=0.5).flow(x, batch_size=2, shuffle=False)
    first = it[0]
    assert isinstance(first, np.ndarray)
    np.testing.assert_array_equal(first[:, 0, 0, 0], [0, 0.5])
    np.testing.assert_array_equal(it[-1][:, 0, 0, 0], [2.0])
    gen = ImageDataGenerator(rotation_range=20, width_shift_range=0.2, horizontal_flip=True)
    a = gen.flow(np.random.default_rng(0).random((6, 5, 5, 3)), batch_size=3, seed=7)[0]
    b = gen.flow(np.random.default_rng(0).random((6, 5, 5, 3)), batch_size=3, seed=7)[0]
    np.testing.assert_array_equal(a, b)
    with pytest.raises(IndexError, match="batch 3 out of range for 3 batches"):
        it[3]


def test_augmented_values_stay_in_the_input_range():
    x = np.random.default_rng(2).random((4, 6, 6, 3)).astype(np.float32)
    gen = ImageDataGenerator(rotation_range=30, width_shift_range=0.3, height_shift_range=0.3, vertical_flip=True)
    out = np.concatenate(list(gen.flow(x, batch_size=2, seed=0)))
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= x.min() - 1e-6 and out.max() <= x.max() + 1e-6  # bilinear mixes, nearest fill copies
    assert not np.allclose(np.sort(out, axis=0), np.sort(x, axis=0))


def test_flow_argument_errors():
    gen = ImageDataGenerator()
    with pytest.raises(ValueError, match=r"images of shape \(n, h, w, c\), got \(3, 4, 4\)"):
        gen.flow(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="same length, got 3 and 2"):
        gen.flow(np.zeros((3, 4, 4, 1)), np.zeros(2))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        gen.flow(np.zeros((3, 4, 4, 1)), batch_size=0)
