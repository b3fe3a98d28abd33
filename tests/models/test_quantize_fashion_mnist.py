"""Model.quantize("int8") on the seed MLP and the seed 004 CNN trained briefly on Fashion-MNIST
(offline, Debian's copy through deepgrad.datasets): at most 0.3 accuracy points lost, a saved
file at least 3.5x smaller, identical predictions after reloading."""
import os

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import datasets, layers


@pytest.fixture(scope="module")
def fashion():
    try:
        (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist.load_data()
    except Exception as e:  # noqa: BLE001 - no offline copy on this machine
        pytest.skip(f"Fashion-MNIST is not available offline: {e}")
    prepare = lambda x: (x.astype(np.float32) / 255.0)[..., None]  # noqa: E731
    return (prepare(x_train), y_train.astype(np.int64)), (prepare(x_test), y_test.astype(np.int64))


def _seed_model(name):
    if name == "mlp":  # seed 003: Dense(128, relu) on the 784 pixels, softmax over 10
        stack = [layers.Flatten(), layers.Dense(128, activation="relu")]
    else:  # seed 004
        stack = [layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)), layers.Flatten(),
                 layers.Dense(128, activation="relu")]
    model = dg.Sequential([layers.Input((28, 28, 1)), *stack, layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.slow
@pytest.mark.parametrize("name,train_images,test_images", [("mlp", 20000, 10000), ("cnn", 6000, 5000)])
def test_int8_keeps_accuracy_shrinks_the_file_and_reloads_identically(fashion, tmp_path, name, train_images,
                                                                      test_images):
    (x_train, y_train), (x_test, y_test) = fashion
    x_test, y_test = x_test[:test_images], y_test[:test_images]
    dg.utils.set_random_seed(0)
    model = _seed_model(name)
    model.fit(x_train[:train_images], y_train[:train_images], epochs=1, batch_size=128, verbose=0)
    model.save(tmp_path / "float.deepgrad", include_optimizer=False)
    quantized = dg.models.load_model(tmp_path / "float.deepgrad")
    quantized.quantize("int8")
    quantized.save(tmp_path / "int8.deepgrad", include_optimizer=False)
    float_accuracy = np.mean(model.predict(x_test, batch_size=500, verbose=0).argmax(-1) == y_test)
    int8_accuracy = np.mean(quantized.predict(x_test, batch_size=500, verbose=0).argmax(-1) == y_test)
    assert float_accuracy > 0.75  # trained: the comparison means something
    assert 100 * (float_accuracy - int8_accuracy) <= 0.3, (float_accuracy, int8_accuracy)
    ratio = os.path.getsize(tmp_path / "float.deepgrad") / os.path.getsize(tmp_path / "int8.deepgrad")
    assert ratio >= 3.5, ratio
    reloaded = dg.models.load_model(tmp_path / "int8.deepgrad")
    np.testing.assert_array_equal(reloaded.predict(x_test[:1000], verbose=0),
                                  quantized.predict(x_test[:1000], verbose=0))
