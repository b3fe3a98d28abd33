"""The last differences of the core objects from Keras 3 (PyTorch backend), each checked against
Keras itself: automatic names, ``Variable.name``, ``optimizer.variables``, differentiable
stateless calls, ``steps_per_execution`` and AUC's float32 thresholds."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its PyTorch backend here", allow_module_level=True)

import deepgrad as dg  # noqa: E402


def _fresh(K):
    K.backend.clear_session()


# ----------------------------------------------------------------- automatic names
def _auto_names(K):
    _fresh(K)
    names = [K.optimizers.Adam().name, K.optimizers.Adam().name, K.optimizers.SGD().name,
             K.optimizers.RMSprop().name, K.optimizers.Adam(name="adam").name, K.optimizers.Adam().name,
             K.metrics.AUC().name, K.metrics.AUC().name, K.metrics.Precision().name, K.metrics.Precision().name,
             K.metrics.Mean().name, K.metrics.Mean().name,  # a default name in the signature: never numbered
             K.losses.MeanSquaredError().name, K.losses.MeanSquaredError().name,
             K.layers.Dense(1).name, K.layers.Dense(1).name]
    model = K.Sequential([K.Input((2,)), K.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    names.append(model.optimizer.name)
    _fresh(K)
    names += [K.optimizers.Adam().name, K.metrics.AUC().name, K.layers.Dense(1).name]
    return names


def test_automatic_names_are_numbered_as_keras_numbers_them():
    ours, theirs = _auto_names(dg), _auto_names(keras)
    assert ours == theirs
    assert ours[:3] == ["adam", "adam_1", "sgd"]  # the counting itself, not only the agreement
