"""A rank that fails (an exception, kill -9) ends every rank within 60 s and is named; ranks
that disagree (different models, different numbers of batches) are told so, and never hang."""
import time

import pytest

pytestmark = pytest.mark.slow

PROGRAM = """
import os, signal, sys
import numpy as np
import deepgrad as dg
from deepgrad import callbacks, layers, optimizers
import deepgrad.distributed as hvd

hvd.init()
how = sys.argv[1]

class Fail(callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if hvd.rank() == 1 and batch == 3:
            if how == "raise":
                raise RuntimeError("a failure on purpose")
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)

units = 3 if how == "model" and hvd.rank() == 1 else 2
model = dg.Sequential([layers.Input((4,)), layers.Dense(units), layers.Dense(2)])
model.compile(hvd.DistributedOptimizer(optimizers.SGD(0.1)), "mse")
rng = np.random.default_rng(hvd.rank())
n = 300 if how == "batches" and hvd.rank() == 1 else 400
x, y = rng.random((n, 4)), rng.random((n, 2))
model.fit(x, y, batch_size=10, epochs=200, verbose=0, callbacks=[Fail()])
"""


def run(run_ranks, how, n=2):
    start = time.monotonic()
    result = run_ranks(n, PROGRAM, how, launcher=True, timeout=90)
    elapsed = time.monotonic() - start
    assert result.returncode != 0
    assert elapsed < 60, f"the job took {elapsed:.0f} s to end"
    return result.stderr


def test_killed_rank_ends_the_job_and_is_named(run_ranks):
    err = run(run_ranks, "kill", n=3)
    assert "deepgrad.distributed: rank 1 (pid" in err
    assert "was killed (signal 9); all 3 ranks were ended" in err


def test_exception_on_one_rank_aborts_all_and_names_it(run_ranks):
    err = run(run_ranks, "raise")
    assert "RuntimeError: a failure on purpose" in err
    assert "deepgrad.distributed: rank 1 of 2 on" in err and "failed with RuntimeError" in err
    assert "deepgrad.distributed: rank 1 (pid" in err and "raised an exception" in err


def test_different_numbers_of_batches_are_named(run_ranks):
    err = run(run_ranks, "batches")
    assert "different numbers of batches per epoch (rank 0: 40, rank 1: 30)" in err


def test_different_models_are_named(run_ranks):
    err = run(run_ranks, "model")
    assert "the ranks hold different models (rank 0: 4 weights, 16 parameters" in err
    assert "rank 1: 4 weights, 23 parameters" in err
