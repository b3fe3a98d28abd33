"""``preprocess_input`` of every family against Keras's, on arrays and tensors."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import torch

import deepgrad as dg
import deepgrad.applications as dga

FAMILIES = ["convnext", "densenet", "efficientnet", "efficientnet_v2", "inception_resnet_v2", "inception_v3",
            "mobilenet", "mobilenet_v2", "mobilenet_v3", "nasnet", "resnet", "resnet50", "resnet_v2", "vgg16",
            "vgg19", "xception"]


def _batch(shape=(2, 5, 6, 3), seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


@pytest.mark.parametrize("family", FAMILIES)
def test_preprocess_input_matches_keras(family):
    x = _batch()
    expected = getattr(keras.applications, family).preprocess_input(x.copy())
    got = getattr(dga, family).preprocess_input(x.copy())
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)
    assert got.dtype == np.float32


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format, shape", [("channels_last", (2, 4, 5, 3)), ("channels_first", (2, 3, 4, 5)),
                                                ("channels_last", (4, 5, 3)), ("channels_first", (3, 4, 5))])
def test_modes_and_layouts_match_keras(mode, data_format, shape):
    x = _batch(shape, seed=1)
    expected = keras.applications.imagenet_utils.preprocess_input(x.copy(), data_format=data_format, mode=mode)
    got = dga.imagenet_utils.preprocess_input(x.copy(), data_format=data_format, mode=mode)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)


def test_integer_images_become_floatx():
    x = np.random.default_rng(2).integers(0, 256, (2, 4, 4, 3)).astype("uint8")
    expected = keras.applications.resnet50.preprocess_input(x.copy())
    got = dga.resnet50.preprocess_input(x.copy())
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)


def test_float_arrays_are_overwritten_in_place_as_in_keras():
    x = _batch(seed=3)
    out = dga.mobilenet_v2.preprocess_input(x)
    assert out is x
    assert x.min() >= -1.0 and x.max() <= 1.0


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_tensor_input_matches_keras_and_is_differentiable(mode):
    x = _batch((2, 4, 5, 3), seed=4)
    expected = keras.applications.imagenet_utils.preprocess_input(torch.tensor(x), mode=mode)
    t = dg.Tensor(x.copy(), requires_grad=True)
    out = dga.imagenet_utils.preprocess_input(t, mode=mode)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6, atol=1e-5)
    out.sum().backward()
    # d out / d x is the per-channel scale: 1/127.5 (tf), 1 (caffe), 1/(255 std_c) (torch)
    scale = {"tf": np.full(3, 1 / 127.5), "caffe": np.ones(3),
             "torch": 1 / (255.0 * np.array([0.229, 0.224, 0.225]))}[mode]
    np.testing.assert_allclose(t.grad, np.broadcast_to(scale, x.shape), rtol=1e-6)


def test_errors_match_keras():
    x = _batch()
    for kwargs, message in [({"mode": "bgr"}, "Expected mode to be one of `caffe`, `tf` or `torch`"),
                            ({"data_format": "nhwc"}, "Expected data_format to be one of `channels_first`")]:
        with pytest.raises(ValueError, match=message):
            keras.applications.imagenet_utils.preprocess_input(x.copy(), **kwargs)
        with pytest.raises(ValueError, match=message):
            dga.imagenet_utils.preprocess_input(x.copy(), **kwargs)
