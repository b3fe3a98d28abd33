"""Seed 001: the image pipeline and the 224x224 CNN, with only the imports changed.

The seed resizes, crops, adds a batch axis and scales an image with OpenCV; here Pillow does
it through ``deepgrad.preprocessing.image`` (``cv2.resize`` -> ``image.resize``), and
``import tensorflow as tf`` became ``from deepgrad.compat import tensorflow as tf``.  The
seed leaves ``image`` and ``labels`` undefined; here they are the images of a folder with one
subfolder per class (``DIR/cat/*.png``, ``DIR/dog/*.jpg`` ...), at most 10 classes, the
number the seed's last layer has.

    python examples/seed_001_cnn_pipeline.py DIR --epochs 10
"""
import argparse
import os

import numpy as np
from deepgrad.compat import tensorflow as tf
from deepgrad.preprocessing import image as image_ops
from deepgrad.utils import to_categorical

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def preprocess(path):
    # 加载图像
    image = image_ops.img_to_array(image_ops.load_img(path, color_mode="rgb"))

    # 缩放图像
    image = image_ops.resize(image, (224, 224))

    # 裁剪图像
    image = image[0:224, 0:224]

    # 转换图像
    image = np.expand_dims(image, axis=0)

    # 归一化图像
    image = image / 255.0
    return image


def load_folder(image_dir):
    """All images under ``image_dir/<class>/``, preprocessed, with one-hot labels."""
    classes = sorted(d for d in os.listdir(image_dir) if os.path.isdir(os.path.join(image_dir, d)))
    if not 0 < len(classes) <= 10:
        raise ValueError(f"{image_dir} must hold 1 to 10 class folders, found {len(classes)}")
    images, labels = [], []
    for index, name in enumerate(classes):
        folder = os.path.join(image_dir, name)
        for file in sorted(os.listdir(folder)):
            if file.lower().endswith(IMAGE_EXTENSIONS):
                images.append(preprocess(os.path.join(folder, file)))
                labels.append(index)
    return np.concatenate(images).astype("float32"), to_categorical(labels, 10), classes


def build_model():
    # 构建卷积神经网络模型
    return tf.keras.Sequential([
        tf.keras.layers.Conv2D(32, (3, 3), activation='relu', input_shape=(224, 224, 3)),
        tf.keras.layers.MaxPooling2D((2, 2)),
        tf.keras.layers.Conv2D(64, (3, 3), activation='relu'),
        tf.keras.layers.MaxPooling2D((2, 2)),
        tf.keras.layers.Conv2D(128, (3, 3), activation='relu'),
        tf.keras.layers.MaxPooling2D((2, 2)),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(128, activation='relu'),
        tf.keras.layers.Dense(10, activation='softmax')
    ])


def main(image_dir, epochs=10, batch_size=32, learning_rate=0.001, verbose=1):
    image, labels, classes = load_folder(image_dir)
    model = build_model()

    # 训练卷积神经网络模型
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate),
                  loss=tf.keras.losses.categorical_crossentropy,
                  metrics=['accuracy'])

    history = model.fit(image, labels, batch_size=batch_size, epochs=epochs, verbose=verbose)

    # 预测卷积神经网络模型
    predictions = model.predict(image, batch_size=batch_size, verbose=0)
    return model, history, predictions, labels


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image_dir", help="a folder with one subfolder of images per class")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    _, _, predictions, labels = main(args.image_dir, args.epochs)
    print("training-set accuracy:", float((predictions.argmax(1) == labels.argmax(1)).mean()))
