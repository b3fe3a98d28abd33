"""The fused LSTM's gates computed as ``σ(a) = (1 + tanh(a/2)) / 2`` from one ``tanh`` over
the gate block: at saturation, with infinite and with NaN inputs it gives what the plain
formulas (``1 / (1 + exp(-a))``, float64) and PyTorch give."""
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad.ops.recurrent import lstm


def _weights(features, units, scale, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) * scale for s in ((features, 4 * units), (units, 4 * units), (4 * units,))]


def plain_lstm(x, k, r, b):
    """The formulas in float64, sigmoid as 1 / (1 + exp(-a)): (h_seq, h_last, c_last)."""
    units = r.shape[0]
    h = np.zeros((x.shape[0], units))
    c = np.zeros_like(h)
    seq = []
    with np.errstate(over="ignore"):
        for t in range(x.shape[1]):
            a = x[:, t] @ k + h @ r + b
            i, f, cc, o = (a[:, g * units:(g + 1) * units] for g in range(4))
            sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
            c = sig(f) * c + sig(i) * np.tanh(cc)
            h = sig(o) * np.tanh(c)
            seq.append(h)
    return np.stack(seq, 1), h, c


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])  # 1e4: every gate saturated, a ~ ±1e4
def test_float32_matches_the_plain_formulas_up_to_saturation(scale):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 9, 3))
    k, r, b = _weights(3, 5, scale)
    got = lstm(dg.Tensor(x.astype(np.float32)), *(w.astype(np.float32) for w in (k, r, b)))
    # the float32 weights are what the op sees: the plain formulas on those same values
    want = plain_lstm(x.astype(np.float32).astype(np.float64),
                      *(w.astype(np.float32).astype(np.float64) for w in (k, r, b)))
    for g, w in zip(got, want):
        assert np.isfinite(g.data).all()
        # float32: a few ulp per step, compounding over 9 steps
        np.testing.assert_allclose(g.data, w, rtol=2e-5, atol=2e-6)


def test_saturated_gates_are_exactly_0_and_1_and_gradients_finite():
    x = np.ones((2, 3, 1), np.float32)
    k = np.array([[1e6, -1e6, 1e6, 1e6]], np.float32)   # i -> 1, f -> 0, c̃ -> 1, o -> 1
    r = np.zeros((1, 4), np.float32)
    kt = dg.Tensor(k, requires_grad=True)
    seq, h, c = lstm(dg.Tensor(x), kt, r, np.zeros(4, np.float32))
    np.testing.assert_array_equal(c.data, 1.0)                    # c = 0 c_prev + 1 * 1
    np.testing.assert_array_equal(h.data, np.float32(np.tanh(np.float32(1))))
    (seq.sum() + c.sum()).backward()
    assert np.isfinite(kt.grad).all()
    np.testing.assert_array_equal(kt.grad, 0.0)                  # every gate's derivative is 0


def test_infinite_inputs_give_the_limits_and_nan_stays_in_its_sample():
    rng = np.random.default_rng(2)
    k, r, b = (w.astype(np.float32) for w in _weights(2, 4, 0.7, seed=3))
    x = rng.standard_normal((4, 5, 2)).astype(np.float32)
    x[0, 2, 0] = np.inf
    x[1, 1, 1] = -np.inf
    x[2, 3, 0] = np.nan
    seq, h, c = lstm(dg.Tensor(x), k, r, b)
    want = plain_lstm(x.astype(np.float64), *(w.astype(np.float64) for w in (k, r, b)))
    with torch.no_grad():
        module = torch.nn.LSTM(2, 4, batch_first=True)
        params = {"weight_ih_l0": torch.from_numpy(k.T), "weight_hh_l0": torch.from_numpy(r.T),
                  "bias_ih_l0": torch.from_numpy(b), "bias_hh_l0": torch.zeros(16)}
        t_seq, (t_h, t_c) = torch.func.functional_call(module, params, (torch.from_numpy(x),))
    for g, w, t in zip((seq, h, c), want, (t_seq, t_h[0], t_c[0])):
        np.testing.assert_array_equal(np.isnan(g.data), np.isnan(w))   # same places, as NumPy
        np.testing.assert_array_equal(np.isnan(g.data), np.isnan(t.numpy()))  # and PyTorch give
        ok = ~np.isnan(w)
        np.testing.assert_allclose(g.data[ok], w[ok], rtol=2e-5, atol=2e-6)
    assert not np.isnan(seq.data[[0, 1, 3]]).any()              # other samples untouched by the NaN
    assert np.isnan(seq.data[2, 3:]).all() and not np.isnan(seq.data[2, :3]).any()
