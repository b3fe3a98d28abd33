"""Keras 3 as a second, outside oracle for parts whose own tests check formulas written out:
learning-rate schedules, merge layers, TimeDistributed, label and sequence utilities, and
the decisions of EarlyStopping and ReduceLROnPlateau over the same epoch logs."""
import keras
import numpy as np
import pytest

import deepgrad as dg
from conftest import to_numpy
from deepgrad import callbacks, layers
from deepgrad.optimizers import schedules

STEPS = [0, 1, 2, 3, 5, 8, 13, 21, 34, 100]
SCHEDULES = [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=4, decay_rate=0.5)),
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=4, decay_rate=0.5, staircase=True)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=5, decay_rate=0.5)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=5, decay_rate=0.5, staircase=True)),
    ("PiecewiseConstantDecay", dict(boundaries=[3, 10], values=[1.0, 0.5, 0.1])),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=10, end_learning_rate=0.01, power=2.0)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=10, end_learning_rate=0.01, cycle=True)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=10, alpha=0.2)),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=10, warmup_target=0.1, warmup_steps=5)),
    ("CosineDecayRestarts", dict(initial_learning_rate=1.0, first_decay_steps=4, t_mul=2.0, m_mul=0.5)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.3, first_decay_steps=3, alpha=0.1)),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULES)
def test_schedules_agree_with_keras(name, kwargs):
    ours = getattr(schedules, name)(**kwargs)
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    # Keras evaluates its schedules in float32
    np.testing.assert_allclose([ours(t) for t in STEPS], [float(to_numpy(theirs(t))) for t in STEPS],
                               rtol=2e-6, atol=1e-8)


RNG = np.random.default_rng(3)
A, B, C = (RNG.standard_normal((4, 3)).astype("float32") for _ in range(3))


@pytest.mark.parametrize("name", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"])
def test_merge_layers_agree_with_keras(name):
    inputs = [A, B] if name == "Subtract" else [A, B, C]
    ours = getattr(layers, name)()(inputs)
    theirs = getattr(keras.layers, name)()(inputs)
    np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), rtol=1e-6, atol=1e-7)


def test_time_distributed_dense_agrees_with_keras():
    x = RNG.standard_normal((2, 5, 3)).astype("float32")
    theirs = keras.layers.TimeDistributed(keras.layers.Dense(4))
    expected = to_numpy(theirs(x))
    ours = layers.TimeDistributed(layers.Dense(4))
    ours.build((2, 5, 3))
    ours.set_weights([to_numpy(w) for w in theirs.get_weights()])
    np.testing.assert_allclose(to_numpy(ours(x)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("labels,num_classes", [([0, 2, 1, 2], None), ([[1], [3]], 5), (np.arange(6).reshape(2, 3), None)])
def test_to_categorical_agrees_with_keras(labels, num_classes):
    np.testing.assert_array_equal(dg.utils.to_categorical(labels, num_classes),
                                  keras.utils.to_categorical(labels, num_classes))


@pytest.mark.parametrize("axis,order", [(-1, 2), (1, 2), (-1, 1)])  # Keras mishandles axis=0
def test_normalize_agrees_with_keras(axis, order):
    x = RNG.standard_normal((3, 4, 2))
    np.testing.assert_allclose(dg.utils.normalize(x, axis=axis, order=order),
                               to_numpy(keras.utils.normalize(x, axis=axis, order=order)), rtol=1e-6)


@pytest.mark.parametrize("kwargs", [
    {}, {"maxlen": 3}, {"maxlen": 3, "padding": "post"}, {"maxlen": 2, "truncating": "post"},
    {"maxlen": 4, "value": -1, "padding": "post", "truncating": "post"}, {"dtype": "float32", "maxlen": 5},
])
def test_pad_sequences_agrees_with_keras(kwargs):
    seqs = [[1, 2, 3, 4], [5], [], [6, 7]]
    ours = dg.preprocessing.sequence.pad_sequences(seqs, **kwargs)
    theirs = keras.utils.pad_sequences(seqs, **kwargs)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == theirs.dtype


class _KerasModelStandIn:
    """What Keras's EarlyStopping and ReduceLROnPlateau touch on a model."""

    def __init__(self):
        self.stop_training = False
        self.optimizer = keras.optimizers.SGD(learning_rate=0.1)
        self.weights = [np.zeros(1)]

    def get_weights(self):
        return list(self.weights)

    def set_weights(self, w):
        self.weights = list(w)


class _OurModelStandIn(_KerasModelStandIn):
    def __init__(self):
        super().__init__()
        self.optimizer = dg.optimizers.SGD(learning_rate=0.1)


def _drive(cb, model, values):
    """Epochs of ``val_loss`` values; returns (epochs run, learning rate after each epoch)."""
    cb.set_model(model)
    cb.on_train_begin({})
    rates = []
    for epoch, value in enumerate(values):
        cb.on_epoch_begin(epoch, {})
        model.weights = [np.full(1, float(epoch))]
        cb.on_epoch_end(epoch, {"val_loss": value, "loss": value})
        rates.append(float(np.asarray(to_numpy(model.optimizer.learning_rate))))
        if model.stop_training:
            break
    cb.on_train_end({})
    return len(rates), rates, float(model.weights[0][0])


LOSSES = [1.0, 0.9, 0.95, 0.91, 0.89, 0.9, 0.92, 0.93, 0.7, 0.71, 0.72, 0.73, 0.74]


@pytest.mark.parametrize("kwargs", [
    dict(patience=2), dict(patience=1, min_delta=0.02), dict(patience=3, restore_best_weights=True),
    dict(patience=2, baseline=0.85), dict(patience=2, start_from_epoch=4), dict(patience=0),
])
def test_early_stopping_decides_as_keras(kwargs):
    ours = _drive(callbacks.EarlyStopping(**kwargs), _OurModelStandIn(), LOSSES)
    theirs = _drive(keras.callbacks.EarlyStopping(**kwargs), _KerasModelStandIn(), LOSSES)
    assert ours[0] == theirs[0] and ours[2] == theirs[2]


@pytest.mark.parametrize("kwargs", [
    dict(patience=1), dict(patience=2, factor=0.5, cooldown=1), dict(patience=1, min_lr=0.02, factor=0.1),
    dict(patience=1, min_delta=0.05),
])
def test_reduce_lr_on_plateau_decides_as_keras(kwargs):
    ours = _drive(callbacks.ReduceLROnPlateau(**kwargs), _OurModelStandIn(), LOSSES)
    theirs = _drive(keras.callbacks.ReduceLROnPlateau(**kwargs), _KerasModelStandIn(), LOSSES)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6)
