"""Writers of small dataset files in the real formats (IDX, npz, CIFAR python and binary batches)."""
import gzip
import hashlib
import io
import os
import pickle
import tarfile

import numpy as np

from deepgrad.datasets.idx import write_idx


def sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def fake_mnist(n_train=6, n_test=4, seed=0, size=28):
    rng = np.random.default_rng(seed)
    return ((rng.integers(0, 256, (n_train, size, size), dtype=np.uint8), rng.integers(0, 10, n_train, dtype=np.uint8)),
            (rng.integers(0, 256, (n_test, size, size), dtype=np.uint8), rng.integers(0, 10, n_test, dtype=np.uint8)))


def write_idx_set(folder, data, names, gz=True):
    """Write ((x_train, y_train), (x_test, y_test)) as four IDX files named ``names`` (images, labels...)."""
    folder.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = data
    for name, array in zip(names, (x_train, y_train, x_test, y_test)):
        write_idx(str(folder / (name + (".gz" if gz else ""))), array)


FASHION_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def fake_cifar(n_per_batch=3, n_batches=5, n_test=4, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    n = n_per_batch * n_batches
    return ((rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, classes, n, dtype=np.uint8)),
            (rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8), rng.integers(0, classes, n_test, dtype=np.uint8)))


def cifar_rows(x):
    """Images (n, 32, 32, 3) -> CIFAR's rows of 3072 bytes: the R plane, then G, then B."""
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2).reshape(len(x), 3072))


def add_to_tar(tar, name, data: bytes):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_cifar10_python(path, data, protocol=2, n_batches=5, folder="cifar-10-batches-py"):
    """A ``cifar-10-python.tar.gz``-style archive (or a folder if ``path`` has no .tar.gz) of pickled dicts."""
    (x_train, y_train), (x_test, y_test) = data
    members = {}
    for i, (xs, ys) in enumerate(zip(np.array_split(x_train, n_batches), np.array_split(y_train, n_batches)), 1):
        members[f"data_batch_{i}"] = {b"batch_label": b"training batch", b"labels": [int(v) for v in ys],
                                      b"data": cifar_rows(xs), b"filenames": [b"x.png"] * len(xs)}
    members["test_batch"] = {b"batch_label": b"testing batch", b"labels": [int(v) for v in y_test],
                             b"data": cifar_rows(x_test)}
    members["batches.meta"] = {b"label_names": [b"airplane"] * 10, b"num_vis": 3072}
    blobs = {name: pickle.dumps(d, protocol=protocol) for name, d in members.items()}
    write_members(path, folder, blobs)


def write_members(path, folder, blobs: dict):
    path = str(path)
    if path.endswith((".tar.gz", "_archive")):
        with tarfile.open(path, "w:gz") as tar:
            for name, blob in blobs.items():
                add_to_tar(tar, f"{folder}/{name}", blob)
    else:
        os.makedirs(path, exist_ok=True)
        for name, blob in blobs.items():
            with open(os.path.join(path, name), "wb") as f:
                f.write(blob)


def write_cifar10_binary(path, data, n_batches=5):
    (x_train, y_train), (x_test, y_test) = data

    def records(x, y):
        return np.concatenate([y[:, None], cifar_rows(x)], axis=1).astype(np.uint8).tobytes()

    blobs = {f"data_batch_{i}.bin": records(xs, ys) for i, (xs, ys) in
             enumerate(zip(np.array_split(x_train, n_batches), np.array_split(y_train, n_batches)), 1)}
    blobs["test_batch.bin"] = records(x_test, y_test)
    blobs["batches.meta.txt"] = b"airplane\n"
    write_members(path, "cifar-10-batches-bin", blobs)


def write_cifar100_python(path, data, coarse_train, coarse_test, protocol=2):
    (x_train, y_train), (x_test, y_test) = data
    blobs = {
        "train": pickle.dumps({b"data": cifar_rows(x_train), b"fine_labels": [int(v) for v in y_train],
                               b"coarse_labels": [int(v) for v in coarse_train]}, protocol=protocol),
        "test": pickle.dumps({b"data": cifar_rows(x_test), b"fine_labels": [int(v) for v in y_test],
                              b"coarse_labels": [int(v) for v in coarse_test]}, protocol=protocol),
        "meta": pickle.dumps({b"fine_label_names": [b"apple"] * 100}, protocol=protocol),
    }
    write_members(path, "cifar-100-python", blobs)


def write_mnist_npz(path, data):
    (x_train, y_train), (x_test, y_test) = data
    np.savez_compressed(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data)
