"""``tf.image``, ``tf.shape``'s shape vector, ``tf.unique``, ``tf.repeat`` and the
``tf.tensor_scatter_nd_*`` pair of ``deepgrad.compat.tensorflow``: values against Keras's own
image ops (torch backend; Keras's ``extract_patches`` is written to give TF's patch layout) or
against the formula computed with NumPy, with TF's dtypes."""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad.compat import tensorflow as tf  # noqa: E402


def arr(t):
    return t.data if isinstance(t, dg.Tensor) else np.asarray(t)


@pytest.mark.parametrize("size,stride,rate,padding", [(3, 1, 1, "SAME"), (2, 2, 1, "VALID"), (3, 2, 1, "SAME"),
                                                      (2, 1, 2, "VALID"), ((2, 3), (1, 2), 1, "SAME")])
def test_extract_patches_matches_keras_from_tfs_nhwc_fours(size, stride, rate, padding):
    x = np.random.default_rng(0).standard_normal((2, 9, 8, 3)).astype("float32")
    kh, kw = (size, size) if isinstance(size, int) else size
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ours = tf.image.extract_patches(images=x, sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1],
                                    rates=[1, rate, rate, 1], padding=padding)
    ref = keras.ops.image.extract_patches(x, (kh, kw), strides=(sh, sw), dilation_rate=rate,
                                          padding=padding.lower(), data_format="channels_last")
    np.testing.assert_allclose(arr(ours), keras.ops.convert_to_numpy(ref), rtol=1e-6, atol=1e-6)
    assert arr(ours).shape[-1] == kh * kw * 3


def test_extract_patches_layout_is_rows_then_columns_then_channels():
    x = np.arange(4 * 4 * 2, dtype="float32").reshape(1, 4, 4, 2)
    p = arr(tf.image.extract_patches(x, [1, 2, 2, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID"))
    assert p.shape == (1, 2, 2, 8)
    np.testing.assert_array_equal(p[0, 1, 0], x[0, 2:4, 0:2, :].reshape(-1))


def test_extract_patches_rejects_batch_or_channel_strides():
    with pytest.raises(ValueError, match="strides"):
        tf.image.extract_patches(np.zeros((1, 4, 4, 1), "float32"), [1, 2, 2, 1], [2, 2, 2, 1], [1, 1, 1, 1], "VALID")


@pytest.mark.parametrize("method", ["bilinear", "nearest", "bicubic"])
def test_resize_matches_keras(method):
    x = np.random.default_rng(1).uniform(0, 1, (2, 7, 5, 3)).astype("float32")
    ours = tf.image.resize(x, [11, 4], method=method)
    ref = keras.ops.convert_to_numpy(keras.ops.image.resize(x, (11, 4), interpolation=method))
    np.testing.assert_allclose(arr(ours), ref, rtol=1e-5, atol=1e-5)
    assert arr(ours).dtype == np.float32


def test_resize_of_integer_images_gives_float32_as_tf():
    x = np.random.default_rng(2).integers(0, 256, (6, 6, 1)).astype("uint8")
    out = arr(tf.image.resize(x, [3, 3]))
    assert out.dtype == np.float32 and out.shape == (3, 3, 1)
    np.testing.assert_allclose(out[..., 0], x[..., 0].reshape(3, 2, 3, 2).mean(axis=(1, 3)), rtol=1e-6)


def test_convert_image_dtype_scales_integers_to_unit_range():
    x = np.array([[0, 51, 255]], dtype="uint8")
    out = tf.image.convert_image_dtype(x, tf.float32)
    np.testing.assert_allclose(arr(out), [[0.0, 0.2, 1.0]], rtol=1e-7)
    assert arr(out).dtype == np.float32
    same = tf.image.convert_image_dtype(np.array([0.5], "float32"), tf.float32)
    np.testing.assert_array_equal(arr(same), [0.5])
    back = tf.image.convert_image_dtype(np.array([0.0, 0.5, 1.0], "float32"), tf.uint8)
    np.testing.assert_array_equal(arr(back), [0, 127, 255])  # trunc(x * 255.5), TF's rule
    assert arr(back).dtype == np.uint8


def test_rgb_to_grayscale_and_flips_match_keras():
    x = np.random.default_rng(3).uniform(0, 1, (2, 4, 5, 3)).astype("float32")
    ref = keras.ops.convert_to_numpy(keras.ops.image.rgb_to_grayscale(x))
    np.testing.assert_allclose(arr(tf.image.rgb_to_grayscale(x)), ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(arr(tf.image.flip_left_right(x)), x[:, :, ::-1])
    np.testing.assert_array_equal(arr(tf.image.flip_up_down(x)), x[:, ::-1])


def test_shape_is_a_vector_of_ints_with_tfs_tensor_attributes():
    s = tf.shape(np.zeros((4, 3, 2), "float32"))
    assert s == (4, 3, 2) and s[0] * s[1] == 12 and all(type(n) is int for n in s)
    assert s.shape == (3,) and s.shape[0] == 3 and s.ndim == 1  # the rank, as tf.shape(x).shape[0]
    assert s.numpy().dtype == np.int32 and s.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(s), [4, 3, 2])
    assert (s[0],) + (1,) * (s.shape[0] - 1) == (4, 1, 1)


def test_unique_keeps_first_appearance_order():
    y, idx = tf.unique(np.array([1, 1, 2, 4, 4, 4, 7, 8, 8]))  # TF's documentation example
    np.testing.assert_array_equal(arr(y), [1, 2, 4, 7, 8])
    np.testing.assert_array_equal(arr(idx), [0, 0, 1, 2, 2, 2, 3, 4, 4])
    y, idx = tf.unique(np.array([5, 3, 5, 1, 3]))
    np.testing.assert_array_equal(arr(y), [5, 3, 1])
    np.testing.assert_array_equal(arr(y)[arr(idx)], [5, 3, 5, 1, 3])
    assert arr(idx).dtype == np.int32
    assert tf.unique(np.array([2, 2]))[0].numpy().tolist() == [2]
    with pytest.raises(ValueError, match="1-D"):
        tf.unique(np.zeros((2, 2)))


def test_repeat_flattens_without_axis():
    x = np.array([[1, 2], [3, 4]], "float32")
    np.testing.assert_array_equal(arr(tf.repeat(x, 2)), [1, 1, 2, 2, 3, 3, 4, 4])
    np.testing.assert_array_equal(arr(tf.repeat(x, [1, 2], axis=0)), [[1, 2], [3, 4], [3, 4]])


def test_tensor_scatter_nd_update_and_add_values_and_gradients():
    base = dg.Tensor(np.arange(8, dtype="float32").reshape(4, 2), requires_grad=True)
    upd = dg.Tensor(np.array([[10, 11], [20, 21]], "float32"), requires_grad=True)
    out = tf.tensor_scatter_nd_update(base, [[3], [1]], upd)
    np.testing.assert_array_equal(arr(out), [[0, 1], [20, 21], [4, 5], [10, 11]])
    g = np.random.default_rng(4).standard_normal((4, 2)).astype("float32")
    out.backward(g)
    np.testing.assert_array_equal(base.grad, g * np.array([[1], [0], [1], [0]], "float32"))
    np.testing.assert_array_equal(upd.grad, g[[3, 1]])
    counts = tf.tensor_scatter_nd_add(tf.zeros((5,)), np.array([[1], [1], [3]]), np.ones(3, "float32"))
    np.testing.assert_array_equal(arr(counts), [0, 2, 0, 1, 0])  # repeated indices add up
    grid = tf.tensor_scatter_nd_add(np.zeros((2, 3), "float32"), [[0, 2], [1, 0], [0, 2]], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(arr(grid), [[0, 0, 4], [2, 0, 0]])


def test_random_gamma_shape_and_moments_follow_tfs_rate_parameter():
    g = arr(tf.random.gamma(shape=[20000], alpha=np.array([0.2, 2.0]), beta=np.array([1.0, 4.0]), seed=3))
    assert g.shape == (20000, 2) and g.dtype == np.float32 and (g > 0).all()
    # mean alpha / beta, variance alpha / beta^2 (beta is a rate, not a scale)
    np.testing.assert_allclose(g.mean(axis=0), [0.2, 0.5], rtol=0.05)
    np.testing.assert_allclose(g.var(axis=0), [0.2, 0.125], rtol=0.1)
    lam = arr(tf.random.gamma([4], 0.2, seed=1))
    assert lam.shape == (4,)
    beta = lam / (lam + arr(tf.random.gamma([4], 0.2, seed=2)))  # mixup's Beta(0.2, 0.2) draw
    assert ((beta >= 0) & (beta <= 1)).all()


def test_crop_and_pad_to_bounding_box_place_the_window_as_tf():
    x = np.arange(5 * 6 * 2, dtype="float32").reshape(5, 6, 2)
    crop = arr(tf.image.crop_to_bounding_box(x, 1, 2, 3, 2))
    np.testing.assert_array_equal(crop, x[1:4, 2:4])
    pad = arr(tf.image.pad_to_bounding_box(crop, 1, 2, 5, 6))
    expected = np.zeros_like(x)
    expected[1:4, 2:4] = x[1:4, 2:4]
    np.testing.assert_array_equal(pad, expected)  # cutmix's x - pad(crop(x)) empties exactly the box
    batch = arr(tf.image.crop_to_bounding_box(np.stack([x, x + 1]), 0, 0, 2, 6))
    assert batch.shape == (2, 2, 6, 2)


def test_rot90_psnr_and_random_crop_follow_tf():
    x = np.random.default_rng(6).uniform(0, 255, (2, 4, 5, 3)).astype("float32")
    for k in range(5):
        np.testing.assert_array_equal(arr(tf.image.rot90(x, k)), np.rot90(x, k, axes=(1, 2)))
    np.testing.assert_array_equal(arr(tf.image.rot90(x[0], dg.Tensor(np.array(3), dtype=np.int32))),
                                  np.rot90(x[0], 3, axes=(0, 1)))
    y = x + np.random.default_rng(7).normal(0, 5, x.shape).astype("float32")
    mse = ((x - y) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(arr(tf.image.psnr(x, y, max_val=255)), 20 * np.log10(255) - 10 * np.log10(mse),
                               rtol=1e-5)  # one value per image, unlike keras.ops.psnr
    crop = arr(tf.image.random_crop(x[0], (2, 3, 3), seed=1))
    windows = [x[0, i:i + 2, j:j + 3] for i in range(3) for j in range(3)]
    assert crop.shape == (2, 3, 3) and any(np.array_equal(crop, w) for w in windows)
    with pytest.raises(ValueError, match="random_crop"):
        tf.image.random_crop(x[0], (5, 3, 3))


def test_depth_to_space_in_a_functional_model_and_cond():
    inputs = dg.Input((3, 3, 8))
    model = dg.Model(inputs, tf.nn.depth_to_space(inputs, block_size=2))
    x = np.random.default_rng(8).standard_normal((2, 3, 3, 8)).astype("float32")
    # TF's DCR order: out[n, h*b + i, w*b + j, c] = in[n, h, w, (i*b + j)*C + c]
    expected = x.reshape(2, 3, 3, 2, 2, 2).transpose(0, 1, 3, 2, 4, 5).reshape(2, 6, 6, 2)
    np.testing.assert_array_equal(model.predict(x, verbose=0), expected)
    np.testing.assert_array_equal(arr(tf.nn.space_to_depth(expected, 2)), x)
    assert tf.cond(dg.Tensor(0.3) < 0.5, lambda: "a", lambda: "b") == "a"
    assert tf.cond(False, lambda: 1, lambda: 2) == 2
