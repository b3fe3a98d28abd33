"""Floor 4: Keras-style layers, by their Keras names.

``get(class_name)`` finds a layer class by the name model files store; ``serialize`` and
``deserialize`` turn a layer into ``{"class_name": ..., "config": {...}}`` and back.
"""
from __future__ import annotations

import importlib

from .base import Layer
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer, Lambda, Permute, RepeatVector, Reshape
from .embedding import Embedding
from .merge import (
    Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add, average, concatenate, maximum, minimum,
    multiply, subtract,
)
from .normalization import BatchNormalization, LayerNormalization
from .wrappers import TimeDistributed

__all__ = [
    "Activation", "Add", "Average", "BatchNormalization", "Concatenate", "Dense", "Dropout", "Embedding",
    "Flatten", "Input", "InputLayer", "Lambda", "Layer", "LayerNormalization", "Maximum", "Minimum",
    "Multiply", "Permute", "RepeatVector", "Reshape", "Subtract", "TimeDistributed", "add", "average",
    "concatenate", "deserialize", "get", "maximum", "minimum", "multiply", "serialize", "subtract",
]

# Layer modules that may not be present in every checkout; each exports its ``__all__``.
_OPTIONAL_MODULES = ("convolutional", "pooling", "recurrent")


def _export_optional() -> None:
    for module_name in _OPTIONAL_MODULES:
        try:
            module = importlib.import_module(f".{module_name}", __name__)
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{module_name}":
                raise  # the module exists but something it imports is missing: show that
            continue
        names = getattr(module, "__all__", None) or [
            n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, Layer)
            and v.__module__ == module.__name__ and not n.startswith("_")]
        for name in names:
            globals()[name] = getattr(module, name)
            if name not in __all__:
                __all__.append(name)


_export_optional()


def _layer_classes() -> dict:
    """Every public layer class of this package by class name (subclasses of ``Layer``)."""
    return {name: value for name, value in globals().items()
            if isinstance(value, type) and issubclass(value, Layer) and not name.startswith("_")}


def get(identifier, custom_objects=None):
    """The layer class named ``identifier`` (Keras class name, e.g. ``"Dense"``); a class passes through."""
    if isinstance(identifier, type) and issubclass(identifier, Layer):
        return identifier
    if not isinstance(identifier, str):
        raise ValueError(f"layers.get: expected a layer class name, got {identifier!r}")
    if custom_objects and identifier in custom_objects:
        return custom_objects[identifier]
    classes = _layer_classes()
    if identifier not in classes:
        raise ValueError(f"Unknown layer {identifier!r}. Known layers: {', '.join(sorted(classes))}. "
                         "Pass custom layers with custom_objects={'Name': Class}.")
    return classes[identifier]


def serialize(layer: Layer) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config: dict, custom_objects=None) -> Layer:
    """A new layer from ``{"class_name": ..., "config": {...}}``."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"layers.deserialize: expected {{'class_name': ..., 'config': ...}}, got {config!r}")
    cls = get(config["class_name"], custom_objects)
    return cls.from_config(dict(config.get("config") or {}))
