"""fit with the library's callbacks: early stopping, resuming from a backup, the History."""
import numpy as np
import pytest
from model_helpers import separable_data

import deepgrad as dg
from deepgrad import callbacks, layers, optimizers


def _model():
    model = dg.Sequential([layers.Input(shape=(2,)), layers.Dense(8, activation="relu"), layers.Dropout(0.2),
                           layers.Dense(2, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_early_stopping_stops_and_restores_the_best_weights():
    x, y = separable_data(128)
    model = _model()
    # a validation set with flipped labels: val_loss rises as training goes on
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(x[:96], y[:96], epochs=30, validation_data=(x[96:], 1 - y[96:]), callbacks=[stop],
                        verbose=0)
    val = history.history["val_loss"]
    assert len(val) < 30 and len(val) == int(np.argmin(val)) + 3
    np.testing.assert_allclose(model.evaluate(x[96:], 1 - y[96:], verbose=0)[0], min(val), rtol=1e-5)


class _Crash(callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 2:
            raise KeyboardInterrupt("stopped from outside")


def test_backup_and_restore_resumes_to_the_same_weights(tmp_path):
    x, y = separable_data(64)
    dg.utils.set_random_seed(7)
    straight = _model()
    straight.fit(x, y, epochs=5, batch_size=16, verbose=0)

    dg.utils.set_random_seed(7)
    model = _model()
    backup = callbacks.BackupAndRestore(tmp_path / "backup")
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=5, batch_size=16, callbacks=[backup, _Crash()], verbose=0)
    dg.utils.set_random_seed(123)  # the backup brings back the random state too
    resumed = _model()
    history = resumed.fit(x, y, epochs=5, batch_size=16, callbacks=[callbacks.BackupAndRestore(tmp_path / "backup")],
                          verbose=0)
    assert len(history.history["loss"]) == 2  # epochs 3 and 4
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_history_epochs_and_params():
    x, y = separable_data(40)
    model = _model()
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert history.epoch == [0, 1, 2]
    assert history.params["epochs"] == 3 and history.params["steps"] == 3
