"""Optimisers with Keras 3's names, defaults and formulas, updating variables in place.

``optimizers.get("adam")``, ``optimizers.Adam(1e-3)``; learning-rate schedules live in
``optimizers.schedules``.
"""
from __future__ import annotations

from ..registry import Registry
from . import schedules
from .adagrad import Adadelta, Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .base import Optimizer
from .nadam import Nadam
from .rmsprop import RMSprop
from .sgd import SGD

_CLASSES = (SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam)
# "adam", "Adam" and "ADAM" are one name, as in Keras
_REGISTRY = Registry("optimizer", _CLASSES, base=Optimizer, case_sensitive=False, snake_case=False)

__all__ = ["Optimizer", "schedules", "get", "serialize", "deserialize", *[cls.__name__ for cls in _CLASSES]]


def serialize(optimizer: Optimizer) -> dict:
    return _REGISTRY.serialize(optimizer)


def deserialize(config: dict, custom_objects=None) -> Optimizer:
    """``{"class_name": "Adam", "config": {...}}`` -> a new optimiser."""
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier) -> Optimizer:
    """An optimiser from a name ("adam", "SGD"...), a config dict, or an instance (returned as is).

    A name gives a new optimiser with Keras's defaults.
    """
    if identifier is None or (callable(identifier) and not isinstance(identifier, type)):
        raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
    return _REGISTRY.get(identifier)
