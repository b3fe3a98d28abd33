"""Normalization, Discretization and CategoryEncoding: values, adapt, configs, models."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # layer_test

import deepgrad as dg  # noqa: E402
from deepgrad import layers  # noqa: E402
from layer_test import run_layer_test  # noqa: E402


def test_normalization_run_layer_test_and_values():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (8, 4)).astype("float32")
    mean, var = x.mean(0), x.var(0)
    layer, out = run_layer_test(layers.Normalization, {"mean": mean.tolist(), "variance": var.tolist()},
                                input_data=x, expected_output_shape=(8, 4), expected_num_trainable_weights=0)
    np.testing.assert_allclose(out.data, (x - mean) / np.sqrt(var), rtol=1e-5, atol=1e-5)
    inv = layers.Normalization(mean=mean.tolist(), variance=var.tolist(), invert=True)
    np.testing.assert_allclose(inv(out).data, x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("axis", [-1, None, (1, 2)])
def test_normalization_adapt_array_and_batches_agree(axis):
    rng = np.random.default_rng(1)
    x = rng.normal(1.0, 3.0, (12, 3, 2)).astype("float32")
    whole, batched = layers.Normalization(axis=axis), layers.Normalization(axis=axis)
    whole.adapt(x)
    batched.adapt([x[:5], x[5:9], x[9:]])  # uneven batches merge exactly
    keep = () if axis is None else tuple(a % 3 for a in ((axis,) if isinstance(axis, int) else axis))
    reduce = tuple(d for d in range(3) if d not in keep)
    for layer in (whole, batched):
        np.testing.assert_allclose(layer.mean.reshape(-1), x.mean(reduce).reshape(-1), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.variance.reshape(-1), x.var(reduce).reshape(-1), rtol=1e-5, atol=1e-6)
    out = whole(x).data
    np.testing.assert_allclose(out.mean(reduce), 0, atol=1e-5)
    assert [w.name.split("/")[-1] for w in whole.weights] == ["mean", "variance", "count"]


def test_normalization_gradient_reaches_input():
    layer = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0])
    x = dg.Tensor(np.ones((3, 2), "float32"), requires_grad=True)
    dg.sum(layer(x)).backward()
    np.testing.assert_allclose(x.grad, np.tile([1 / 2, 1 / 3], (3, 1)), rtol=1e-6)


def test_normalization_errors():
    with pytest.raises(ValueError, match="mean"):
        layers.Normalization(mean=[1.0])
    with pytest.raises(ValueError, match="axis"):
        layers.Normalization(axis=3)(np.zeros((2, 3), "float32"))


def test_discretization_boundaries_and_modes():
    x = np.array([[-1.5, 0.0, 0.3], [0.5, 2.0, 9.0]], "float32")
    layer, out = run_layer_test(layers.Discretization, {"bin_boundaries": [0.0, 1.0]}, input_data=x,
                                expected_output_shape=(2, 3))
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out.data, [[0, 1, 1], [1, 2, 2]])
    counts = layers.Discretization(bin_boundaries=[0.0, 1.0], output_mode="count")(x)
    np.testing.assert_array_equal(counts.data, [[1, 2, 0], [0, 1, 2]])
    hot = layers.Discretization(bin_boundaries=[0.0, 1.0], output_mode="one_hot")(x[:, :1])
    np.testing.assert_array_equal(hot.data, [[1, 0, 0], [0, 1, 0]])


def test_discretization_adapt_quantiles():
    x = np.arange(100, dtype="float32").reshape(-1, 1)
    layer = layers.Discretization(num_bins=4)
    layer.adapt(x)
    np.testing.assert_allclose(layer.bin_boundaries, [24.0, 49.0, 74.0], atol=1e-4)
    np.testing.assert_array_equal(layer(np.array([[0.0], [30.0], [99.0]])).data, [[0], [1], [3]])
    clone = layers.Discretization.from_config(layer.get_config())
    assert clone.bin_boundaries == layer.bin_boundaries


def test_category_encoding_modes():
    ids = np.array([[0, 1, 1], [3, 3, 2]])
    layer, out = run_layer_test(layers.CategoryEncoding, {"num_tokens": 4, "output_mode": "count"},
                                input_data=ids, expected_output_shape=(2, 4))
    np.testing.assert_array_equal(out.data, [[1, 2, 0, 0], [0, 0, 1, 2]])
    multi = layers.CategoryEncoding(num_tokens=4)(ids)
    np.testing.assert_array_equal(multi.data, [[1, 1, 0, 0], [0, 0, 1, 1]])
    one = layers.CategoryEncoding(num_tokens=4, output_mode="one_hot")(np.array([[2], [0]]))
    np.testing.assert_array_equal(one.data, [[0, 0, 1, 0], [1, 0, 0, 0]])
    weighted = layers.CategoryEncoding(num_tokens=4, output_mode="count")(ids, count_weights=np.full((2, 3), 0.5))
    np.testing.assert_allclose(weighted.data, [[0.5, 1, 0, 0], [0, 0, 0.5, 1]])
    with pytest.raises(ValueError, match="num_tokens"):
        layers.CategoryEncoding()


def test_model_with_normalization_saves_and_loads(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(5, 2, (16, 3)).astype("float32")
    norm = layers.Normalization()
    norm.adapt(x)
    model = dg.Sequential([layers.Input(shape=(3,)), norm, layers.Dense(2)])
    path = str(tmp_path / "m.deepgrad")
    model.save(path)
    again = dg.models.load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(again.layers[0].mean.reshape(-1), x.mean(0), rtol=1e-5)
