"""What the Boston and California housing loaders share: Keras's ``.npz`` of ``x`` and ``y``,
shuffled with ``np.random.RandomState(seed)`` and split with ``test_split``."""
from __future__ import annotations

import numpy as np

from . import npz, sources
from .sources import DatasetFormatError, Download, Layout

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def load(title: str, path: str, file_name: str, sha256: str, test_split, seed, first=None):
    if not 0 <= test_split < 1:
        raise ValueError(f"{title}: test_split must be in [0, 1), got {test_split}")
    layout = Layout("npz", (path,))
    where = sources.fetch(title, [layout], Download(layout, ((path, [ORIGIN + file_name], sha256),)))[1][0]
    arrays = npz.load_npz(where, ("x", "y"))
    x, y = arrays["x"], arrays["y"]
    if x.dtype.kind not in "fiu" or y.dtype.kind not in "fiu" or x.ndim != 2 or len(x) != len(y):
        raise DatasetFormatError(f"{where}: x {x.shape} {x.dtype} and y {y.shape} {y.dtype} are not numeric "
                                 "(samples, features) and (samples,) arrays")
    if first is not None:
        x, y = x[:first], y[:first]
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    n_train = int(len(x) * (1 - test_split))
    return (x[:n_train].copy(), y[:n_train].copy()), (x[n_train:].copy(), y[n_train:].copy())
