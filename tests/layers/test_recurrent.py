"""SimpleRNN, LSTM and GRU, the Keras way: weights, shapes, config round trip,
and numbers against torch.nn and the unfused cell."""
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad.layers.recurrent import GRU, LSTM, SimpleRNN
from deepgrad.layers.rnn import RNN

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 6, 2)).astype(np.float32)
MASK = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1], [0, 1, 0, 1, 1, 0]], dtype=bool)


def _randomize(layer, scale=0.5):
    layer.set_weights([RNG.standard_normal(w.shape).astype(np.float32) * scale for w in layer.weights])


# --------------------------------------------------------------------------- weights and shapes
@pytest.mark.parametrize("layer, params, shapes", [
    (lambda: LSTM(64), 16_896, [(1, 256), (64, 256), (256,)]),
    (lambda: GRU(64), 12_864, [(1, 192), (64, 192), (2, 192)]),
    (lambda: GRU(64, reset_after=False), 12_672, [(1, 192), (64, 192), (192,)]),
    (lambda: SimpleRNN(64), 4_224, [(1, 64), (64, 64), (64,)]),
    (lambda: LSTM(8, use_bias=False), 288, [(1, 32), (8, 32)]),
])
def test_weight_shapes_and_counts_as_keras(layer, params, shapes):
    layer = layer()
    layer(np.zeros((2, 3, 1), np.float32))
    assert layer.count_params() == params
    assert [w.shape for w in layer.weights] == shapes
    assert [w.name.split("/")[-1] for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"][:len(shapes)]


def test_lstm_unit_forget_bias_and_orthogonal_recurrent_kernel():
    layer = LSTM(5)
    layer(X)
    np.testing.assert_array_equal(layer.bias.data, np.r_[np.zeros(5), np.ones(5), np.zeros(10)])
    r = layer.recurrent_kernel.data
    np.testing.assert_allclose(r @ r.T, np.eye(5), atol=1e-5)   # orthogonal rows (5 x 20)
    layer = LSTM(5, unit_forget_bias=False)
    layer(X)
    np.testing.assert_array_equal(layer.bias.data, np.zeros(20))


@pytest.mark.parametrize("cls, n_states", [(SimpleRNN, 1), (LSTM, 2), (GRU, 1)])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("return_state", [False, True])
def test_output_shapes(cls, n_states, return_sequences, return_state):
    layer = cls(4, return_sequences=return_sequences, return_state=return_state)
    out = layer(X)
    expected = layer.compute_output_shape((None, 6, 2))
    if return_state:
        assert isinstance(out, list) and len(out) == 1 + n_states
        assert [(None,) + o.shape[1:] for o in out] == expected
        np.testing.assert_array_equal(out[1].data, (out[0].data[:, -1] if return_sequences else out[0].data))
    else:
        assert (None,) + out.shape[1:] == expected
    first = expected[0] if return_state else expected
    assert first == ((None, 6, 4) if return_sequences else (None, 4))


@pytest.mark.parametrize("layer", [
    lambda: LSTM(3, return_sequences=True, go_backwards=True, dropout=0.25, kernel_regularizer="l2",
                 recurrent_initializer="glorot_uniform", unit_forget_bias=False, name="enc"),
    lambda: GRU(4, reset_after=False, return_state=True, bias_initializer="ones", recurrent_activation="hard_sigmoid"),
    lambda: SimpleRNN(2, activation="relu", use_bias=False, kernel_constraint="non_neg"),
])
def test_config_round_trip(layer):
    layer = layer()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    layer(X)
    clone(X)
    clone.set_weights(layer.get_weights())
    a, b = layer(X), clone(X)
    for u, v in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
        np.testing.assert_array_equal(u.data, v.data)


def test_unsupported_arguments_are_rejected():
    with pytest.raises(ValueError, match="recurrent_dropout must be in"):
        GRU(4, recurrent_dropout=1.0)
    with pytest.raises(ValueError, match="units must be a positive integer"):
        SimpleRNN(0)
    with pytest.raises(ValueError, match="dropout must be in"):
        LSTM(4, dropout=1.0)
    layer = LSTM(4, name="enc")
    layer(X)
    with pytest.raises(ValueError, match=r"'enc' was built for inputs of shape \(batch, time, 2\), got \(3, 6, 5\)"):
        layer(np.zeros((3, 6, 5), np.float32))
    with pytest.raises(ValueError, match="takes 2 initial state"):
        layer(X, initial_state=[np.zeros((3, 4), np.float32)])
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        GRU(3)(np.zeros((3, 2), np.float32))


# --------------------------------------------------------------------------- numbers
def test_lstm_layer_matches_torch_with_keras_weights():
    layer = LSTM(5, return_sequences=True, return_state=True)
    layer(X)
    _randomize(layer)
    kernel, recurrent, bias = layer.get_weights()
    ref = torch.nn.LSTM(2, 5, batch_first=True)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(torch.tensor(kernel.T))
        ref.weight_hh_l0.copy_(torch.tensor(recurrent.T))
        ref.bias_ih_l0.copy_(torch.tensor(bias))
        ref.bias_hh_l0.zero_()
    h0 = RNG.standard_normal((3, 5)).astype(np.float32)
    c0 = RNG.standard_normal((3, 5)).astype(np.float32)
    seq, h, c = layer(X, initial_state=[h0, c0])
    t_seq, (t_h, t_c) = ref(torch.tensor(X), (torch.tensor(h0)[None], torch.tensor(c0)[None]))
    np.testing.assert_allclose(seq.data, t_seq.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h.data, t_h[0].detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(c.data, t_c[0].detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer", [
    lambda: LSTM(4, return_sequences=True, return_state=True),
    lambda: LSTM(4, go_backwards=True, use_bias=False),
    lambda: GRU(4, return_sequences=True, return_state=True),
    lambda: GRU(4, reset_after=False, go_backwards=True, return_sequences=True),
    lambda: SimpleRNN(4, return_sequences=True, go_backwards=True),
    lambda: SimpleRNN(4, activation="relu", return_state=True),
])
@pytest.mark.parametrize("mask", [None, MASK])
def test_fused_op_equals_unfused_cell(layer, mask):
    """Same outputs and weight gradients from the fused op and the step-by-step cell."""
    layer = layer()
    layer(X)
    _randomize(layer)
    results = []
    # the layer's own call (the fused op) and RNN's step loop over the same cell
    for run in (layer.call, lambda x, mask: RNN.call(layer, x, mask=mask)):
        for w in layer.weights:
            w.grad = None
        outs = run(dg.Tensor(X), mask=mask)
        outs = outs if isinstance(outs, list) else [outs]
        sum(((o * (i + 1)) ** 2).sum() for i, o in enumerate(outs)).backward()
        results.append(([o.data for o in outs], [w.grad for w in layer.weights]))
    (fused, fused_grads), (unfused, unfused_grads) = results
    for a, b in zip(fused + fused_grads, unfused + unfused_grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_other_activations_follow_the_formula():
    layer = SimpleRNN(3, activation="elu", return_sequences=True)
    layer(X)
    _randomize(layer)
    k, r, b = layer.get_weights()
    h, expected = np.zeros((3, 3), np.float32), []
    for t in range(6):
        a = X[:, t] @ k + h @ r + b
        h = np.where(a > 0, a, np.expm1(a))
        expected.append(h)
    np.testing.assert_allclose(layer(X).data, np.stack(expected, axis=1), rtol=1e-5, atol=1e-6)


def test_mask_from_the_inputs_keeps_states_and_passes_on():
    layer = GRU(4, return_sequences=True)
    x = dg.Tensor(X)
    x._keras_mask = MASK               # what Embedding(mask_zero=True) attaches
    out = layer(x)
    explicit = layer(X, mask=MASK)
    np.testing.assert_array_equal(out.data, explicit.data)
    np.testing.assert_array_equal(out._keras_mask, MASK)
    seq = out.data
    np.testing.assert_array_equal(seq[0, 3:], np.broadcast_to(seq[0, 2], (3, 4)))  # repeats the last kept output
    np.testing.assert_array_equal(seq[2, 0], np.zeros(4))                            # nothing kept yet
    last = GRU(4)
    last(X)
    last.set_weights(layer.get_weights())
    np.testing.assert_array_equal(last(X, mask=MASK).data, seq[:, -1])
    assert last(x)._keras_mask is None  # a single output per sequence carries no mask
    zeros = GRU(4, return_sequences=True, zero_output_for_mask=True)
    zeros(X)
    zeros.set_weights(layer.get_weights())
    np.testing.assert_array_equal(zeros(x).data, np.where(MASK[:, :, None], seq, 0))


def test_input_dropout_shares_one_mask_over_time():
    layer = SimpleRNN(3, activation="linear", dropout=0.5, return_sequences=True)
    ones = np.ones((64, 5, 3), np.float32)
    layer(ones)
    layer.set_weights([np.eye(3, dtype=np.float32), np.zeros((3, 3), np.float32), np.zeros(3, np.float32)])
    np.testing.assert_array_equal(layer(ones).data, ones)          # inference: no dropout
    out = layer(ones, training=True).data
    assert set(np.unique(out)) == {0.0, 2.0}                        # inverted dropout at rate 0.5
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1], out.shape))  # same mask at every step
    assert 0.3 < out.mean() / 2 < 0.7


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_stateful_carries_states_across_calls(cls):
    """Two stateful calls on the halves of a sequence give the outputs of one call on all of it."""
    x = np.random.default_rng(3).standard_normal((2, 6, 3)).astype("float32")
    whole = cls(4, return_sequences=True)
    halves = cls(4, return_sequences=True, stateful=True)
    whole(x)
    halves(x[:, :3])
    halves.set_weights(whole.get_weights())
    halves.reset_state()
    first, second = halves(x[:, :3]).data, halves(x[:, 3:]).data
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole(x).data, rtol=1e-6, atol=1e-6)
    halves.reset_state()
    np.testing.assert_allclose(halves(x[:, :3]).data, first, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="stateful with batch size 2"):
        halves(x[:1])


def test_recurrent_dropout_one_mask_per_sequence():
    """Linear SimpleRNN with kernel 0, bias 1 and recurrent kernel I: h_1 = 1, h_t = m * h_{t-1} + 1,
    so each unit's mask m (0 or 1 / (1 - rate)) shows in h_2 and is the same at every step."""
    layer = SimpleRNN(1000, activation="linear", recurrent_dropout=0.25, seed=4, return_sequences=True)
    x = np.zeros((3, 4, 1), np.float32)
    layer(x)
    layer.set_weights([np.zeros((1, 1000), np.float32), np.eye(1000, dtype=np.float32),
                       np.ones(1000, np.float32)])
    h = layer(x, training=True).data
    m = h[:, 1] - 1.0
    np.testing.assert_allclose(np.unique(np.round(m, 5)), [0.0, 4 / 3], rtol=1e-5)
    assert 0.2 < (m == 0).mean() < 0.3
    np.testing.assert_allclose(h[:, 2], m * h[:, 1] + 1.0, rtol=1e-5)
    np.testing.assert_allclose(h[:, 3], m * h[:, 2] + 1.0, rtol=1e-5)
    np.testing.assert_allclose(layer(x, training=False).data[:, -1], 4.0)  # 1 + 1 + 1 + 1 at inference


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_recurrent_dropout_trains_and_is_off_at_inference(cls):
    layer = cls(4, recurrent_dropout=0.5, seed=0)
    plain = cls(4)
    layer(X), plain(X)
    plain.set_weights(layer.get_weights())
    np.testing.assert_allclose(layer(X, training=False).data, plain(X).data, rtol=1e-5, atol=1e-6)
    out = layer(X, training=True)
    assert not np.allclose(out.data, plain(X).data)
    dg.sum(out).backward()
    assert all(w.grad is not None and np.all(np.isfinite(w.grad)) for w in layer.trainable_weights)
