"""Get by name: the one lookup behind every ``get``, ``serialize`` and ``deserialize``.

Activations, losses, metrics, optimizers, initializers, regularizers, constraints, schedules
and layers are all named in strings by Keras programs (``"relu"``, ``"he_normal"``,
``"Adam"``) and saved as ``{"class_name": ..., "config": {...}}``. A ``Registry`` holds the
objects of one kind under every name Keras accepts for them (the class name, its snake case
from ``naming.to_snake_case``, and the short aliases) and turns a name, a config dict, a
class, an instance or a callable into the object, the way ``keras.<kind>.get`` does.

A saved config can never name code to run: only registered names and the caller's
``custom_objects`` are looked up (no imports, the ``module`` key of a Keras config is
ignored). ``Configurable`` gives the small classes ``get_config``/``from_config``/``repr``.
This module imports nothing from deepgrad but ``naming``, so every floor may use it.
"""
from __future__ import annotations

import threading

from .naming import to_snake_case

# The user's own classes and functions, known to every Registry (``register_keras_serializable``
# fills it; ``get_custom_objects()`` hands it out to be edited): "package>Name" -> object.
GLOBAL_CUSTOM_OBJECTS: dict = {}
# object -> the "package>Name" it was registered under (what ``get_registered_name`` answers)
GLOBAL_CUSTOM_NAMES: dict = {}
# deepgrad package -> the Keras module path its objects are written under
_KERAS_MODULES = {
    "layers": "keras.layers", "losses": "keras.losses", "metrics": "keras.metrics",
    "optimizers": "keras.optimizers", "initializers": "keras.initializers", "regularizers": "keras.regularizers",
    "constraints": "keras.constraints", "activations": "keras.activations", "models": "keras",
}


def keras_module(cls_or_fn) -> str | None:
    """The Keras module a deepgrad class is written under (``keras.initializers``), else None."""
    parts = (getattr(cls_or_fn, "__module__", None) or "").split(".")
    if parts[0] != "deepgrad":
        return None
    if len(parts) > 2 and parts[1] == "optimizers" and parts[2] == "schedules":
        return "keras.optimizers.schedules"
    return _KERAS_MODULES.get(parts[1]) if len(parts) > 1 else None


def object_header(cls) -> dict:
    """``{"module", "class_name", "registered_name"}`` of a serialized object of class ``cls``, as
    Keras writes them: a built-in by its Keras module, a registered class by its own module and
    registered name, a script's own class with no module."""
    registered = GLOBAL_CUSTOM_NAMES.get(cls)
    module = keras_module(cls) if registered is None else cls.__module__
    return {"module": None if module == "__main__" else module, "class_name": cls.__name__,
            "registered_name": registered}


# ``custom_object_scope`` dictionaries, per thread, innermost last; as in Keras only the
# innermost one is in force (an inner scope hides the outer one until it closes)
_SCOPES = threading.local()


def scope_stack() -> list:
    if not hasattr(_SCOPES, "stack"):
        _SCOPES.stack = []
    return _SCOPES.stack


def find_custom_object(name, custom_objects=None, bare: bool = True):
    """The user's object called ``name``, or None: the caller's ``custom_objects``, then the
    innermost open scope, then the global table. With ``bare``, a class name also
    finds an object registered as "package>Name" when only one package registered that name."""
    if not isinstance(name, str):
        return None
    tables = [custom_objects or {}, *scope_stack()[-1:], GLOBAL_CUSTOM_OBJECTS]
    for table in tables:
        if name in table:
            return table[name]
    if bare and ">" not in name:
        matches = {id(obj): obj for table in tables for key, obj in table.items()
                   if isinstance(key, str) and key.rpartition(">")[2] == name}
        if len(matches) == 1:
            return next(iter(matches.values()))
    return None


class Configurable:
    """``get_config()`` returns the constructor's arguments; ``from_config`` calls it back."""

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _instantiate(cls, name):
    return cls()


class Registry:
    """The objects (classes or functions) of one kind, by every name Keras accepts for them.

    kind:            the word used in error messages ("initializer", "loss", ...)
    objects:         classes and functions, registered under ``__name__`` (and its snake case
                     unless ``snake_case=False``)
    aliases:         further names (``{"mse": mean_squared_error}``)
    base:            instances of this class are returned as they are by ``get``
    ignored_keys:    config keys dropped before ``from_config`` (e.g. an initializer's dtype)
    case_sensitive:  False for optimizers, where "adam", "Adam" and "ADAM" are one name
    make:            ``make(cls, name)`` builds an instance when a name resolves to a class
    wrap_callable:   what ``get`` does with a plain callable (default: return it as is)
    default:         what ``get(None)`` returns
    """

    def __init__(self, kind: str, objects=(), aliases=None, *, base: type | None = None, ignored_keys=(),
                 case_sensitive: bool = True, snake_case: bool = True, make=_instantiate, wrap_callable=None,
                 default=None):
        self.kind, self.base, self.ignored_keys, self.snake_case = kind, base, tuple(ignored_keys), snake_case
        self.case_sensitive, self.make, self.wrap_callable, self.default = case_sensitive, make, wrap_callable, default
        self.by_name: dict = {}
        for obj in objects:
            self.register(obj)
        for name, obj in (aliases or {}).items():
            self.register(obj, name)

    def _key(self, name: str) -> str:
        return name if self.case_sensitive else name.lower()

    def register(self, obj, name: str | None = None):
        """Add ``obj`` under ``name``, or under its own name and that name in snake case."""
        if name is not None:
            names = [name]
        else:
            names = [obj.__name__, to_snake_case(obj.__name__)] if self.snake_case else [obj.__name__]
        for n in names:
            self.by_name.setdefault(self._key(n), obj)
        return obj

    def names(self) -> list[str]:
        return sorted(self.by_name, key=str.lower)

    def lookup(self, name, custom_objects=None):
        """The class or function registered (or passed in ``custom_objects``) as ``name``."""
        obj = find_custom_object(name, custom_objects, bare=False)
        if obj is None and isinstance(name, str):
            # a built-in name wins over a "package>Name" registered under the same bare name
            obj = self.by_name.get(self._key(name)) or find_custom_object(name, custom_objects)
        if obj is None:
            raise ValueError(f"Unknown {self.kind} {name!r}. Expected one of: {', '.join(self.names())}; "
                             "or pass your own as custom_objects={'Name': obj}.")
        return obj

    def serialize(self, obj):
        """``{"module", "class_name", "config", "registered_name"}`` for a configurable object, as
        Keras writes it; a function by its name."""
        if hasattr(obj, "get_config") and not isinstance(obj, type):
            header = object_header(type(obj))
            return {"module": header["module"], "class_name": header["class_name"], "config": obj.get_config(),
                    "registered_name": header["registered_name"]}
        name = getattr(obj, "__name__", None)
        if not isinstance(name, str):
            raise ValueError(f"Cannot serialize {self.kind} {obj!r}: it has neither get_config nor a name")
        if GLOBAL_CUSTOM_NAMES.get(obj) is not None:  # register_keras_serializable: its "package>name"
            return GLOBAL_CUSTOM_NAMES[obj]
        for registered, fn in self.by_name.items():
            if fn is obj:  # the canonical name of a built-in (its first registered name)
                return registered
        return name

    def deserialize(self, config, custom_objects=None):
        """An object from a name or a ``{"class_name": ..., "config": {...}}`` dict: a registered
        function is returned as is, a class is built from the config."""
        if isinstance(config, str):
            obj = self.lookup(config, custom_objects)
            return self.make(obj, config) if isinstance(obj, type) else obj
        if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
            raise ValueError(f"Could not interpret {self.kind} config: expected a name or "
                             f"{{'class_name': ..., 'config': {{...}}}}, got {config!r}")
        obj = self.lookup(config["class_name"], custom_objects)
        if not isinstance(obj, type):
            return obj
        kwargs = {k: v for k, v in (config.get("config") or {}).items() if k not in self.ignored_keys}
        return obj.from_config(kwargs) if hasattr(obj, "from_config") else obj(**kwargs)

    def get(self, identifier, custom_objects=None):
        """None -> ``default``; a name or config dict -> the object; a class -> a new instance;
        an instance of ``base`` or any callable -> itself; anything else is an error."""
        if identifier is None:
            return self.default
        if isinstance(identifier, (str, dict)):
            return self.deserialize(identifier, custom_objects)
        if self.base is not None and isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, type) and (self.base is None or issubclass(identifier, self.base)):
            return identifier()
        if callable(identifier) and not isinstance(identifier, type):
            return self.wrap_callable(identifier) if self.wrap_callable else identifier
        raise ValueError(f"Could not interpret {self.kind} identifier: {identifier!r}")
