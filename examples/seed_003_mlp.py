"""Seed 003: an MLP on MNIST's 784 pixels, the tutorial's program with only its imports changed.

The seed fetches MNIST from OpenML (``sklearn.datasets.fetch_openml('mnist_784')``), which
needs the internet; here the same 70,000 images come from ``deepgrad.datasets.mnist`` (or
the 5,000 offline ones, ``--dataset mnist_subset``), flattened to the 784 columns OpenML
gives, and ``train_test_split`` is deepgrad's.  Two changes beyond imports, both to the
data and both marked: the pixels are scaled to [0, 1] (OpenML's 0-255 values make Adam's
first steps needlessly rough) and the labels are integers (OpenML returns them as strings,
which ``sparse_categorical_crossentropy`` cannot take in any framework).

    python examples/seed_003_mlp.py --epochs 10
"""
import argparse

import numpy as np

from deepgrad.compat import tensorflow as tf
from deepgrad import datasets
from deepgrad.utils import train_test_split


def load_mnist_784(dataset):
    """OpenML's ``mnist_784``: all images as one (N, 784) table with their labels."""
    (x_a, y_a), (x_b, y_b) = getattr(datasets, dataset).load_data()
    data = np.concatenate([x_a, x_b]).reshape(-1, 784)
    target = np.concatenate([y_a, y_b])
    # Changed: scaled to [0, 1] and integer labels (see the module docstring).
    return data.astype("float32") / 255, target.astype("int64")


def main(epochs=10, dataset="mnist", verbose=1):
    data, target = load_mnist_784(dataset)
    X_train, X_test, y_train, y_test = train_test_split(data, target, test_size=0.2, random_state=42)

    model = tf.keras.Sequential([
        tf.keras.layers.Dense(128, activation='relu', input_shape=(784,)),
        tf.keras.layers.Dense(10, activation='softmax')
    ])

    model.compile(optimizer='adam',
                  loss='sparse_categorical_crossentropy',
                  metrics=['accuracy'])

    model.fit(X_train, y_train, epochs=epochs, verbose=verbose)

    score = model.evaluate(X_test, y_test, verbose=0)
    print('Test loss:', score[0])
    print('Test accuracy:', score[1])
    return model, score


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "mnist_subset", "fashion_mnist"])
    args = parser.parse_args()
    main(args.epochs, args.dataset)
