"""The LSTM's per-step element-wise chain work and its derivative factors as compiled loops
(``deepgrad.loops.lstm``) against the NumPy passes: the same bits in float32 and float64, masked
or not, with the output sequence used or not, in every way of the loops and over two halves of a
batch; on by default, off when turned off or not built."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import runtime
from deepgrad.ops.recurrent import common, compiled
from deepgrad.ops.recurrent.common import PIPELINED, SPARE, BlasThreads
from compiled_switch import extension, off_cases

extension("lstm")  # skips when not built
lstm_op = importlib.import_module("deepgrad.ops.recurrent.lstm")  # the module (the package's ``lstm`` is the op)
NAMES = ("lstm_cell", "lstm_gate_factors", "lstm_backward", "lstm_backward_in_place")


@pytest.fixture
def loops(monkeypatch):
    """The compiled loops, counting their calls; ``off()`` turns them off (the NumPy passes)."""
    monkeypatch.setattr(compiled, "loaded", {})
    monkeypatch.delenv("DEEPGRAD_LOOPS", raising=False)
    calls = {name: 0 for name in NAMES}
    counted = {}
    for name in NAMES:
        real = compiled.kernel(name)
        assert real is not None

        def loop(*args, real=real, name=name):
            calls[name] += 1
            return real(*args)
        counted[name] = loop

    class Switch:
        def on(self):
            for name in NAMES:
                monkeypatch.setitem(compiled.loaded, name, counted[name])

        def off(self):
            for name in NAMES:
                monkeypatch.setitem(compiled.loaded, name, None)

    switch = Switch()
    switch.calls = calls
    switch.on()
    return switch


def _inputs(batch, steps, units, features, *, masked, seed, dtype):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, features)).astype(dtype)
    ws = [(rng.standard_normal(s) * 0.7).astype(dtype) for s in ((features, 4 * units), (units, 4 * units),
                                                                 (4 * units,))]
    states = [(rng.standard_normal((batch, units)) * 0.5).astype(dtype) for _ in range(2)]
    mask = rng.random((batch, steps)) > 0.3 if masked else None
    g_seq = rng.standard_normal((batch, steps, units)).astype(dtype)
    return x, ws, states, mask, g_seq


def _run(arrays, *, go_backwards, use_sequence, use_cell, retain=False):
    x, ws, states, mask, g_seq = arrays
    leaves = [dg.Tensor(a, requires_grad=True) for a in (x, *ws, *states)]
    seq, h, c = dg.lstm(*leaves, mask=mask, go_backwards=go_backwards)
    loss = (h * h).sum()
    if use_cell:
        loss = loss + (c * c).sum() * 0.5
    if use_sequence:
        loss = loss + (seq * dg.Tensor(g_seq)).sum()
    loss.backward(retain_graph=retain)  # retained: the gate gradients go to a new array, else over the factors
    return [seq.data, h.data, c.data] + [t.grad for t in leaves]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("retain", [False, True])
@pytest.mark.parametrize("masked, go_backwards, use_sequence, use_cell", [
    (False, False, False, False), (True, False, True, True), (False, True, True, False), (True, True, False, True)])
def test_compiled_loops_give_the_numpy_passes_bits(loops, dtype, retain, masked, go_backwards, use_sequence,
                                                   use_cell):
    arrays = _inputs(9, 7, 5, 3, masked=masked, seed=1, dtype=dtype)
    options = dict(go_backwards=go_backwards, use_sequence=use_sequence, use_cell=use_cell, retain=retain)
    loops.off()
    expected = _run(arrays, **options)
    loops.on()
    got = _run(arrays, **options)
    # a retained graph keeps its factors (unless masked: the masked factors are a copy already)
    in_place = not retain or masked
    # the derivative factors a chunk of steps at a time: steps 0-4, 5, 6 (the last step a chunk of its own)
    chunks = len(lstm_op._chunks(7, 6))
    assert loops.calls == {"lstm_cell": 7, "lstm_gate_factors": chunks, "lstm_backward": 0 if in_place else 7,
                           "lstm_backward_in_place": 7 if in_place else 0}
    for k, (a, b) in enumerate(zip(expected, got)):
        np.testing.assert_array_equal(a, b, err_msg=f"result {k}")


def test_compiled_loops_in_every_way_and_over_batch_halves(loops, monkeypatch):
    """LSTM(64) at batch 128 (the benchmark's shape, 12 steps): one thread, OpenBLAS's threads,
    pipelined, spare, and the batch in two halves, each the NumPy passes' bits."""
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    monkeypatch.setattr(common, "PIPELINE_WAYS", (0, 1, PIPELINED, SPARE))
    arrays = _inputs(128, 12, 64, 1, masked=False, seed=2, dtype=np.float32)
    results = {}
    for split in (False, True):
        monkeypatch.setattr(common, "SPLIT_MIN_BATCH", 1 if split else 1 << 40)
        for way in (0, 1, PIPELINED, SPARE):
            common._choosers.clear()
            monkeypatch.setattr(BlasThreads, "choice", lambda self, way=way: way if way in self.ways else 1)
            for on in (False, True):
                loops.on() if on else loops.off()
                results[split, way, on] = _run(arrays, go_backwards=False, use_sequence=False, use_cell=False)
    common._choosers.clear()
    for key, result in results.items():
        for k, (a, b) in enumerate(zip(results[key[0], 1, False], result)):
            np.testing.assert_array_equal(a, b, err_msg=f"{key}: result {k}")


def test_on_by_default_off_when_turned_off_or_not_built(monkeypatch):
    for _ in off_cases(monkeypatch, compiled, "lstm"):
        assert all(compiled.kernel(name) is None for name in NAMES)
        arrays = _inputs(4, 3, 2, 2, masked=False, seed=3, dtype=np.float64)
        assert np.isfinite(_run(arrays, go_backwards=False, use_sequence=True, use_cell=True)[3]).all()
    assert all(compiled.kernel(name) is not None for name in NAMES)  # built, switch unset
