"""examples/transfer_learning.py for a few steps on a tiny subset (the full run is in RESULTS.md):
the pretrained base is a Keras ``.keras`` file that Keras reads and predicts with as deepgrad does,
it is cached by path, and the batch-norm adaptation sets the moving statistics to the digits'."""
import json
import os

import numpy as np
import pytest
from test_custom_training_examples import load_example

import deepgrad as dg

keras = pytest.importorskip("keras")


def test_transfer_learning_example_runs_and_its_base_is_a_keras_file(tmp_path):
    example = load_example("transfer_learning")
    base = str(tmp_path / "fashion_base.keras")
    options = dict(out=str(tmp_path), base=base, pretrain_samples=256, pretrain_epochs=1, widths=(4, 8),
                   label_counts=(20,), seeds=(0,), head_steps=2, tune_steps=2, test_samples=50,
                   fashion_test_samples=100)
    results = example.main(**options)
    with open(tmp_path / "results.json") as f:
        assert json.load(f)["runs"] == results["runs"]
    (run,) = results["runs"]
    assert run["labels"] == 20 and 0.0 <= run["transfer"] <= 1.0 and 0.0 <= run["scratch"] <= 1.0
    assert results["test_digits"] == 50 and 0.0 < results["fashion_mnist_test_accuracy"] <= 1.0
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32")
    ours = dg.models.load_model(base).predict(x, verbose=0)
    theirs = keras.ops.convert_to_numpy(keras.saving.load_model(base)(x, training=False))
    assert ours.shape == (3, 8)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)

    # a second run takes the cached base as it is, with its recorded Fashion-MNIST accuracy
    stamp = os.stat(base).st_mtime_ns
    again = example.main(**{**options, "arms": ("transfer",), "pretrain_samples": 10 ** 9})
    assert os.stat(base).st_mtime_ns == stamp
    assert again["fashion_mnist_test_accuracy"] == results["fashion_mnist_test_accuracy"]
    assert set(again["runs"][0]) == {"labels", "seed", "transfer"}


def test_batchnorm_adaptation_takes_the_statistics_of_the_new_images():
    example = load_example("transfer_learning")
    dg.utils.set_random_seed(0)
    base = example.build_base(widths=(4, 6))
    rng = np.random.default_rng(1)
    x = (0.2 * rng.random((40, 28, 28, 1)) + 0.5).astype("float32")
    assert example.adapt_batchnorm(base, x, max_images=30) == 2
    first, second = [layer for layer in base.layers if isinstance(layer, dg.layers.BatchNormalization)]
    assert first.momentum == second.momentum == 0.99
    conv = np.asarray(base.layers[1](x[:30]))
    np.testing.assert_allclose(np.asarray(first.moving_mean), conv.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(first.moving_variance), conv.var(axis=(0, 1, 2)), rtol=1e-3, atol=1e-7)
    # in inference mode the adapted layers now normalise these images: per channel mean beta, std |gamma|
    upto_second = dg.Model(base.inputs, second.output)
    normalised = np.asarray(upto_second(x[:30], training=False))
    np.testing.assert_allclose(normalised.mean(axis=(0, 1, 2)), np.asarray(second.beta), atol=1e-4)
    variance = np.asarray(second.moving_variance)  # output std = |gamma| sqrt(var / (var + epsilon))
    np.testing.assert_allclose(normalised.std(axis=(0, 1, 2)),
                               np.abs(np.asarray(second.gamma)) * np.sqrt(variance / (variance + second.epsilon)),
                               rtol=1e-3)
    base.trainable = False  # frozen, batch norm would keep its statistics: refused, not ignored
    with pytest.raises(ValueError, match="frozen"):
        example.adapt_batchnorm(base, x)


def test_labelled_subsets_are_balanced_and_seeded():
    example = load_example("transfer_learning")
    y = np.repeat(np.arange(10), 50)
    x = np.arange(500)
    xs, ys = example.labelled_subset(x, y, 100, seed=0)
    assert np.array_equal(np.bincount(ys, minlength=10), np.full(10, 10))
    assert np.array_equal(y[xs], ys)
    assert not np.array_equal(np.sort(xs), np.sort(example.labelled_subset(x, y, 100, seed=1)[0]))
    assert np.array_equal(np.bincount(example.labelled_subset(x, y, 25, seed=0)[1], minlength=10),
                          [3] * 5 + [2] * 5)
