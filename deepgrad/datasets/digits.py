"""The UCI 8x8 handwritten digits (1,797 images, 10 classes), shipped with scikit-learn.

Real data that needs no download: ``pip install scikit-learn``. The images hold values
0..16 in the original; they are returned as uint8 scaled to 0..255 (``round(v * 255 / 16)``)
so that the usual MNIST preprocessing (``x / 255``) applies unchanged.
"""
from __future__ import annotations

import numpy as np

from ..utils.sampling import train_test_split


def load_data(test_split: float = 0.2, seed: int = 113):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images ``(n, 8, 8)`` and uint8 labels ``(n,)``.

    The split is stratified by class and repeats for the same ``seed``.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError("deepgrad.datasets.digits needs scikit-learn: pip install scikit-learn "
                          "(or deepgrad[data])") from e
    bunch = load_digits()
    x = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    y = bunch.target.astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_split, stratify=True, seed=seed)
    return (x_train, y_train), (x_test, y_test)
