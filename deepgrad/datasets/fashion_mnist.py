"""Fashion-MNIST: 60,000 training and 10,000 test images of clothes, 28x28 grayscale, 10 classes.

Four IDX files in a ``fashion-mnist/`` folder: Keras's cache (``~/.keras/datasets``),
Debian's package ``dataset-fashion-mnist`` (``/usr/share/datasets``), deepgrad's cache, or
downloaded there with their published SHA-256.
"""
from __future__ import annotations

from . import sources
from .idx import load_idx_split
from .sources import Download, Layout

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
BASE_URLS = ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
             "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
FILE_HASHES = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
FILES = tuple(FILE_HASHES)  # train images, train labels, test images, test labels


def layouts() -> list:
    return [Layout("idx", tuple(f"fashion-mnist/{f}" for f in FILES)),
            Layout("idx", tuple(f"fashion-mnist/{f[:-3]}" for f in FILES))]


def download_source() -> Download:
    files = tuple((f"fashion-mnist/{f}", [base + f for base in BASE_URLS], FILE_HASHES[f]) for f in FILES)
    return Download(layouts()[0], files)


def load_data():
    """``(x_train, y_train), (x_test, y_test)``: uint8 ``(60000, 28, 28)``, ``(60000,)``, and 10,000 test."""
    _, paths = sources.fetch("Fashion-MNIST", layouts(), download_source())
    return load_idx_split(*paths)
