"""``utils.legacy``: Keras 2's serialisation format, ``{"class_name": ..., "config": {...}}``
with nested objects in the same form (no "module" or "registered_name" keys)."""
from __future__ import annotations

from ..saving.serialization import deserialize_keras_object as _deserialize
from ..saving.serialization import serialize_keras_object as _serialize

_ENVELOPE_KEYS = ("module", "registered_name", "build_config", "compile_config")


def _strip(value):
    """Keras 3's envelope reduced to Keras 2's: only class_name and config stay."""
    if isinstance(value, dict):
        if "class_name" in value and "config" in value:
            return {"class_name": value["class_name"], "config": _strip(value["config"])}
        return {k: _strip(v) for k, v in value.items() if k not in _ENVELOPE_KEYS}
    if isinstance(value, (list, tuple)):
        return [_strip(v) for v in value]
    return value


def serialize_keras_object(instance):
    """``{"class_name": ..., "config": {...}}`` for an object with ``get_config``; None for None;
    a function's name for a function."""
    if instance is None:
        return None
    return _strip(_serialize(instance))


def deserialize_keras_object(identifier, module_objects=None, custom_objects=None,
                             printable_module_name="object"):
    """An object from Keras 2's format (or a name); ``module_objects`` and ``custom_objects``
    are name -> class tables searched first."""
    if identifier is None:
        return None
    table = {**(module_objects or {}), **(custom_objects or {})}
    if isinstance(identifier, dict) and identifier.get("class_name") in table:
        cls = table[identifier["class_name"]]
        config = identifier.get("config") or {}
        return cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
    if isinstance(identifier, str) and identifier in table:
        obj = table[identifier]
        return obj() if isinstance(obj, type) else obj
    try:
        return _deserialize(identifier, custom_objects)
    except (TypeError, ValueError) as e:
        raise ValueError(f"Could not interpret {printable_module_name} {identifier!r}: {e}") from e
