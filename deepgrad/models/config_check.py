"""Checks a model config from a file before anything is built from it.

Configs are plain JSON. Only class names that deepgrad knows (or that the caller lists in
``custom_objects``) may appear; module paths, dotted or dunder names and serialized Python
functions are refused, so a file can never make the loader import or call anything.
"""
from __future__ import annotations

import re

from ..files import UnsafeFileError
from .model import layer_class

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_DEFINED_IN = {"Distiller": "deepgrad.distillation"}
_FORBIDDEN_KEYS = {"module", "registered_name", "function_type", "bytecode", "__class__", "__reduce__"}
# plain values Keras writes as objects (an array as a config entry, a slice, bytes): data, never code
_VALUE_CLASSES = {"__numpy__", "__tensor__", "__bytes__", "__slice__", "__ellipsis__"}


def _layer_class_known(name: str, custom_objects: dict) -> bool:
    try:
        layer_class(name, custom_objects)
    except ValueError:
        return False
    return True


def _check_value(node: dict, path: str) -> None:
    """A value entry holds plain data only: {"class_name": ..., "config": {...}} (and Keras's null module)."""
    extra = set(node) - {"class_name", "config", "module", "registered_name"}
    if extra or not isinstance(node.get("config"), dict):
        raise UnsafeFileError(f"config: malformed {node['class_name']} entry at {path}")
    if node["class_name"] in ("__numpy__", "__tensor__"):
        dtype = node["config"].get("dtype")
        if not isinstance(dtype, str) or not re.match(r"^[a-z]+[0-9]*$", dtype):
            raise UnsafeFileError(f"config: {node['class_name']} entry at {path} has an invalid dtype {dtype!r}")


def check_model_config(config, custom_objects=None, source: str = "config") -> None:
    """Raise UnsafeFileError/ValueError for anything a loader must not act on."""
    custom_objects = custom_objects or {}
    unknown: list[str] = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    raise UnsafeFileError(f"{source}: non-string key at {path}")
                if key in _FORBIDDEN_KEYS and not (key == "module" and value is None):
                    raise UnsafeFileError(f"{source}: key {key!r} at {path} is not allowed; deepgrad configs "
                                          "name classes only, never modules or code")
                walk(value, f"{path}/{key}")
            name = node.get("class_name")
            if name in _VALUE_CLASSES:
                _check_value(node, f"{path}")
            elif name is not None:
                if not isinstance(name, str) or not _IDENTIFIER.match(name) or "__" in name:
                    raise UnsafeFileError(f"{source}: class_name {name!r} at {path} is not a plain class name "
                                          "(module paths and dunder names are refused)")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}/{i}")
        elif not (node is None or isinstance(node, (str, bool, int, float))):
            raise UnsafeFileError(f"{source}: unexpected value of type {type(node).__name__} at {path}")

    def layers_of(model_config):
        cfg = model_config.get("config") or {}
        for entry in cfg.get("layers") or []:
            if isinstance(entry, dict):
                yield entry

    def collect(model_config):
        name = model_config.get("class_name")
        if not _layer_class_known(name, custom_objects):
            unknown.append(name)
        for entry in layers_of(model_config):
            collect(entry)

    if not isinstance(config, dict) or "class_name" not in config:
        raise UnsafeFileError(f"{source}: expected an object with 'class_name' and 'config'")
    walk(config, "")
    collect(config)
    if unknown:
        # classes of the floors above, known once their package is imported
        hints = sorted({f" (import {_DEFINED_IN[name]} before loading a {name})" for name in unknown
                        if name in _DEFINED_IN})
        raise ValueError(f"{source} names unknown class(es) {sorted(set(unknown))}. Built-in layers load by "
                         "name; pass your own classes with custom_objects={'Name': Class}." + "".join(hints))
