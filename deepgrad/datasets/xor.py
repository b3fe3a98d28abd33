"""XOR: the four points a single-layer network cannot separate, optionally as a noisy cloud."""
from __future__ import annotations

import numpy as np

from .. import backend

POINTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
LABELS = np.array([[0], [1], [1], [0]])


def load_data(n_samples: int | None = None, noise: float = 0.0, seed: int | None = None):
    """``(x_train, y_train), (x_test, y_test)`` as floatx ``(n, 2)`` points and ``(n, 1)`` targets.

    By default the four XOR points themselves, as both the training and the test set. With
    ``n_samples``, each part draws that many copies of random corners plus Gaussian ``noise``.
    """
    dtype = backend.floatx()
    if n_samples is None:
        x, y = POINTS.astype(dtype), LABELS.astype(dtype)
        return (x, y), (x.copy(), y.copy())
    if n_samples < 1 or noise < 0:
        raise ValueError(f"xor.load_data: need n_samples >= 1 and noise >= 0, got {n_samples} and {noise}")
    rng = backend.rng() if seed is None else np.random.default_rng(seed)
    parts = []
    for _ in range(2):
        corner = rng.integers(0, 4, n_samples)
        x = POINTS[corner] + noise * rng.standard_normal((n_samples, 2))
        parts.append((x.astype(dtype), LABELS[corner].astype(dtype)))
    return tuple(parts)
