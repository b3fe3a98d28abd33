"""Seed 004: a CNN on MNIST, the tutorial's program with only its imports changed.

``tensorflow.keras.X`` became ``deepgrad.X``; everything else is the seed's code, wrapped in
``main()`` so that a test can run it on fewer epochs.  Full MNIST is downloaded (or found in
``~/.keras/datasets``) when it can be; ``--dataset mnist_subset`` uses the 5,000 real MNIST
digits that install offline, ``--dataset fashion_mnist`` Fashion-MNIST.

    python examples/seed_004_mnist_cnn.py --epochs 10
"""
import argparse

from deepgrad import datasets
from deepgrad.models import Sequential
from deepgrad.layers import Dense, Flatten, Conv2D, MaxPooling2D
from deepgrad.utils import to_categorical


def main(epochs=10, dataset="mnist", verbose=1):
    # 加载数据
    (x_train, y_train), (x_test, y_test) = getattr(datasets, dataset).load_data()

    # 数据预处理
    x_train = x_train.reshape(-1, 28, 28, 1).astype('float32') / 255
    x_test = x_test.reshape(-1, 28, 28, 1).astype('float32') / 255
    y_train = to_categorical(y_train)
    y_test = to_categorical(y_test)

    # 构建模型
    model = Sequential()
    model.add(Conv2D(32, kernel_size=(3, 3), activation='relu', input_shape=(28, 28, 1)))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Flatten())
    model.add(Dense(128, activation='relu'))
    model.add(Dense(10, activation='softmax'))

    # 编译模型
    model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])

    # 训练模型
    model.fit(x_train, y_train, epochs=epochs, batch_size=128, validation_data=(x_test, y_test),
              verbose=verbose)

    # 评估模型
    score = model.evaluate(x_test, y_test, verbose=0)
    print('Test loss:', score[0])
    print('Test accuracy:', score[1])
    return model, score


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "mnist_subset", "fashion_mnist"])
    args = parser.parse_args()
    main(args.epochs, args.dataset)
