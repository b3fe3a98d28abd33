"""one_hot, multi_hot, normalizations, moments, attention, fold/unfold, depth/space, psnr, polar."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import inspect  # noqa: E402

import hypothesis.strategies as st  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from oracle import check_gradients, compare_with_torch  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad.ops import nn as dnn  # noqa: E402

K = keras.ops


def normal(seed, shape, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def assert_like_keras(out, expected, tol=1e-6):
    expected = K.convert_to_numpy(expected)
    assert isinstance(out, dg.Tensor)
    assert out.dtype == expected.dtype, (out.dtype, expected.dtype)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data.astype(np.float64) if out.dtype.kind != "c" else out.data,
                               expected.astype(np.float64) if expected.dtype.kind != "c" else expected,
                               rtol=tol, atol=tol)


def test_every_keras_nn_name_is_exported_with_keras_signature():
    names = [n for n in dir(keras.ops.nn) if not n.startswith("_")]
    assert len(names) == 55
    for name in names:
        assert getattr(dg.ops, name) is getattr(dg, name), name
        assert inspect.signature(getattr(dnn, name)) == inspect.signature(getattr(keras.ops.nn, name)), name


# ------------------------------------------------------------------ encodings
IDS = np.array([[1, -1, 3], [0, 2, 2]])


@pytest.mark.parametrize("axis", [-1, 0, 1, 2])
@pytest.mark.parametrize("dtype", [None, "int32", "float64", "bool"])
def test_one_hot_and_multi_hot_match_keras(axis, dtype):
    assert_like_keras(dg.one_hot(IDS, 4, axis=axis, dtype=dtype), K.one_hot(IDS, 4, axis=axis, dtype=dtype))
    assert_like_keras(dg.multi_hot(IDS, 4, axis=axis, dtype=dtype), K.multi_hot(IDS, 4, axis=axis, dtype=dtype))


@given(ids=st.lists(st.integers(-2, 6), min_size=1, max_size=8), classes=st.integers(1, 7))
def test_one_hot_of_random_ids(ids, classes):
    ids = np.array(ids, np.int32)
    out = dg.one_hot(ids, classes).data
    assert out.dtype == np.float32
    expected = np.zeros((len(ids), classes), np.float32)
    inside = (ids >= 0) & (ids < classes)
    expected[np.flatnonzero(inside), ids[inside]] = 1  # out-of-range ids give a row of zeros
    np.testing.assert_array_equal(out, expected)


def test_one_hot_accepts_float_ids_lists_and_negative_axis():
    assert_like_keras(dg.one_hot([1.0, 2.9], 3), K.one_hot(np.array([1.0, 2.9], np.float32), 3))
    # the class axis lands at ``axis`` of the output, counted from the end when negative
    assert dg.one_hot(IDS, 4, axis=-2).shape == (2, 4, 3)
    assert_like_keras(dg.multi_hot([1, 3], 4), K.multi_hot(np.array([1, 3]), 4))
    assert_like_keras(dg.multi_hot(np.zeros((2, 3, 2), int), 4), K.multi_hot(np.zeros((2, 3, 2), int), 4))
    np.testing.assert_array_equal(dg.multi_hot([[1, 1]], num_tokens=3).data, [[0, 1, 0]])


def test_one_hot_errors():
    with pytest.raises(ValueError, match="one_hot: sparse"):
        dg.one_hot(IDS, 4, sparse=True)
    with pytest.raises(ValueError, match="one_hot: num_classes"):
        dg.one_hot(IDS, 0)
    with pytest.raises(ValueError, match="one_hot: axis"):
        dg.one_hot(IDS, 4, axis=3)


# ------------------------------------------------------------- normalizations
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("axes,keepdims", [((0,), False), ((1, 2), True), (-1, False), ((0, 1, 2), False)])
def test_moments_match_keras(axes, keepdims, dtype):
    x = normal(0, (3, 4, 5), dtype) + 2
    mean, var = dg.moments(x, axes, keepdims)
    k_mean, k_var = K.moments(x, axes, keepdims)
    tol = 5e-3 if dtype == "float16" else 1e-5
    assert_like_keras(mean, k_mean, tol)
    assert_like_keras(var, k_var, tol)
    assert dg.moments(x, axes, keepdims, synchronized=True)[1].shape == var.shape


def test_moments_gradients_match_torch():
    def theirs(t):
        mean = t.mean(dim=(0, 2))
        return torch.stack([mean, ((t - t.mean(dim=(0, 2), keepdim=True)) ** 2).mean(dim=(0, 2))])

    def ours(t):
        mean, var = dg.moments(t, (0, 2))
        return dg.stack([mean, var])

    compare_with_torch(ours, theirs, [normal(1, (3, 4, 5))])
    check_gradients(ours, [normal(1, (3, 4, 2))])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_layer_and_rms_normalization_match_keras(dtype):
    x = normal(0, (3, 4, 5), dtype)
    g, b = normal(1, (5,), dtype), normal(2, (5,), dtype)
    tol = 1e-2 if dtype == "float16" else 1e-5
    assert_like_keras(dg.layer_normalization(x), K.layer_normalization(x), tol)
    assert_like_keras(dg.layer_normalization(x, g, b, epsilon=1e-3), K.layer_normalization(x, g, b, epsilon=1e-3), tol)
    g2 = normal(3, (4, 5), dtype)
    assert_like_keras(dg.layer_normalization(x, g2, g2, axis=(1, 2)), K.layer_normalization(x, g2, g2, axis=(1, 2)),
                      tol)
    assert_like_keras(dg.layer_normalization(x, g, axis=-1, rms_scaling=True),
                      K.layer_normalization(x, g, axis=-1, rms_scaling=True), tol)
    assert_like_keras(dg.rms_normalization(x), K.rms_normalization(x), tol)
    assert_like_keras(dg.rms_normalization(x, g, epsilon=1e-3), K.rms_normalization(x, g, epsilon=1e-3), tol)
    assert_like_keras(dg.rms_normalization(x, None, axis=(0, 2)), K.rms_normalization(x, None, axis=(0, 2)), tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalization_gradients_match_torch(dtype):
    x, g, b = normal(0, (3, 4, 5), dtype), normal(1, (5,), dtype), normal(2, (5,), dtype)
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {}
    compare_with_torch(lambda t, gg, bb: dg.layer_normalization(t, gg, bb, epsilon=1e-5),
                       lambda t, gg, bb: F.layer_norm(t, (5,), gg, bb, 1e-5), [x, g, b], **tol)
    compare_with_torch(lambda t, gg: dg.rms_normalization(t, gg, epsilon=1e-5),
                       lambda t, gg: F.rms_norm(t, (5,), gg, 1e-5), [x, g], **tol)
    # rms_scaling: x / sqrt(var + eps) * gamma
    compare_with_torch(lambda t, gg: dg.layer_normalization(t, gg, rms_scaling=True, epsilon=1e-5),
                       lambda t, gg: t / torch.sqrt(t.var(dim=-1, unbiased=False, keepdim=True) + 1e-5) * gg,
                       [x, g], **tol)


def test_normalization_central_differences():
    x = normal(0, (3, 4))
    check_gradients(lambda t, gg, bb: dg.layer_normalization(t, gg, bb, axis=(0, 1)),
                    [x, normal(1, (3, 4)), normal(2, (3, 4))])
    check_gradients(lambda t: dg.layer_normalization(t, rms_scaling=True), [x])
    check_gradients(lambda t, s: dg.rms_normalization(t, s, axis=0), [x, normal(3, (3, 1))])


def test_batch_normalization_matches_keras_and_torch():
    x = normal(0, (3, 4, 5), np.float32)
    m, v = normal(1, (4,), np.float32), np.abs(normal(2, (4,), np.float32))
    o, s = normal(3, (4,), np.float32), normal(4, (4,), np.float32)
    assert_like_keras(dg.batch_normalization(x, m, v, 1, o, s), K.batch_normalization(x, m, v, 1, o, s), 1e-5)
    assert_like_keras(dg.batch_normalization(x, m[:1].repeat(5), v[:1].repeat(5), -1),
                      K.batch_normalization(x, m[:1].repeat(5), v[:1].repeat(5), -1), 1e-5)
    arrays = [a.astype(np.float64) for a in (x, m, v, o, s)]

    def theirs(t, mean, var, off, sc):
        shape = (1, 4, 1)
        return (t - mean.view(shape)) / torch.sqrt(var.view(shape) + 1e-3) * sc.view(shape) + off.view(shape)

    compare_with_torch(lambda t, mean, var, off, sc: dg.batch_normalization(t, mean, var, 1, off, sc), theirs, arrays)
    check_gradients(lambda t, mean, var: dg.batch_normalization(t, mean, var, -1, epsilon=0.1),
                    [normal(0, (3, 2)), normal(1, (2,)), np.abs(normal(2, (2,)))])


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("axis", [-1, 0])
def test_normalize_matches_keras_and_torch(order, axis):
    x = normal(0, (3, 4), np.float32)
    assert_like_keras(dg.normalize(x, axis, order), K.normalize(x, axis, order), 1e-5)
    compare_with_torch(lambda t: dg.normalize(t, axis, order), lambda t: F.normalize(t, order, axis, 1e-7),
                       [x.astype(np.float64)])
    check_gradients(lambda t: dg.normalize(t, axis, order), [normal(1, (3, 4))])


def test_normalize_of_zeros_and_errors():
    zeros = np.zeros((2, 3), np.float32)
    assert_like_keras(dg.normalize(zeros), K.normalize(zeros))
    t = dg.Tensor(zeros.astype(np.float64), requires_grad=True)
    dg.normalize(t).backward(np.ones((2, 3)))
    np.testing.assert_allclose(t.grad, 1e7)  # a clipped norm: y = x / eps
    with pytest.raises(ValueError, match="normalize: order"):
        dg.normalize(zeros, order=0)
    with pytest.raises(ValueError, match="layer_normalization: gamma"):
        dg.layer_normalization(normal(0, (3, 4)), normal(1, (5,)), axis=(0, 1))
    with pytest.raises(ValueError, match="batch_normalization: mean"):
        dg.batch_normalization(normal(0, (3, 4)), np.zeros(3), np.ones(4), axis=-1)


# ------------------------------------------------------------------ attention
def qkv(seed, t=5, s=6, heads=4, kv_heads=4, dim=8, dtype=np.float32):
    return (normal(seed, (2, t, heads, dim), dtype), normal(seed + 1, (2, s, kv_heads, dim), dtype),
            normal(seed + 2, (2, s, kv_heads, dim), dtype))


@pytest.mark.parametrize("kv_heads", [4, 2, 1])
def test_dot_product_attention_matches_keras(kv_heads):
    q, k, v = qkv(0, kv_heads=kv_heads)
    assert_like_keras(dg.dot_product_attention(q, k, v), K.dot_product_attention(q, k, v), 1e-5)
    assert_like_keras(dg.dot_product_attention(q, k, v, scale=0.3), K.dot_product_attention(q, k, v, scale=0.3), 1e-5)
    bias = normal(3, (1, 4, 5, 6), np.float32)
    assert_like_keras(dg.dot_product_attention(q, k, v, bias=bias), K.dot_product_attention(q, k, v, bias=bias), 1e-5)
    mask = np.random.default_rng(4).random((2, 1, 5, 6)) > 0.3
    assert_like_keras(dg.dot_product_attention(q, k, v, mask=mask), K.dot_product_attention(q, k, v, mask=mask), 1e-5)


def test_causal_attention_matches_keras():
    q, k, v = qkv(0, s=5)
    mask = np.random.default_rng(4).random((2, 1, 5, 5)) > 0.3
    assert_like_keras(dg.dot_product_attention(q, k, v, is_causal=True),
                      K.dot_product_attention(q, k, v, is_causal=True), 1e-5)
    assert_like_keras(dg.dot_product_attention(q, k, v, mask=mask, is_causal=True),
                      K.dot_product_attention(q, k, v, mask=mask, is_causal=True), 1e-5)


def torch_attention(q, k, v, bias=None, scale=None, is_causal=False, groups=1, cap=None):
    qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v))
    if groups > 1:
        kh, vh = kh.repeat_interleave(groups, 1), vh.repeat_interleave(groups, 1)
    if cap is None:
        out = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=bias, is_causal=is_causal, scale=scale)
    else:
        logits = cap * torch.tanh(qh @ kh.transpose(-1, -2) * scale / cap)
        out = torch.softmax(logits, -1) @ vh
    return out.transpose(1, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_gradients_match_torch(dtype):
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {}
    q, k, v = qkv(0, dtype=dtype)
    bias = normal(3, (1, 4, 5, 6), dtype)
    compare_with_torch(lambda a, b, c, d: dg.dot_product_attention(a, b, c, bias=d),
                       lambda a, b, c, d: torch_attention(a, b, c, bias=d), [q, k, v, bias], **tol)
    q, k, v = qkv(5, s=5, kv_heads=2, dtype=dtype)
    compare_with_torch(lambda a, b, c: dg.dot_product_attention(a, b, c, scale=0.2, is_causal=True),
                       lambda a, b, c: torch_attention(a, b, c, scale=0.2, is_causal=True, groups=2), [q, k, v], **tol)
    compare_with_torch(lambda a, b, c: dg.dot_product_attention(a, b, c, scale=0.5, attn_logits_soft_cap=2.0),
                       lambda a, b, c: torch_attention(a, b, c, scale=0.5, groups=2, cap=2.0), [q, k, v], **tol)


def test_attention_central_differences():
    q, k, v = qkv(0, t=3, s=4, heads=2, kv_heads=1, dim=3, dtype=np.float64)
    check_gradients(lambda a, b, c, d: dg.dot_product_attention(a, b, c, bias=d),
                    [q, k, v, normal(1, (2, 1, 3, 4))])


def test_attention_errors():
    q, k, v = qkv(0)
    with pytest.raises(ValueError, match="dot_product_attention: only one of bias and mask"):
        dg.dot_product_attention(q, k, v, bias=np.zeros((5, 6)), mask=np.ones((5, 6), bool))
    with pytest.raises(ValueError, match="dot_product_attention: query, key and value must be 4-D"):
        dg.dot_product_attention(q[0], k[0], v[0])
    with pytest.raises(ValueError, match="cannot share"):
        dg.dot_product_attention(q, k[:, :, :3], v[:, :, :3])


# ------------------------------------------------------------ rearrangements
UNFOLDS = [(2, 1, 0, 1), (3, 2, 1, 2), ((2, 3), 1, (1, 0), (2, 1))]


@pytest.mark.parametrize("kernel,dilation,padding,stride", UNFOLDS)
def test_fold_and_unfold_match_keras_and_torch(kernel, dilation, padding, stride):
    img = normal(0, (2, 3, 7, 6), np.float32)
    patches = K.unfold(K.convert_to_tensor(img), kernel, dilation, padding, stride)
    assert_like_keras(dg.unfold(img, kernel, dilation, padding, stride), patches)
    cols = K.convert_to_numpy(patches)
    assert_like_keras(dg.fold(cols, (7, 6), kernel, dilation, padding, stride),
                      K.fold(K.convert_to_tensor(cols), (7, 6), kernel, dilation, padding, stride), 1e-5)
    compare_with_torch(lambda t: dg.unfold(t, kernel, dilation, padding, stride),
                       lambda t: F.unfold(t, kernel, dilation, padding, stride), [img.astype(np.float64)])
    compare_with_torch(lambda t: dg.fold(t, (7, 6), kernel, dilation, padding, stride),
                       lambda t: F.fold(t, (7, 6), kernel, dilation, padding, stride), [cols.astype(np.float64)])


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_depth_to_space_and_back(data_format):
    x = normal(0, (2, 4, 6, 8), np.float32)
    assert_like_keras(dg.depth_to_space(x, 2, data_format), K.depth_to_space(x, 2, data_format))
    assert_like_keras(dg.space_to_depth(x, 2, data_format), K.space_to_depth(x, 2, data_format))
    np.testing.assert_array_equal(dg.space_to_depth(dg.depth_to_space(x, 2, data_format), 2, data_format).data, x)
    ints = np.arange(2 * 4 * 6 * 8, dtype=np.int32).reshape(2, 4, 6, 8)
    assert_like_keras(dg.depth_to_space(ints, 2, data_format), K.depth_to_space(ints, 2, data_format))
    if data_format == "channels_first":
        compare_with_torch(lambda t: dg.depth_to_space(t, 2, data_format), lambda t: F.pixel_shuffle(t, 2),
                           [x.astype(np.float64)])
        compare_with_torch(lambda t: dg.space_to_depth(t, 2, data_format), lambda t: F.pixel_unshuffle(t, 2),
                           [x.astype(np.float64)])


def test_rearrangement_errors():
    with pytest.raises(ValueError, match="unfold: the input must be 4-D"):
        dg.unfold(np.zeros((2, 3, 4)), 2)
    with pytest.raises(ValueError, match="fold: input of shape"):
        dg.fold(np.zeros((1, 12, 5)), (4, 4), 2)
    with pytest.raises(ValueError, match="depth_to_space: 6 channels"):
        dg.depth_to_space(np.zeros((1, 2, 2, 6)), 2)
    with pytest.raises(ValueError, match="space_to_depth: spatial size"):
        dg.space_to_depth(np.zeros((1, 3, 4, 2)), 2)


# ------------------------------------------------------------------ psnr, polar
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_psnr_matches_keras_and_torch(dtype):
    a, b = normal(0, (2, 8, 8, 3), dtype), normal(1, (2, 8, 8, 3), dtype)
    assert_like_keras(dg.psnr(a, b, 2.0), K.psnr(a, b, 2.0), 1e-5)
    compare_with_torch(lambda x, y: dg.psnr(x, y, 2.0),
                       lambda x, y: 20 * np.log10(2.0) - 10 * torch.log10(((x - y) ** 2).mean()), [a, b],
                       **({"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {}))
    with pytest.raises(ValueError, match="psnr: input shapes"):
        dg.psnr(a, b[0], 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_polar_matches_keras(dtype):
    r, theta = np.abs(normal(0, (3, 4), dtype)), normal(1, (3, 4), dtype)
    assert_like_keras(dg.polar(r, theta), K.polar(r, theta), 1e-6)


BACKWARD_CASES = {
    "Moments": (lambda t: dg.stack(list(dg.moments(t, 0))), [normal(0, (3, 4))]),
    "Standardize": (lambda t: dg.layer_normalization(t), [normal(0, (3, 4))]),
    "BatchNormalization": (lambda t, m, v, o, s: dg.batch_normalization(t, m, v, -1, o, s),
                           [normal(0, (3, 4)), normal(1, (4,)), np.abs(normal(2, (4,))), normal(3, (4,)),
                            normal(4, (4,))]),
    "Normalize": (lambda t: dg.normalize(t, order=3), [normal(0, (3, 4))]),
    "DotProductAttention": (lambda a, b, c: dg.dot_product_attention(a, b, c, is_causal=True),
                            list(qkv(0, s=5, dtype=np.float64))),
    "Unfold": (lambda t: dg.unfold(t, 2, stride=1), [normal(0, (1, 2, 4, 4))]),
    "Fold": (lambda t: dg.fold(t, (4, 4), 2), [normal(0, (1, 8, 9))]),
    "Rearrange": (lambda t: dg.depth_to_space(t, 2), [normal(0, (1, 2, 2, 4))]),
    "PSNR": (lambda a, b: dg.psnr(a, b, 1.0), [normal(0, (3, 4)), normal(1, (3, 4))]),
}


@settings(max_examples=10)
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(2, 5)), seed=st.integers(0, 1000))
def test_layer_normalization_random_shapes_match_torch(shape, seed):
    x = normal(seed, shape)
    compare_with_torch(lambda t: dg.layer_normalization(t, epsilon=1e-3),
                       lambda t: F.layer_norm(t, shape[-1:], eps=1e-3), [x])
