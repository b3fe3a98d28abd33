"""Embedding: lookup and scatter-add gradient against PyTorch; the zero mask."""
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad import layers
from deepgrad.ops.nn import embedding
from layer_test import run_layer_test


def test_embedding_layer_checks():
    ids = np.array([[1, 2, 3], [0, 9, 9]])
    layer, out = run_layer_test(layers.Embedding, {"input_dim": 10, "output_dim": 4}, input_data=ids,
                                expected_output_shape=(2, 3, 4), expected_weight_shapes=[(10, 4)],
                                expected_num_trainable_weights=1, expected_num_params=40)
    table = layer.get_weights()[0]
    np.testing.assert_array_equal(out.data, table[ids])
    assert np.all(np.abs(table) <= 0.05)  # Keras's "uniform": RandomUniform(-0.05, 0.05)


def test_embedding_matches_torch_with_repeated_indices():
    rng = np.random.default_rng(0)
    table = rng.standard_normal((7, 3)).astype("float32")
    ids = np.array([[1, 1, 4, 1], [6, 4, 0, 1]])
    t = dg.Tensor(table, requires_grad=True)
    out = embedding(ids, t)
    tt = torch.tensor(table, requires_grad=True)
    ref = torch.nn.functional.embedding(torch.tensor(ids), tt)
    g = rng.standard_normal(out.shape).astype("float32")
    out.backward(g)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, ref.detach().numpy())
    np.testing.assert_allclose(t.grad, tt.grad.numpy(), rtol=1e-6, atol=1e-6)
    # row 1 appears four times: its gradient is the sum of the four upstream rows
    np.testing.assert_allclose(t.grad[1], g[0, 0] + g[0, 1] + g[0, 3] + g[1, 3], rtol=1e-6)
    np.testing.assert_array_equal(t.grad[[2, 3, 5]], 0)


def test_embedding_scatter_add_agrees_with_add_at_on_many_ids():
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 50, size=(64, 20))
    t = dg.Tensor(rng.standard_normal((50, 8)), requires_grad=True)
    out = embedding(ids, t)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    expected = np.zeros((50, 8))
    np.add.at(expected, ids.reshape(-1), g.reshape(-1, 8))
    np.testing.assert_allclose(t.grad, expected, rtol=1e-12, atol=1e-12)


def test_embedding_mask_zero_gives_the_next_layer_a_mask():
    layer = layers.Embedding(5, 2, mask_zero=True)
    out = layer(np.array([[3, 1, 0, 0], [2, 0, 0, 0]]))
    mask = out._keras_mask
    np.testing.assert_array_equal(mask, [[True, True, False, False], [True, False, False, False]])

    seen = {}

    class Probe(layers.Layer):
        def call(self, inputs, mask=None):
            seen["mask"] = mask
            return inputs * 1.0

    Probe()(out)
    np.testing.assert_array_equal(seen["mask"], mask)
    assert layers.Embedding(5, 2)(np.array([[0, 1]]))._keras_mask is None


def test_embedding_accepts_whole_floats_and_rejects_bad_ids():
    layer = layers.Embedding(4, 2, input_length=3, name="words")
    assert layer(np.array([[0.0, 3.0, 1.0]], "float32")).shape == (1, 3, 2)
    with pytest.raises(IndexError, match=r"words.*\[0, 4\)"):
        layer(np.array([[4]]))
    with pytest.raises(ValueError, match="output_dim"):
        layers.Embedding(4, 0)
    with pytest.raises(TypeError, match="integers"):
        embedding(np.array([0.5]), dg.Tensor(np.zeros((2, 2), "float32")))


def test_embedding_central_differences():
    from oracle import check_gradients

    ids = np.array([[0, 2, 2], [1, 2, 0]])
    table = np.random.default_rng(2).standard_normal((4, 3))
    check_gradients(lambda i, t: embedding(i, t), [ids, table])
