"""``tf.image.rgb_to_yuv``/``yuv_to_rgb`` and ``tf.image.resize(method="area")``, as the
sub-pixel super-resolution program uses them."""
import numpy as np
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
