"""Ranks on one machine share its cores: each keeps its share of threads (deepgrad's second
thread, OpenBLAS's pool), and a gradient all-reduce spins in MPI's wait only when every rank
has a core of its own."""
import ctypes
import os

import numpy as np
import pytest

from deepgrad import runtime


def _blas_threads():
    for path in runtime._openblas_paths():
        lib = ctypes.CDLL(path)
        for name in ("openblas_get_num_threads", "scipy_openblas_get_num_threads64_"):
            if hasattr(lib, name):
                return getattr(lib, name)()
    pytest.skip("no OpenBLAS in this process")


def test_share_cores_limits_both_thread_pools_and_gives_them_back(monkeypatch):
    for name in runtime._ONE_THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    np.dot(np.ones((64, 64)), np.ones((64, 64)))  # OpenBLAS loaded
    cores, before = runtime.allowed_cores(), _blas_threads()
    try:
        assert runtime.share_cores(cores + 1) == 1
        assert _blas_threads() == 1 and not runtime.two_threads()
        if cores >= 4:
            assert runtime.share_cores(2) == cores // 2 and runtime.two_threads()
    finally:
        assert runtime.share_cores(1) == cores
    assert _blas_threads() == cores and runtime.two_threads() == (cores >= 2)
    for set_threads in runtime._blas_thread_setters():   # as the suite had it
        set_threads(before)


def test_a_users_thread_setting_is_kept(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    np.dot(np.ones((64, 64)), np.ones((64, 64)))
    before = _blas_threads()
    try:
        runtime.share_cores(64)
        assert _blas_threads() == before
    finally:
        runtime.share_cores(1)


PROGRAM = """
import os
for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.pop(name, None)
import sys
import deepgrad.distributed as hvd
from deepgrad import runtime
from deepgrad.distributed.collectives import GradientReducer
hvd.init()
cores, n = runtime.allowed_cores(), hvd.local_size()
reducer = GradientReducer(hvd.comm())
# each rank's record in a file of its own (mpiexec may cut the ranks' stdout lines into each other)
with open(f"rank_{hvd.rank()}.txt", "w") as record:
    print(hvd.rank(), runtime._cores(), runtime.two_threads(), reducer.wait, file=record)
assert runtime._cores() == max(1, cores // n)
assert reducer.wait == ("spin" if n <= cores else "yield")
hvd.shutdown()
assert runtime._cores() == cores
"""


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 3])
def test_ranks_take_their_share_and_choose_their_wait(run_ranks, tmp_path, n):
    done = run_ranks(n, PROGRAM, timeout=120)   # run in tmp_path
    assert done.returncode == 0, done.stderr[-3000:]
    lines = sorted(path.read_text().strip() for path in tmp_path.glob("rank_*.txt"))
    assert len(lines) == n and all(len(line.split()) == 4 for line in lines), lines
    cores = os.cpu_count() if runtime.allowed_cores() == 1 else runtime.allowed_cores()
    wait = "spin" if n <= cores else "yield"
    assert all(line.split()[3] == wait for line in lines), lines
