"""The further image augmentation layers against Keras 3 (torch backend): signatures and
configs agree, fixed draws give the same pixels (and input gradients where the operation
has them), and the layers of Keras's dict input move labels and masks the same way."""
import inspect

import keras
import numpy as np
import pytest
import torch

import deepgrad as dg
from conftest import to_numpy

NAMES = ["RandomHue", "RandomSaturation", "RandomSharpness", "RandomPosterization", "RandomColorJitter",
         "RandomColorDegeneration", "RandomErasing", "RandomGaussianBlur", "RandomPerspective",
         "RandomElasticTransform", "Equalization", "ContrastLimitedAdaptiveHistogramEqualization", "MixUp",
         "CutMix", "AugMix", "RandAugment", "MaxNumBoundingBoxes"]


def images(shape=(3, 12, 10, 3), seed=0, high=255.0):
    return np.random.default_rng(seed).uniform(0, high, shape).astype("float32")


class Fixed:
    """A generator whose draws are fixed: uniform draws the lower bound, integers the lower
    bound, ``beta`` and ``gamma`` the given values, ``permutation`` the given order."""

    def __init__(self, beta=0.3, permutation=None, gamma=1.0):
        self._beta, self._permutation, self._gamma = beta, permutation, gamma

    def uniform(self, low=0.0, high=1.0, size=None):
        return float(low) if size is None else np.full(size, low, dtype=float)

    def integers(self, low, high=None, size=None):
        return int(low) if size is None else np.full(size, low, dtype=np.int64)

    def beta(self, a, b, size=None):
        return self._beta if size is None else np.full(size, self._beta)

    def gamma(self, shape, size=None):
        return np.full(size, self._gamma)

    def permutation(self, n):
        return np.asarray(self._permutation if self._permutation is not None else np.arange(n)[::-1])

    def standard_normal(self, size=None):
        return np.zeros(size)


def lowest_keras_draws(monkeypatch, beta=0.3, permutation=None):
    """Keras's random draws made fixed the same way as ``Fixed``."""
    module = keras.src.backend.torch.random
    monkeypatch.setattr(module, "uniform", lambda shape, minval=0.0, maxval=1.0, dtype=None, seed=None:
                        torch.full(tuple(shape), float(minval)))
    monkeypatch.setattr(module, "randint", lambda shape, minval, maxval, dtype="int32", seed=None:
                        torch.full(tuple(shape), int(minval), dtype=torch.int64))
    monkeypatch.setattr(module, "beta", lambda shape, alpha, beta_, dtype=None, seed=None:
                        torch.full(tuple(shape), float(beta)))
    monkeypatch.setattr(module, "shuffle", lambda x, axis=0, seed=None:
                        torch.as_tensor(np.asarray(permutation if permutation is not None else
                                                   np.arange(len(x))[::-1]), dtype=x.dtype))


def assert_same(k_layer, d_layer, x, training=True, atol=2e-4, grad=True):
    xt = torch.tensor(x, requires_grad=grad)
    k_out = k_layer(xt.clone() if grad else xt, training=training)
    xd = dg.Tensor(x, requires_grad=grad)
    d_out = d_layer(xd, training=training)
    np.testing.assert_allclose(to_numpy(d_out), k_out.detach().numpy(), atol=atol, rtol=1e-5)
    if grad:
        weights = np.random.default_rng(1).standard_normal(k_out.shape).astype("float32")
        (k_out * torch.tensor(weights)).sum().backward()
        (d_out * dg.Tensor(weights)).sum().backward()
        np.testing.assert_allclose(xd.grad, xt.grad.numpy(), atol=2e-3, rtol=1e-4)
    return to_numpy(d_out)


@pytest.mark.parametrize("name", NAMES)
def test_signature_matches_keras(name):
    k = inspect.signature(getattr(keras.layers, name))
    d = inspect.signature(getattr(dg.layers, name))
    assert [(p.name, p.default) for p in k.parameters.values()] == \
           [(p.name, p.default) for p in d.parameters.values()]


CONFIGS = [
    ("RandomHue", dict(factor=0.4, value_range=(0, 1), seed=3)),
    ("RandomSaturation", dict(factor=(0.2, 0.7))),
    ("RandomSharpness", dict(factor=0.6, value_range=[0, 1])),
    ("RandomPosterization", dict(factor=5)),
    ("RandomColorJitter", dict(brightness_factor=0.2, contrast_factor=(0.1, 0.3), hue_factor=0.1, seed=2)),
    ("RandomColorDegeneration", dict(factor=0.3)),
    ("RandomErasing", dict(factor=0.5, scale=0.2, fill_value=3.0)),
    ("RandomGaussianBlur", dict(factor=0.7, kernel_size=(3, 5), sigma=(0.5, 2.0))),
    ("RandomPerspective", dict(factor=0.5, scale=0.3, interpolation="nearest", fill_value=1.0)),
    ("RandomElasticTransform", dict(factor=0.5, scale=0.4, fill_mode="constant")),
    ("Equalization", dict(value_range=(0, 1), bins=64)),
    ("ContrastLimitedAdaptiveHistogramEqualization", dict(clip_limit=2.0, tile_grid_size=(4, 4))),
    ("MixUp", dict(alpha=0.4, seed=1)),
    ("CutMix", dict(factor=0.6)),
    ("AugMix", dict(num_chains=2, chain_depth=2, factor=0.4, all_ops=False)),
    ("RandAugment", dict(num_ops=3, factor=0.3, value_range=(0, 1))),
    ("MaxNumBoundingBoxes", dict(max_number=5)),
    ("RandomFlip", dict(bounding_box_format="xywh")),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS)
def test_config_keys_and_values_match_keras(name, kwargs):
    k = getattr(keras.layers, name)(**kwargs).get_config()
    d = getattr(dg.layers, name)(**kwargs).get_config()
    for c in (k, d):
        c.pop("name")
    assert set(k) == set(d)
    for key in k:
        kv, dv = k[key], d[key]
        if isinstance(kv, (tuple, list)):
            kv, dv = list(kv), list(dv)
        assert kv == dv, (key, kv, dv)
    # Keras's config builds the same layer here, and ours round-trips through JSON-like values
    rebuilt = getattr(dg.layers, name).from_config({**k, "name": "x"})
    assert rebuilt.get_config() == {**d, "name": "x"}


# fixed transforms: pairs (a, a), probabilities 1, or every draw at its lower bound
FIXED = [
    ("RandomHue", dict(factor=(0.3, 0.3)), dict()),
    ("RandomHue", dict(factor=(0.8, 0.9), value_range=(0, 1)), dict(high=1.0)),
    ("RandomSaturation", dict(factor=(0.3, 0.3)), dict()),
    ("RandomSaturation", dict(factor=(0.8, 0.8), data_format="channels_first"), dict(shape=(2, 3, 9, 8))),
    ("RandomSharpness", dict(factor=(0.8, 0.8)), dict()),
    ("RandomSharpness", dict(factor=(0.1, 0.1), data_format="channels_first"), dict(shape=(2, 3, 9, 8))),
    ("RandomColorDegeneration", dict(factor=(0.4, 0.4)), dict()),
    ("RandomColorDegeneration", dict(factor=(0.7, 0.7), value_range=(0, 1)), dict(high=1.0)),
    ("RandomGaussianBlur", dict(factor=(1.0, 1.0), kernel_size=5, sigma=(0.9, 0.9)), dict()),
    ("RandomGaussianBlur", dict(factor=(1.0, 1.0), kernel_size=3, sigma=(0.7, 0.7),
                                data_format="channels_first"), dict(shape=(2, 3, 9, 8))),
    ("RandomErasing", dict(factor=(1.0, 1.0), scale=(0.1, 0.3), fill_value=7.0), dict()),
    ("RandomErasing", dict(factor=(1.0, 1.0), scale=(0.2, 0.4), fill_value=[1.0, 2.0, 300.0]), dict()),
    ("RandomPerspective", dict(factor=(1.0, 1.0), scale=0.5), dict()),
    ("RandomPerspective", dict(factor=(1.0, 1.0), scale=0.3, interpolation="nearest", fill_value=9.0,
                               data_format="channels_first"), dict(shape=(2, 3, 9, 8))),
    ("RandomColorJitter", dict(brightness_factor=(0.1, 0.2), contrast_factor=0.3, saturation_factor=(0.4, 0.6),
                               hue_factor=(0.2, 0.5)), dict()),
]


@pytest.mark.parametrize("name,kwargs,data", FIXED)
def test_fixed_draws_match_keras(monkeypatch, name, kwargs, data):
    x = images(data.get("shape", (3, 12, 10, 3)), high=data.get("high", 255.0))
    k_layer = getattr(keras.layers, name)(**kwargs)
    lowest_keras_draws(monkeypatch)
    d_layer = getattr(dg.layers, name)(**kwargs)
    d_layer._generator = Fixed()
    out = assert_same(k_layer, d_layer, x)
    assert not np.allclose(out, x, atol=1e-3)  # the fixed draw does change the images


@pytest.mark.parametrize("name,kwargs", [
    ("RandomPosterization", dict(factor=(3, 3))), ("RandomPosterization", dict(factor=(1, 1), value_range=(0, 1))),
    ("Equalization", dict()), ("Equalization", dict(value_range=(0, 1), bins=64)),
    ("Equalization", dict(data_format="channels_first")),
    ("ContrastLimitedAdaptiveHistogramEqualization", dict(clip_limit=0.0, tile_grid_size=(4, 4))),
    ("ContrastLimitedAdaptiveHistogramEqualization", dict(clip_limit=0.0, tile_grid_size=(2, 4))),
    ("ContrastLimitedAdaptiveHistogramEqualization", dict(clip_limit=0.0, tile_grid_size=(2, 2),
                                                          data_format="channels_first")),
])
def test_histogram_and_bit_layers_match_keras(name, kwargs):
    channels_first = kwargs.get("data_format") == "channels_first"
    high = 1.0 if kwargs.get("value_range") == (0, 1) else 255.0
    # sizes divisible by the tile grid: Keras's torch backend pads "symmetric" as "edge"
    x = images((2, 3, 16, 20) if channels_first else (2, 16, 20, 3), high=high)
    x[1, :4] = high / 3  # a flat patch and repeated values
    out = assert_same(getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs), x,
                      grad=False, atol=1e-3 * high)
    assert not np.allclose(out, x)


@pytest.mark.parametrize("shape,kwargs", [
    ((2, 32, 32, 3), dict(tile_grid_size=(4, 4))),  # 8x8 tiles: limit 4 * 64 / 256 = 1
    ((2, 32, 24, 3), dict(clip_limit=8.0, tile_grid_size=(4, 3))),  # limit 2
    ((2, 3, 32, 32), dict(clip_limit=2.0, tile_grid_size=(2, 2), data_format="channels_first",
                          value_range=(0, 1))),  # 16x16 tiles: limit 2
])
def test_clahe_with_clipping_matches_keras(shape, kwargs):
    # Keras's torch backend counts the histogram in integers, so its clip limit is truncated to
    # an integer there; these limits are whole numbers, where every backend agrees
    high = 1.0 if kwargs.get("value_range") == (0, 1) else 255.0
    x = images(shape, high=high) ** 2 / high  # skewed, so the clipping bites
    name = "ContrastLimitedAdaptiveHistogramEqualization"
    out = assert_same(getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs), x,
                      grad=False, atol=1e-3 * high)
    assert not np.allclose(out, x, atol=0.01 * high)


def test_clahe_applies_in_inference_and_equalization_does_not():
    x = images((2, 32, 32, 3))
    clahe = keras.layers.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(4, 4))
    np.testing.assert_allclose(
        to_numpy(dg.layers.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(4, 4))(x, training=False)),
        to_numpy(clahe(x, training=False)), atol=1e-3)
    np.testing.assert_array_equal(to_numpy(dg.layers.Equalization()(x, training=False)), x)
    np.testing.assert_allclose(to_numpy(keras.layers.Equalization()(x, training=False)), x)


@pytest.mark.parametrize("name,kwargs", [
    ("RandomHue", dict(factor=0.5)), ("RandomSaturation", dict(factor=0.5)), ("RandomSharpness", dict(factor=0.5)),
    ("RandomPosterization", dict(factor=4)), ("RandomColorDegeneration", dict(factor=0.5)),
    ("RandomColorJitter", dict(brightness_factor=0.3, hue_factor=0.3)), ("RandomErasing", dict()),
    ("RandomGaussianBlur", dict()), ("RandomPerspective", dict()), ("RandomElasticTransform", dict()),
    ("MixUp", dict()), ("CutMix", dict()), ("AugMix", dict()), ("RandAugment", dict()),
])
def test_inference_is_identity_as_keras(name, kwargs):
    x = images()
    out = assert_same(getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs), x,
                      training=False, grad=False)
    np.testing.assert_array_equal(out, x)


def test_elastic_transform_matches_keras_on_the_same_noise(monkeypatch):
    x = images((2, 14, 12, 3))
    k_layer = keras.layers.RandomElasticTransform(factor=(1.0, 1.0), scale=(0.5, 0.5), fill_mode="constant")
    lowest_keras_draws(monkeypatch)
    torch.manual_seed(7)  # Keras's torch backend draws the displacement noise from the global generator
    expected = k_layer(torch.tensor(x), training=True).numpy()
    torch.manual_seed(7)
    noise = np.stack([torch.normal(0.0, 1.0, size=(2, 14, 12)).numpy() for _ in range(2)])
    d_layer = dg.layers.RandomElasticTransform(factor=(1.0, 1.0), scale=(0.5, 0.5), fill_mode="constant")
    out = d_layer.transform_images(dg.Tensor(x), (np.array([True, True]), 0.5, noise))
    np.testing.assert_allclose(to_numpy(out), expected, atol=2e-3, rtol=1e-4)
    assert not np.allclose(to_numpy(out), x, atol=1.0)


def test_elastic_transform_scale_zero_is_identity_as_keras():
    x = images()
    out = assert_same(keras.layers.RandomElasticTransform(scale=0.0), dg.layers.RandomElasticTransform(scale=0.0),
                      x, grad=False)
    np.testing.assert_array_equal(out, x)


def _mix_data(x, labels):
    return {"images": x, "labels": labels}


@pytest.mark.parametrize("name,kwargs", [("MixUp", dict(alpha=0.4)), ("CutMix", dict(factor=(0.5, 0.5)))])
def test_mixing_with_fixed_draws_matches_keras(monkeypatch, name, kwargs):
    x = images((4, 12, 10, 3))
    labels = np.eye(4, dtype="float32")
    order = [2, 0, 3, 1]
    k_layer = getattr(keras.layers, name)(**kwargs)
    lowest_keras_draws(monkeypatch, beta=0.3, permutation=order)
    expected = k_layer(_mix_data(torch.tensor(x), torch.tensor(labels)), training=True)
    d_layer = getattr(dg.layers, name)(**kwargs)
    d_layer._generator = Fixed(beta=0.3, permutation=order)
    out = d_layer(_mix_data(x, labels), training=True)
    np.testing.assert_allclose(to_numpy(out["images"]), expected["images"].numpy(), atol=2e-4)
    np.testing.assert_allclose(to_numpy(out["labels"]), expected["labels"].numpy(), atol=1e-6)
    assert not np.allclose(to_numpy(out["labels"]), labels)


def test_rand_augment_with_given_operations_matches_keras(monkeypatch):
    x = images()
    k_layer = keras.layers.RandAugment(num_ops=2)
    # Keras runs every operation and selects one; lowest draws keep the unselected ones (some
    # of which add in place on torch) from touching the images
    lowest_keras_draws(monkeypatch)
    module = keras.src.backend.torch.random
    # operations 9 and 10 of Keras's list: auto-contrast then equalization (no draws of their own)
    monkeypatch.setattr(module, "randint", lambda shape, minval, maxval, dtype="int32", seed=None:
                        torch.tensor([9, 10]) if tuple(shape) == (2,) else torch.full(tuple(shape), int(minval)))
    expected = k_layer(torch.tensor(x), training=True).numpy()
    d_layer = dg.layers.RandAugment(num_ops=2)
    out = d_layer.transform_images(dg.Tensor(x), (np.array([9, 10]), np.zeros(11, np.int64)))
    # equalization bins the auto-contrasted values: a last-bit difference may move a value
    # sitting on a bin edge by one level
    diff = np.abs(to_numpy(out) - expected)
    assert diff.max() <= 1.0 + 1e-4 and (diff > 1e-3).mean() < 0.01
    assert not np.allclose(to_numpy(out), x)


def test_aug_mix_with_given_chains_matches_keras(monkeypatch):
    import random as py_random
    x = images()
    k_layer = keras.layers.AugMix(num_chains=2, chain_depth=1)
    module = keras.src.backend.torch.random
    monkeypatch.setattr(module, "gamma", lambda shape, alpha, dtype=None, seed=None:
                        torch.tensor([1.0, 3.0]))
    monkeypatch.setattr(module, "beta", lambda shape, alpha, beta, dtype=None, seed=None: torch.tensor(0.4))
    picks = iter(["equalization", "auto_contrast"])
    monkeypatch.setattr(py_random, "choice", lambda options: next(picks))
    expected = k_layer(torch.tensor(x), training=True).numpy()
    d_layer = dg.layers.AugMix(num_chains=2, chain_depth=1)
    chains = [[("equalization", 0)], [("auto_contrast", 0)]]
    out = d_layer.transform_images(dg.Tensor(x), (np.array([0.25, 0.75]), 0.4, chains))
    np.testing.assert_allclose(to_numpy(out), expected, atol=1e-3)
    assert not np.allclose(to_numpy(out), x)


def test_max_num_bounding_boxes_matches_keras():
    boxes = np.random.default_rng(0).uniform(0, 10, (2, 4, 4)).astype("float32")
    labels = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], "float32")
    x = images((2, 12, 10, 3))
    for n in (2, 6):
        data = {"images": x, "bounding_boxes": {"boxes": boxes, "labels": labels}}
        k_out = keras.layers.MaxNumBoundingBoxes(n, fill_value=-3, bounding_box_format="xyxy")(
            {"images": x, "bounding_boxes": {"boxes": boxes.copy(), "labels": labels.copy()}})
        d_out = dg.layers.MaxNumBoundingBoxes(n, fill_value=-3, bounding_box_format="xyxy")(data)
        for key in ("boxes", "labels"):
            np.testing.assert_array_equal(d_out["bounding_boxes"][key], to_numpy(k_out["bounding_boxes"][key]))
        assert d_out["bounding_boxes"]["boxes"].shape == (2, n, 4)
        np.testing.assert_array_equal(to_numpy(d_out["images"]), x)
