"""A fit that crashes and is restarted with BackupAndRestore ends with the same weights as one
that never crashed: weights, optimiser state, epoch and random states are all restored."""
import os

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import callbacks, layers, models, optimizers


class Crash(Exception):
    pass


class CrashAtEpoch(callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Crash(f"simulated crash at epoch {epoch}")


def build(seed):
    dg.backend.seed(seed)
    model = models.Sequential([layers.Input(shape=(4,)), layers.Dense(8, activation="relu"), layers.Dropout(0.3),
                               layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((60, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1)


def test_resumed_fit_matches_uninterrupted_fit(tmp_path):
    x, y = data()
    reference = build(seed=0)
    ref_history = reference.fit(x, y, epochs=6, batch_size=16, verbose=0)

    backup_dir = tmp_path / "backup"
    crashed = build(seed=0)
    with pytest.raises(Crash):
        crashed.fit(x, y, epochs=6, batch_size=16, verbose=0,
                    callbacks=[callbacks.BackupAndRestore(backup_dir), CrashAtEpoch(3)])
    assert os.listdir(backup_dir) == ["backup.safetensors"]

    dg.backend.seed(12345)          # a new process: other random state, other initial weights
    np.random.seed(12345)
    resumed = build(seed=99)
    history = resumed.fit(x, y, epochs=6, batch_size=16, verbose=0,
                          callbacks=[callbacks.BackupAndRestore(backup_dir)])
    assert history.epoch == [3, 4, 5]
    assert history.history["loss"] == ref_history.history["loss"][3:]
    for a, b in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.iterations == reference.optimizer.iterations == 6 * 4
    assert not backup_dir.exists()   # deleted after a successful run


def test_keeps_backup_when_asked_and_leaves_other_files(tmp_path):
    x, y = data()
    (tmp_path / "notes.txt").write_text("keep me")
    model = build(seed=0)
    model.fit(x, y, epochs=2, batch_size=32, verbose=0,
              callbacks=[callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)])
    assert sorted(os.listdir(tmp_path)) == ["backup.safetensors", "notes.txt"]
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[callbacks.BackupAndRestore(tmp_path)])
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]
    with pytest.raises(ValueError, match="save_freq"):
        callbacks.BackupAndRestore(tmp_path, save_freq="batch")
