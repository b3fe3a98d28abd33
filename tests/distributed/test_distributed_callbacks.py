"""Under DataParallel rank 0 alone writes checkpoints and logs, and BackupAndRestore resumes
every rank from the same state: an interrupted and resumed 2-rank run ends with the weights
of one uninterrupted process with the global batch."""
import pathlib

import numpy as np
import pytest
from conftest import load_ranks

pytestmark = pytest.mark.slow

MODEL = """
import numpy as np
import deepgrad as dg
from deepgrad import callbacks, layers, optimizers, utils

def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 5)), rng.integers(0, 3, 40)

def build():
    utils.set_random_seed(3)
    model = dg.Sequential([layers.Input((5,)), layers.Dense(6, activation="relu", dtype="float64"),
                           layers.Dense(3, activation="softmax", dtype="float64")])
    model.compile(optimizers.Adam(0.02), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
"""

PROGRAM = MODEL + """
import os, sys
import deepgrad.distributed as hvd
from deepgrad import distribution
distribution.set_distribution(distribution.DataParallel())
crash = sys.argv[1] == "crash"

class Counted(callbacks.ModelCheckpoint):
    def _save_model(self, *args, **kwargs):
        with open("saves.log", "a") as f:
            f.write(f"{hvd.rank()}\\n")
        return super()._save_model(*args, **kwargs)

class Crash(callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if crash and epoch == 2 and hvd.rank() == 1:
            raise RuntimeError("interrupted on purpose")

x, y = data()
model = build()
cbs = [callbacks.BackupAndRestore("backup"), Counted("ckpt.weights.safetensors", save_weights_only=True, monitor="loss"),
       callbacks.CSVLogger("history.csv", append=True), Crash()]
model.fit(x, y, batch_size=8, epochs=4, shuffle=True, verbose=1, callbacks=cbs)
np.savez(f"weights.{hvd.rank()}.npz", *[w.data for w in model.weights])
"""


def test_rank_zero_writes_and_backup_resumes_every_rank(run_ranks):
    crashed = run_ranks(2, PROGRAM, "crash")
    assert crashed.returncode != 0 and "interrupted on purpose" in crashed.stderr
    folder = pathlib.Path(crashed.args[-2]).parent
    assert (folder / "backup").is_dir()
    resumed = run_ranks(2, PROGRAM, "resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # progress printed once per epoch (rank 0 only): epochs 1-2 before the crash, 3-4 after
    assert crashed.stdout.count("Epoch 1/4") == 1 and resumed.stdout.count("Epoch 3/4") == 1
    assert "Epoch 1/4" not in resumed.stdout
    assert (folder / "saves.log").read_text().split() == ["0"] * 4   # one checkpoint per epoch, by rank 0
    rows = (folder / "history.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2", "3"]
    assert not (folder / "backup").exists()   # deleted once, at the normal end
    ranks = load_ranks(folder, 2)
    for a, b in zip(*ranks):
        np.testing.assert_array_equal(a, b)

    scope = {}
    exec(MODEL, scope)
    x, y = scope["data"]()
    model = scope["build"]()
    model.fit(x, y, batch_size=8, epochs=4, shuffle=True, verbose=0)
    for a, w in zip(ranks[0], model.weights):
        np.testing.assert_allclose(a, w.data, rtol=0, atol=1e-10)
