"""A large batch's recurrent scans run as two halves in two threads. Outputs and input/state
gradients equal the one-thread path bit for bit where OpenBLAS runs each half's GEMMs with the
kernel it runs the whole batch's with (the benchmark's LSTM(64) at batch 128), else within
float32 rounding; the weight gradients, the two halves' sums added, within float32 rounding."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers, runtime
from deepgrad.ops.recurrent import common
from blas_bits import column_halves_keep_bits

OPS = {  # name -> (op, gates, states, extra arguments)
    "lstm": (dg.lstm, 4, 2, {}),
    "gru": (dg.gru, 3, 1, {"reset_after": True}),
    "gru_reset_before": (dg.gru, 3, 1, {"reset_after": False}),
    "simple_rnn": (dg.simple_rnn, 1, 1, {}),
    "simple_rnn_relu": (dg.simple_rnn, 1, 1, {"activation": "relu"}),
}


@pytest.fixture
def halves(monkeypatch):
    """``halves(True)`` forces every scan of two or more samples into two threads, ``halves(False)``
    keeps every scan on the plain path; the returned list records the batch of each split."""
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    split_batches = []
    original = runtime.for_both_halves

    def recording(fn, length, multiple):
        split_batches.append(length)
        original(fn, length, multiple)

    monkeypatch.setattr(runtime, "for_both_halves", recording)

    def force(on: bool):
        monkeypatch.setattr(common, "SPLIT_MIN_BATCH", 2 if on else 1 << 40)
        monkeypatch.setattr(common, "SPLIT_MIN_STEP", 1)
        return split_batches
    return force


def _run(name, batch, steps, units, *, masked, go_backwards, states, use_sequence, seed=0, **kw):
    op, gates, n_states, extra = OPS[name]
    rng = np.random.default_rng(seed)
    features = 3
    x = dg.Tensor(rng.standard_normal((batch, steps, features)).astype(np.float32), requires_grad=True)
    bias_shape = (2, gates * units) if extra.get("reset_after") else (gates * units,)
    ws = [dg.Tensor((rng.standard_normal(s) * 0.5).astype(np.float32), requires_grad=True)
          for s in ((features, gates * units), (units, gates * units), bias_shape)]
    h0 = [dg.Tensor((rng.standard_normal((batch, units)) * 0.5).astype(np.float32), requires_grad=True)
          for _ in range(n_states)] if states else [None] * n_states
    mask = rng.random((batch, steps)) > 0.3 if masked else None
    out = op(x, *ws, *h0, mask=mask, go_backwards=go_backwards, **{**extra, **kw})
    seq, *last = out
    loss = sum((s * s).sum() for s in last)
    if use_sequence:  # return_sequences: the sequence gets a gradient too
        loss = loss + (seq * dg.Tensor(rng.standard_normal(seq.shape).astype(np.float32))).sum()
    loss.backward()
    return ([o.data for o in out], [x.grad] + [h.grad for h in h0 if h is not None], [w.grad for w in ws])


def _compare(plain, split, bitwise=False, atol_share=2e-6):
    (out_p, in_p, w_p), (out_s, in_s, w_s) = plain, split
    for a, b in zip(out_p + in_p, out_s + in_s):
        if bitwise:
            np.testing.assert_array_equal(a, b)
        else:  # OpenBLAS may sum a half's small GEMM in another order
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=atol_share * np.abs(a).max())
    for a, b in zip(w_p, w_s):   # sums over the batch in another order
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * np.abs(a).max())


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("masked, go_backwards, states, use_sequence", [
    (False, False, False, False), (True, False, True, True), (False, True, True, False), (True, True, False, True)])
def test_two_halves_give_the_plain_numbers(halves, name, masked, go_backwards, states, use_sequence):
    kw = dict(masked=masked, go_backwards=go_backwards, states=states, use_sequence=use_sequence)
    halves(False)
    plain = _run(name, 37, 6, 12, **kw)             # an odd batch: parts of 16 and 21
    split_batches = halves(True)
    split = _run(name, 37, 6, 12, **kw)
    assert split_batches == [37, 37]                # forward and backward each split once
    _compare(plain, split)


@pytest.mark.parametrize("name, units", [("lstm", 64), ("gru", 64), ("simple_rnn", 64)])
def test_benchmark_shape_is_bit_for_bit(halves, name, units):
    kw = dict(masked=True, go_backwards=False, states=True, use_sequence=True)
    halves(False)
    plain = _run(name, 128, 4, units, **kw)
    split_batches = halves(True)
    split = _run(name, 128, 4, units, **kw)
    assert split_batches == [128, 128]
    # where this BLAS sums a half's products in another order, the differences grow, over 128 samples and
    # four steps as far as a few units in the fifth digit of the largest gradient
    _compare(plain, split, bitwise=column_halves_keep_bits(np.float32), atol_share=1e-5)


@pytest.mark.parametrize("name", sorted(OPS))
def test_retained_graph_gives_the_same_gradients_twice(halves, name):
    halves(True)
    op, gates, n_states, extra = OPS[name]
    rng = np.random.default_rng(1)
    x = dg.Tensor(rng.standard_normal((20, 5, 2)).astype(np.float32), requires_grad=True)
    ws = [dg.Tensor((rng.standard_normal(s) * 0.5).astype(np.float32), requires_grad=True)
          for s in ((2, gates * 8), (8, gates * 8), (2, gates * 8) if extra.get("reset_after") else (gates * 8,))]
    seq = op(x, *ws, mask=rng.random((20, 5)) > 0.2, **extra)[0]
    loss = (seq * seq).sum()
    loss.backward(retain_graph=True)
    first = [t.grad.copy() for t in [x, *ws]]
    for t in [x, *ws]:
        t.grad = None
    loss.backward()
    for a, t in zip(first, [x, *ws]):
        np.testing.assert_array_equal(a, t.grad)


def test_threshold_keeps_small_batches_on_the_plain_path(monkeypatch):
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    assert not common.splits(8, 4 * 1024 * 8)      # batch 8 (RL's case): plain, however wide
    assert not common.splits(16, 4 * 1024 * 16)
    assert not common.splits(128, 4 * 4 * 128)     # little work per step: plain
    assert not common.splits(128, 4 * 64 * 128)    # LSTM(64), batch 128: plain (the split costs more)
    assert common.splits(512, 4 * 64 * 512)        # LSTM(64), batch 512: two halves
    assert common.splits(128, 4 * 256 * 128)       # LSTM(256), batch 128: two halves
    monkeypatch.setattr(runtime, "_cores", lambda: 1)
    assert not common.splits(512, 4 * 64 * 512)    # one core: plain


def test_stateful_layer_with_masks_and_sequences(halves):
    """The layer path: a stateful LSTM over two batches with a padding mask returns the same
    sequences, states and weight gradients whether its scans split or not."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 24, 7, 3)).astype(np.float32)
    x[:, :, 5:] = 0  # padding masked by Masking
    results = {}
    for split in (False, True):
        split_batches = halves(split)
        dg.utils.set_random_seed(3)
        model = dg.Sequential([layers.Input((7, 3), batch_size=24), layers.Masking(0.0),
                               layers.LSTM(10, return_sequences=True, stateful=True)])
        weights = model.trainable_weights
        runs = []
        for batch in x:
            out = model(batch)
            (out * out).sum().backward()
            runs.append([out.data] + [s.data.copy() for s in model.layers[-1].states] + [w.grad for w in weights])
            for w in weights:
                w.grad = None
        results[split] = runs
        assert split_batches == ([24] * 4 if split else [])  # two batches, forward and backward each
    for plain, split in zip(results[False], results[True]):
        for a, b in zip(plain[:3], split[:3]):
            if column_halves_keep_bits(np.float32):
                np.testing.assert_array_equal(a, b)
            else:  # this BLAS sums a half's product in another order
                np.testing.assert_allclose(b, a, rtol=1e-5, atol=2e-6 * np.abs(a).max())
        for a, b in zip(plain[3:], split[3:]):
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * np.abs(a).max())
