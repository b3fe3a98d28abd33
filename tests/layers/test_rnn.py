"""RNN cells and the generic RNN layer: the layer checks, the cell protocol, equality with the
fused SimpleRNN/LSTM/GRU layers, masks, states, dropout, gradients and saving."""
import json

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers, ops
from deepgrad.layers import GRU, LSTM, RNN, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell, StackedRNNCells
from layer_test import run_layer_test

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 6, 2)).astype(np.float32)
MASK = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1], [0, 1, 0, 1, 1, 0]], dtype=bool)


class MinimalRNNCell(layers.Layer):
    """The cell of Keras's RNN documentation: ``h_t = x_t @ W + h_{t-1} @ U`` (no activation)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        prev_output = states[0]
        output = ops.matmul(inputs, self.kernel) + ops.matmul(prev_output, self.recurrent_kernel)
        return output, [output]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _randomize(layer, scale=0.5, seed=1):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.standard_normal(w.shape).astype(w.dtype) * scale for w in layer.weights])


def _minimal_reference(x, kernel, recurrent, mask=None, go_backwards=False):
    """NumPy loop of MinimalRNNCell under Keras's mask rule (masked steps keep the state and
    repeat the previous output)."""
    batch, steps, _ = x.shape
    h = np.zeros((batch, kernel.shape[1]), x.dtype)
    outputs = []
    for t in (range(steps - 1, -1, -1) if go_backwards else range(steps)):
        new = x[:, t] @ kernel + h @ recurrent
        if mask is not None:
            new = np.where(mask[:, t:t + 1], new, h)
        h = new
        outputs.append(h)
    return np.stack(outputs, axis=1), h


# --------------------------------------------------------------------------- the layer checks
@pytest.mark.parametrize("cell, weights", [
    (lambda: SimpleRNNCell(4), [(2, 4), (4, 4), (4,)]),
    (lambda: LSTMCell(4), [(2, 16), (4, 16), (16,)]),
    (lambda: GRUCell(4), [(2, 12), (4, 12), (2, 12)]),
    (lambda: GRUCell(4, reset_after=False, use_bias=False), [(2, 12), (4, 12)]),
])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_rnn_layer_checks(cell, weights, return_sequences):
    shape = (3, 6, 4) if return_sequences else (3, 4)
    run_layer_test(RNN, dict(cell=cell(), return_sequences=return_sequences), input_shape=(3, 6, 2),
                   expected_output_shape=shape, expected_weight_shapes=weights)


def test_rnn_layer_checks_stacked_and_custom_cell():
    run_layer_test(RNN, dict(cell=[LSTMCell(3), GRUCell(5)], return_sequences=True), input_shape=(2, 4, 3),
                   expected_output_shape=(2, 4, 5),
                   expected_weight_shapes=[(3, 12), (3, 12), (12,), (3, 15), (5, 15), (2, 15)])
    layer = RNN(MinimalRNNCell(3))
    out = layer(X)
    assert out.shape == (3, 3)
    assert [w.name.split("/")[-1] for w in layer.weights] == ["kernel", "recurrent_kernel"]


def test_cell_protocol():
    for cell, n_states in [(SimpleRNNCell(3), 1), (LSTMCell(3), 2), (GRUCell(3), 1)]:
        states = cell.get_initial_state(batch_size=4)
        assert [s.shape for s in states] == [(4, 3)] * n_states
        assert cell.output_size == 3
        output, new = cell(X[:, 0], cell.get_initial_state(batch_size=3))
        assert output.shape == (3, 3) and isinstance(new, list) and len(new) == n_states
    # a single-state cell given a lone tensor answers with a lone tensor, as Keras's
    cell = SimpleRNNCell(3)
    output, new = cell(X[:, 0], dg.Tensor(np.zeros((3, 3), np.float32)))
    assert isinstance(new, dg.Tensor)
    np.testing.assert_allclose(new.data, output.data)


# --------------------------------------------------------------------------- RNN(cell) == the fused layers
@pytest.mark.parametrize("cell, layer", [
    (lambda: SimpleRNNCell(4), lambda **kw: SimpleRNN(4, **kw)),
    (lambda: SimpleRNNCell(4, activation="relu", use_bias=False), lambda **kw: SimpleRNN(4, activation="relu",
                                                                                             use_bias=False, **kw)),
    (lambda: LSTMCell(4), lambda **kw: LSTM(4, **kw)),
    (lambda: GRUCell(4), lambda **kw: GRU(4, **kw)),
    (lambda: GRUCell(4, reset_after=False), lambda **kw: GRU(4, reset_after=False, **kw)),
])
@pytest.mark.parametrize("options", [dict(), dict(return_sequences=True), dict(return_state=True),
                                     dict(return_sequences=True, go_backwards=True, return_state=True)])
@pytest.mark.parametrize("masked", [False, True])
def test_rnn_with_cell_equals_fused_layer(cell, layer, options, masked):
    rnn, fused = RNN(cell(), **options), layer(**options)
    rnn(X), fused(X)
    _randomize(fused)
    rnn.set_weights(fused.get_weights())
    kwargs = {"mask": MASK} if masked else {}
    a, b = rnn(dg.Tensor(X), **kwargs), fused(dg.Tensor(X), **kwargs)
    for u, v in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
        np.testing.assert_allclose(u.data, v.data, rtol=1e-5, atol=1e-6)


def test_rnn_gradients_equal_fused_lstm():
    rnn, fused = RNN(LSTMCell(4), return_sequences=True), LSTM(4, return_sequences=True)
    rnn(X), fused(X)
    _randomize(fused)
    rnn.set_weights(fused.get_weights())
    upstream = RNG.standard_normal((3, 6, 4)).astype(np.float32)
    grads = []
    for layer in (rnn, fused):
        x = dg.Tensor(X, requires_grad=True)
        dg.sum(layer(x, mask=MASK) * dg.Tensor(upstream)).backward()
        grads.append([x.grad] + [w.grad for w in layer.trainable_weights])
    for g_rnn, g_fused in zip(*grads):
        np.testing.assert_allclose(g_rnn, g_fused, rtol=1e-4, atol=1e-5)


def test_rnn_gradients_central_differences_float64():
    """d sum(out * r) / d weights of RNN(GRUCell) in float64 against central differences."""
    layer = RNN(GRUCell(3, dtype="float64"), return_sequences=True, dtype="float64")
    x = X.astype(np.float64)
    layer(x)
    _randomize(layer)
    r = np.random.default_rng(5).standard_normal((3, 6, 3))

    def loss():
        return float(dg.sum(layer(dg.Tensor(x), mask=MASK) * dg.Tensor(r)).data)

    dg.sum(layer(dg.Tensor(x), mask=MASK) * dg.Tensor(r)).backward()
    eps = 1e-6
    for w in layer.trainable_weights:
        numeric = np.zeros(w.shape)
        for index in np.ndindex(*w.shape):
            old = w.data[index]
            w.data[index] = old + eps
            up = loss()
            w.data[index] = old - eps
            down = loss()
            w.data[index] = old
            numeric[index] = (up - down) / (2 * eps)
        np.testing.assert_allclose(w.grad, numeric, rtol=1e-6, atol=1e-8, err_msg=w.name)


# --------------------------------------------------------------------------- a user's cell, masks, states
@pytest.mark.parametrize("go_backwards", [False, True])
def test_custom_cell_against_numpy_loop(go_backwards):
    layer = RNN(MinimalRNNCell(3), return_sequences=True, return_state=True, go_backwards=go_backwards)
    layer(X)
    _randomize(layer)
    kernel, recurrent = (w.data for w in layer.weights)
    sequence, state = layer(X, mask=MASK)
    want_sequence, want_state = _minimal_reference(X, kernel, recurrent, MASK, go_backwards)
    # masked steps before a sample's first kept step output zeros; later ones repeat the state
    order = MASK[:, ::-1] if go_backwards else MASK
    want_sequence = want_sequence * np.logical_or.accumulate(order, axis=1)[:, :, None]
    np.testing.assert_allclose(sequence.data, want_sequence, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state.data, want_state, rtol=1e-5, atol=1e-6)


def test_mask_from_embedding_and_masking_output():
    ids = np.array([[3, 1, 4, 0, 0], [2, 7, 1, 8, 2]], dtype="int32")
    model = dg.Sequential([layers.Input((5,), dtype="int32"), layers.Embedding(10, 3, mask_zero=True),
                           RNN(LSTMCell(4), return_sequences=True, zero_output_for_mask=True)])
    out = model.predict(ids, verbose=0)
    np.testing.assert_array_equal(out[0, 3:], 0.0)
    assert np.all(np.abs(out[0, :3]).sum(axis=-1) > 0)
    embedding = model.layers[0]
    emb = embedding(ids)
    assert emb._keras_mask is not None
    out = RNN(SimpleRNNCell(2), return_sequences=True)
    y = out(emb)
    np.testing.assert_array_equal(y._keras_mask, ids != 0)
    np.testing.assert_allclose(y.data[0, 3], y.data[0, 2])  # masked steps repeat the last output


def test_initial_state_and_get_initial_state():
    layer = RNN(LSTMCell(4), return_state=True)
    zeros = layer.get_initial_state(3)
    assert [s.shape for s in zeros] == [(3, 4), (3, 4)]
    layer(X)
    h0, c0 = RNG.standard_normal((3, 4)).astype(np.float32), RNG.standard_normal((3, 4)).astype(np.float32)
    fused = LSTM(4, return_state=True)
    fused(X)
    fused.set_weights(layer.get_weights())
    for u, v in zip(layer(X, initial_state=[h0, c0]), fused(X, initial_state=[dg.Tensor(h0), dg.Tensor(c0)])):
        np.testing.assert_allclose(u.data, v.data, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="takes 2 initial state"):
        layer(X, initial_state=[h0])


def test_stacked_cells_equal_two_layers():
    stacked = RNN(StackedRNNCells([LSTMCell(3), SimpleRNNCell(2)]), return_sequences=True, return_state=True)
    first, second = RNN(LSTMCell(3), return_sequences=True), RNN(SimpleRNNCell(2), return_sequences=True)
    outputs, (h1, c1), h2 = stacked(X)
    first(X), second(first(X))
    _randomize(stacked)
    first.set_weights(stacked.get_weights()[:3])
    second.set_weights(stacked.get_weights()[3:])
    outputs, (h1, c1), h2 = stacked(X, mask=MASK)
    hidden = first(X, mask=MASK)
    np.testing.assert_allclose(outputs.data, second(hidden, mask=MASK).data, rtol=1e-5, atol=1e-6)
    assert stacked.compute_output_shape((None, 6, 2)) == [(None, 6, 2), [(None, 3), (None, 3)], (None, 2)]


def test_stateful_rnn_carries_states():
    whole = RNN(GRUCell(4), return_sequences=True)
    halves = RNN(GRUCell(4), return_sequences=True, stateful=True)
    whole(X), halves(X)
    halves.set_weights(whole.get_weights())
    halves.reset_state()
    parts = [halves(X[:, :2]).data, halves(X[:, 2:]).data]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole(X).data, rtol=1e-5, atol=1e-6)
    halves.reset_states()
    np.testing.assert_allclose(halves(X[:, :2]).data, parts[0], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="stateful with batch size 3"):
        halves(X[:2])


def test_dropout_one_mask_per_sequence():
    """With a linear cell and zero recurrent kernel, h_t = (x_t * m) @ W: the dropped inputs are
    the same at every step, about ``rate`` of them, and nothing is dropped at inference."""
    cell = SimpleRNNCell(1, activation=None, use_bias=False, dropout=0.5, seed=3)
    layer = RNN(cell, return_sequences=True)
    x = np.ones((400, 5, 8), np.float32)
    layer(x)
    kernel = np.zeros((8, 1), np.float32)
    kernel[0] = 1.0  # h_t reads input feature 0 only
    layer.set_weights([kernel, np.zeros((1, 1), np.float32)])
    y = layer(x, training=True).data[..., 0]
    assert set(np.unique(y)) <= {0.0, 2.0}
    np.testing.assert_array_equal(y, y[:, :1].repeat(5, axis=1))  # one mask for all steps
    assert 0.4 < (y[:, 0] == 0).mean() < 0.6
    np.testing.assert_array_equal(layer(x, training=False).data[..., 0], 1.0)
    assert not np.array_equal(layer(x, training=True).data, y)  # a new mask for each call


# --------------------------------------------------------------------------- config and saving
def test_config_round_trip_with_custom_cell(tmp_path):
    layer = RNN(MinimalRNNCell(3), return_sequences=True, go_backwards=True)
    config = layer.get_config()
    json.dumps(config)
    assert config["cell"]["class_name"] == "MinimalRNNCell"
    with pytest.raises(ValueError, match="MinimalRNNCell"):
        RNN.from_config(dict(config))
    clone = RNN.from_config(dict(config), custom_objects={"MinimalRNNCell": MinimalRNNCell})
    assert isinstance(clone.cell, MinimalRNNCell) and clone.go_backwards and clone.return_sequences
    layer(X), clone(X)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(X).data, layer(X).data)


def test_save_and_load_model(tmp_path):
    inputs = layers.Input((6, 2))
    hidden = RNN([LSTMCell(4), GRUCell(3)], return_sequences=True)(inputs)
    outputs = RNN(MinimalRNNCell(2))(hidden)
    model = dg.Model(inputs, outputs)
    expected = model.predict(X, verbose=0)
    path = tmp_path / "rnn.keras"
    model.save(path)
    loaded = dg.models.load_model(path, custom_objects={"MinimalRNNCell": MinimalRNNCell})
    np.testing.assert_allclose(loaded.predict(X, verbose=0), expected, rtol=1e-6, atol=1e-6)
    assert isinstance(loaded.layers[-1].cell, MinimalRNNCell)


def test_errors_name_the_layer_and_argument():
    class NoState:
        def call(self, inputs, states):
            return inputs, states

    with pytest.raises(ValueError, match="state_size"):
        RNN(NoState())
    with pytest.raises(ValueError, match="units must be a positive integer"):
        LSTMCell(0)
    with pytest.raises(ValueError, match="dropout must be in"):
        GRUCell(2, recurrent_dropout=1.5)
    layer = RNN(SimpleRNNCell(2), name="seq")
    with pytest.raises(ValueError, match="'seq' expects inputs of shape"):
        layer(np.zeros((3, 2), np.float32))
    layer(X)
    with pytest.raises(ValueError, match="mask has shape"):
        layer(X, mask=MASK[:, :3])
    with pytest.raises(ValueError, match=r"takes one step of shape \(batch, 2\)"):
        layer.cell(np.zeros((3, 5), np.float32), [np.zeros((3, 2), np.float32)])


def test_cell_that_is_not_a_layer():
    """Any object with ``state_size`` and ``call`` is a cell: here a running sum with two states."""
    class RunningSum:
        state_size = [2, 2]
        output_size = 2

        def call(self, inputs, states):
            total = states[0] + inputs
            return total, [total, states[1] + 1.0]

    layer = RNN(RunningSum(), return_sequences=True, return_state=True)
    sequence, total, count = layer(X, mask=MASK)
    kept = MASK[:, :, None]
    np.testing.assert_allclose(total.data, (X * kept).sum(axis=1), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(count.data, MASK.sum(axis=1)[:, None].repeat(2, axis=1))
    np.testing.assert_allclose(sequence.data[1], np.cumsum(X[1], axis=0), rtol=1e-6, atol=1e-6)
    assert layer.weights == []
