"""California house prices: 20,640 districts of 8 features, median value in dollars."""
from __future__ import annotations

from . import housing

SHA256 = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """``(x_train, y_train), (x_test, y_test)``, shuffled with ``seed`` as Keras does;
    ``version="small"`` keeps the first 600 districts."""
    if version not in ("small", "large"):
        raise ValueError(f"california_housing.load_data: version must be 'small' or 'large', got {version!r}")
    return housing.load("California housing", path, "california_housing.npz", SHA256, test_split, seed,
                        first=600 if version == "small" else None)
