"""The gradient all-reduce in buckets started during backward: every bucket of a model cut
into small buckets starts inside backward, and training gives bit for bit the weights of
the same run reducing all buckets after backward, and those of one process with the global
batch (float64, 1e-10), Horovod's way on 2 ranks and Keras's DataParallel on 3."""
import pathlib

import numpy as np
import pytest
from conftest import load_ranks

pytestmark = pytest.mark.slow

MODEL = """
import sys
import numpy as np
import deepgrad as dg
from deepgrad import layers, optimizers, utils

def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(50, 6)), rng.integers(0, 3, 50)

def build(optimizer):
    utils.set_random_seed(1)
    model = dg.Sequential([layers.Input((6,)), layers.Dense(9, activation="tanh", dtype="float64"),
                           layers.Dense(8, activation="relu", dtype="float64"),
                           layers.Dense(3, activation="softmax", dtype="float64")])
    model.compile(optimizer, "sparse_categorical_crossentropy")
    return model
"""

PROGRAM = MODEL + """
import deepgrad.distributed as hvd
from deepgrad import distribution, process_group
from deepgrad.distributed.collectives import GradientReducer
style = sys.argv[1]
x, y = data()
hvd.init()
r, n = hvd.rank(), hvd.size()
group = process_group.current()

def train(overlap):
    # buckets of at most 200 bytes: each of the six weights a bucket of its own
    if style == "horovod":
        model = build(hvd.DistributedOptimizer(optimizers.Adam(0.01), bucket_bytes=200))
        reducer = model.optimizer._reducer
        fit = lambda: model.fit(x[r::n], y[r::n], batch_size=5, epochs=2, shuffle=False, verbose=0)
    else:
        distribution.set_distribution(distribution.DataParallel())
        if style == "keras+optimizer":   # the optimiser reduces, with DataParallel's shard weights
            model = build(hvd.DistributedOptimizer(optimizers.Adam(0.01), bucket_bytes=200))
            reducer = model.optimizer._reducer
        else:
            group.reducer = reducer = GradientReducer(hvd.comm(), bucket_bytes=200)
            model = build(optimizers.Adam(0.01))
        fit = lambda: model.fit(x, y, batch_size=5 * n, epochs=2, shuffle=True, verbose=0)
    started = []
    reduce = reducer.reduce
    def counted(grads, scale=None):   # the buckets this step started inside backward (0: none begun)
        started.append(reducer.buckets_started_in_backward if reducer._step is not None else 0)
        return reduce(grads, scale)
    reducer.reduce = counted
    if not overlap:   # every bucket reduced after backward, in one go
        group.start_gradients = lambda variables, optimizer: None
    fit()
    if not overlap:
        del group.start_gradients
    return model, reducer, started

overlapped, reducer, started = train(True)
buckets = len(next(iter(reducer._plans.values())).buckets)
assert buckets == 6, buckets
assert started and set(started) == {6}, started     # all six started inside backward, every step
after, _, started_after = train(False)
assert set(started_after) == {0}, started_after
for a, b in zip(overlapped.weights, after.weights):
    np.testing.assert_array_equal(a.data, b.data)            # bit for bit
np.savez(f"weights.{r}.npz", *[w.data for w in overlapped.weights])
"""


@pytest.mark.parametrize("style,n", [("horovod", 2), ("keras", 3), ("keras+optimizer", 3)])
def test_buckets_overlapped_with_backward_equal_one_process(run_ranks, style, n):
    result = run_ranks(n, PROGRAM, style)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = pathlib.Path(result.args[-2]).parent
    ranks = load_ranks(folder, n, stem="weights")
    for other in ranks[1:]:
        for a, b in zip(ranks[0], other):
            np.testing.assert_array_equal(a, b)
    scope = {}
    exec(MODEL, scope)
    x, y = scope["data"]()
    import deepgrad as dg
    model = scope["build"](dg.optimizers.Adam(0.01))
    if style == "horovod":   # rank r's batches are rows r, r + n, ...: one process's batch of 10 is two ranks' 5
        order = np.concatenate([np.concatenate([np.arange(r, 50, n)[k * 5:(k + 1) * 5] for r in range(n)])
                                for k in range(5)])
        model.fit(x[order], y[order], batch_size=5 * n, epochs=2, shuffle=False, verbose=0)
    else:
        model.fit(x, y, batch_size=5 * n, epochs=2, shuffle=True, verbose=0)
    for a, w in zip(ranks[0], model.weights):
        np.testing.assert_allclose(a, w.data, rtol=0, atol=1e-10)
    assert np.abs(ranks[0][0] - scope["build"](dg.optimizers.Adam(0.01)).weights[0].data).max() > 1e-3
