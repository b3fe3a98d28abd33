"""Where datasets are looked for, downloads from a local server, checksums, and the missing-dataset error."""
import os

import numpy as np
import pytest

import deepgrad.datasets as datasets
from dataset_files import FASHION_NAMES, fake_mnist, sha256, write_idx_set, write_mnist_npz
from deepgrad.datasets import DatasetNotFoundError, fashion_mnist, mnist, sources
from deepgrad.utils.file_utils import ChecksumError


def _first_label(data):
    return int(data[0][1][0])


def _mnist_with_label(label, seed):
    (xt, yt), test = fake_mnist(seed=seed)
    yt[0] = label
    return (xt, yt), test


# --------------------------------------------------------------------------- search order
def test_search_order_cache_then_keras_then_system(data_dirs):
    write_mnist_npz(data_dirs["system"] / "mnist.npz", _mnist_with_label(3, 0))
    assert _first_label(mnist.load_data()) == 3
    write_mnist_npz(data_dirs["keras"] / "mnist.npz", _mnist_with_label(2, 1))
    assert _first_label(mnist.load_data()) == 2
    write_mnist_npz(data_dirs["cache"] / "mnist.npz", _mnist_with_label(1, 2))
    assert _first_label(mnist.load_data()) == 1


def test_deepgrad_home_moves_the_cache(data_dirs, tmp_path, monkeypatch):
    home = tmp_path / "elsewhere"
    monkeypatch.setenv("DEEPGRAD_HOME", str(home))
    assert sources.search_dirs()[0] == str(home / "datasets")
    write_mnist_npz(data_dirs["cache"] / "mnist.npz", _mnist_with_label(1, 0))  # the default cache is ignored now
    (home / "datasets").mkdir(parents=True)
    write_mnist_npz(home / "datasets" / "mnist.npz", _mnist_with_label(7, 1))
    assert _first_label(mnist.load_data()) == 7


def test_search_paths_expand_home(data_dirs):
    assert sources.search_dirs()[1] == str(data_dirs["keras"])


def test_mnist_path_argument_names_the_npz(data_dirs):
    write_mnist_npz(data_dirs["keras"] / "my-mnist.npz", _mnist_with_label(4, 0))
    assert _first_label(mnist.load_data(path="my-mnist.npz")) == 4


# --------------------------------------------------------------------------- missing data
def test_missing_dataset_says_what_to_put_where(data_dirs):
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data()
    text = str(info.value)
    assert "MNIST was not found and DEEPGRAD_OFFLINE is set" in text
    assert "mnist.npz" in text and "mnist/train-images-idx3-ubyte.gz" in text
    for folder in (data_dirs["cache"], data_dirs["keras"], data_dirs["system"]):
        assert str(folder) in text
    assert text.index(str(data_dirs["cache"])) < text.index(str(data_dirs["keras"])) < text.index(str(data_dirs["system"]))
    assert mnist.URL in text
    assert "apt-get install dataset-fashion-mnist" in text and "mnist_subset" in text and "digits" in text
    assert not os.listdir(data_dirs["cache"])


def test_fashion_missing_lists_all_four_files(data_dirs):
    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist.load_data()
    for name in FASHION_NAMES:
        assert f"fashion-mnist/{name}.gz" in str(info.value)


# --------------------------------------------------------------------------- downloads
@pytest.fixture
def online(data_dirs, http_server, monkeypatch):
    monkeypatch.delenv("DEEPGRAD_OFFLINE")
    monkeypatch.setattr(sources, "BASE_URL", http_server["url"])
    return http_server


def test_download_from_local_server(data_dirs, online, monkeypatch, capsys):
    data = fake_mnist(seed=9)
    write_mnist_npz(online["root"] / "mnist.npz", data)
    monkeypatch.setattr(mnist, "SHA256", sha256(online["root"] / "mnist.npz"))
    got = mnist.load_data()
    np.testing.assert_array_equal(got[0][0], data[0][0])
    np.testing.assert_array_equal(got[1][1], data[1][1])
    assert online["requests"] == ["/mnist.npz"]
    assert sorted(os.listdir(data_dirs["cache"])) == ["mnist.npz"]  # no temporary file left
    assert "mnist.npz" in capsys.readouterr().err  # the progress bar
    mnist.load_data()
    assert online["requests"] == ["/mnist.npz"]  # second load comes from the cache


def test_download_url_from_environment(data_dirs, http_server, monkeypatch):
    monkeypatch.delenv("DEEPGRAD_OFFLINE")
    monkeypatch.setenv("DEEPGRAD_DATASETS_URL", http_server["url"] + "/")
    assert sources.origins(["https://example.org/a/b/mnist.npz"]) == [http_server["url"] + "/mnist.npz"]
    monkeypatch.delenv("DEEPGRAD_DATASETS_URL")
    assert sources.origins(["https://example.org/x.gz", "http://mirror/x.gz"]) == \
        ["https://example.org/x.gz", "http://mirror/x.gz"]


def test_fashion_download_of_four_files(data_dirs, online, monkeypatch):
    data = fake_mnist(3, 2, seed=4)
    write_idx_set(online["root"], data, FASHION_NAMES)
    for name in FASHION_NAMES:
        monkeypatch.setitem(fashion_mnist.FILE_HASHES, name + ".gz", sha256(online["root"] / (name + ".gz")))
    got = fashion_mnist.load_data()
    np.testing.assert_array_equal(got[0][0], data[0][0])
    assert sorted(online["requests"]) == sorted(f"/{n}.gz" for n in FASHION_NAMES)
    assert sorted(os.listdir(data_dirs["cache"] / "fashion-mnist")) == sorted(n + ".gz" for n in FASHION_NAMES)


def test_checksum_mismatch_keeps_nothing(data_dirs, online):
    write_mnist_npz(online["root"] / "mnist.npz", fake_mnist())  # not the published file
    served = sha256(online["root"] / "mnist.npz")
    with pytest.raises(ChecksumError) as info:
        mnist.load_data()
    text = str(info.value)
    assert "checksum mismatch for mnist.npz" in text and mnist.SHA256 in text and served in text
    assert os.listdir(data_dirs["cache"]) == []


def test_unreachable_file_falls_back_to_helpful_error(data_dirs, online):
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data()
    text = str(info.value)
    assert "could not be downloaded" in text and "HTTP 404" in text and "mnist_subset" in text
    assert os.listdir(data_dirs["cache"]) == []


# --------------------------------------------------------------------------- by name
def test_available_and_load_by_name(data_dirs):
    listed = dict(datasets.available())
    assert list(listed) == ["mnist", "fashion_mnist", "cifar10", "cifar100", "digits", "mnist_subset", "xor"]
    assert listed["mnist"] == "missing" and listed["cifar10"] == "missing" and listed["xor"] == "built in"
    data = fake_mnist(seed=8)
    write_idx_set(data_dirs["system"] / "fashion-mnist", data, FASHION_NAMES)
    assert datasets.where("fashion_mnist") == str(data_dirs["system"] / "fashion-mnist")
    assert datasets.where("Fashion-MNIST") == str(data_dirs["system"] / "fashion-mnist")
    write_mnist_npz(data_dirs["keras"] / "mnist.npz", data)
    assert datasets.where("mnist") == str(data_dirs["keras"] / "mnist.npz")
    np.testing.assert_array_equal(datasets.load("fashion-mnist")[0][0], data[0][0])
    np.testing.assert_array_equal(datasets.load("MNIST")[1][1], data[1][1])


def test_unknown_name_lists_known_ones():
    with pytest.raises(KeyError, match="unknown dataset 'imagenet'; known: mnist, fashion_mnist, cifar10"):
        datasets.load("imagenet")
