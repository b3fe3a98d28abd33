"""Floor 6: models and their training loop."""
from .functional import Functional
from .model import Model
from .sequential import Sequential
from .symbolic import KerasTensor


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model saved with ``model.save`` (architecture, weights and, with ``compile``, the optimiser)."""
    from ..saving import load_model as _load_model

    return _load_model(filepath, custom_objects=custom_objects, compile=compile)


def save_model(model, filepath, overwrite=True, **kwargs):
    from ..saving import save_model as _save_model

    return _save_model(model, filepath, overwrite=overwrite, **kwargs)


def model_from_json(json_string, custom_objects=None):
    """A model (uncompiled, fresh weights) from ``model.to_json()``."""
    import json

    from .model import deserialize_layer

    return deserialize_layer(json.loads(json_string), custom_objects)


def clone_model(model, custom_objects=None):
    """A new model with the same architecture and fresh weights (Sequential or functional)."""
    from .model import deserialize_layer, serialize_layer

    return deserialize_layer(serialize_layer(model), custom_objects)


__all__ = ["Functional", "KerasTensor", "Model", "Sequential", "clone_model", "load_model", "model_from_json",
           "save_model"]
