"""Floor 8: saving and loading, by Keras's names (``keras.saving``).

The formats live in ``deepgrad.files`` (below ``models``, so ``model.save`` reaches them
without importing upward) and rebuilding a model from a file in ``deepgrad.models``;
this namespace gathers them: ``save_model``/``load_model`` write and read Keras 3's ``.keras``
zip (config.json, metadata.json, model.weights.h5) or deepgrad's own (``.deepgrad``: config.json,
model.weights.safetensors, optimizer.safetensors, metadata.json), and read legacy Keras ``.h5``;
``save_weights``/``load_weights`` read and write ``.weights.h5``, ``.weights.safetensors`` or
``.weights.npz``; ``KerasFileEditor`` inspects and edits Keras weight files.
"""
from ..files import (
    UnsafeFileError, atomic_write, load_safetensors, load_weights, save_model, save_safetensors, save_weights,
)
from ..models import load_model
from .file_editor import KerasFileEditor
from .object_registration import (
    CustomObjectScope, custom_object_scope, get_custom_objects, get_registered_name, get_registered_object,
    register_keras_serializable,
)
from .serialization import deserialize_keras_object, serialize_keras_object

__all__ = ["UnsafeFileError", "atomic_write", "load_model", "load_safetensors", "load_weights", "save_model",
           "save_safetensors", "save_weights"]
__all__ += ["CustomObjectScope", "custom_object_scope", "deserialize_keras_object", "get_custom_objects",
            "get_registered_name", "get_registered_object", "register_keras_serializable", "serialize_keras_object"]
__all__ += ["KerasFileEditor"]
