"""How layers take their arguments: the weight triples, and keyword forwarding to a base.

One spec for the ``<weight>_initializer`` / ``_regularizer`` / ``_constraint`` triples.

Keras layers take three arguments per weight (``kernel_*``, ``bias_*``, ``recurrent_*``,
``embeddings_*``, ``gamma_*``, ``beta_*``), resolve each with ``initializers.get``,
``regularizers.get`` and ``constraints.get``, hand them to ``add_weight`` and write them back
into the config. ``set_weight_arguments`` resolves them onto the layer as
``layer.<prefix>_initializer`` (and so on), ``add_weight_from_arguments`` creates the weight
with them, ``weight_arguments_config`` serialises them the way Keras does (an object as
``{"class_name", "config"}``, an unset regularizer or constraint as ``None``).

``forwarded_arguments(locals())``: a subclass whose constructor shows Keras's documented
signature passes every argument by name to a base class that checks and stores them once.
"""
from __future__ import annotations

from .. import constraints, initializers, regularizers

# (argument suffix, the module that resolves and serialises it)
_KINDS = (("initializer", initializers), ("regularizer", regularizers), ("constraint", constraints))


def set_weight_arguments(layer, prefix: str, initializer=None, regularizer=None, constraint=None) -> None:
    """``layer.<prefix>_initializer = initializers.get(initializer)``, and the same for the other two."""
    for (suffix, module), value in zip(_KINDS, (initializer, regularizer, constraint)):
        setattr(layer, f"{prefix}_{suffix}", module.get(value))


def add_weight_from_arguments(layer, prefix: str, shape, name: str | None = None, initializer=None, **kwargs):
    """``layer.add_weight`` with the prefix's initializer (or ``initializer``), regularizer and constraint."""
    return layer.add_weight(name or prefix, shape,
                            initializer if initializer is not None else getattr(layer, f"{prefix}_initializer"),
                            regularizer=getattr(layer, f"{prefix}_regularizer"),
                            constraint=getattr(layer, f"{prefix}_constraint"), **kwargs)


def serialize_argument(module, value):
    """A resolved initializer/regularizer/constraint as Keras writes it in a config (None stays None)."""
    return None if value is None else module.serialize(value)


def weight_arguments_config(layer, *prefixes: str) -> dict:
    """``{"<prefix>_initializer": ..., "<prefix>_regularizer": ..., "<prefix>_constraint": ...}``
    for each prefix, in Keras's key order (initializers, then regularizers, then constraints)."""
    return {f"{prefix}_{suffix}": serialize_argument(module, getattr(layer, f"{prefix}_{suffix}"))
            for suffix, module in _KINDS for prefix in prefixes}


def forwarded_arguments(constructor_locals: dict, exclude=()) -> dict:
    """A constructor's arguments by name, its ``**kwargs`` merged in, less ``exclude``.

    Called first thing in ``__init__`` (``super().__init__(**forwarded_arguments(locals()))``),
    when the locals are exactly the parameters; by name, so no argument lands in the wrong slot
    when the subclass lists them in another order than its base.
    """
    skip = {"self", "kwargs", "__class__", *exclude}
    arguments = {k: v for k, v in constructor_locals.items() if k not in skip}
    return {**arguments, **constructor_locals.get("kwargs", {})}
