"""boston_housing, california_housing, imdb and reuters: on small files the tests write in
Keras's formats, the loaders give exactly what Keras's own loaders give on the same files;
downloads come from a local server with their checksums; hostile pickles are refused."""
import hashlib
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from deepgrad.datasets import (DatasetFormatError, DatasetNotFoundError, boston_housing,  # noqa: E402
                               california_housing, imdb, reuters, sources)


def _ragged(rng, n, vocabulary=60, longest=30):
    out = np.empty(n, dtype=object)
    out[:] = [rng.integers(1, vocabulary, size=rng.integers(1, longest)).tolist() for _ in range(n)]
    return out


def write_imdb(path, seed=0):
    rng = np.random.default_rng(seed)
    np.savez(path, x_train=_ragged(rng, 40), y_train=rng.integers(0, 2, 40), x_test=_ragged(rng, 30),
             y_test=rng.integers(0, 2, 30))


def write_reuters(path, seed=0):
    rng = np.random.default_rng(seed)
    np.savez(path, x=_ragged(rng, 50), y=rng.integers(0, 46, 50))


def write_housing(path, n=50, features=13, seed=0):
    rng = np.random.default_rng(seed)
    np.savez(path, x=rng.normal(size=(n, features)), y=rng.normal(size=n))


def _keras_loader(monkeypatch, module_name, path):
    module = __import__(f"keras.src.datasets.{module_name}", fromlist=["load_data"])
    monkeypatch.setattr(module, "get_file", lambda *args, **kwargs: str(path))
    return module


def _same(ours, theirs):
    (xa, ya), (xb, yb) = ours
    (ka, kya), (kb, kyb) = theirs
    assert len(xa) == len(ka) and len(xb) == len(kb)
    assert [list(s) for s in xa] == [list(s) for s in ka]
    assert [list(s) for s in xb] == [list(s) for s in kb]
    np.testing.assert_array_equal(ya, kya)
    np.testing.assert_array_equal(yb, kyb)


def _arrays(data):
    (x_train, y_train), (x_test, y_test) = data
    return [x_train, y_train, x_test, y_test]


IMDB_ARGS = [{}, {"num_words": 30}, {"num_words": 30, "skip_top": 5, "oov_char": None},
             {"maxlen": 15, "seed": 3}, {"start_char": None, "index_from": 0},
             {"start_char": None, "index_from": 2, "oov_char": 7, "num_words": 40}]


@pytest.mark.parametrize("kwargs", IMDB_ARGS)
def test_imdb_matches_keras(data_dirs, monkeypatch, kwargs):
    write_imdb(data_dirs["keras"] / "imdb.npz")
    theirs = _keras_loader(monkeypatch, "imdb", data_dirs["keras"] / "imdb.npz").load_data(**kwargs)
    ours = imdb.load_data(**kwargs)
    _same(ours, theirs)
    assert ours[0][0].dtype == object and ours[0][0].ndim == 1


@pytest.mark.parametrize("kwargs", IMDB_ARGS[:4] + [{"test_split": 0.5, "maxlen": 20}])
def test_reuters_matches_keras(data_dirs, monkeypatch, kwargs):
    write_reuters(data_dirs["cache"] / "reuters.npz")
    theirs = _keras_loader(monkeypatch, "reuters", data_dirs["cache"] / "reuters.npz").load_data(**kwargs)
    _same(reuters.load_data(**kwargs), theirs)
    assert reuters.get_label_names() == keras.datasets.reuters.get_label_names()


@pytest.mark.parametrize("kwargs", [{}, {"test_split": 0.3, "seed": 7}, {"test_split": 0.0}])
def test_boston_housing_matches_keras(data_dirs, monkeypatch, kwargs):
    write_housing(data_dirs["system"] / "boston_housing.npz")
    theirs = _keras_loader(monkeypatch, "boston_housing", data_dirs["system"] / "boston_housing.npz")
    for a, b in zip(_arrays(boston_housing.load_data(**kwargs)), _arrays(theirs.load_data(**kwargs))):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("version", ["large", "small"])
def test_california_housing_matches_keras(data_dirs, monkeypatch, version):
    write_housing(data_dirs["keras"] / "california_housing.npz", n=700, features=8)
    theirs = _keras_loader(monkeypatch, "california_housing", data_dirs["keras"] / "california_housing.npz")
    ours = california_housing.load_data(version=version, test_split=0.25)
    for a, b in zip(_arrays(ours), _arrays(theirs.load_data(version=version, test_split=0.25))):
        np.testing.assert_array_equal(a, b)
    assert len(ours[0][0]) + len(ours[1][0]) == (700 if version == "large" else 600)
    with pytest.raises(ValueError, match="version"):
        california_housing.load_data(version="medium")
    with pytest.raises(ValueError, match="test_split"):
        california_housing.load_data(test_split=1.0)


def test_word_index_is_read_from_json(data_dirs):
    (data_dirs["keras"] / "imdb_word_index.json").write_text(json.dumps({"the": 1, "film": 2}))
    assert imdb.get_word_index() == {"the": 1, "film": 2}


def test_missing_files_say_where_and_from_which_url(data_dirs):
    for loader, name in ((imdb.load_data, "imdb.npz"), (reuters.load_data, "reuters.npz"),
                         (boston_housing.load_data, "boston_housing.npz"),
                         (california_housing.load_data, "california_housing.npz")):
        with pytest.raises(DatasetNotFoundError) as info:
            loader()
        text = str(info.value)
        assert "DEEPGRAD_OFFLINE is set" in text and name in text
        assert "https://storage.googleapis.com/tensorflow/tf-keras-datasets/" + name in text
        assert str(data_dirs["cache"]) in text


def test_download_from_a_local_server_checks_the_hash(data_dirs, http_server, monkeypatch):
    write_reuters(http_server["root"] / "reuters.npz")
    data = (http_server["root"] / "reuters.npz").read_bytes()
    monkeypatch.delenv("DEEPGRAD_OFFLINE")
    monkeypatch.setattr(sources, "BASE_URL", http_server["url"])
    monkeypatch.setattr(reuters, "SHA256", hashlib.sha256(data).hexdigest())
    (x_train, _), (x_test, _) = reuters.load_data()
    assert len(x_train) + len(x_test) == 50 and http_server["requests"] == ["/reuters.npz"]
    assert (data_dirs["cache"] / "reuters.npz").read_bytes() == data
    # a file whose hash differs is refused and not kept
    os.remove(data_dirs["cache"] / "reuters.npz")
    monkeypatch.setattr(reuters, "SHA256", "0" * 64)
    with pytest.raises(Exception, match="(?i)hash|checksum"):
        reuters.load_data()
    assert not (data_dirs["cache"] / "reuters.npz").exists()


class _Hostile:
    def __reduce__(self):
        return (os.system, ("echo owned",))


def test_a_pickle_that_would_run_code_is_refused(data_dirs):
    payload = io.BytesIO()
    np.lib.format.write_array_header_1_0(payload, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    pickle.dump(_Hostile(), payload)
    with zipfile.ZipFile(data_dirs["cache"] / "reuters.npz", "w") as archive:
        archive.writestr("x.npy", payload.getvalue())
        buffer = io.BytesIO()
        np.save(buffer, np.zeros(1, np.int64))
        archive.writestr("y.npy", buffer.getvalue())
    with pytest.raises(DatasetFormatError, match="refusing to load posix.system|refusing to load nt.system"):
        reuters.load_data()


def test_a_file_that_is_not_an_npz_is_named(data_dirs):
    (data_dirs["cache"] / "boston_housing.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetFormatError, match="boston_housing.npz: not a readable .npz"):
        boston_housing.load_data()
