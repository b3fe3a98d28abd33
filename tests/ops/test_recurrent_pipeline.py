"""The LSTM's off-path work (derivative factors forward, weight gradients backward) runs in
chunks of steps, inline or in a second thread (``common.SideWork``) when the loop's timing
favours it. Every way must give the same numbers bit for bit, and those numbers must be the
LSTM's (float64 reference cells)."""
import threading

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import runtime
from deepgrad.ops.recurrent import common, lstm_reference
from deepgrad.ops.recurrent.common import PIPELINED, SPARE, BlasThreads, SideWork

WAYS = (0, 1, PIPELINED, SPARE)


@pytest.fixture
def forced_way(monkeypatch):
    """``forced_way(w)``: every recurrent loop runs way ``w`` next (two cores allowed)."""
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    monkeypatch.setattr(common, "SPLIT_MIN_BATCH", 1 << 40)  # the plain path: no batch halves
    monkeypatch.setattr(common, "PIPELINE_WAYS", (0, 1, PIPELINED, SPARE))  # SPARE too, though not chosen by default
    common._choosers.clear()

    def force(way):
        common._choosers.clear()
        monkeypatch.setattr(BlasThreads, "choice", lambda self: way if way in self.ways else 1)
    yield force
    common._choosers.clear()


def _inputs(batch, steps, units, features, *, masked, states, seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, features)).astype(dtype)
    ws = [(rng.standard_normal(s) * 0.5).astype(dtype)
          for s in ((features, 4 * units), (units, 4 * units), (4 * units,))]
    h0 = [(rng.standard_normal((batch, units)) * 0.5).astype(dtype) for _ in range(2)] if states else [None, None]
    mask = rng.random((batch, steps)) > 0.3 if masked else None
    g_seq = rng.standard_normal((batch, steps, units)).astype(dtype)
    return x, ws, h0, mask, g_seq


def _run(op, arrays, *, go_backwards, use_sequence, retain=False):
    x, ws, h0, mask, g_seq = arrays
    x = dg.Tensor(x, requires_grad=True)
    ws = [dg.Tensor(w, requires_grad=True) for w in ws]
    h0 = [None if h is None else dg.Tensor(h, requires_grad=True) for h in h0]
    seq, h, c = op(x, *ws, *h0, mask=mask, go_backwards=go_backwards)
    loss = (h * h).sum() + (c * c).sum() * 0.5
    if use_sequence:
        loss = loss + (seq * dg.Tensor(g_seq)).sum()
    loss.backward(retain_graph=retain)
    grads = [x.grad] + [w.grad for w in ws] + [s.grad for s in h0 if s is not None]
    if retain:  # the second backward through the same graph reads the saved arrays again
        for t in [x, *ws, *[s for s in h0 if s is not None]]:
            t.grad = None
        loss.backward()
        grads += [x.grad] + [w.grad for w in ws]
    return [seq.data, h.data, c.data] + grads


@pytest.mark.parametrize("steps", [3, 5, 12])
@pytest.mark.parametrize("masked, go_backwards, states, use_sequence", [
    (False, False, False, False), (True, False, True, True), (False, True, True, False), (True, True, False, True)])
def test_every_way_gives_the_same_numbers(forced_way, steps, masked, go_backwards, states, use_sequence):
    arrays = _inputs(24, steps, 12, 3, masked=masked, states=states, seed=steps)
    results = {}
    for way in WAYS:
        forced_way(way)
        results[way] = _run(dg.lstm, arrays, go_backwards=go_backwards, use_sequence=use_sequence)
    for way in WAYS[1:]:
        for a, b in zip(results[0], results[way]):
            np.testing.assert_array_equal(a, b)


def test_spare_way_gives_the_same_numbers_at_a_threaded_shape(forced_way):
    """LSTM(64) at batch 128: OpenBLAS runs the chain's GEMMs on its two threads whenever the
    second thread is idle, and the numbers stay those of one thread."""
    BlasThreads()
    if not BlasThreads._threaded_ways:
        pytest.skip("OpenBLAS's threads change a product's bits on this machine: SPARE is not offered here")
    arrays = _inputs(128, 12, 64, 1, masked=False, states=True, seed=3)
    results = {}
    for way in (1, SPARE):
        forced_way(way)
        results[way] = _run(dg.lstm, arrays, go_backwards=False, use_sequence=True)
    for a, b in zip(results[1], results[SPARE]):
        np.testing.assert_array_equal(a, b)


def test_spare_chain_gemm_takes_blas_threads_only_while_the_second_thread_is_idle(monkeypatch):
    counts = []
    monkeypatch.setattr(BlasThreads, "_set_local", staticmethod(lambda n: counts.append(n) or (1,)))
    started, release = threading.Event(), threading.Event()

    def busy():
        started.set()
        release.wait(5)

    with SideWork(threaded=True, spare=True) as side:
        side.chain_gemm()                   # nothing queued: OpenBLAS's own count (0)
        side.chain_gemm()                   # unchanged: no second call of the setter
        side(busy)
        started.wait(5)
        side.chain_gemm()                   # a chunk running there: one thread here
        release.set()
    assert counts == [0, 1]
    assert side.submitted == side.done_there + side.done_here == 1
    inline = SideWork(threaded=False, spare=True)  # no second thread, nothing to lend
    inline.chain_gemm()
    assert counts == [0, 1] and not inline.spare


def test_chooser_backs_off_a_hopeless_way_and_forgives_it(threaded_ways):
    chooser = BlasThreads((0, 1))
    chooser.seconds = {0: 50.0, 1: 1.0}   # one thread is best; OpenBLAS's threads are 50x slower
    turns = [calls for calls in range(1, 200) if (setattr(chooser, "calls", calls) or chooser.choice()) == 0]
    assert turns == list(range(8, 200, 8))           # without strikes: every 8th call
    chooser.strikes[0] = 2                           # two hopeless trials: every 4th turn
    turns = [calls for calls in range(1, 200) if (setattr(chooser, "calls", calls) or chooser.choice()) == 0]
    assert turns == list(range(32, 200, 32))
    if BlasThreads._set_local is None:
        return
    chooser = BlasThreads((0, 1))
    chooser.seconds, chooser.calls = {0: 1.0, 1: 1e-9}, 8   # way 0's turn; any real loop is > 3e-9 s
    with chooser.loop() as way:
        assert way == 0
    assert chooser.strikes == {0: 1}
    chooser.seconds, chooser.calls = {0: 1.0, 1: 10.0}, 8   # now way 1's trial is within 3x: no strike
    chooser.strikes = {1: 3}
    chooser.calls = 8 * 8                                   # its turn comes (turn 8, a multiple of 2**3)
    with chooser.loop() as way:
        assert way == 1
    assert 1 not in chooser.strikes


def test_retained_graph_gives_the_same_numbers_every_way(forced_way):
    arrays = _inputs(16, 11, 8, 2, masked=False, states=True, seed=4)
    results = {}
    for way in WAYS:
        forced_way(way)
        results[way] = _run(dg.lstm, arrays, go_backwards=False, use_sequence=True, retain=True)
    for way in WAYS[1:]:
        for a, b in zip(results[0], results[way]):
            np.testing.assert_array_equal(a, b)
    first, second = results[0][3:7], results[0][9:]  # a retained graph's second backward: the same gradients
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("masked, go_backwards", [(False, False), (True, True)])
def test_pipelined_matches_float64_reference(forced_way, masked, go_backwards):
    arrays = _inputs(20, 13, 10, 3, masked=masked, states=True, seed=7)
    forced_way(PIPELINED)
    ours = _run(dg.lstm, arrays, go_backwards=go_backwards, use_sequence=True)
    arrays64 = tuple([a.astype(np.float64) for a in arrays[1]] if i == 1 else
                     [None if h is None else h.astype(np.float64) for h in arrays[2]] if i == 2 else
                     a if a is None or a.dtype == bool else a.astype(np.float64)
                     for i, a in enumerate(arrays))
    ref = _run(lstm_reference, arrays64, go_backwards=go_backwards, use_sequence=True)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5 * np.abs(b).max())


def test_pipelined_loops_hand_chunks_to_the_second_thread(forced_way, monkeypatch):
    ran = []
    original = SideWork._run

    def recording(self, task):
        fn, args = task
        ran.append((fn.__name__, args[-2], threading.current_thread().name))
        return original(self, task)

    monkeypatch.setattr(SideWork, "_run", recording)
    forced_way(PIPELINED)
    arrays = _inputs(16, 60, 8, 2, masked=False, states=False, seed=1)
    for attempt in range(5):  # on a busy machine the worker may not get a core before the loop ends
        ran.clear()
        _run(dg.lstm, arrays, go_backwards=False, use_sequence=False)
        # the worker ran what it started; the calls it had not started ran inline (not through _run)
        assert all(name.startswith("deepgrad-scan") for _, _, name in ran)
        assert len({(fn, t0) for fn, t0, _ in ran}) == len(ran)       # no chunk twice
        if ran:
            break
    assert ran


def test_side_work_runs_each_call_once_and_propagates_errors():
    started, release = threading.Event(), threading.Event()
    done = []

    def slow(k):
        started.set()
        release.wait(5)
        done.append(k)

    with SideWork(threaded=True) as side:
        side(slow, 0)
        started.wait(5)                  # the worker is inside the first call
        for k in range(1, 4):
            side(done.append, k)         # queued behind it: taken back and run here on exit
        release.set()
    assert sorted(done) == [0, 1, 2, 3]

    def failing():
        raise ValueError("in a chunk")

    with pytest.raises(ValueError, match="in a chunk"):
        with SideWork(threaded=True) as side:
            side(failing)
    later = []
    with pytest.raises(RuntimeError, match="in the loop"):
        with SideWork(threaded=True) as side:
            started.clear()
            release.clear()
            side(slow, 9)
            started.wait(5)
            side(later.append, 1)        # not started when the loop fails: cancelled, never run
            threading.Timer(0.05, release.set).start()  # the first call ends after the error, waited for
            raise RuntimeError("in the loop")
    assert later == [] and done[-1] == 9


def test_side_work_error_in_a_call_taken_back_waits_for_the_second_thread():
    """A call run here on leaving fails: the calls behind it are dropped, the one the second
    thread runs is waited for, and the error propagates; the next SideWork works as before."""
    started, release = threading.Event(), threading.Event()
    done, later = [], []

    def slow():
        started.set()
        release.wait(5)
        done.append("there")

    def failing():
        raise ValueError("taken back")

    with pytest.raises(ValueError, match="taken back"):
        with SideWork(threaded=True) as side:
            side(slow)
            started.wait(5)
            side(later.append, 1)         # taken back after `failing`: dropped
            side(failing)                 # the last queued: taken back first
            threading.Timer(0.05, release.set).start()
    assert done == ["there"] and later == []
    assert side.submitted == side.done_there + side.done_here == 3 and not side.tasks
    for _ in range(50):                   # many short loops: every call runs once, in one place or the other
        ran = []
        with SideWork(threaded=True) as side:
            for k in range(7):
                side(ran.append, k)
        assert sorted(ran) == list(range(7))
        assert side.submitted == side.done_there + side.done_here == 7


def test_side_work_inline_runs_at_once():
    seen = []
    with SideWork(threaded=False) as side:
        side(seen.append, 1)
        assert seen == [1]


def test_chooser_with_three_ways_tries_each_then_rotates_the_others(threaded_ways):
    chooser = BlasThreads((0, 1, PIPELINED))
    tried = []
    for way, seconds in zip(WAYS, (2.0, 1.5, 1.0)):
        tried.append(chooser.choice())
        chooser.seconds[way] = seconds
    assert tried == [0, 1, PIPELINED]
    picks = []
    for calls in range(1, 25):
        chooser.calls = calls
        picks.append(chooser.choice())
    # the pipelined way is fastest: kept, and every 8th call one of the other two, in turn
    assert picks == [PIPELINED] * 7 + [1] + [PIPELINED] * 7 + [0] + [PIPELINED] * 7 + [1]
