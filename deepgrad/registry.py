"""What every configurable piece shares: a JSON config, and lookup by name.

Initialisers, regularisers, constraints and learning-rate schedules are small classes that
Keras names in strings (``"he_normal"``, ``"l2"``) and saves as
``{"class_name": ..., "config": {...}}``. ``Configurable`` gives them ``get_config``,
``from_config`` and a readable repr; a ``Registry`` turns a name, a config dict, a class or a
callable into an instance, and refuses anything it does not know by name (no imports, no
``module`` paths), so a saved config can never name code to run.
"""
from __future__ import annotations


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


class Registry:
    """The classes of one kind (``"initializer"``, ...) by every name Keras accepts for them."""

    def __init__(self, kind: str, base: type, by_name: dict, ignored_keys: tuple = ()):
        self.kind, self.base, self.by_name, self.ignored_keys = kind, base, by_name, ignored_keys

    def serialize(self, obj) -> dict:
        return {"class_name": type(obj).__name__, "config": obj.get_config()}

    def deserialize(self, config, custom_objects=None):
        """An instance from a name or a ``{"class_name": ..., "config": {...}}`` dict."""
        if isinstance(config, str):
            config = {"class_name": config, "config": {}}
        name, kwargs = config["class_name"], config.get("config") or {}
        cls = (custom_objects or {}).get(name) or self.by_name.get(name)
        if cls is None:
            raise ValueError(f"Unknown {self.kind} {name!r}; expected one of {sorted(self.by_name)}")
        kwargs = {k: v for k, v in kwargs.items() if k not in self.ignored_keys}
        return cls.from_config(kwargs) if hasattr(cls, "from_config") else cls(**kwargs)

    def get(self, identifier):
        """None -> None; a name or config dict -> an instance; a class -> an instance of it;
        any other callable -> itself."""
        if identifier is None:
            return None
        if isinstance(identifier, (str, dict)):
            return self.deserialize(identifier)
        if isinstance(identifier, type) and issubclass(identifier, self.base):
            return identifier()
        if callable(identifier):
            return identifier
        raise ValueError(f"Could not interpret {self.kind} identifier {identifier!r}")
