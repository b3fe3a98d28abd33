"""The recurrent ops choose one or OpenBLAS's default number of threads for their per-step
GEMMs by timing; the choice must change only the speed, never a result."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad.ops.recurrent import common
from deepgrad.ops.recurrent.common import BlasThreads


def _run(op, rng_seed, units, gates, **kw):
    # big enough that OpenBLAS uses its threads (it stays on one below m n k = 64**3)
    rng = np.random.default_rng(rng_seed)
    x = dg.Tensor(rng.standard_normal((64, 7, 3)).astype(np.float32), requires_grad=True)
    bias_shape = (2, gates * units) if kw.get("reset_after") else (gates * units,)
    ws = [dg.Tensor(rng.standard_normal(s).astype(np.float32) * 0.5, requires_grad=True)
          for s in ((3, gates * units), (units, gates * units), bias_shape)]
    out = op(x, *ws, **kw)
    seq, last = out[0], out[1]
    (seq.sum() * 0.5 + (last * last).sum()).backward()
    return [seq.data, last.data, x.grad] + [w.grad for w in ws]


def _forced(threads: int):
    """Make every loop's chooser pick ``threads`` (1, or 0 for OpenBLAS's default) next."""
    common._choosers.clear()
    original = BlasThreads.choice
    BlasThreads.choice = lambda self: threads
    return original


@pytest.mark.parametrize("op, units, gates, kw", [
    (dg.lstm, 40, 4, {}), (dg.gru, 48, 3, {"reset_after": True}), (dg.gru, 48, 3, {"reset_after": False}),
    (dg.simple_rnn, 80, 1, {})])
def test_thread_count_changes_no_result(op, units, gates, kw):
    results = {}
    for threads in (0, 1):
        original = _forced(threads)
        try:
            results[threads] = _run(op, 3, units, gates, **kw)
        finally:
            BlasThreads.choice = original
            common._choosers.clear()
    for a, b in zip(results[0], results[1]):
        np.testing.assert_array_equal(a, b)


def test_chooser_tries_both_then_keeps_the_faster_and_retries_the_other(threaded_ways):
    chooser = BlasThreads()
    assert chooser.choice() == 0                 # first the default count
    chooser.seconds[0] = 2.0
    assert chooser.choice() == 1                 # then one thread
    chooser.seconds[1] = 1.0
    picks = []
    for calls in range(1, 17):
        chooser.calls = calls
        picks.append(chooser.choice())
    # one thread is faster: kept, except every 8th call, which times the default again
    assert picks == [1] * 7 + [0] + [1] * 7 + [0]
    chooser.seconds[0] = 0.5                     # the machine went quiet: the default wins
    chooser.calls = 9
    assert chooser.choice() == 0


def test_loop_restores_the_thread_setting_even_on_error():
    with BlasThreads().loop():
        pass
    set_local = BlasThreads._set_local
    if set_local is None:
        pytest.skip("no OpenBLAS with a thread-local setting in this process")
    before = set_local(3)  # set_local returns the settings it replaces
    set_local(before)
    chooser = BlasThreads()
    chooser.seconds, chooser.calls = {0: 2.0, 1: 1.0}, 1   # the next loop runs on one thread
    with pytest.raises(RuntimeError):
        with chooser.loop():
            inside = set_local(1)
            raise RuntimeError("inside the loop")
    after = set_local(before)
    assert set(inside) == {1} and after == before
    assert chooser.calls == 2


def test_loop_records_its_time_for_the_count_it_used(threaded_ways):
    chooser = BlasThreads()
    with chooser.loop():
        pass
    with chooser.loop():
        pass
    if BlasThreads._set_local is None:
        assert chooser.seconds == {}
    else:
        assert set(chooser.seconds) == {0, 1} and chooser.calls == 2


def test_threaded_ways_only_where_openblas_threads_keep_the_bits(monkeypatch):
    """Where OpenBLAS's threads change a product's bits, a timing choice would make a seeded run
    depend on the load: the chooser then offers the one-thread ways alone."""
    assert common._threads_keep_bits(lambda threads: threads)  # a setting that changes nothing
    BlasThreads()
    monkeypatch.setattr(BlasThreads, "_threaded_ways", False)
    assert BlasThreads((0, 1)).ways == (1,)
    chooser = BlasThreads((0, 1, common.PIPELINED, common.SPARE))
    assert chooser.ways == (1, common.PIPELINED)
    picks = set()
    for calls in range(40):
        chooser.calls = calls
        way = chooser.choice()
        picks.add(way)
        chooser.seconds[way] = 1.0 + way
    assert picks == {1, common.PIPELINED}
    single = BlasThreads((0, 1))
    single.seconds[1] = 1.0
    assert {(setattr(single, "calls", c) or single.choice()) for c in range(20)} == {1}
