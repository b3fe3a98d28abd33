"""Dot and dot, merges of inputs of different ranks, and merge masks: values by formula, float64
central differences, configs and a saved model."""
import numpy as np
import pytest
from layer_test import run_layer_test
from oracle import check_gradients

import deepgrad as dg
from deepgrad import layers

rng = np.random.default_rng(0)


@pytest.mark.parametrize("axes, shapes, expected", [
    (1, [(3, 4), (3, 4)], (3, 1)), ((2, 2), [(2, 3, 4), (2, 5, 4)], (2, 3, 5)), ((1, 2), [(2, 3, 4), (2, 5, 3)],
                                                                            (2, 4, 5)),
    (-1, [(2, 3, 4), (2, 4)], (2, 3)), ((1, 3), [(2, 3, 2, 4), (2, 2, 5, 3)], (2, 2, 4, 2, 5)),
])
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_layer_checks_and_central_differences(axes, shapes, expected, normalize):
    kwargs = {"axes": axes, "normalize": normalize}
    run_layer_test(layers.Dot, kwargs, input_shape=shapes, expected_output_shape=expected)
    layer = layers.Dot(**kwargs, dtype="float64")
    check_gradients(lambda a, b: layer([a, b]), [rng.standard_normal(s) for s in shapes], rtol=1e-5, atol=1e-7)


def test_dot_values_by_formula():
    a, b = rng.standard_normal((4, 3, 5)).astype("float32"), rng.standard_normal((4, 6, 5)).astype("float32")
    np.testing.assert_allclose(layers.Dot(axes=2)([a, b]).data, np.einsum("bik,bjk->bij", a, b), rtol=1e-5)
    np.testing.assert_allclose(layers.dot([a[:, 0], b[:, 0]], axes=1).data,
                               (a[:, 0] * b[:, 0]).sum(1, keepdims=True), rtol=1e-5)
    cos = layers.Dot(axes=-1, normalize=True)([a[:, 0], b[:, 0]]).data
    expected = (a[:, 0] * b[:, 0]).sum(1) / np.linalg.norm(a[:, 0], axis=1) / np.linalg.norm(b[:, 0], axis=1)
    np.testing.assert_allclose(cos[:, 0], expected, rtol=1e-5)


def test_dot_errors_and_config():
    with pytest.raises(ValueError, match=r"Dot 'd': axis 1 of shape \(2, 3\) and axis 1 of shape \(2, 4\)"):
        layers.Dot(1, name="d")([np.ones((2, 3), "float32"), np.ones((2, 4), "float32")])
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        layers.Dot(1)([np.ones((2, 3), "float32")] * 3)
    with pytest.raises(ValueError, match="batch axis"):
        layers.Dot(0)([np.ones((2, 3), "float32")] * 2)
    with pytest.raises(TypeError, match="Dot: axes"):
        layers.Dot("last")
    config = layers.Dot((1, 2), normalize=True).get_config()
    assert config["axes"] == [1, 2] and config["normalize"] is True
    x, y = layers.Input(shape=(3, 4)), layers.Input(shape=(5, 4))
    assert layers.dot([x, y], axes=2).shape == (None, 3, 5)


def test_merges_of_different_ranks_insert_axes_after_the_batch():
    a, b = rng.standard_normal((3, 4)).astype("float32"), rng.standard_normal((3, 2, 4)).astype("float32")
    np.testing.assert_allclose(layers.Add()([a, b]).data, a[:, None] + b, rtol=1e-6)
    np.testing.assert_allclose(layers.Maximum()([b, a]).data, np.maximum(b, a[:, None]), rtol=1e-6)
    assert layers.Add().compute_output_shape([(None, 4), (None, 2, 4)]) == (None, 2, 4)


def test_masked_maximum_and_multiply_by_formula():
    emb = layers.Embedding(4, 2, mask_zero=True)
    ids_a, ids_b = np.array([[1, 0, 2]]), np.array([[0, 0, 3]])
    a, b = emb(ids_a), emb(ids_b)
    table = emb.get_weights()[0]
    va, vb = table[ids_a], table[ids_b]
    # where only one input is kept its value wins (step 1 holds id 0 in both: the same row)
    expected = np.stack([va[0, 0], np.maximum(va[0, 1], vb[0, 1]), np.maximum(va[0, 2], vb[0, 2])])[None]
    np.testing.assert_allclose(layers.Maximum()([a, b]).data, expected, rtol=1e-6)
    # Multiply: masked cells count as 1, cells no input keeps become 0
    expected = np.stack([va[0, 0], np.zeros(2), va[0, 2] * vb[0, 2]])[None]
    out = layers.Multiply()([a, b])
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)
    np.testing.assert_array_equal(out._keras_mask, [[True, False, True]])


def test_saved_model_with_dot_and_masks(tmp_path):
    ids = layers.Input(shape=(5,), dtype="int32")
    e = layers.Embedding(7, 4, mask_zero=True)(ids)
    q = layers.Dense(4)(e)
    scores = layers.Dot(axes=2, normalize=True)([q, e])
    mixed = layers.Add()([layers.Dense(5)(scores), layers.Dense(5)(e)])
    model = dg.Model(ids, layers.GlobalAveragePooling1D()(mixed))
    data = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 1, 0]], "int32")
    model.save(tmp_path / "m.keras")
    loaded = dg.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-6)
