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

