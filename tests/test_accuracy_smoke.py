"""The accuracy benchmark in small: the seed models learn real MNIST digits (4,000 train, 1,000 test)."""
import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "accuracy.py"
_spec = importlib.util.spec_from_file_location("benchmarks_accuracy", _PATH)
accuracy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(accuracy)


@pytest.fixture(scope="module")
def mnist_subset():
    return accuracy.load("mnist_subset")


def test_data_is_scaled_and_shaped(mnist_subset):
    (x_train, y_train), (x_test, y_test) = mnist_subset
    assert x_train.shape == (4000, 28, 28, 1) and x_test.shape == (1000, 28, 28, 1)
    assert x_train.dtype.name == "float32" and 0.0 == x_train.min() and x_train.max() == 1.0
    assert sorted(set(y_test.tolist())) == list(range(10))


@pytest.mark.slow
def test_seed_004_cnn_reaches_90_percent_in_2_epochs(mnist_subset):
    result = accuracy.train_deepgrad("cnn", mnist_subset, epochs=2, seed=4, verbose=0)
    assert result["accuracy"] >= 0.90, result
    assert result["loss"] < 0.5, result


@pytest.mark.slow
def test_seed_003_mlp_reaches_85_percent_in_3_epochs(mnist_subset):
    result = accuracy.train_deepgrad("mlp", mnist_subset, epochs=3, seed=3, verbose=0)
    assert result["accuracy"] >= 0.85, result
    assert result["loss"] < 0.6, result
