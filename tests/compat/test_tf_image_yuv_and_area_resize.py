"""``tf.image.rgb_to_yuv``/``yuv_to_rgb`` and ``tf.image.resize(method="area")``, as the
sub-pixel super-resolution program uses them."""
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad.compat import tensorflow as tf


def test_rgb_to_yuv_is_bt601_luma_and_scaled_colour_differences_and_inverts():
    rgb = np.random.default_rng(0).uniform(0, 1, (2, 5, 4, 3)).astype("float32")
    yuv = tf.image.rgb_to_yuv(rgb).numpy()
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    np.testing.assert_allclose(yuv[..., 0], y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(yuv[..., 1], 0.492 * (b - y), atol=2e-3)  # U = 0.492 (B - Y)
    np.testing.assert_allclose(yuv[..., 2], 0.877 * (r - y), atol=2e-3)  # V = 0.877 (R - Y)
    assert yuv.dtype == np.float32
    np.testing.assert_allclose(tf.image.yuv_to_rgb(yuv).numpy(), rgb, atol=1e-5)
    y_only, _, _ = tf.split(tf.image.rgb_to_yuv(rgb), 3, axis=3)  # the program's luminance channel
    assert tuple(y_only.shape) == (2, 5, 4, 1)


def test_area_resize_averages_the_covered_input_area():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 255, (2, 6, 9, 3)).astype("float32")
    # whole factors: the mean of each block, as torch's area interpolation
    got = tf.image.resize(x, [3, 3], method="area").numpy()
    want = torch.nn.functional.interpolate(torch.tensor(x).permute(0, 3, 1, 2), size=(3, 3), mode="area")
    np.testing.assert_allclose(got, want.permute(0, 2, 3, 1).numpy(), rtol=1e-5)
    assert got.dtype == np.float32
    # 3 -> 2 pixels: each output covers 1.5 input pixels, the middle one shared half and half
    row = np.array([[[[1.0], [4.0], [10.0]]]], "float32")
    np.testing.assert_allclose(tf.image.resize(row, [1, 2], method="area").numpy().ravel(),
                               [(1 + 0.5 * 4) / 1.5, (0.5 * 4 + 10) / 1.5], rtol=1e-6)
    # any factor keeps the image's mean (every input pixel's area is spent once)
    odd = tf.image.resize(x, [4, 5], method="area").numpy()
    np.testing.assert_allclose(odd.mean(axis=(1, 2)), x.mean(axis=(1, 2)), rtol=1e-5)
    t = dg.Tensor(x, requires_grad=True)
    tf.image.resize(t, [4, 5], method="area").sum().backward()
    np.testing.assert_allclose(t.grad, np.full(x.shape, 20 / 54), rtol=1e-5)  # d(sum)/dx = out area / in area


def test_sample_distorted_bounding_box_draws_windows_in_the_asked_area_and_aspect_ranges():
    dg.utils.set_random_seed(3)
    areas, aspects = [], []
    for _ in range(200):
        begin, size, bbox = tf.image.sample_distorted_bounding_box(
            tf.shape(np.zeros((90, 120, 3))), tf.zeros([0, 0, 4], tf.float32), area_range=(0.2, 0.6),
            aspect_ratio_range=(0.75, 1.33), min_object_covered=0, use_image_if_no_bounding_boxes=True)
        (y, x, c), (h, w, rest) = begin.numpy(), size.numpy()
        assert begin.dtype == size.dtype == np.int32 and (c, rest) == (0, -1)
        assert 0 <= y and y + h <= 90 and 0 <= x and x + w <= 120
        np.testing.assert_allclose(bbox.numpy()[0, 0], [y / 90, x / 120, (y + h) / 90, (x + w) / 120], rtol=1e-6)
        areas.append(h * w / (90 * 120))
        aspects.append(w / h)
        crop = tf.slice(np.zeros((90, 120, 3)), begin, size)
        assert tuple(crop.shape) == (h, w, 3)
    assert 0.18 < min(areas) and max(areas) < 0.62  # rounding to whole pixels moves the area a little
    assert 0.7 < min(aspects) and max(aspects) < 1.4
    # an impossible request (every window must cover the whole box) falls back to the whole image
    begin, size, _ = tf.image.sample_distorted_bounding_box(
        [20, 30, 3], [[[0.0, 0.0, 1.0, 1.0]]], area_range=(0.1, 0.2), min_object_covered=1.0, max_attempts=5)
    assert begin.numpy().tolist() == [0, 0, 0] and size.numpy().tolist() == [20, 30, -1]


def test_random_flips_flip_each_image_of_a_batch_on_its_own_and_set_shape_checks():
    dg.utils.set_random_seed(5)
    images = np.random.default_rng(6).uniform(0, 1, (64, 3, 4, 2)).astype("float32")
    out = tf.image.random_flip_left_right(images).numpy()
    flipped = np.array([np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images)])
    kept = np.array([np.array_equal(o, i) for o, i in zip(out, images)])
    assert np.all(flipped ^ kept) and 15 < flipped.sum() < 49
    single = tf.image.random_flip_up_down(images[0]).numpy()
    assert np.array_equal(single, images[0]) or np.array_equal(single, images[0][::-1])
    t = dg.Tensor(images[0])
    t.set_shape([None, None, 2])  # TF's static-shape assertion: no change on agreement
    t.set_shape((3, 4, 2))
    with pytest.raises(ValueError, match="incompatible"):
        t.set_shape([None, None, 3])
    with pytest.raises(ValueError, match="incompatible"):
        t.set_shape([3, 4])


def test_ssim_matches_scikit_image_gaussian_ssim_and_is_differentiable():
    from skimage.metrics import structural_similarity
    rng = np.random.default_rng(8)
    a = rng.uniform(0, 1, (2, 20, 24, 3))
    b = np.clip(a + rng.normal(0, 0.2, a.shape), 0, 1)
    got = tf.image.ssim(a, b, max_val=1.0).numpy()
    want = [structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                  data_range=1.0, channel_axis=-1) for x, y in zip(a, b)]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(tf.image.ssim(a, a, max_val=1.0).numpy(), [1.0, 1.0], rtol=1e-12)
    # the depth-estimation loss's call: a 7-pixel window and k1, k2 squared
    small = tf.image.ssim(a, b, max_val=24, filter_size=7, k1=0.01 ** 2, k2=0.03 ** 2).numpy()
    assert small.shape == (2,) and np.all(small < 1)
    # d(ssim)/d(img2) by central differences in float64
    x, y = a[:1, :12, :12, :1], b[:1, :12, :12, :1]
    t = dg.Tensor(y.copy(), requires_grad=True)
    tf.image.ssim(x, t, max_val=1.0, filter_size=7).sum().backward()
    eps, idx = 1e-6, (0, 5, 6, 0)
    up, down = y.copy(), y.copy()
    up[idx] += eps
    down[idx] -= eps
    numeric = (tf.image.ssim(x, up, 1.0, filter_size=7).numpy() - tf.image.ssim(x, down, 1.0, filter_size=7).numpy()) / (2 * eps)
    np.testing.assert_allclose(t.grad[idx], numeric[0], rtol=1e-5)
    with pytest.raises(ValueError, match="filter_size"):
        tf.image.ssim(a[:, :5, :5], b[:, :5, :5], max_val=1.0)


def test_image_gradients_are_forward_differences_with_a_zero_last_row_and_column():
    x = np.random.default_rng(9).standard_normal((2, 4, 5, 3)).astype("float32")
    dy, dx = tf.image.image_gradients(x)
    assert tuple(dy.shape) == tuple(dx.shape) == x.shape
    np.testing.assert_allclose(dy.numpy()[:, :-1], x[:, 1:] - x[:, :-1], rtol=1e-6)
    np.testing.assert_allclose(dx.numpy()[:, :, :-1], x[:, :, 1:] - x[:, :, :-1], rtol=1e-6)
    assert not dy.numpy()[:, -1].any() and not dx.numpy()[:, :, -1].any()


def test_resize_with_pad_keeps_the_aspect_ratio_and_centres_the_image():
    x = np.random.default_rng(10).uniform(0, 255, (20, 40, 1)).astype("float32")
    out = tf.image.resize_with_pad(x, 32, 32).numpy()  # scale 0.8: 16 x 32, 8 rows of zeros above and below
    assert out.shape == (32, 32, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[8:24], tf.image.resize(x, (16, 32)).numpy(), rtol=1e-6)
    assert not out[:8].any() and not out[24:].any()
    batch = tf.image.resize_with_pad(np.ones((2, 28, 28, 1), "uint8"), 32, 32)  # MNIST into 32 x 32: no padding
    assert tuple(batch.shape) == (2, 32, 32, 1)
    np.testing.assert_allclose(batch.numpy(), 1.0)
