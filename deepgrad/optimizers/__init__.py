"""Optimisers with Keras 3's names, defaults and formulas, updating variables in place.

``optimizers.get("adam")``, ``optimizers.Adam(1e-3)``; learning-rate schedules live in
``optimizers.schedules``; ``LossScaleOptimizer`` and ``MultiOptimizer`` wrap other optimisers.
"""
from __future__ import annotations

from . import legacy, schedules
from .adafactor import Adafactor
from .adagrad import Adadelta, Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .base import Optimizer
from .catalog import CLASSES as _PLAIN_CLASSES
from .catalog import REGISTRY as _REGISTRY
from .ftrl import Ftrl
from .lamb import Lamb
from .lion import Lion
from .loss_scale_optimizer import LossScaleOptimizer
from .multi_optimizer import MultiOptimizer, OptimizerMap
from .muon import Muon
from .nadam import Nadam
from .rmsprop import RMSprop
from .schedule_free_adamw import ScheduleFreeAdamW
from .sgd import SGD

_REGISTRY.register(LossScaleOptimizer)
_REGISTRY.register(MultiOptimizer)
_CLASSES = (*_PLAIN_CLASSES, LossScaleOptimizer, MultiOptimizer)

__all__ = ["Optimizer", "OptimizerMap", "legacy", "schedules", "get", "serialize", "deserialize",
           *[cls.__name__ for cls in _CLASSES]]


def serialize(optimizer: Optimizer) -> dict:
    return _REGISTRY.serialize(optimizer)


def deserialize(config: dict, custom_objects=None) -> Optimizer:
    """``{"class_name": "Adam", "config": {...}}`` -> a new optimiser."""
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier) -> Optimizer:
    """An optimiser from a name ("adam", "SGD", "lion"...), a config dict, or an instance (returned as is).

    A name gives a new optimiser with Keras's defaults.
    """
    if identifier is None or (callable(identifier) and not isinstance(identifier, type)):
        raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
    return _REGISTRY.get(identifier)
