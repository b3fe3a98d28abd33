"""TimeDistributed (the same layer on every step, time folded into the batch) and Bidirectional."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers
from deepgrad.layers.recurrent import GRU, LSTM
from deepgrad.layers.wrappers import Bidirectional
from layer_test import run_layer_test

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 6, 2)).astype(np.float32)
MASK = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1], [0, 1, 0, 1, 1, 0]], dtype=bool)


def test_time_distributed_dense():
    layer, out = run_layer_test(layers.TimeDistributed, {"layer": layers.Dense(4)}, input_shape=(2, 5, 3),
                                expected_output_shape=(2, 5, 4), expected_weight_shapes=[(3, 4), (4,)],
                                run_symbolic_check=False)
    kernel, bias = layer.get_weights()
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype("float32")
    np.testing.assert_allclose(out.data, x @ kernel + bias, rtol=1e-5, atol=1e-6)
    assert layers.TimeDistributed(layers.Dense(4))(layers.Input(shape=(5, 3))).shape == (None, 5, 4)


def test_time_distributed_gradients_sum_over_steps():
    inner = layers.Dense(2, use_bias=False)
    layer = layers.TimeDistributed(inner)
    x = np.random.default_rng(1).standard_normal((3, 4, 5)).astype("float32")
    out = layer(x)
    g = np.ones(out.shape, "float32")
    out.backward(g)
    # d kernel = sum over batch and time of x^T g
    np.testing.assert_allclose(inner.kernel.grad, x.reshape(-1, 5).T @ g.reshape(-1, 2), rtol=1e-5)


def test_time_distributed_flatten_on_images_and_errors():
    out = layers.TimeDistributed(layers.Flatten())(np.ones((2, 3, 4, 4, 1), "float32"))
    assert out.shape == (2, 3, 16)
    with pytest.raises(ValueError, match="time axis"):
        layers.TimeDistributed(layers.Dense(2))(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="Layer instance"):
        layers.TimeDistributed("dense")


def test_time_distributed_freezing_reaches_the_inner_layer():
    layer = layers.TimeDistributed(layers.Dense(2))
    layer(np.ones((1, 2, 3), "float32"))
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    assert not layer.layer.trainable


# --------------------------------------------------------------------------- Bidirectional
@pytest.mark.parametrize("merge_mode, width", [("concat", 8), ("sum", 4), ("mul", 4), ("ave", 4)])
def test_bidirectional_merges_forward_and_reversed_backward(merge_mode, width):
    layer = Bidirectional(LSTM(4, return_sequences=True), merge_mode=merge_mode)
    out = layer(X, mask=MASK)
    assert out.shape == (3, 6, width) and layer.compute_output_shape((None, 6, 2)) == (None, 6, width)
    fw = layer.forward_layer(X, mask=MASK).data
    bw = layer.backward_layer(X, mask=MASK).data[:, ::-1]
    expected = {"concat": lambda: np.concatenate([fw, bw], -1), "sum": lambda: fw + bw,
                "mul": lambda: fw * bw, "ave": lambda: (fw + bw) / 2}[merge_mode]()
    np.testing.assert_allclose(out.data, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(out.data[~MASK], 0)   # masked steps output zeros, as in Keras
    assert layer.backward_layer.go_backwards and not layer.forward_layer.go_backwards


def test_bidirectional_weights_counts_states_and_config():
    layer = Bidirectional(LSTM(64))
    layer(np.zeros((2, 5, 1), np.float32))
    assert layer.count_params() == 2 * 16_896
    paths = [w.path.split("/") for w in layer.weights]   # Keras's: "bidirectional/forward_lstm/lstm_cell/kernel"
    assert paths[0][0] == layer.name and paths[3][0] == layer.name
    assert paths[0][1].startswith("forward_lstm") and paths[3][1].startswith("backward_lstm")
    assert Bidirectional(GRU(64)).compute_output_shape((None, 5, 1)) == (None, 128)

    layer = Bidirectional(GRU(3, return_sequences=True, return_state=True), merge_mode=None)
    out = layer(X)
    assert [o.shape for o in out] == [(3, 6, 3)] * 2 + [(3, 3)] * 2
    assert layer.compute_output_shape((None, 6, 2)) == [(None, 6, 3)] * 2 + [(None, 3)] * 2
    np.testing.assert_array_equal(out[3].data, out[1].data[:, 0])  # backward state: after reading step 0

    clone = Bidirectional.from_config(layer.get_config())
    for key in ("layer", "backward_layer"):  # the layers as they were, named as they were
        assert clone.get_config()[key]["config"] == layer.get_config()[key]["config"]
    assert clone.merge_mode is None
    clone(X)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(X)[0].data, out[0].data)


def test_bidirectional_rejects_bad_arguments():
    with pytest.raises(ValueError, match="merge_mode must be one of"):
        Bidirectional(LSTM(3), merge_mode="max")
    with pytest.raises(ValueError, match="opposite go_backwards"):
        Bidirectional(LSTM(3), backward_layer=LSTM(3))
    with pytest.raises(ValueError, match="same return_sequences"):
        Bidirectional(LSTM(3), backward_layer=LSTM(3, go_backwards=True, return_sequences=True))
