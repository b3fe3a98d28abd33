"""Each callback's behaviour, first on a stand-in model, then inside a real fit."""
import csv
import math
import os
import re

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import callbacks, layers, models, optimizers


class StandInOptimizer:
    def __init__(self, learning_rate=0.1):
        self.learning_rate = learning_rate


class StandInModel:
    """Just what the callbacks touch: weights, optimizer, stop_training, save/save_weights."""

    def __init__(self):
        self.weights = [np.zeros(2)]
        self.optimizer = StandInOptimizer()
        self.stop_training = False
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [w.copy() for w in weights]

    def save(self, filepath, overwrite=True):
        self.saved.append(filepath)

    save_weights = save


def run_epochs(cb, model, values, monitor="val_loss"):
    """Drive ``cb`` through epochs whose logs carry ``values``; weights[0] records the epoch."""
    cb.set_model(model)
    cb.on_train_begin()
    epochs_run = 0
    for epoch, value in enumerate(values):
        cb.on_epoch_begin(epoch)
        model.weights = [np.full(2, float(epoch))]
        cb.on_epoch_end(epoch, {monitor: value})
        epochs_run += 1
        if model.stop_training:
            break
    cb.on_train_end()
    return epochs_run


def test_callback_list_adds_defaults_and_dispatches():
    seen = []
    cb = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((epoch, logs["loss"])),
                                  on_test_begin=lambda logs: seen.append("test"))
    model = StandInModel()
    cbs = callbacks.CallbackList([cb], add_history=True, add_progbar=True, model=model, verbose=0, epochs=2,
                                 steps=1)
    assert isinstance(cbs.callbacks[0], callbacks.ProgbarLogger) and isinstance(cbs.callbacks[-1], callbacks.History)
    assert all(c.model is model and c.params["epochs"] == 2 for c in cbs)
    cbs.on_train_begin()
    cbs.on_epoch_end(0, {"loss": 1.5})
    cbs.on_test_begin()
    assert seen == [(0, 1.5), "test"]
    assert model.history.history == {"loss": [1.5]} and model.history.epoch == [0]
    with pytest.raises(ValueError, match="unknown hook"):
        callbacks.LambdaCallback(on_epoch_ending=print)


def test_early_stopping_patience_and_restore_best():
    model = StandInModel()
    es = callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    epochs = run_epochs(es, model, [1.0, 0.5, 0.6, 0.55, 0.4, 0.3])
    assert epochs == 4 and es.stopped_epoch == 3 and es.best == 0.5 and es.best_epoch == 1
    np.testing.assert_array_equal(model.weights[0], [1.0, 1.0])   # the weights of epoch 1


def test_early_stopping_min_delta_mode_baseline_start():
    model = StandInModel()
    es = callbacks.EarlyStopping(monitor="val_accuracy", min_delta=0.05, patience=1)
    assert es.mode == "max"
    assert run_epochs(es, model, [0.5, 0.52, 0.9], monitor="val_accuracy") == 2   # +0.02 is not enough
    model = StandInModel()
    worsening = [0.5, 0.6, 0.7, 0.8, 0.9]
    assert run_epochs(callbacks.EarlyStopping(patience=3), model, worsening) == 4
    model = StandInModel()   # the first epoch does not beat the baseline, so it does not reset the wait
    assert run_epochs(callbacks.EarlyStopping(patience=3, baseline=0.1), model, worsening) == 3
    model = StandInModel()
    es = callbacks.EarlyStopping(patience=0, start_from_epoch=3)
    assert run_epochs(es, model, [1.0, 2.0, 3.0, 4.0, 5.0]) == 5   # epochs 0-2 ignored, 3 is the first best


def test_model_checkpoint_templates_and_best_only(tmp_path):
    model = StandInModel()
    template = str(tmp_path / "model.{epoch:02d}-{val_loss:.2f}.deepgrad")
    ckpt = callbacks.ModelCheckpoint(template, save_best_only=True)
    run_epochs(ckpt, model, [0.9, 0.7, 0.8, 0.5])
    assert [os.path.basename(p) for p in model.saved] == ["model.01-0.90.deepgrad", "model.02-0.70.deepgrad",
                                                         "model.04-0.50.deepgrad"]
    model = StandInModel()
    ckpt = callbacks.ModelCheckpoint(str(tmp_path / "m.deepgrad"), save_best_only=True, initial_value_threshold=0.6)
    run_epochs(ckpt, model, [0.9, 0.7, 0.5])
    assert len(model.saved) == 1
    with pytest.raises(KeyError, match="val_acc"):
        run_epochs(callbacks.ModelCheckpoint(str(tmp_path / "{val_acc}.deepgrad")), StandInModel(), [1.0])
    with pytest.raises(ValueError, match="weights.safetensors"):
        callbacks.ModelCheckpoint(str(tmp_path / "w.h5"), save_weights_only=True)


def test_model_checkpoint_every_n_batches(tmp_path):
    model = StandInModel()
    ckpt = callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch}-{batch}-{loss:.1f}.deepgrad"), save_freq=2)
    ckpt.set_model(model)
    for epoch in range(2):
        ckpt.on_epoch_begin(epoch)
        for batch in range(3):
            ckpt.on_train_batch_end(batch, {"loss": batch / 10})
        ckpt.on_epoch_end(epoch, {"loss": 0.0})
    assert [os.path.basename(p) for p in model.saved] == ["m-1-2-0.1.deepgrad", "m-2-1-0.0.deepgrad",
                                                         "m-2-3-0.2.deepgrad"]
    with pytest.raises(ValueError, match="save_freq"):
        callbacks.ModelCheckpoint(str(tmp_path / "m.deepgrad"), save_freq=0)


def test_reduce_lr_on_plateau_with_cooldown_and_min_lr():
    model = StandInModel()
    cb = callbacks.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2, min_lr=0.02)
    lrs = []
    cb.set_model(model)
    cb.on_train_begin()
    for epoch, value in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        logs = {"val_loss": value}
        cb.on_epoch_end(epoch, logs)
        lrs.append(model.optimizer.learning_rate)
        assert logs["learning_rate"] == pytest.approx(lrs[-2] if len(lrs) > 1 else 0.1)
    assert lrs == pytest.approx([0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02])
    with pytest.raises(ValueError, match="factor >= 1.0"):
        callbacks.ReduceLROnPlateau(factor=1.5)


def test_learning_rate_scheduler():
    model = StandInModel()
    cb = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch > 0 else lr)
    cb.set_model(model)
    for epoch in range(3):
        cb.on_epoch_begin(epoch)
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    cb = callbacks.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    cb.set_model(model)
    cb.on_epoch_begin(4)
    assert model.optimizer.learning_rate == pytest.approx(0.05)
    cb = callbacks.LearningRateScheduler(lambda epoch, lr: "fast")
    cb.set_model(model)
    with pytest.raises(ValueError, match="should be a float"):
        cb.on_epoch_begin(0)


def test_csv_logger_rows_and_append(tmp_path):
    path = tmp_path / "log.csv"
    for append in (False, True):
        cb = callbacks.CSVLogger(path, append=append)
        cb.set_model(StandInModel())
        cb.on_train_begin()
        cb.on_epoch_end(0, {"loss": 0.5, "accuracy": np.float32(0.25)})
        cb.on_epoch_end(1, {"loss": 0.25, "accuracy": 0.5})
        cb.on_train_end()
    rows = list(csv.reader(open(path)))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert rows[1] == ["0", "0.25", "0.5", "NA", "NA"] and rows[2] == ["1", "0.5", "0.25", "NA", "NA"]
    assert len(rows) == 5 and rows[3][0] == "0"   # appended without a second header


def test_terminate_on_nan():
    model = StandInModel()
    cb = callbacks.TerminateOnNaN()
    cb.set_model(model)
    cb.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    cb.on_train_batch_end(1, {"loss": math.inf})
    assert model.stop_training


# ----------------------------------------------------------------- inside a real fit
def small_model(seed=0, optimizer=None):
    dg.backend.seed(seed)
    model = models.Sequential([layers.Input(shape=(3,)), layers.Dense(4, activation="tanh"), layers.Dense(1)])
    model.compile(optimizer=optimizer or optimizers.SGD(0.05), loss="mse")
    return model


def data(n=48):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)


def test_fit_with_callbacks(tmp_path):
    x, y = data()
    model = small_model()
    es = callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0, restore_best_weights=True)
    log = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0,
                        callbacks=[es, callbacks.CSVLogger(log),
                                   callbacks.ModelCheckpoint(str(tmp_path / "w{epoch}.weights.npz"),
                                                             monitor="loss", save_weights_only=True)])
    assert history.epoch == [0, 1] and model.history is history   # min_delta 10 stops after epoch 1
    assert len(list(csv.reader(open(log)))) == 3
    assert sorted(os.listdir(tmp_path)) == ["log.csv", "w1.weights.npz", "w2.weights.npz"]
    restored = small_model(seed=5)
    restored.load_weights(str(tmp_path / "w1.weights.npz"))
    for a, b in zip(restored.get_weights(), model.get_weights()):  # best = epoch 0 restored at train end
        np.testing.assert_array_equal(a, b)


def test_fit_reduce_lr_and_terminate_on_nan():
    x, y = data()
    model = small_model()
    cb = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=100.0)
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[cb])
    # epoch 0 improves on +inf; epochs 1 and 2 fail min_delta and halve the rate after logging it
    assert model.optimizer.learning_rate == pytest.approx(0.05 * 0.5 ** 2)
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.05, 0.025])
    diverging = small_model(optimizer=optimizers.SGD(1e30))   # the second batch's loss overflows
    seen = []
    with np.errstate(over="ignore", invalid="ignore"):
        history = diverging.fit(x * 1e3, y * 1e3, epochs=3, batch_size=8, verbose=0,
                                callbacks=[callbacks.TerminateOnNaN(),
                                           callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))])
    assert diverging.stop_training and len(history.epoch) == 1 and len(seen) < 6


def test_fit_checkpoints_best_full_models(tmp_path):
    x, y = data()
    model = small_model()
    template = str(tmp_path / "model.{epoch:02d}-{val_loss:.3f}.deepgrad")
    ckpt = callbacks.ModelCheckpoint(template, monitor="val_loss", save_best_only=True)
    history = model.fit(x[:32], y[:32], validation_data=(x[32:], y[32:]), epochs=3, batch_size=8, verbose=0,
                        callbacks=[ckpt])
    losses = history.history["val_loss"]
    expected = [f"model.{e + 1:02d}-{v:.3f}.deepgrad" for e, v in enumerate(losses) if v == min(losses[:e + 1])]
    assert sorted(os.listdir(tmp_path)) == expected
    last = models.load_model(tmp_path / expected[-1])
    assert last.evaluate(x[32:], y[32:], verbose=0) == pytest.approx(ckpt.best, rel=1e-6)


def test_fit_progress_output(capsys):
    x, y = data()
    model = small_model()
    model.fit(x, y, epochs=2, batch_size=16, verbose=1, validation_data=(x[:8], y[:8]))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and "Epoch 2/2" in lines
    finals = [line for line in lines if line.startswith("3/3 [" + "=" * 20 + "] - ")]
    assert len(finals) == 2 and all(" - loss: " in line and " - val_loss: " in line for line in finals)
    model.fit(x, y, epochs=2, batch_size=16, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and len(lines) == 4 and lines[1].startswith("3/3 - ")
    assert re.match(r"3/3 - \d+s - \d+(s|ms|us)/step - loss: ", lines[1]), lines[1]
