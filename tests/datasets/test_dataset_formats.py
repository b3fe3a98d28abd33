"""Readers of the real dataset formats, on small files written here: IDX, npz, CIFAR python and binary."""
import gzip
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from dataset_files import (FASHION_NAMES, add_to_tar, cifar_rows, fake_cifar, fake_mnist, write_cifar10_binary,
                           write_cifar10_python, write_cifar100_python, write_idx_set, write_mnist_npz)
from deepgrad.datasets import DatasetFormatError, cifar10, cifar100, fashion_mnist, mnist
from deepgrad.datasets.cifar import RestrictedUnpickler, load_pickled_batch, read_members
from deepgrad.datasets.idx import read_idx, write_idx


def assert_split_equal(got, expected):
    for (x, y), (ex, ey) in zip(got, expected):
        assert x.dtype == ex.dtype and y.dtype == ey.dtype
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)


# --------------------------------------------------------------------------- IDX
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_idx_round_trip_and_header_bytes(tmp_path, name):
    x = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = str(tmp_path / name)
    write_idx(path, x)
    raw = gzip.open(path).read() if name.endswith(".gz") else open(path, "rb").read()
    # magic 0x00000803 (uint8, rank 3), then the sizes as big-endian uint32
    assert raw[:16] == bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4])
    assert len(raw) == 16 + 24
    got = read_idx(path)
    assert got.dtype == np.uint8 and got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, x)


def test_idx_big_endian_int32_values(tmp_path):
    path = tmp_path / "ints.idx"
    path.write_bytes(bytes([0, 0, 0x0C, 1, 0, 0, 0, 2]) + (258).to_bytes(4, "big") + (-1).to_bytes(4, "big", signed=True))
    got = read_idx(str(path))
    np.testing.assert_array_equal(got, [258, -1])
    assert got.dtype == np.int32


def test_idx_truncated_file_names_file_and_sizes(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(str(path), np.zeros((3, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetFormatError, match=r"train-images-idx3-ubyte.*truncated.*\(3, 28, 28\)"):
        read_idx(str(path))


def test_idx_bad_magic_and_corrupt_gzip(tmp_path):
    bad = tmp_path / "labels"
    bad.write_bytes(b"PK\x03\x04 not idx at all")
    with pytest.raises(DatasetFormatError, match="labels: not an IDX file"):
        read_idx(str(bad))
    gz = tmp_path / "images.gz"
    gz.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abcde")[:15])
    with pytest.raises(DatasetFormatError, match="images.gz: corrupt or truncated gzip"):
        read_idx(str(gz))


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_from_idx_files(data_dirs, gz):
    data = fake_mnist(5, 3, seed=1)
    write_idx_set(data_dirs["keras"] / "fashion-mnist", data, FASHION_NAMES, gz=gz)
    got = fashion_mnist.load_data()
    assert got[0][0].shape == (5, 28, 28) and got[0][1].shape == (5,) and got[1][0].shape == (3, 28, 28)
    assert_split_equal(got, data)


def test_idx_label_count_mismatch_is_reported(data_dirs):
    (xt, yt), test = fake_mnist(5, 3)
    write_idx_set(data_dirs["cache"] / "fashion-mnist", ((xt, yt[:4]), test), FASHION_NAMES)
    with pytest.raises(DatasetFormatError, match="has 5 images but train-labels-idx1-ubyte.gz has 4 labels"):
        fashion_mnist.load_data()


# --------------------------------------------------------------------------- mnist.npz
def test_mnist_npz(data_dirs):
    data = fake_mnist(6, 4, seed=2)
    write_mnist_npz(data_dirs["keras"] / "mnist.npz", data)
    got = mnist.load_data()
    assert got[0][0].shape == (6, 28, 28) and got[0][0].dtype == np.uint8
    assert_split_equal(got, data)


def test_mnist_npz_with_object_array_is_refused(data_dirs):
    (xt, yt), (xs, ys) = fake_mnist()
    np.savez(data_dirs["keras"] / "mnist.npz", x_train=xt, y_train=np.array([object()] * len(yt)),
             x_test=xs, y_test=ys)
    with pytest.raises(DatasetFormatError, match="mnist.npz: refused"):
        mnist.load_data()


def test_mnist_npz_truncated_and_incomplete(data_dirs):
    path = data_dirs["keras"] / "mnist.npz"
    write_mnist_npz(path, fake_mnist())
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatasetFormatError, match="mnist.npz: not a readable .npz"):
        mnist.load_data()
    (xt, yt), _ = fake_mnist()
    np.savez(path, x_train=xt, y_train=yt)
    with pytest.raises(DatasetFormatError, match=r"missing arrays \['x_test', 'y_test'\]"):
        mnist.load_data()


def test_mnist_from_idx_when_no_npz(data_dirs):
    data = fake_mnist(4, 2, seed=3)
    write_idx_set(data_dirs["cache"] / "mnist", data, FASHION_NAMES)
    assert_split_equal(mnist.load_data(), data)


# --------------------------------------------------------------------------- CIFAR
def test_cifar_rows_layout_is_planes():
    x = np.zeros((1, 32, 32, 3), np.uint8)
    x[0, 0, 1, 0], x[0, 0, 0, 1], x[0, 31, 31, 2] = 7, 8, 9
    row = cifar_rows(x)[0]
    assert row[1] == 7 and row[1024] == 8 and row[3071] == 9


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar10_python_archive(data_dirs, protocol):
    data = fake_cifar(seed=protocol)
    write_cifar10_python(data_dirs["keras"] / "cifar-10-python.tar.gz", data, protocol=protocol)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (15, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (15, 1) and y_train.dtype == np.uint8 and y_test.shape == (4, 1)
    np.testing.assert_array_equal(x_train, data[0][0])
    np.testing.assert_array_equal(y_train[:, 0], data[0][1])
    np.testing.assert_array_equal(x_test, data[1][0])
    np.testing.assert_array_equal(y_test[:, 0], data[1][1])


def test_cifar10_python_folder_as_keras_keeps_it(data_dirs):
    data = fake_cifar(seed=5)
    write_cifar10_python(data_dirs["keras"] / "cifar-10-batches-py", data)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    np.testing.assert_array_equal(x_train, data[0][0])
    np.testing.assert_array_equal(y_test[:, 0], data[1][1])


def test_cifar10_binary_archive(data_dirs):
    data = fake_cifar(seed=6)
    write_cifar10_binary(data_dirs["system"] / "cifar-10-binary.tar.gz", data)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (15, 32, 32, 3) and y_train.shape == (15, 1)
    np.testing.assert_array_equal(x_train, data[0][0])
    np.testing.assert_array_equal(y_train[:, 0], data[0][1])
    np.testing.assert_array_equal(x_test, data[1][0])


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_label_modes(data_dirs, label_mode):
    data = fake_cifar(n_per_batch=6, n_batches=1, n_test=3, classes=100, seed=7)
    coarse_train, coarse_test = data[0][1] // 5, data[1][1] // 5
    write_cifar100_python(data_dirs["cache"] / "cifar-100-python.tar.gz", data, coarse_train, coarse_test)
    (x_train, y_train), (x_test, y_test) = cifar100.load_data(label_mode=label_mode)
    np.testing.assert_array_equal(x_train, data[0][0])
    expected = (data[0][1], data[1][1]) if label_mode == "fine" else (coarse_train, coarse_test)
    np.testing.assert_array_equal(y_train[:, 0], expected[0])
    np.testing.assert_array_equal(y_test[:, 0], expected[1])
    assert y_train.shape == (6, 1) and y_train.dtype == np.uint8
    with pytest.raises(ValueError, match="label_mode must be 'fine' or 'coarse'"):
        cifar100.load_data(label_mode="medium")


class _Hostile:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _hostile_archive(path, payload):
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            add_to_tar(tar, f"cifar-10-batches-py/{name}", payload)


def test_hostile_pickle_is_refused_and_runs_nothing(data_dirs, tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({b"data": _Hostile(marker), b"labels": [1]}, protocol=2)
    pickle.loads(pickle.dumps(_Hostile(tmp_path / "control")))  # the payload does work when unrestricted
    assert (tmp_path / "control").exists()
    _hostile_archive(data_dirs["keras"] / "cifar-10-python.tar.gz", payload)
    with pytest.raises(DatasetFormatError, match=r"refusing to load (posix|os|nt)\.system.*corrupt or hostile"):
        cifar10.load_data()
    assert not marker.exists()


@pytest.mark.parametrize("module,name", [("builtins", "eval"), ("subprocess", "Popen"), ("numpy", "load"),
                                         ("numpy.testing", "Tester")])
def test_restricted_unpickler_refuses_other_globals(module, name):
    payload = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"."
    with pytest.raises(pickle.UnpicklingError, match=f"refusing to load {module}.{name}"):
        RestrictedUnpickler(io.BytesIO(payload), "batch").load()


def test_codecs_encode_only_for_latin1():
    ok = pickle.dumps({b"k": b"\xff\x00"}, protocol=2)  # protocol 2 stores bytes via _codecs.encode
    assert load_pickled_batch(ok, "batch") == {"k": b"\xff\x00"}
    evil = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x03\x00\x00\x00rot\x86R."
    with pytest.raises(DatasetFormatError, match="refusing _codecs.encode with encoding 'rot'"):
        load_pickled_batch(evil, "batch")


def test_truncated_pickle_and_non_dict(tmp_path):
    blob = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}, protocol=2)
    with pytest.raises(DatasetFormatError, match="b1: corrupt or truncated batch"):
        load_pickled_batch(blob[: len(blob) // 2], "b1")
    with pytest.raises(DatasetFormatError, match="b2: expected a dict, found list"):
        load_pickled_batch(pickle.dumps([1, 2]), "b2")


@pytest.mark.parametrize("member", ["../cifar-10-batches-py/data_batch_1", "/tmp/data_batch_1",
                                    "cifar-10-batches-py/../../data_batch_1"])
def test_tar_path_traversal_is_refused(tmp_path, member):
    path = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        add_to_tar(tar, member, b"x")
    with pytest.raises(DatasetFormatError, match="absolute paths and '..' are not allowed"):
        read_members(str(path), ["data_batch_1"])


def test_truncated_archive_names_file(data_dirs):
    path = data_dirs["keras"] / "cifar-10-python.tar.gz"
    write_cifar10_python(path, fake_cifar())
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DatasetFormatError, match=r"cifar-10-python\.tar\.gz: corrupt or truncated archive"):
        cifar10.load_data()


def test_incomplete_archive_lists_missing_members(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        add_to_tar(tar, "cifar-10-batches-py/data_batch_1", b"x")
    with pytest.raises(DatasetFormatError, match="incomplete dataset, missing data_batch_2, test_batch"):
        read_members(str(path), ["data_batch_1", "data_batch_2", "test_batch"])


def test_truncated_binary_batch(data_dirs):
    folder = data_dirs["keras"] / "cifar-10-batches-bin"
    write_cifar10_binary(folder, fake_cifar())
    batch = folder / "data_batch_3.bin"
    batch.write_bytes(batch.read_bytes()[:-10])
    with pytest.raises(DatasetFormatError, match=r"data_batch_3\.bin: truncated or corrupt binary batch: "
                                                 r"9209 bytes is not a whole number of 3073-byte records"):
        cifar10.load_data()


def test_wrong_data_shape_in_batch(tmp_path):
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    from deepgrad.datasets.cifar import load_python_batches
    with pytest.raises(DatasetFormatError, match=r"'data' must be a uint8 array of shape \(n, 3072\)"):
        load_python_batches(str(folder), ["test_batch"])


@pytest.mark.parametrize("where", ["cifar-10-batches-py/cifar-10-batches-py", "cifar-10-batches-py.tar.gz",
                                   "cifar-10-batches-py_archive"])
def test_cifar10_in_keras_cache_names(data_dirs, where):
    data = fake_cifar(seed=11)
    write_cifar10_python(data_dirs["keras"] / where, data)
    (x_train, _), (_, y_test) = cifar10.load_data()
    np.testing.assert_array_equal(x_train, data[0][0])
    np.testing.assert_array_equal(y_test[:, 0], data[1][1])


def test_cifar100_in_keras_extracted_folder(data_dirs):
    data = fake_cifar(n_per_batch=4, n_batches=1, n_test=2, classes=100, seed=12)
    write_cifar100_python(data_dirs["keras"] / "cifar-100-python-target" / "cifar-100-python", data,
                          data[0][1] // 5, data[1][1] // 5)
    (x_train, y_train), _ = cifar100.load_data("coarse")
    np.testing.assert_array_equal(x_train, data[0][0])
    np.testing.assert_array_equal(y_train[:, 0], data[0][1] // 5)
