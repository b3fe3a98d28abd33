"""Merge layers: values and gradients by formula, shape checks naming the layer and shapes."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers
from layer_test import run_layer_test

RNG = np.random.default_rng(0)
A, B, C = (RNG.standard_normal((2, 3)).astype("float32") for _ in range(3))


@pytest.mark.parametrize("cls, expected", [
    (layers.Add, A + B + C), (layers.Multiply, A * B * C), (layers.Average, (A + B + C) / 3),
    (layers.Maximum, np.maximum(np.maximum(A, B), C)), (layers.Minimum, np.minimum(np.minimum(A, B), C)),
])
def test_elementwise_merges(cls, expected):
    _, out = run_layer_test(cls, {}, input_data=[A, B, C], expected_output_shape=(2, 3))
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)


def test_subtract_takes_exactly_two():
    _, out = run_layer_test(layers.Subtract, {}, input_data=[A, B], expected_output_shape=(2, 3))
    np.testing.assert_allclose(out.data, A - B)
    with pytest.raises(ValueError, match="exactly 2"):
        layers.Subtract()([A, B, C])


def test_merge_gradients_follow_the_formulas():
    a, b = dg.Tensor(A, requires_grad=True), dg.Tensor(B, requires_grad=True)
    g = RNG.standard_normal((2, 3)).astype("float32")
    layers.Multiply()([a, b]).backward(g)
    np.testing.assert_allclose(a.grad, g * B, rtol=1e-6)
    np.testing.assert_allclose(b.grad, g * A, rtol=1e-6)
    a.grad = b.grad = None
    layers.Average()([a, b]).backward(g)
    np.testing.assert_allclose(a.grad, g / 2, rtol=1e-6)
    a.grad = b.grad = None
    layers.Maximum()([a, b]).backward(g)
    np.testing.assert_allclose(a.grad, np.where(A > B, g, 0), rtol=1e-6)


def test_concatenate():
    x, y = np.ones((2, 3, 4), "float32"), np.zeros((2, 3, 1), "float32")
    _, out = run_layer_test(layers.Concatenate, {}, input_data=[x, y], expected_output_shape=(2, 3, 5))
    np.testing.assert_array_equal(out.data[..., 4], 0)
    _, out = run_layer_test(layers.Concatenate, {"axis": 1}, input_data=[x, x], expected_output_shape=(2, 6, 4))
    assert layers.Concatenate().compute_output_shape([(None, 3), (None, 4)]) == (None, 7)
    with pytest.raises(ValueError, match=r"concat.*\(2, 3, 4\), \(2, 2, 1\)"):
        layers.Concatenate(name="concat")([x, np.ones((2, 2, 1), "float32")])


def test_shape_errors_name_the_layer_and_the_shapes():
    with pytest.raises(ValueError, match=r"plus.*\(2, 3\), \(2, 4\)"):
        layers.Add(name="plus")([A, np.ones((2, 4), "float32")])
    # one input merges as itself, as in Keras 3; Subtract and Dot need exactly two
    np.testing.assert_array_equal(np.asarray(layers.Add()([A])), A)
    with pytest.raises(ValueError, match="exactly 2"):
        layers.Subtract()([A])
    with pytest.raises(ValueError, match="list"):
        layers.Add()(A)


def test_functional_forms_and_symbolic_shapes():
    np.testing.assert_allclose(layers.add([A, B]).data, A + B, rtol=1e-6)
    np.testing.assert_allclose(layers.concatenate([A, B]).data, np.concatenate([A, B], -1))
    x, y = layers.Input(shape=(3,)), layers.Input(shape=(5,))
    assert layers.concatenate([x, y]).shape == (None, 8)
    assert layers.Add()([x, layers.Input(shape=(1,))]).shape == (None, 3)
