"""Keras 3 itself as the oracle: its PyTorch backend, chosen before anything imports keras."""
import os

os.environ["KERAS_BACKEND"] = "torch"  # the NumPy backend needs JAX; the torch one runs everywhere

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
assert keras.backend.backend() == "torch", "keras was imported before KERAS_BACKEND could be set"


@pytest.fixture(autouse=True)
def _seed_keras():
    keras.utils.set_random_seed(1234)
    yield


def to_numpy(x):
    """A Keras output (torch tensor) or a deepgrad Tensor as a NumPy array."""
    import deepgrad as dg

    if isinstance(x, dg.Tensor):
        return np.asarray(x.data)
    return np.asarray(keras.ops.convert_to_numpy(x))
