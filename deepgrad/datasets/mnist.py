"""MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28 grayscale.

Read from Keras's ``mnist.npz`` or from the original IDX files (``mnist/train-images-idx3-ubyte.gz``
and the three others), found in the search folders or downloaded with its checksum.
"""
from __future__ import annotations

import zipfile

import numpy as np

from . import sources
from .idx import load_idx_split
from .sources import DatasetFormatError, Download, Layout

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def layouts(path: str = "mnist.npz") -> list:
    return [Layout("npz", (path,)),
            Layout("idx", tuple(f"mnist/{f}.gz" for f in IDX_FILES)),
            Layout("idx", tuple(f"mnist/{f}" for f in IDX_FILES))]


def load_npz(path: str):
    """``(x_train, y_train), (x_test, y_test)`` from a Keras-style ``mnist.npz`` (no pickle allowed)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
            if missing:
                raise DatasetFormatError(f"{path}: missing arrays {sorted(missing)} (has {sorted(f.files)})")
            x_train, y_train, x_test, y_test = (f[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise DatasetFormatError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from e
    except ValueError as e:  # object arrays need pickle, which is refused
        if isinstance(e, DatasetFormatError):
            raise
        raise DatasetFormatError(f"{path}: refused ({e})") from e
    for x, y, part in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if x.ndim != 3 or len(x) != len(y) or y.ndim != 1:
            raise DatasetFormatError(f"{path}: x_{part} {x.shape} and y_{part} {y.shape} do not form "
                                     f"(n, h, w) images with (n,) labels")
    return (x_train, y_train), (x_test, y_test)


def load_data(path: str = "mnist.npz"):
    """``(x_train, y_train), (x_test, y_test)``: uint8 ``(60000, 28, 28)``, ``(60000,)``, and 10,000 test.

    ``path`` is the file name of the ``.npz`` in the data folders, as in Keras.
    """
    layout, paths = sources.fetch("MNIST", layouts(path), Download(Layout("npz", (path,)), ((path, [URL], SHA256),)))
    if layout.kind == "npz":
        return load_npz(paths[0])
    train_images, train_labels, test_images, test_labels = paths
    return load_idx_split(train_images, train_labels, test_images, test_labels)
