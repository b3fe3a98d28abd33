"""CIFAR-10: 50,000 training and 10,000 test colour images, 32x32, 10 classes.

Read from the python version (``cifar-10-python.tar.gz`` or its unpacked
``cifar-10-batches-py/`` folder, as Keras keeps it) through a restricted unpickler, or from
the binary version (``cifar-10-binary.tar.gz`` / ``cifar-10-batches-bin/``), which needs no
pickle at all. Archives are read in memory, never extracted.
"""
from __future__ import annotations

import os

import numpy as np

from . import sources
from .cifar import load_binary_batches, load_python_batches
from .sources import Download, Layout

CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PYTHON_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
PYTHON_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
BINARY_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
BINARY_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST = "test_batch"


def layouts() -> list:
    py = TRAIN + (TEST,)
    binary = tuple(n + ".bin" for n in py)
    return [Layout("python", tuple(f"cifar-10-batches-py/{n}" for n in py)),
            Layout("python", tuple(f"cifar-10-batches-py/cifar-10-batches-py/{n}" for n in py)),
            Layout("python", ("cifar-10-python.tar.gz",)),
            Layout("python", ("cifar-10-batches-py.tar.gz",)),
            Layout("python", ("cifar-10-batches-py_archive",)),
            Layout("binary", tuple(f"cifar-10-batches-bin/{n}" for n in binary)),
            Layout("binary", ("cifar-10-binary.tar.gz",))]


def load_data():
    """``(x_train, y_train), (x_test, y_test)``: uint8 ``(50000, 32, 32, 3)``, ``(50000, 1)``, and 10,000 test."""
    source = Download(Layout("python", ("cifar-10-python.tar.gz",)),
                      (("cifar-10-python.tar.gz", [PYTHON_URL], PYTHON_SHA256),))
    layout, paths = sources.fetch("CIFAR-10", layouts(), source)
    where = paths[0] if len(paths) == 1 else os.path.dirname(paths[0])
    if layout.kind == "python":
        x_train, y_train = load_python_batches(where, TRAIN)
        x_test, y_test = load_python_batches(where, (TEST,))
    else:
        x_train, y_train = load_binary_batches(where, tuple(n + ".bin" for n in TRAIN))
        x_test, y_test = load_binary_batches(where, (TEST + ".bin",))
    return (x_train, y_train.reshape(-1, 1)), (x_test, np.asarray(y_test).reshape(-1, 1))
