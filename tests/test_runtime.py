"""runtime.py: process tuning and the two-thread split, apart from backend's float policy."""
import threading

import numpy as np
import pytest

from deepgrad import backend, runtime


def test_backend_keeps_only_the_numeric_policy():
    for name in ("floatx", "set_floatx", "epsilon", "set_epsilon", "rng", "seed", "get_rng_state", "to_floatx"):
        assert callable(getattr(backend, name)), name
    for name in ("keep_freed_memory", "short_blas_spin", "for_batch_halves"):
        assert not hasattr(backend, name) and callable(getattr(runtime, name)), name


def test_for_batch_halves_covers_the_axis_once(monkeypatch):
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    out = np.zeros(11)
    threads = set()

    def fill(rows):
        out[rows] += np.arange(11)[rows]
        threads.add(threading.get_ident())

    runtime.for_batch_halves(fill, 11, runtime._PARALLEL_MIN_SIZE)   # large: two halves, two threads
    np.testing.assert_array_equal(out, np.arange(11))
    assert len(threads) == 2

    calls = []
    runtime.for_batch_halves(calls.append, 11, runtime._PARALLEL_MIN_SIZE - 1)  # small: one call, all rows
    assert calls == [slice(None)]


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
    setters = runtime._local_blas_setters
    if not setters:
        pytest.skip("no OpenBLAS with a thread-local setting in this process")
    before = [fn(3) for fn in setters]           # each setter returns the count it replaces
    with runtime.one_blas_thread():
        inside = [fn(1) for fn in setters]
    after = [fn(n) for fn, n in zip(setters, before)]
    assert inside == [1] * len(setters) and after == [3] * len(setters)
