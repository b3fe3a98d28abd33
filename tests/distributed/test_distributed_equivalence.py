"""N ranks with per-rank batch B train exactly as one process with batch N*B, step for step:
Horovod's way (each rank shards its data, DistributedOptimizer) and Keras's way
(DataParallel shards each global batch, uneven last batch included), in float64 and float32."""
import numpy as np
import pytest
from conftest import load_ranks

pytestmark = pytest.mark.slow

MODEL = """
import sys
import numpy as np
import deepgrad as dg
from deepgrad import callbacks, layers, optimizers, utils

def data(n, dtype):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 5)).astype(dtype), rng.integers(0, 3, n)

def build(dtype, optimizer):
    utils.set_random_seed(1)
    model = dg.Sequential([layers.Input((5,)), layers.Dense(7, activation="tanh", dtype=dtype),
                           layers.Dense(3, activation="softmax", dtype=dtype)])
    model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model

class EpochWeights(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []
    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append([w.data.copy() for w in self.model.weights])
"""

RANK_PROGRAM = MODEL + """
import json
import deepgrad.distributed as hvd
style, dtype, n_samples, per_rank_batch, shuffle, validation_split = sys.argv[1:7]
n_samples, per_rank_batch, shuffle, validation_split = int(n_samples), int(per_rank_batch), shuffle == "1", float(validation_split)
x, y = data(n_samples, dtype)
record = EpochWeights()
if style == "horovod":
    hvd.init()
    r, n = hvd.rank(), hvd.size()
    model = build(dtype, hvd.DistributedOptimizer(optimizers.Adam(0.01)))
    history = model.fit(x[r::n], y[r::n], batch_size=per_rank_batch, epochs=3, shuffle=False, verbose=0,
                        callbacks=[hvd.BroadcastGlobalVariablesCallback(0), record])
else:
    from deepgrad import distribution
    distribution.set_distribution(distribution.DataParallel())
    r, n = hvd.rank(), hvd.size()
    # style "keras+optimizer": a Horovod-wrapped optimiser under DataParallel averages once, by shard size
    model = build(dtype, hvd.DistributedOptimizer(optimizers.Adam(0.01)) if style == "keras+optimizer"
                  else optimizers.Adam(0.01))
    history = model.fit(x, y, batch_size=n * per_rank_batch, epochs=3, shuffle=shuffle, verbose=0,
                        validation_split=validation_split, callbacks=[record])
arrays = {f"a_{i}": w for i, w in enumerate(w for epoch in record.epochs for w in epoch)}
np.savez(f"weights.{r}.npz", **arrays)
with open(f"history.{r}.json", "w") as f:
    json.dump(history.history, f)
"""


def single_process(dtype, n_samples, batch, shuffle, validation_split=0.0):
    scope = {}
    exec(MODEL, scope)
    x, y = scope["data"](n_samples, dtype)
    model = scope["build"](dtype, __import__("deepgrad").optimizers.Adam(0.01))
    record = scope["EpochWeights"]()
    history = model.fit(x, y, batch_size=batch, epochs=3, shuffle=shuffle, verbose=0,
                        validation_split=validation_split, callbacks=[record])
    return [w for epoch in record.epochs for w in epoch], history.history


def check(run_ranks, n, style, dtype, n_samples, per_rank_batch, shuffle, tol, validation_split=0.0):
    result = run_ranks(n, RANK_PROGRAM, style, dtype, n_samples, per_rank_batch, int(shuffle), validation_split)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = result.args[-7].rsplit("/", 1)[0]
    ranks = load_ranks(folder, n)
    for other in ranks[1:]:  # identical weights on every rank after every epoch
        for a, b in zip(ranks[0], other):
            np.testing.assert_array_equal(a, b)
    expected, history = single_process(dtype, n_samples, n * per_rank_batch, shuffle, validation_split)
    assert len(expected) == len(ranks[0])
    for a, b in zip(ranks[0], expected):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_allclose(a, b, rtol=0, atol=tol)
    assert np.abs(expected[-1] - expected[len(expected) // 3 - 1]).max() > 1e-3  # training moved the weights
    return folder, history


def test_horovod_style_two_ranks_float64(run_ranks):
    # 52 samples as x[r::2]: 26 per rank, batches of 4 (the last of 2) against one process's 8 (last 4)
    check(run_ranks, 2, "horovod", "float64", 52, 4, False, 1e-10)


def test_data_parallel_three_ranks_float32_shuffled_uneven(run_ranks):
    # global batch 12 over 52 samples: four full batches and a last one of 4 cut 2/1/1
    check(run_ranks, 3, "keras", "float32", 52, 4, True, 1e-6)


def test_distributed_optimizer_under_data_parallel_weights_by_shard_size(run_ranks):
    # global batch 12 over 47 samples on 3 ranks: three full batches and a last one of 11 cut 4/4/3,
    # whose mean gradient an average by 1/size instead of by shard size would miss
    check(run_ranks, 3, "keras+optimizer", "float64", 47, 4, True, 1e-10)


def test_data_parallel_metrics_and_validation_averaged(run_ranks):
    import json
    import pathlib
    folder, history = check(run_ranks, 2, "keras", "float64", 60, 5, True, 1e-10, validation_split=0.25)
    for r in range(2):
        got = json.loads((pathlib.Path(folder) / f"history.{r}.json").read_text())
        assert set(got) == set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
        for key in history:  # sample-weighted averages over ranks equal the one-process means, to the
            # float32 of a metric's result (a tensor of the metric's dtype, as Keras's)
            np.testing.assert_allclose(got[key], history[key], rtol=1e-6, atol=1e-10)
