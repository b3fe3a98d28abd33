"""Gradients as views of the all-reduce's buckets: in ``fit`` backward writes every gradient
into its place in the flat buffer (nothing is packed: the reducer copies no gradient in) and
the optimiser is given those views; the weights are bit for bit those of the path that packs
s_r g_r into the buffer after backward, with one bucket and with several, for Horovod's 1 / 2
and for DataParallel's uneven shard weights (4/7 and 3/7: not a power of two)."""
import pathlib

import pytest

pytestmark = pytest.mark.slow

PROGRAM = """
import sys
import numpy as np
import deepgrad as dg
import deepgrad.distributed as hvd
from deepgrad import distribution, layers, optimizers, process_group, utils
from deepgrad.distributed.collectives import GradientReducer

style = sys.argv[1]
rng = np.random.default_rng(0)
x, y = rng.normal(size=(35, 6)), rng.integers(0, 3, 35)
hvd.init()
r, n = hvd.rank(), hvd.size()
group = process_group.current()
if style == "keras":
    distribution.set_distribution(distribution.DataParallel())

def train(views, bucket_bytes):
    utils.set_random_seed(1)
    model = dg.Sequential([layers.Input((6,)), layers.Dense(9, activation="relu", dtype="float64"),
                           layers.Dense(3, activation="softmax", dtype="float64")])
    if style == "horovod":
        optimizer = hvd.DistributedOptimizer(optimizers.Adam(0.01), bucket_bytes=bucket_bytes)
        reducer = optimizer._reducer
    else:
        optimizer = optimizers.Adam(0.01)
        group.reducer = reducer = GradientReducer(hvd.comm(), bucket_bytes=bucket_bytes)
    model.compile(optimizer, "sparse_categorical_crossentropy")
    packed, given = [], []
    put = reducer._put
    def counted_put(step, i, grad):   # a gradient copied into the buffer rather than computed there
        packed.append(grad is not step.plan.views[i])
        return put(step, i, grad)
    reducer._put = counted_put
    apply = optimizer.apply
    def seen_apply(grads, variables=None):   # the arrays the update is given: views of the buckets
        grads = list(grads)
        buffers = [b for plan in reducer._plans.values() for b, _ in plan.buckets]
        given.append(all(any(g.base is b for b in buffers) for g in grads))
        return apply(grads, variables)
    optimizer.apply = seen_apply
    if not views:   # the packing path: gradients as separate arrays, put times s_r after backward
        group.start_gradients = lambda variables, optimizer: None
    if style == "horovod":   # rows r, r + 2, ...: 18 and 17 rows, batches of 6 (the last 5 on rank 1)
        model.fit(x[r::n][:17], y[r::n][:17], batch_size=6, epochs=2, shuffle=False, verbose=0)
    else:                    # global batches of 7 rows: shards of 4 and 3
        model.fit(x, y, batch_size=7, epochs=2, shuffle=False, verbose=0)
    if not views:
        del group.start_gradients
    return model, packed, given, len(current_plan(reducer).buckets)

def current_plan(reducer):
    return next(iter(reducer._plans.values()))

for bucket_bytes, buckets in ((25 << 20, 1), (100, 4)):
    with_views, packed, given, count = train(True, bucket_bytes)
    assert count == buckets, (count, buckets)
    # with several buckets the hook hands each view over as backward completes it; with one, no hook
    steps = 2 * (3 if style == "horovod" else 5)
    assert packed == ([False] * 4 * steps if buckets > 1 else []), packed
    assert len(given) == steps and all(given), given
    packing, packed, given, _ = train(False, bucket_bytes)
    assert packed and all(packed)
    for a, b in zip(with_views.weights, packing.weights):
        np.testing.assert_array_equal(a.data, b.data)            # bit for bit
    assert np.abs(with_views.weights[0].data - packing.weights[0].data).max() == 0
open(f"ok.{r}", "w").close()
"""


@pytest.mark.parametrize("style", ["horovod", "keras"])
def test_gradients_written_into_the_buckets_equal_the_packed_ones(run_ranks, style):
    result = run_ranks(2, PROGRAM, style)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = pathlib.Path(result.args[-2]).parent
    assert sorted(p.name for p in folder.glob("ok.*")) == ["ok.0", "ok.1"]
