"""runtime.py: process tuning and the two-thread split, apart from backend's float policy."""
import importlib
import os
import sys
import threading
import time

import numpy as np
import pytest

from deepgrad import backend, runtime


def test_backend_keeps_only_the_numeric_policy():
    for name in ("floatx", "set_floatx", "epsilon", "set_epsilon", "rng", "seed", "get_rng_state", "to_floatx"):
        assert callable(getattr(backend, name)), name
    for name in ("keep_freed_memory", "short_blas_spin", "for_batch_halves"):
        assert not hasattr(backend, name) and callable(getattr(runtime, name)), name


def _two_cores(monkeypatch):
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    for name in runtime._ONE_THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_for_batch_halves_covers_the_axis_once(monkeypatch):
    _two_cores(monkeypatch)
    out = np.zeros(11)
    threads = set()
    second_started = threading.Event()

    def fill(rows):
        if rows.start:
            second_started.set()
        else:  # give the worker thread time to take its half (else this thread takes it back)
            second_started.wait(timeout=10)
        out[rows] += np.arange(11)[rows]
        threads.add(threading.get_ident())

    runtime.for_batch_halves(fill, 11, runtime._PARALLEL_MIN_SIZE)   # large: two halves, two threads
    np.testing.assert_array_equal(out, np.arange(11))
    assert len(threads) == 2

    calls = []
    runtime.for_batch_halves(calls.append, 11, runtime._PARALLEL_MIN_SIZE - 1)  # small: one call, all rows
    assert calls == [slice(None)]


def test_one_core_or_one_thread_asked_runs_the_plain_path(monkeypatch):
    _two_cores(monkeypatch)
    assert runtime.two_threads()
    calls = []
    for name, value in (("OMP_NUM_THREADS", "1"), ("OPENBLAS_NUM_THREADS", "1"), ("OMP_NUM_THREADS", "1,2")):
        monkeypatch.setenv(name, value)
        assert not runtime.two_threads()
        runtime.for_batch_halves(calls.append, 11, runtime._PARALLEL_MIN_SIZE)
        monkeypatch.delenv(name)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # more than one thread asked: split
    assert runtime.two_threads()
    monkeypatch.setattr(runtime, "_cores", lambda: 1)  # taskset -c 0
    assert not runtime.two_threads()
    runtime.for_batch_halves(calls.append, 11, runtime._PARALLEL_MIN_SIZE)
    assert calls == [slice(None)] * 4


def test_a_half_its_thread_never_started_runs_in_the_caller(monkeypatch):
    _two_cores(monkeypatch)
    blocker, release = threading.Event(), threading.Event()
    runtime._occupy_worker(lambda: (blocker.set(), release.wait(timeout=10)))  # the worker is busy
    blocker.wait(timeout=10)
    threads = []
    try:
        runtime.for_batch_halves(lambda rows: threads.append((rows, threading.get_ident())), 10,
                                 runtime._PARALLEL_MIN_SIZE)
    finally:
        release.set()
    me = threading.get_ident()
    assert threads == [(slice(0, 5), me), (slice(5, None), me)]


def test_an_error_in_one_half_waits_for_the_other(monkeypatch):
    _two_cores(monkeypatch)
    monkeypatch.setattr(runtime, "_TAKE_BACK_UNSTARTED", False)
    done, started = [], threading.Event()

    def fn(rows):
        if rows.start:
            started.set()
            time.sleep(0.05)
            done.append(rows)
        else:
            started.wait(timeout=10)  # the error comes while the other half is running
            raise ValueError("first half")

    with pytest.raises(ValueError, match="first half"):
        runtime.for_batch_halves(fn, 10, runtime._PARALLEL_MIN_SIZE)
    assert done == [slice(5, None)]  # the second half had finished before the error propagated


def test_for_both_halves_splits_at_a_multiple_whatever_the_size():
    for length, multiple, parts in [(11, 1, [slice(0, 6), slice(6, None)]), (37, 16, [slice(0, 16), slice(16, None)]),
                                    (100, 16, [slice(0, 48), slice(48, None)]), (15, 16, [slice(None)]),
                                    (1, 1, [slice(None)])]:
        out = np.zeros(length)
        calls, threads = [], set()

        def fill(rows):
            out[rows] += np.arange(length)[rows]
            calls.append(rows)
            threads.add(threading.get_ident())

        runtime.for_both_halves(fill, length, multiple)
        np.testing.assert_array_equal(out, np.arange(length))
        assert sorted(calls, key=lambda s: s.start or 0) == parts and len(threads) == len(parts)


def test_one_blas_thread_sets_and_restores_the_calling_threads_count():
    with runtime.one_blas_thread():
        pass
    setters = runtime.local_blas_setters()
    if not setters:
        pytest.skip("no OpenBLAS with a thread-local setting in this process")
    before = [fn(3) for fn in setters]           # each setter returns the count it replaces
    with runtime.one_blas_thread():
        inside = [fn(1) for fn in setters]
    after = [fn(n) for fn, n in zip(setters, before)]
    assert inside == [1] * len(setters) and after == [3] * len(setters)


def test_one_blas_thread_overlapping_in_two_threads_restores_the_count_once_both_leave():
    """The setter's count is the process's (OpenBLAS's pthreads builds): a second thread that comes in
    while the first is inside must not put back the 1 it saw when it leaves last."""
    setters = runtime.local_blas_setters()
    if not setters:
        pytest.skip("no OpenBLAS with openblas_set_num_threads_local in this process")
    before = [fn(3) for fn in setters]
    inside, leave = threading.Event(), threading.Event()

    def worker():
        with runtime.one_blas_thread():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=worker)
    try:
        with runtime.one_blas_thread():  # this thread comes in first and leaves first
            thread.start()
            assert inside.wait(10)
        still = [fn(1) for fn in setters]  # the worker is still inside: one BLAS thread
    finally:
        leave.set()
        thread.join()
    after = [fn(n) for fn, n in zip(setters, before)]
    assert still == [1] * len(setters) and after == [3] * len(setters)


def test_for_items_shared_runs_every_item_once_over_two_threads(monkeypatch):
    _two_cores(monkeypatch)
    runs, worker_took = [], threading.Event()
    me = threading.get_ident()

    def item(i, mine):
        mine.setdefault("thread", threading.get_ident())
        assert mine["thread"] == threading.get_ident()   # one dict per thread
        if threading.get_ident() != me:
            worker_took.set()
        elif i == 0:
            worker_took.wait(timeout=10)   # the worker takes item 1 while this thread holds item 0
        runs.append((i, threading.get_ident()))

    runtime.for_items_shared(item, 12, runtime._PARALLEL_MIN_SIZE)
    assert sorted(i for i, _ in runs) == list(range(12))
    assert {t for _, t in runs} == {me, next(t for _, t in runs if t != me)}

    calls = []
    runtime.for_items_shared(lambda i, mine: calls.append((i, id(mine), threading.get_ident())), 5,
                             runtime._PARALLEL_MIN_SIZE - 1)   # small: in order, in this thread, one dict
    assert [i for i, _, _ in calls] == list(range(5)) and len({(m, t) for _, m, t in calls}) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    calls.clear()
    runtime.for_items_shared(lambda i, mine: calls.append((i, threading.get_ident())), 5, runtime._PARALLEL_MIN_SIZE)
    assert calls == [(i, me) for i in range(5)]


def test_for_items_shared_takes_all_items_when_the_worker_is_busy(monkeypatch):
    _two_cores(monkeypatch)
    blocker, release = threading.Event(), threading.Event()
    runtime._occupy_worker(lambda: (blocker.set(), release.wait(timeout=10)))
    blocker.wait(timeout=10)
    calls = []
    try:
        runtime.for_items_shared(lambda i, mine: calls.append((i, threading.get_ident())), 6,
                                 runtime._PARALLEL_MIN_SIZE)
    finally:
        release.set()
    assert calls == [(i, threading.get_ident()) for i in range(6)]


def test_for_items_shared_stops_taking_items_after_an_error(monkeypatch):
    _two_cores(monkeypatch)
    done, started = [], threading.Event()
    me = threading.get_ident()

    def item(i, mine):
        if threading.get_ident() == me:
            started.wait(timeout=10)   # the worker holds an item when the error comes
            raise ValueError("an item")
        started.set()
        time.sleep(0.05)
        done.append(i)

    with pytest.raises(ValueError, match="an item"):
        runtime.for_items_shared(item, 100, runtime._PARALLEL_MIN_SIZE)
    assert len(done) == 1   # the worker's item finished before the error propagated; no more taken


def _in_worker_and_here(monkeypatch):
    """Splits whatever the size, the worker running its half (no take-back)."""
    _two_cores(monkeypatch)
    monkeypatch.setattr(runtime, "_TAKE_BACK_UNSTARTED", False)


def test_the_worker_is_one_persistent_thread(monkeypatch):
    _in_worker_and_here(monkeypatch)
    seen = []
    for _ in range(3):
        runtime.for_batch_halves(lambda rows: seen.append((rows.start or 0, threading.get_ident())), 4,
                                 runtime._PARALLEL_MIN_SIZE)
    workers = {t for start, t in seen if start}
    assert len(seen) == 6 and len(workers) == 1 and threading.get_ident() not in workers
    assert workers == {runtime._worker_ident}
    assert [t.name for t in threading.enumerate()].count("deepgrad-halves") == 1


def test_an_error_in_the_workers_half_propagates_after_both_halves(monkeypatch):
    _in_worker_and_here(monkeypatch)
    done = []

    def fn(rows):
        if rows.start:
            raise KeyError("second half")
        time.sleep(0.02)
        done.append(rows)

    with pytest.raises(KeyError, match="second half"):
        runtime.for_batch_halves(fn, 10, runtime._PARALLEL_MIN_SIZE)
    assert done == [slice(0, 5)]
    out = np.zeros(10)  # the worker still serves
    runtime.for_batch_halves(lambda rows: out.__setitem__(rows, 1), 10, runtime._PARALLEL_MIN_SIZE)
    assert out.sum() == 10


def test_nested_splits_cover_every_item_once(monkeypatch):
    """A split inside either half (the worker's one runs both its parts there) and no deadlock."""
    _in_worker_and_here(monkeypatch)
    out = np.zeros((4, 6))
    where = {}

    def outer(rows):
        def inner(cols):
            out[rows, cols] += 1
            where[(rows.start or 0, cols.start or 0)] = threading.get_ident()
        runtime.for_batch_halves(inner, 6, runtime._PARALLEL_MIN_SIZE)

    runtime.for_batch_halves(outer, 4, runtime._PARALLEL_MIN_SIZE)
    np.testing.assert_array_equal(out, np.ones((4, 6)))
    worker = runtime._worker_ident
    assert where[(2, 0)] == where[(2, 3)] == worker  # the worker's half split runs in the worker
    assert where[(0, 0)] == threading.get_ident()


def test_a_forked_child_starts_its_own_worker(monkeypatch):
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    _in_worker_and_here(monkeypatch)
    runtime.for_batch_halves(lambda rows: None, 2, runtime._PARALLEL_MIN_SIZE)  # the parent's worker exists
    parent_worker = runtime._worker_ident
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: split, and report the worker's id (or the error)
        try:
            out = np.zeros(8)
            runtime.for_batch_halves(lambda rows: out.__setitem__(rows, 1), 8, runtime._PARALLEL_MIN_SIZE)
            message = f"{int(out.sum())} {runtime._worker_ident}"
        except BaseException as err:
            message = f"error {err!r}"
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        message = f.read()
    os.waitpid(pid, 0)
    total, ident = message.split()
    assert total == "8" and ident != "None", message
    assert runtime._worker_ident == parent_worker  # the parent's worker is untouched


def test_the_affinity_is_read_again_within_a_second(monkeypatch):
    monkeypatch.setattr(runtime, "_share", 0)
    monkeypatch.setattr(runtime, "_affinity", [2, time.monotonic()])
    monkeypatch.setattr(runtime, "allowed_cores", lambda: 1)  # taskset -p after the last read
    assert runtime._cores() == 2  # read less than a second ago
    runtime._affinity[1] -= 1.5
    assert runtime._cores() == 1


def test_the_thread_variables_are_read_at_each_call(monkeypatch):
    """Through os.environ's dict and the answers kept per pair of values: every change is seen."""
    _two_cores(monkeypatch)
    for value, asked in (("1", True), ("4", False), (" 1 ", True), ("1,2", True), ("", False), ("2,1", False)):
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", value)
        assert runtime._one_thread_asked() is asked, value
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    assert runtime._one_thread_asked() is False

def test_every_compiled_loop_is_built_and_found():
    """The install builds every ``deepgrad/loops/*.pyx`` (a missing compiler would leave the NumPy
    passes to run in silence: here it fails), and ``compiled_loop`` finds their functions."""
    import glob

    sources = glob.glob(os.path.join(os.path.dirname(runtime.__file__), "loops", "*.pyx"))
    assert sources
    for source in sources:
        module = os.path.splitext(os.path.basename(source))[0]
        extension = importlib.import_module(f"deepgrad.loops.{module}")
        assert extension.__file__.endswith((".so", ".pyd")), extension.__file__
        assert runtime.compiled_loop(module, "__doc__") == extension.__doc__


def test_compiled_loops_turned_off_or_missing_are_none(monkeypatch):
    monkeypatch.setenv("DEEPGRAD_LOOPS", "0")
    assert runtime.compiled_loop("adam", "adam") is None
    monkeypatch.delenv("DEEPGRAD_LOOPS")
    monkeypatch.setitem(sys.modules, "deepgrad.loops.adam", None)  # not built: importing it fails
    assert runtime.compiled_loop("adam", "adam") is None
