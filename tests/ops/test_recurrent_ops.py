"""Fused LSTM, GRU and simple RNN ops against torch.nn.LSTM / GRU / RNN, a per-step NumPy
reference (masks, reset_after=False), their own reference cells built from differentiable ops
(values and every gradient) and float64 central differences."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from oracle import check_gradients, compare_with_torch

import deepgrad as dg
from deepgrad.ops import recurrent
from deepgrad.ops.recurrent import gru, lstm, simple_rnn

shapes = st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 5), st.integers(1, 6))  # B, T, F, U


def _arrays(shape, gates, dtype, n_states, bias_shape=None, seed=0):
    batch, steps, features, units = shape
    rng = np.random.default_rng(seed)
    bias_shape = bias_shape or (gates * units,)
    arrays = [rng.standard_normal((batch, steps, features)),
              rng.standard_normal((features, gates * units)) * 0.6,
              rng.standard_normal((units, gates * units)) * 0.6,
              rng.standard_normal(bias_shape) * 0.5]
    arrays += [rng.standard_normal((batch, units)) * 0.5 for _ in range(n_states)]
    return [a.astype(dtype) for a in arrays]


def _flat(*outputs):
    """All outputs side by side, so one upstream gradient drives every one of them."""
    return dg.concatenate([o.reshape(o.shape[0], -1) for o in outputs], axis=1)


def _torch_flat(*outputs):
    return torch.cat([o.reshape(o.shape[0], -1) for o in outputs], dim=1)


def _regate(w, order, units):
    """Reorder the gate blocks of the last axis of ``w``."""
    return torch.cat([w[..., g * units:(g + 1) * units] for g in order], dim=-1)


# --------------------------------------------------------------------------- torch references
def torch_lstm(x, k, r, b, h0, c0, go_backwards=False):
    units = r.shape[0]
    module = torch.nn.LSTM(x.shape[2], units, batch_first=True).to(x.dtype)
    params = {"weight_ih_l0": k.T, "weight_hh_l0": r.T, "bias_ih_l0": b, "bias_hh_l0": torch.zeros_like(b)}
    seq, (h, c) = torch.func.functional_call(module, params, (x.flip(1) if go_backwards else x, (h0[None], c0[None])))
    return seq, h[0], c[0]


def torch_gru(x, k, r, b, h0, go_backwards=False):
    units = r.shape[0]
    module = torch.nn.GRU(x.shape[2], units, batch_first=True).to(x.dtype)
    rzn = (1, 0, 2)  # torch's gates r, z, n from Keras's z, r, h
    params = {"weight_ih_l0": _regate(k, rzn, units).T, "weight_hh_l0": _regate(r, rzn, units).T,
              "bias_ih_l0": _regate(b[0], rzn, units), "bias_hh_l0": _regate(b[1], rzn, units)}
    seq, h = torch.func.functional_call(module, params, (x.flip(1) if go_backwards else x, h0[None]))
    return seq, h[0]


def torch_rnn(x, k, r, b, h0, activation="tanh", go_backwards=False):
    module = torch.nn.RNN(x.shape[2], r.shape[0], nonlinearity=activation, batch_first=True).to(x.dtype)
    params = {"weight_ih_l0": k.T, "weight_hh_l0": r.T, "bias_ih_l0": b, "bias_hh_l0": torch.zeros_like(b)}
    seq, h = torch.func.functional_call(module, params, (x.flip(1) if go_backwards else x, h0[None]))
    return seq, h[0]


# --------------------------------------------------------------------------- per-step NumPy references
def _sig(a):
    return 1 / (1 + np.exp(-a))


def lstm_cell(x, state, k, r, b):
    h, c = state
    i, f, g, o = np.split(x @ k + h @ r + b, 4, axis=-1)
    c = _sig(f) * c + _sig(i) * np.tanh(g)
    return _sig(o) * np.tanh(c), (_sig(o) * np.tanh(c), c)


def gru_cell(x, state, k, r, b, reset_after=True):
    (h,) = state
    U = h.shape[1]
    if reset_after:
        xz, xr, xh = np.split(x @ k + b[0], 3, axis=-1)
        hz, hr, hh = np.split(h @ r + b[1], 3, axis=-1)
        z, rr = _sig(xz + hz), _sig(xr + hr)
        cand = np.tanh(xh + rr * hh)
    else:
        xz, xr, xh = np.split(x @ k + b, 3, axis=-1)
        z, rr = _sig(xz + h @ r[:, :U]), _sig(xr + h @ r[:, U:2 * U])
        cand = np.tanh(xh + (rr * h) @ r[:, 2 * U:])
    h = z * h + (1 - z) * cand
    return h, (h,)


def rnn_cell(x, state, k, r, b, activation="tanh"):
    a = x @ k + state[0] @ r + b
    h = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0), "sigmoid": _sig, "linear": lambda v: v}[activation](a)
    return h, (h,)


def reference(cell, x, states, mask=None, go_backwards=False, **kwargs):
    """Keras's rule: a masked step keeps the state and repeats the previous output."""
    steps = range(x.shape[1])[::-1] if go_backwards else range(x.shape[1])
    outputs, prev_out = [], states[0]
    for t in steps:
        out, new = cell(x[:, t], states, **kwargs)
        if mask is not None:
            m = mask[:, t:t + 1]
            new = tuple(np.where(m, n, s) for n, s in zip(new, states))
            out = np.where(m, out, prev_out)
        states, prev_out = new, out
        outputs.append(out)
    return (np.stack(outputs, axis=1), *states)


# --------------------------------------------------------------------------- against PyTorch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(shape=shapes, go_backwards=st.booleans())
def test_lstm_matches_torch(dtype, shape, go_backwards):
    compare_with_torch(lambda *a: _flat(*lstm(*a, go_backwards=go_backwards)),
                       lambda *a: _torch_flat(*torch_lstm(*a, go_backwards=go_backwards)),
                       _arrays(shape, 4, dtype, n_states=2))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(shape=shapes, go_backwards=st.booleans())
def test_gru_reset_after_matches_torch(dtype, shape, go_backwards):
    compare_with_torch(lambda *a: _flat(*gru(*a, go_backwards=go_backwards)),
                       lambda *a: _torch_flat(*torch_gru(*a, go_backwards=go_backwards)),
                       _arrays(shape, 3, dtype, n_states=1, bias_shape=(2, 3 * shape[3])))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@given(shape=shapes, go_backwards=st.booleans())
def test_simple_rnn_matches_torch(dtype, activation, shape, go_backwards):
    compare_with_torch(lambda *a: _flat(*simple_rnn(*a, go_backwards=go_backwards, activation=activation)),
                       lambda *a: _torch_flat(*torch_rnn(*a, activation=activation, go_backwards=go_backwards)),
                       _arrays(shape, 1, dtype, n_states=1))


def test_outputs_keep_float32_and_shapes():
    x, k, r, b, h0, c0 = _arrays((3, 5, 2, 4), 4, np.float32, n_states=2)
    seq, h, c = lstm(dg.Tensor(x), k, r, b)   # states default to zeros
    assert seq.shape == (3, 5, 4) and h.shape == c.shape == (3, 4)
    assert seq.dtype == h.dtype == c.dtype == np.float32
    np.testing.assert_array_equal(seq.data[:, -1], h.data)
    seq, h = gru(dg.Tensor(x), k[:, :12], r[:, :12], None)
    assert seq.dtype == np.float32 and seq.shape == (3, 5, 4)


# --------------------------------------------------------------------------- reset_after=False, masks
@pytest.mark.parametrize("go_backwards", [False, True])
def test_gru_reset_before_matches_formula(go_backwards):
    x, k, r, b, h0 = _arrays((3, 6, 2, 4), 3, np.float64, n_states=1)
    seq, h = gru(x, k, r, b, h0, go_backwards=go_backwards, reset_after=False)
    ref_seq, ref_h = reference(gru_cell, x, (h0,), go_backwards=go_backwards, k=k, r=r, b=b, reset_after=False)
    np.testing.assert_allclose(seq.data, ref_seq, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h.data, ref_h, rtol=1e-12, atol=1e-12)


MASK = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=bool)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("op, cell, gates, states, kwargs", [
    (lstm, lstm_cell, 4, 2, {}),
    (gru, gru_cell, 3, 1, {"reset_after": True}),
    (gru, gru_cell, 3, 1, {"reset_after": False}),
    (simple_rnn, rnn_cell, 1, 1, {"activation": "tanh"}),
    (simple_rnn, rnn_cell, 1, 1, {"activation": "relu"}),
])
def test_mask_matches_per_step_reference(op, cell, gates, states, kwargs, go_backwards):
    bias_shape = (2, 9) if kwargs.get("reset_after") else None
    x, k, r, b, *s = _arrays((3, 5, 2, 3), gates, np.float64, n_states=states, bias_shape=bias_shape)
    got = op(x, k, r, b, *s, mask=MASK, go_backwards=go_backwards, **kwargs)
    want = reference(cell, x, tuple(s), mask=MASK, go_backwards=go_backwards, k=k, r=r, b=b, **kwargs)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.data, w, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- central differences
@pytest.mark.parametrize("mask", [None, MASK[:2, :4]])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("op, gates, states, kwargs", [
    (lstm, 4, 2, {}),
    (gru, 3, 1, {"reset_after": True}),
    (gru, 3, 1, {"reset_after": False}),
    (simple_rnn, 1, 1, {"activation": "tanh"}),
    (simple_rnn, 1, 1, {"activation": "sigmoid"}),
    (simple_rnn, 1, 1, {"activation": "linear"}),
])
def test_central_differences(op, gates, states, kwargs, go_backwards, mask):
    bias_shape = (2, 6) if kwargs.get("reset_after") else None
    arrays = _arrays((2, 4, 2, 2), gates, np.float64, n_states=states, bias_shape=bias_shape, seed=3)
    check_gradients(lambda *a: _flat(*op(*a, mask=mask, go_backwards=go_backwards, **kwargs)), arrays)


# --------------------------------------------------------------------------- errors
def test_bad_shapes_name_the_op_and_both_shapes():
    x, k, r, b, h0, c0 = _arrays((2, 3, 2, 4), 4, np.float64, n_states=2)
    with pytest.raises(ValueError, match=r"lstm: kernel has shape \(3, 16\), expected \(2, 16\)"):
        lstm(x, np.zeros((3, 16)), r, b, h0, c0)
    with pytest.raises(ValueError, match=r"gru: bias has shape \(12,\), expected \(2, 12\)"):
        gru(x, k[:, :12], r[:, :12], b[:12])
    with pytest.raises(ValueError, match=r"simple_rnn: h0 has shape \(3, 4\), expected \(2, 4\)"):
        simple_rnn(x, k[:, :4], r[:, :4], b[:4], np.zeros((3, 4)))
    with pytest.raises(ValueError, match="must be \\(batch, time, features\\)"):
        lstm(x[0], k, r, b)
    with pytest.raises(ValueError, match=r"mask has shape \(2, 2\)"):
        lstm(x, k, r, b, mask=np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="activation must be one of"):
        simple_rnn(x, k[:, :4], r[:, :4], b[:4], activation="elu")


# --------------------------------------------------------------------------- fused op against its reference cell
REFERENCES = {
    "lstm": (lstm, recurrent.lstm_reference, 4, 2, {}),
    "gru": (gru, recurrent.gru_reference, 3, 1, {"reset_after": True}),
    "gru_reset_before": (gru, recurrent.gru_reference, 3, 1, {"reset_after": False}),
    "simple_rnn_tanh": (simple_rnn, recurrent.simple_rnn_reference, 1, 1, {"activation": "tanh"}),
    "simple_rnn_relu": (simple_rnn, recurrent.simple_rnn_reference, 1, 1, {"activation": "relu"}),
    "simple_rnn_sigmoid": (simple_rnn, recurrent.simple_rnn_reference, 1, 1, {"activation": "sigmoid"}),
    "simple_rnn_linear": (simple_rnn, recurrent.simple_rnn_reference, 1, 1, {"activation": "linear"}),
}


def _values_and_gradients(fn, arrays, upstream_seed=5):
    """Every output of ``fn`` and the gradient of every input (x, weights, initial states),
    driven by one random upstream gradient per output."""
    inputs = [dg.Tensor(a, requires_grad=True) for a in arrays]
    outputs = fn(*inputs)
    rng = np.random.default_rng(upstream_seed)
    upstream = [rng.standard_normal(o.shape) for o in outputs]
    sum((o * u).sum() for o, u in zip(outputs, upstream)).backward()
    return [o.data for o in outputs], [t.grad for t in inputs]


@pytest.mark.parametrize("name", sorted(REFERENCES))
@given(shape=shapes, go_backwards=st.booleans(), masked=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_fused_op_matches_its_reference_cell(name, shape, go_backwards, masked, seed):
    op, ref, gates, states, kwargs = REFERENCES[name]
    bias_shape = (2, 3 * shape[3]) if kwargs.get("reset_after") else None
    arrays = _arrays(shape, gates, np.float64, n_states=states, bias_shape=bias_shape, seed=seed)
    mask = np.random.default_rng(seed).random(shape[:2]) < 0.7 if masked else None
    got_values, got_grads = _values_and_gradients(
        lambda *a: op(*a, mask=mask, go_backwards=go_backwards, **kwargs), arrays)
    want_values, want_grads = _values_and_gradients(
        lambda *a: ref(*a, mask=mask, go_backwards=go_backwards, **kwargs), arrays)
    assert len(got_values) == len(want_values) == 1 + states
    for i, (g, w) in enumerate(zip(got_values, want_values)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12, err_msg=f"output {i}")
    for i, (g, w) in enumerate(zip(got_grads, want_grads)):
        assert g is not None and w is not None, f"input {i}: no gradient"
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-11, err_msg=f"gradient of input {i}")


def test_reference_cells_are_the_formulas():
    """The reference cells against the per-step NumPy formulas of this file, one step."""
    x, k, r, b, h0, c0 = _arrays((3, 1, 2, 4), 4, np.float64, n_states=2)
    h, c = recurrent.lstm_cell(x[:, 0], h0, c0, k, r, b)
    want_h, (_, want_c) = lstm_cell(x[:, 0], (h0, c0), k, r, b)
    np.testing.assert_allclose(h.data, want_h, rtol=1e-13)
    np.testing.assert_allclose(c.data, want_c, rtol=1e-13)
    for reset_after, b3 in ((True, np.stack([b[:12], b[4:]])), (False, b[:12])):
        h = recurrent.gru_cell(x[:, 0], h0, k[:, :12], r[:, :12], b3, reset_after=reset_after)
        np.testing.assert_allclose(h.data, gru_cell(x[:, 0], (h0,), k[:, :12], r[:, :12], b3, reset_after)[0],
                                   rtol=1e-13)
    h = recurrent.simple_rnn_cell(x[:, 0], h0, k[:, :4], r[:, :4], b[:4], activation="relu")
    np.testing.assert_allclose(h.data, rnn_cell(x[:, 0], (h0,), k[:, :4], r[:, :4], b[:4], "relu")[0], rtol=1e-13)


# --------------------------------------------------------------------------- backward twice
@pytest.mark.parametrize("mask", [None, MASK[:, :4]])
@pytest.mark.parametrize("name", ["lstm", "gru", "gru_reset_before", "simple_rnn_tanh"])
def test_second_backward_with_retained_graph_gives_the_same_gradients(name, mask):
    op, _, gates, states, kwargs = REFERENCES[name]
    bias_shape = (2, 9) if kwargs.get("reset_after") else None
    arrays = _arrays((3, 4, 2, 3), gates, np.float64, n_states=states, bias_shape=bias_shape, seed=7)
    inputs = [dg.Tensor(a, requires_grad=True) for a in arrays]
    outputs = op(*inputs, mask=mask, **kwargs)
    rng = np.random.default_rng(2)
    loss = sum((o * rng.standard_normal(o.shape)).sum() for o in outputs)
    loss.backward(retain_graph=True)
    first = [t.grad.copy() for t in inputs]
    for t in inputs:
        t.grad = None
    loss.backward()
    for i, (t, g) in enumerate(zip(inputs, first)):
        np.testing.assert_array_equal(t.grad, g, err_msg=f"gradient of input {i}")
