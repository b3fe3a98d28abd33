"""allreduce/allgather/broadcast on arrays and Tensors, the fused and bucketed gradient
all-reduce, and the ranks' numbers, checked on 3 ranks against values computed by hand."""
import pathlib

import pytest

pytestmark = pytest.mark.slow

PROGRAM = """
import numpy as np
import deepgrad as dg
import deepgrad.distributed as hvd
from deepgrad.distributed.collectives import GradientReducer

hvd.init()
r, n = hvd.rank(), hvd.size()
assert n == 3 and hvd.local_rank() == r and hvd.local_size() == 3 and hvd.cross_rank() == 0

def value(k, shape=(2, 3), dtype=np.float64):
    return (np.arange(np.prod(shape)).reshape(shape) * (k + 1) + k).astype(dtype)

every = [value(k) for k in range(n)]
np.testing.assert_allclose(hvd.allreduce(value(r)), sum(every) / n, rtol=1e-15)
np.testing.assert_array_equal(hvd.allreduce(value(r), op=hvd.Sum), sum(every))
np.testing.assert_array_equal(hvd.allreduce(value(r), op=hvd.Max), np.maximum.reduce(every))
t = hvd.allreduce(dg.Tensor(value(r, dtype=np.float32)), op=hvd.Min)
assert isinstance(t, dg.Tensor) and t.dtype == np.float32
np.testing.assert_array_equal(t.data, np.minimum.reduce([v.astype(np.float32) for v in every]))

gathered = hvd.allgather(np.full((r + 1, 2), r, np.int64))   # first dimensions 1, 2, 3
np.testing.assert_array_equal(gathered, np.repeat(np.arange(3), [1, 2, 3])[:, None].repeat(2, 1))
np.testing.assert_array_equal(hvd.broadcast(value(r), root_rank=2), value(2))
assert hvd.broadcast_object({"rank": r}, root_rank=1) == {"rank": 1}

variables = [dg.Tensor(value(r)), dg.Tensor(value(r, (4,)))]
hvd.broadcast_variables(variables, root_rank=1)
np.testing.assert_array_equal(variables[0].data, value(1)) ; np.testing.assert_array_equal(variables[1].data, value(1, (4,)))

# fused all-reduce: two dtypes, buckets of at most 64 bytes, scales w_r / sum(w) with w_r = r + 1
shapes = [((5, 3), np.float64), ((7,), np.float32), ((4, 4), np.float64), ((2,), np.float64), ((3, 2), np.float32)]
grads = lambda k: [value(k, s, d) / 7 for s, d in shapes]
reducer = GradientReducer(hvd.comm(), bucket_bytes=64)
assert len(reducer._plan([(g.shape, g.dtype) for g in grads(r)]).buckets) > 3
weights = [k + 1.0 for k in range(n)]
out = reducer.reduce(grads(r), scale=weights[r] / sum(weights))
for i, (shape, dtype) in enumerate(shapes):
    expected = sum(w * grads(k)[i].astype(np.float64) for k, w in enumerate(weights)) / sum(weights)
    assert out[i].shape == shape and out[i].dtype == dtype
    np.testing.assert_allclose(out[i], expected, rtol=1e-6 if dtype == np.float32 else 1e-14)
plain = GradientReducer(hvd.comm()).reduce(grads(r))
for i in range(len(shapes)):
    np.testing.assert_allclose(plain[i], sum(grads(k)[i].astype(np.float64) for k in range(n)) / n, rtol=1e-6)

warm = hvd.LearningRateWarmupCallback(initial_lr=0.3, warmup_epochs=2)
np.testing.assert_allclose([warm.learning_rate(e) for e in (0, 1, 2, 5)], [0.1, 0.2, 0.3, 0.3])
open(f"ok.{r}", "w").close()   # a file per rank: the ranks' stdout lines may interleave
"""


def test_collectives_on_three_ranks(run_ranks):
    result = run_ranks(3, PROGRAM)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = pathlib.Path(result.args[-1]).parent
    assert sorted(p.name for p in folder.glob("ok.*")) == ["ok.0", "ok.1", "ok.2"]


STEPS = """
import numpy as np
import deepgrad as dg
import deepgrad.distributed as hvd
from deepgrad.distributed.collectives import GradientReducer

hvd.init()
r, n = hvd.rank(), hvd.size()
shapes = [(6, 5), (5,), (5, 3), (3,)]
variables = [dg.Tensor(np.zeros(s), requires_grad=True) for s in shapes]

def grads(step, k, shapes=shapes):
    return [np.random.default_rng(100 * step + k).normal(size=s) for s in shapes]

def expected(step, scales, shapes=shapes):   # two ranks: s_0 g_0 + s_1 g_1 is the same sum in either order
    return [sum(grads(step, k, shapes)[i] * scales[k] for k in range(n)) for i in range(len(shapes))]

for bucket_bytes, buckets in ((1 << 20, 1), (100, 4)):
    reducer = GradientReducer(hvd.comm(), bucket_bytes=bucket_bytes)
    addresses = None
    for step in range(3):   # as fit runs it: the hook in backward's order, then the optimiser's reduce
        hook = reducer.start(variables)
        mine = grads(step, r)
        for v, g in zip(reversed(variables), reversed(mine)):
            hook(v, g)
        out = reducer.reduce(mine)
        for got, want in zip(out, expected(step, [0.5, 0.5])):
            np.testing.assert_array_equal(got, want)
        plan = next(iter(reducer._plans.values()))
        assert len(reducer._plans) == 1 and len(plan.buckets) == buckets, (reducer._plans, buckets)
        # one bucket: reduced once backward has ended; several: each started inside backward
        assert reducer.buckets_started_in_backward == (0 if buckets == 1 else buckets)
        assert reducer.bytes_per_step == sum(np.prod(s) for s in shapes) * 8
        now = [o.__array_interface__["data"][0] for o in out]   # views of the same buffers every step
        assert addresses is None or now == addresses
        assert all(o.base is not None and any(o.base is b[0] for b in plan.buckets) for o in out)
        addresses = now

    # a weight given a new array of another shape: a new plan, the right sums
    variables[2].data = np.zeros((4, 3))
    other = [(6, 5), (5,), (4, 3), (3,)]
    hook = reducer.start(variables)
    for v, g in zip(reversed(variables), reversed(grads(7, r, other))):
        hook(v, g)
    for got, want in zip(reducer.reduce(grads(7, r, other)), expected(7, [0.5, 0.5], other)):
        np.testing.assert_array_equal(got, want)
    variables[2].data = np.zeros((5, 3))

    # all at once (no start), and next_scale for one reduce only
    reducer.next_scale = [0.25, 0.75][r]
    for got, want in zip(reducer.reduce(grads(8, r)), expected(8, [0.25, 0.75])):
        np.testing.assert_array_equal(got, want)
    assert reducer.next_scale is None
    for got, want in zip(reducer.reduce(grads(9, r)), expected(9, [0.5, 0.5])):
        np.testing.assert_array_equal(got, want)

    # a step started and never finished is completed by the next one (every rank takes part)
    hook = reducer.start(variables)
    hook(variables[3], grads(10, r)[3])
    hook = reducer.start(variables)
    for v, g in zip(reversed(variables), reversed(grads(11, r))):
        hook(v, g)
    for got, want in zip(reducer.reduce(grads(11, r)), expected(11, [0.5, 0.5])):
        np.testing.assert_array_equal(got, want)
open(f"ok.{r}", "w").close()
"""


def test_reducer_steps_one_bucket_and_several(run_ranks):
    result = run_ranks(2, STEPS)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = pathlib.Path(result.args[-1]).parent
    assert sorted(p.name for p in folder.glob("ok.*")) == ["ok.0", "ok.1"]
