"""``keras.legacy``: Keras 2's serialisation format under its Keras 3 name (``legacy.saving``)."""
from . import saving

__all__ = ["saving"]
