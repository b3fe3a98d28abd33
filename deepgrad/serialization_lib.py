"""``serialize_keras_object``: any object to Keras's config dict ``{"module", "class_name",
"config", "registered_name"}``, nested values serialized in turn.

It sits low (it needs only the custom-object names and ``Tensor``) so that ``layers.serialize``
writes the same dicts as ``saving.serialize_keras_object``; reading them back, which needs every
registry, is ``saving.deserialize_keras_object``.
"""
from __future__ import annotations

import types

import numpy as np

from .autograd import Tensor
from .registry import GLOBAL_CUSTOM_NAMES, object_header

PLAIN_TYPES = (str, int, float, bool)
def _serialize_dict(obj: dict) -> dict:
    return {key: serialize_keras_object(value) for key, value in obj.items()}


def serialize_keras_object(obj):
    """A JSON-ready structure for ``obj``: plain values, lists, tuples and dicts element by
    element; arrays as ``__numpy__``/``__tensor__`` entries; a function by its (registered)
    name; an object with ``get_config`` as ``{"module", "class_name", "config", "registered_name"}``."""
    if obj is None or isinstance(obj, PLAIN_TYPES):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [serialize_keras_object(x) for x in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return _serialize_dict(obj)
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):
        return {"class_name": "__slice__", "config": {"start": serialize_keras_object(obj.start),
                                                      "stop": serialize_keras_object(obj.stop),
                                                      "step": serialize_keras_object(obj.step)}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, Tensor):
        return {"class_name": "__tensor__", "config": {"value": obj.numpy().tolist(), "dtype": str(obj.dtype)}}
    if type(obj).__module__ == np.__name__:
        if isinstance(obj, np.ndarray) and obj.ndim > 0:
            return {"class_name": "__numpy__", "config": {"value": obj.tolist(), "dtype": str(obj.dtype)}}
        return obj.item()
    if isinstance(obj, types.FunctionType):
        if obj.__name__ == "<lambda>":
            raise ValueError("serialize_keras_object: a lambda cannot be serialized safely; "
                             "use a named function registered with register_keras_serializable")
        # Keras writes every function as an instance of the builtin ``function`` class whose
        # config is the function's (registered) name
        return {"module": "builtins", "class_name": "function",
                "config": GLOBAL_CUSTOM_NAMES.get(obj, obj.__name__), "registered_name": "function"}
    if isinstance(obj, type):
        raise TypeError(f"serialize_keras_object: cannot serialize the class {obj.__name__} itself; "
                        "serialize an instance")
    if not hasattr(obj, "get_config"):
        raise TypeError(f"serialize_keras_object: cannot serialize {obj!r}: it has no get_config()")
    inner = obj.get_config()
    if not isinstance(inner, dict):
        raise TypeError(f"serialize_keras_object: get_config() of {obj!r} must return a dict, got {inner!r}")
    cls = type(obj)
    header = object_header(cls)
    config = {"module": header["module"], "class_name": header["class_name"], "config": _serialize_dict(inner),
              "registered_name": header["registered_name"]}
    build = getattr(obj, "get_build_config", None)
    if callable(build) and build() is not None:
        config["build_config"] = _serialize_dict(build())
    return config
