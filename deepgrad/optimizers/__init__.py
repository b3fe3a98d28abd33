"""Optimisers with Keras 3's names, defaults and formulas, updating variables in place.

``optimizers.get("adam")``, ``optimizers.Adam(1e-3)``; learning-rate schedules live in
``optimizers.schedules``.
"""
from __future__ import annotations

from . import schedules
from .adagrad import Adadelta, Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .base import Optimizer
from .nadam import Nadam
from .rmsprop import RMSprop
from .sgd import SGD

_CLASSES = (SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam)
_BY_NAME = {cls.__name__.lower(): cls for cls in _CLASSES}

__all__ = ["Optimizer", "schedules", "get", "serialize", "deserialize", *[cls.__name__ for cls in _CLASSES]]


def serialize(optimizer: Optimizer) -> dict:
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict, custom_objects=None) -> Optimizer:
    """``{"class_name": "Adam", "config": {...}}`` -> a new optimiser."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Cannot deserialize an optimizer from {config!r}: expected "
                         "{'class_name': ..., 'config': {...}}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name.lower())
    if cls is None:
        raise ValueError(f"Unknown optimizer {name!r}; expected one of {sorted(_BY_NAME)}")
    return cls.from_config(config.get("config") or {})


def get(identifier) -> Optimizer:
    """An optimiser from a name ("adam", "SGD"...), a config dict, or an instance (returned as is).

    A name gives a new optimiser with Keras's defaults.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer {identifier!r}; expected one of {sorted(_BY_NAME)}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
