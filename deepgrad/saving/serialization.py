"""``serialize_keras_object`` / ``deserialize_keras_object``: any object to and from Keras's
config dict ``{"module", "class_name", "config", "registered_name"}``.

Reading a config never imports or runs code: ``module`` only says which of deepgrad's own
registries (layers, losses, ...) to ask for ``class_name``; the user's classes are found by
``registered_name`` in the custom-object table, the open scopes or ``custom_objects``.
"""
from __future__ import annotations


import numpy as np

from .. import activations, constraints, initializers, layers, losses, metrics, optimizers, regularizers
from ..autograd import Tensor
from ..models.model import Model, deserialize_layer
from ..optimizers import schedules
from ..registry import find_custom_object
from ..serialization_lib import serialize_keras_object

# Keras module path -> the registries asked for a class name, in order
_REGISTRIES = {
    "keras.layers": [layers._REGISTRY], "keras.losses": [losses._REGISTRY], "keras.metrics": [metrics._REGISTRY],
    "keras.optimizers": [optimizers._REGISTRY], "keras.optimizers.schedules": [schedules._REGISTRY],
    "keras.initializers": [initializers._REGISTRY], "keras.regularizers": [regularizers._REGISTRY],
    "keras.constraints": [constraints._REGISTRY], "keras.activations": [activations._REGISTRY],
}
_ALL_REGISTRIES = [r for rs in _REGISTRIES.values() for r in rs]


def _find_function(name, custom_objects):
    fn = find_custom_object(name, custom_objects)
    if fn is not None:
        return fn
    for registry in (activations._REGISTRY, losses._REGISTRY, metrics._REGISTRY):
        if registry.by_name.get(registry._key(name)) is not None:
            return registry.lookup(name)
    raise ValueError(f"deserialize_keras_object: unknown function {name!r}; register it with "
                     "register_keras_serializable or pass custom_objects={'name': fn}")


def _find_class(config: dict, custom_objects):
    class_name, registered = config["class_name"], config.get("registered_name")
    for name in (registered, class_name):
        cls = find_custom_object(name, custom_objects, bare=False) if isinstance(name, str) else None
        if cls is not None:
            return cls
    module = config.get("module")
    if class_name in Model._builtin_classes and module in (None, "keras", "keras.models"):
        return Model._builtin_classes[class_name]
    for registry in _REGISTRIES.get(module, _ALL_REGISTRIES):
        cls = registry.by_name.get(registry._key(class_name))
        if cls is not None:
            return cls
    cls = find_custom_object(class_name, custom_objects)
    if cls is not None:
        return cls
    raise ValueError(f"deserialize_keras_object: unknown class {class_name!r} (module {module!r}, registered "
                     f"name {registered!r}); decorate it with register_keras_serializable or pass "
                     f"custom_objects={{{class_name!r}: {class_name}}}")


def deserialize_keras_object(config, custom_objects=None, safe_mode: bool = True, **kwargs):
    """The object a ``serialize_keras_object`` config describes. Classes come only from
    deepgrad's registries, the custom-object table and scopes, and ``custom_objects``."""
    if config is None or isinstance(config, (int, float, bool)):
        return config
    if isinstance(config, str):
        found = find_custom_object(config, custom_objects, bare=False)
        return config if found is None else found
    if isinstance(config, (list, tuple)):  # both come back as lists, as in Keras (JSON has no tuples)
        return [deserialize_keras_object(x, custom_objects, safe_mode) for x in config]
    if not isinstance(config, dict):
        raise TypeError(f"deserialize_keras_object: could not parse config {config!r}")
    if "class_name" not in config or "config" not in config:
        return {key: deserialize_keras_object(value, custom_objects, safe_mode) for key, value in config.items()}
    class_name, inner = config["class_name"], config["config"]
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__tensor__":
        return Tensor(np.array(inner["value"], dtype=inner["dtype"]))
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        return slice(*(deserialize_keras_object(inner[k], custom_objects) for k in ("start", "stop", "step")))
    if class_name == "__lambda__":
        raise ValueError("deserialize_keras_object: the config holds a serialized lambda (Python bytecode); "
                         "deepgrad never runs code from a config")
    if class_name == "function":
        return _find_function(inner, custom_objects)
    cls = _find_class(config, custom_objects)
    if not isinstance(cls, type):
        return cls
    inner = dict(inner or {})
    if issubclass(cls, layers.Layer):
        return deserialize_layer({"class_name": class_name, "config": inner},
                                 {**(custom_objects or {}), class_name: cls})
    for registry in _ALL_REGISTRIES:
        if registry.by_name.get(registry._key(class_name)) is cls:
            return registry.deserialize({"class_name": class_name, "config": inner}, custom_objects)
    inner = {key: deserialize_keras_object(value, custom_objects, safe_mode) for key, value in inner.items()}
    return cls.from_config(inner) if hasattr(cls, "from_config") else cls(**inner)


__all__ = ["deserialize_keras_object", "serialize_keras_object"]
