"""The seeds' programs in examples/, run on real data that is available offline."""
import importlib.util
import os

import numpy as np
import pytest

import deepgrad as dg

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seed_000_tensorflow_loop_solves_xor():
    assert load_example("seed_000_tensorflow_loop").main(verbose=False) == 1.0


@pytest.mark.slow
def test_seed_001_pipeline_and_cnn_on_real_digit_images(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for label in (0, 1):
        folder = tmp_path / f"digit_{label}"
        folder.mkdir()
        for i, img in enumerate(digits.images[digits.target == label][:8]):
            pixels = (img * 255 / 16).astype(np.uint8)
            Image.fromarray(pixels, mode="L").resize((40, 40)).save(folder / f"{i}.png")
    example = load_example("seed_001_cnn_pipeline")

    x = example.preprocess(folder / "0.png")
    assert x.shape == (1, 224, 224, 3) and 0.0 <= x.min() and x.max() <= 1.0 + 1e-6

    dg.utils.set_random_seed(1)
    model, history, predictions, labels = example.main(str(tmp_path), epochs=5, batch_size=8, verbose=0)
    assert model.count_params() == 11_170_250  # as Keras counts the seed's model
    assert predictions.shape == (16, 10)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert (predictions.argmax(1) == labels.argmax(1)).mean() >= 0.9


@pytest.mark.slow
def test_seed_002_cifar_cnn_trains_on_real_images():
    # CIFAR-10 is not reachable offline: the seed's program runs on real Fashion-MNIST
    # images padded to CIFAR's 32x32 and given three channels.
    (x_train, y_train), (x_test, y_test) = dg.datasets.fashion_mnist.load_data()

    def as_cifar(x):
        x = np.pad(x[:, :, :, None], ((0, 0), (2, 2), (2, 2), (0, 0)))
        return np.repeat(x, 3, axis=3)

    data = (as_cifar(x_train[:4000]), y_train[:4000, None]), (as_cifar(x_test[:1000]), y_test[:1000, None])
    dg.utils.set_random_seed(2)
    model, (loss, accuracy) = load_example("seed_002_cifar_cnn").main(epochs=2, data=data, verbose=0)
    assert model.count_params() == 167_562
    assert accuracy >= 0.70


@pytest.mark.slow
def test_seed_003_mlp_on_offline_mnist():
    dg.utils.set_random_seed(3)
    model, (loss, accuracy) = load_example("seed_003_mlp").main(epochs=5, dataset="mnist_subset", verbose=0)
    assert model.count_params() == 101_770
    assert accuracy >= 0.88


@pytest.mark.slow
def test_seed_004_cnn_on_offline_mnist():
    dg.utils.set_random_seed(4)
    model, (loss, accuracy) = load_example("seed_004_mnist_cnn").main(epochs=3, dataset="mnist_subset", verbose=0)
    assert model.count_params() == 693_962
    assert accuracy >= 0.90
