"""Boston house prices: 506 samples of 13 features, prices in thousands of dollars."""
from __future__ import annotations

from . import housing

SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """``(x_train, y_train), (x_test, y_test)``, float64, shuffled with ``seed`` as Keras does."""
    return housing.load("Boston housing", path, "boston_housing.npz", SHA256, test_split, seed)
