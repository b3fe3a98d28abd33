"""examples/transfer_learning.py for a few steps on a tiny subset (the full run is in RESULTS.md):
the pretrained base is a Keras ``.keras`` file that Keras reads and predicts with as deepgrad does."""
import json
import os

import numpy as np
import pytest
from test_custom_training_examples import load_example

import deepgrad as dg

keras = pytest.importorskip("keras")


def test_transfer_learning_example_runs_and_its_base_is_a_keras_file(tmp_path):
    example = load_example("transfer_learning")
    results = example.main(out=str(tmp_path), pretrain_samples=256, pretrain_epochs=1, label_counts=(20,),
                           seeds=(0,), head_steps=2, tune_steps=2, test_samples=50)
    with open(tmp_path / "results.json") as f:
        assert json.load(f)["runs"] == results["runs"]
    (run,) = results["runs"]
    assert run["labels"] == 20 and 0.0 <= run["transfer"] <= 1.0 and 0.0 <= run["scratch"] <= 1.0
    assert results["test_digits"] == 50 and 0.0 < results["fashion_mnist_test_accuracy"] <= 1.0
    path = str(tmp_path / "fashion_base.keras")
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32")
    ours = dg.models.load_model(path).predict(x, verbose=0)
    theirs = keras.ops.convert_to_numpy(keras.saving.load_model(path)(x, training=False))
    assert ours.shape == (3, 64)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


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
