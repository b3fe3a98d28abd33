"""``MultiOptimizer`` and ``OptimizerMap``: different optimisers for different variables."""
from __future__ import annotations

import re
from collections.abc import MutableMapping

import numpy as np

from ..autograd import Tensor
from . import catalog
from .base import Optimizer


def _path(variable) -> str:
    """A variable's path as Keras names it ("dense/kernel"): deepgrad's variable name."""
    return getattr(variable, "path", None) or variable.name or ""


def _serialize(optimizer) -> dict:
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


class OptimizerMap(MutableMapping):
    """Variable path patterns -> optimisers, with a default. ``optimizer_map(variable)`` gives the
    optimiser of the key equal to the variable's path, else of the one key that
    ``re.fullmatch``-es it (two matching keys are an error), else ``default_optimizer``."""

    def __init__(self, default_optimizer, optimizer_map=None):
        if not isinstance(default_optimizer, Optimizer):
            raise TypeError(f"OptimizerMap: default_optimizer must be an Optimizer, got {default_optimizer!r}")
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(f"OptimizerMap: optimizer_map must be a dict, got {optimizer_map!r}")
        self._default_optimizer = default_optimizer
        self._optimizer_map = {}
        for key, optimizer in (optimizer_map or {}).items():
            self[key] = optimizer

    @property
    def default_optimizer(self) -> Optimizer:
        return self._default_optimizer

    def __getitem__(self, key):
        if key in self._optimizer_map:
            return self._optimizer_map[key]
        matches = [pattern for pattern in self._optimizer_map if re.fullmatch(pattern, key)]
        if len(matches) > 1:
            raise ValueError(f"OptimizerMap: variable {key!r} matches several keys {matches}")
        return self._optimizer_map[matches[0]] if matches else self._default_optimizer

    def __setitem__(self, key, optimizer):
        if key in self._optimizer_map:
            raise ValueError(f"OptimizerMap: key {key!r} is already mapped to {self._optimizer_map[key]!r}")
        if not isinstance(key, str):
            raise ValueError(f"OptimizerMap: a key must be a string (a variable path pattern), got {key!r}")
        if not isinstance(optimizer, Optimizer):
            raise ValueError(f"OptimizerMap: {key!r} must map to an Optimizer, got {optimizer!r}")
        if isinstance(optimizer, MultiOptimizer) or type(optimizer).__name__ == "LossScaleOptimizer":
            raise ValueError(f"OptimizerMap: {key!r} cannot map to a {type(optimizer).__name__}")
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key):
        del self._optimizer_map[key]

    def __len__(self):
        return len(self._optimizer_map)

    def __iter__(self):
        return iter(self._optimizer_map)

    def __call__(self, variable) -> Optimizer:
        return self[_path(variable)]

    def get_config(self) -> dict:
        return {"default_optimizer": _serialize(self._default_optimizer),
                "optimizer_map": {k: _serialize(v) for k, v in self._optimizer_map.items()}}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> "OptimizerMap":
        default = catalog.REGISTRY.get(config["default_optimizer"], custom_objects)
        mapping = {k: catalog.REGISTRY.get(v, custom_objects) for k, v in (config.get("optimizer_map") or {}).items()}
        return cls(default, mapping)


class MultiOptimizer(Optimizer):
    """Sends each variable's gradient to the optimiser ``optimizer_map(variable)`` chooses
    (an ``OptimizerMap``, or any callable variable -> optimiser). Each inner optimiser keeps
    its own learning rate and state; ``iterations`` counts the calls of ``apply``."""

    def __init__(self, optimizer_map, loss_scale_factor=None, name=None):
        super().__init__(0.0, loss_scale_factor=loss_scale_factor, name=name)
        if not callable(optimizer_map):
            raise TypeError(f"MultiOptimizer: optimizer_map must be an OptimizerMap or a callable, "
                            f"got {optimizer_map!r}")
        self._optimizer_map = optimizer_map
        self._inner_optimizers: list = []
        for optimizer in list(getattr(optimizer_map, "values", lambda: [])()) + [
                getattr(optimizer_map, "default_optimizer", None)]:
            if optimizer is not None and optimizer not in self._inner_optimizers:
                optimizer.loss_scale_factor = loss_scale_factor
                self._inner_optimizers.append(optimizer)
        self._owner: dict[int, Optimizer] = {}

    @property
    def learning_rate(self):
        raise AttributeError("MultiOptimizer has no learning rate of its own: read it on the inner optimizers "
                             "(MultiOptimizer.optimizers)")

    @learning_rate.setter
    def learning_rate(self, value):
        if "_optimizer_map" in self.__dict__:  # not the base constructor's placeholder
            raise AttributeError("MultiOptimizer has no learning rate of its own: set it on the inner optimizers "
                                 "(MultiOptimizer.optimizers)")

    @property
    def optimizers(self) -> list:
        return list(self._inner_optimizers)

    @property
    def variables(self) -> list:
        return list(self._variables)

    def build(self, variables) -> None:
        groups: dict[int, list] = {}
        for var in variables:
            if id(var) in self._owner:
                continue
            optimizer = self._optimizer_map(var)
            if not isinstance(optimizer, Optimizer):
                where = getattr(var, "path", var.name)
                raise ValueError(f"MultiOptimizer: the optimizer for variable {where!r} is {optimizer!r}, "
                                 "not an Optimizer")
            if isinstance(optimizer, MultiOptimizer) or type(optimizer).__name__ == "LossScaleOptimizer":
                raise ValueError(f"MultiOptimizer: a {type(optimizer).__name__} cannot be used inside a "
                                 "MultiOptimizer")
            if optimizer not in self._inner_optimizers:
                optimizer.loss_scale_factor = self.loss_scale_factor
                self._inner_optimizers.append(optimizer)
            self._owner[id(var)] = optimizer
            self._index[id(var)] = len(self._variables)
            self._variables.append(var)
            groups.setdefault(id(optimizer), []).append(var)
        for optimizer in self._inner_optimizers:
            if id(optimizer) in groups:
                optimizer.build(groups[id(optimizer)])
        self.built = True

    def apply(self, grads, variables=None) -> None:
        grads = list(grads)
        variables = list(self._variables if variables is None else variables)
        if len(grads) != len(variables):
            raise ValueError(f"MultiOptimizer: got {len(grads)} gradients for {len(variables)} variables")
        self.build(variables)
        groups: dict[int, tuple] = {}
        for g, var in zip(grads, variables):
            optimizer = self._owner[id(var)]
            groups.setdefault(id(optimizer), (optimizer, [], []))
            groups[id(optimizer)][1].append(g.data if isinstance(g, Tensor) else g)
            groups[id(optimizer)][2].append(var)
        for optimizer in self._inner_optimizers:
            if id(optimizer) in groups:
                _, sub_grads, sub_vars = groups[id(optimizer)]
                optimizer.apply(sub_grads, sub_vars)
        self._set_iterations(self._steps + 1)

    def finalize_variable_values(self, var_list) -> None:
        for optimizer in self._inner_optimizers:
            optimizer.finalize_variable_values([v for v in var_list if self._owner.get(id(v)) is optimizer])

    def get_state(self) -> dict:
        state = {"iterations": np.asarray(self._steps, np.int64)}
        for i, optimizer in enumerate(self._inner_optimizers):
            state.update({f"optimizer_{i}/{k}": v for k, v in optimizer.get_state().items()})
        return state

    def set_state(self, state: dict) -> None:
        state = dict(state)
        self.iterations = int(state.pop("iterations"))
        for i, optimizer in enumerate(self._inner_optimizers):
            prefix = f"optimizer_{i}/"
            optimizer.set_state({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})

    def get_config(self) -> dict:
        if not isinstance(self._optimizer_map, OptimizerMap):
            raise ValueError("MultiOptimizer.get_config: only an OptimizerMap can be saved, not a plain callable")
        return {"optimizer_map": {"class_name": "OptimizerMap", "config": self._optimizer_map.get_config()},
                "loss_scale_factor": self.loss_scale_factor, "name": self.name}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> "MultiOptimizer":
        config = dict(config)
        mapping = config.pop("optimizer_map")
        if isinstance(mapping, dict) and "class_name" in mapping:
            mapping = mapping.get("config") or {}
        return cls(OptimizerMap.from_config(mapping, custom_objects), **config)

    def __repr__(self) -> str:
        return f"<MultiOptimizer of {len(self._inner_optimizers)} optimizers iterations={self._steps}>"
