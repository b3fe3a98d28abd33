"""``keras.legacy.saving``: ``{"class_name": ..., "config": {...}}`` configs, as Keras 2 wrote them
(the same functions as ``deepgrad.utils.legacy``)."""
from ..utils.legacy import deserialize_keras_object, serialize_keras_object

__all__ = ["deserialize_keras_object", "serialize_keras_object"]
