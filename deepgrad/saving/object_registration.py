"""The user's classes and functions by name: ``register_keras_serializable``, the scopes and
the global table, under Keras's names. The table itself lives in ``deepgrad.registry`` so
that every ``get`` by name (layers, losses, activations, ...) finds what is registered here.
"""
from __future__ import annotations

import inspect

from ..registry import GLOBAL_CUSTOM_NAMES, GLOBAL_CUSTOM_OBJECTS, find_custom_object, scope_stack


class CustomObjectScope:
    """``with CustomObjectScope({"Name": obj}):`` makes the objects known by name inside the
    block. As in Keras, a scope opened inside another replaces it until it closes."""

    def __init__(self, custom_objects):
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError(f"CustomObjectScope: custom_objects must be a dict, got {type(custom_objects).__name__}")
        self.custom_objects = dict(custom_objects or {})
        self._pushed = None

    def __enter__(self):
        merged = dict(self.custom_objects)
        self._pushed = merged
        scope_stack().append(merged)
        return self

    def __exit__(self, *exc):
        stack = scope_stack()
        if stack and stack[-1] is self._pushed:
            stack.pop()
        self._pushed = None


custom_object_scope = CustomObjectScope


def get_custom_objects() -> dict:
    """The global table itself ("package>Name" -> object); editing it registers objects."""
    return GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Decorator: registers a class or function as ``"package>name"`` (``name`` defaults to
    its ``__name__``) so that configs naming it can be deserialized without custom_objects.
    Registering a name again replaces the earlier object, as in Keras."""
    def decorator(arg):
        class_name = name if name is not None else arg.__name__
        registered_name = f"{package}>{class_name}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(f"register_keras_serializable: class {arg.__name__} cannot be registered "
                             "because it does not define get_config()")
        GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg
    return decorator


def get_registered_name(obj) -> str:
    """The name ``obj`` was registered under, or its ``__name__`` when it was not registered."""
    if obj in GLOBAL_CUSTOM_NAMES:
        return GLOBAL_CUSTOM_NAMES[obj]
    return obj.__name__


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered (or in scope, or in ``custom_objects``/``module_objects``) as ``name``,
    or None. Registered names are exact ("package>Name")."""
    for table in (*scope_stack()[-1:], GLOBAL_CUSTOM_OBJECTS, custom_objects or {}, module_objects or {}):
        if name in table:
            return table[name]
    return None


__all__ = ["CustomObjectScope", "custom_object_scope", "find_custom_object", "get_custom_objects",
           "get_registered_name", "get_registered_object", "register_keras_serializable"]
