"""Names: the one ``to_snake_case`` every floor uses (``Conv2D`` -> ``conv2d``).

Keras derives default object names and the snake-case aliases of its classes with one
function; this module gives the same results so layer, loss, metric and initializer names
match Keras's. It imports nothing from deepgrad, so any floor may use it.
"""
from __future__ import annotations

import re

# Three passes, as Keras: drop non-word characters; split before a capitalised word
# ("MaxPooling2D" -> "Max_Pooling2D"); split a lower-case letter from a capital after it
# ("GlobalAveragePooling1D" ... "1D" stays glued to its digit: "conv2d", not "conv2_d").
_NON_WORD = re.compile(r"\W+")
_CAPITALISED_WORD = re.compile(r"(.)([A-Z][a-z]+)")
_LOWER_THEN_UPPER = re.compile(r"([a-z])([A-Z])")


def to_snake_case(name: str) -> str:
    """``"SparseCategoricalCrossentropy"`` -> ``"sparse_categorical_crossentropy"``."""
    name = _NON_WORD.sub("", name)
    name = _CAPITALISED_WORD.sub(r"\1_\2", name)
    return _LOWER_THEN_UPPER.sub(r"\1_\2", name).lower()



# ----------------------------------------------------------------- name scopes (variable paths)
# Keras's rule for a variable's ``path``: the names of the layers being built around its
# creation, outermost first, then the variable's name ("sequential/dense/kernel"). A layer
# opens its scope while it is built (and during its first call, so sub-layers built then sit
# under it); a scope opened by a layer inside itself again is not repeated.
_scope_stack: list = []


class name_scope:
    """``with name_scope("block"):`` puts the variables created inside under ``block/``.
    ``caller`` is the object opening it; ``override_parent`` replaces the enclosing path."""

    def __init__(self, name, caller=None, deduplicate: bool = True, override_parent=None):
        if not isinstance(name, str) or "/" in name:
            raise ValueError(f"name_scope: `name` must be a string without '/', got name={name!r}")
        self.name, self.caller, self.deduplicate = name, caller, deduplicate
        self.override_parent = override_parent
        self._pushed = False

    def __enter__(self):
        top = _scope_stack[-1] if _scope_stack else None
        if not (self.deduplicate and top is not None and self.caller is not None and top.caller is self.caller
                and top.name == self.name):
            _scope_stack.append(self)
            self._pushed = True
        return self

    def __exit__(self, *exc):
        if self._pushed:
            _scope_stack.pop()
            self._pushed = False


def current_path() -> str:
    """The path of the open scopes, ``"outer/inner"`` ("" when none is open)."""
    parts: list = []
    for scope in _scope_stack:
        if scope.override_parent is not None:
            parts = [p for p in scope.override_parent.split("/") if p]
        parts.append(scope.name)
    return "/".join(parts)
