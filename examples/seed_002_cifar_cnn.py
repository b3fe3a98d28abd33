"""Seed 002: a CNN on CIFAR-10, the tutorial's program with only its imports changed.

``keras`` became ``deepgrad`` (``import deepgrad as keras``).  The seed has two bugs, fixed
here and marked where they were:

- it adds a channel axis with ``np.expand_dims(x, axis=3)``, but CIFAR-10 images already are
  ``(32, 32, 3)``: the result, ``(N, 32, 32, 1, 3)``, fits no ``input_shape=(32, 32, 3)`` model;
- it trains with ``categorical_crossentropy`` on CIFAR's integer labels ``(N, 1)``; that loss
  needs one-hot labels, so they go through ``to_categorical``.

CIFAR-10 is downloaded (or found in ``~/.keras/datasets``) when it can be.

    python examples/seed_002_cifar_cnn.py --epochs 10
"""
import argparse

import numpy as np
import deepgrad as keras
from deepgrad.models import Sequential
from deepgrad.layers import Dense, Dropout, Flatten
from deepgrad.layers import Conv2D, MaxPooling2D


def main(epochs=10, data=None, verbose=1):
    (x_train, y_train), (x_test, y_test) = data or keras.datasets.cifar10.load_data()

    x_train = x_train.astype('float32') / 255
    x_test = x_test.astype('float32') / 255
    # Fixed: the seed's np.expand_dims(x, axis=3) here gave (N, 32, 32, 1, 3) images.
    # Fixed: categorical_crossentropy needs one-hot labels.
    y_train = keras.utils.to_categorical(y_train, 10)
    y_test = keras.utils.to_categorical(y_test, 10)

    model = Sequential()
    model.add(Conv2D(32, kernel_size=(3, 3), activation='relu', input_shape=(32, 32, 3)))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
    model.add(Conv2D(64, kernel_size=(3, 3), activation='relu'))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
    model.add(Flatten())
    model.add(Dense(64, activation='relu'))
    model.add(Dropout(0.5))
    model.add(Dense(10, activation='softmax'))

    model.compile(loss=keras.losses.categorical_crossentropy, optimizer=keras.optimizers.Adam(), metrics=['accuracy'])

    model.fit(x_train, y_train, batch_size=128, epochs=epochs, verbose=verbose, validation_data=(x_test, y_test))

    score = model.evaluate(x_test, y_test, verbose=0)
    print('Test loss:', score[0])
    print('Test accuracy:', score[1])
    return model, score


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    main(parser.parse_args().epochs)
