"""CIFAR-100: 50,000 training and 10,000 test colour images, 32x32, 100 fine / 20 coarse classes.

Read from the python version (``cifar-100-python.tar.gz`` or its unpacked
``cifar-100-python/`` folder) through a restricted unpickler; archives are read in memory.
"""
from __future__ import annotations

import os

from . import sources
from .cifar import load_python_batches
from .sources import Download, Layout

URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"


def layouts() -> list:
    return [Layout("python", ("cifar-100-python/train", "cifar-100-python/test")),
            Layout("python", ("cifar-100-python-target/cifar-100-python/train",
                              "cifar-100-python-target/cifar-100-python/test")),
            Layout("python", ("cifar-100-python.tar.gz",)),
            Layout("python", ("cifar-100-python-target_archive",))]


def load_data(label_mode: str = "fine"):
    """``(x_train, y_train), (x_test, y_test)``: uint8 ``(50000, 32, 32, 3)``, ``(50000, 1)``, and 10,000 test.

    ``label_mode="fine"`` gives the 100 classes, ``"coarse"`` the 20 superclasses.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"cifar100.load_data: label_mode must be 'fine' or 'coarse', got {label_mode!r}")
    source = Download(Layout("python", ("cifar-100-python.tar.gz",)), (("cifar-100-python.tar.gz", [URL], SHA256),))
    _, paths = sources.fetch("CIFAR-100", layouts(), source)
    where = paths[0] if len(paths) == 1 else os.path.dirname(paths[0])
    key = label_mode + "_labels"
    x_train, y_train = load_python_batches(where, ("train",), key)
    x_test, y_test = load_python_batches(where, ("test",), key)
    return (x_train, y_train.reshape(-1, 1)), (x_test, y_test.reshape(-1, 1))
