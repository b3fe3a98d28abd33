"""Small helpers around symbolic tensors and the global state, under Keras's names."""
from __future__ import annotations

from ..backend import clear_session  # noqa: F401 - keras.utils.clear_session is the same function
from ..ops.dtypes import standardize_dtype
from ..symbolic import KerasTensor


def is_keras_tensor(x) -> bool:
    """True for a symbolic tensor (from ``Input`` and layer calls on it)."""
    return isinstance(x, KerasTensor)


def get_source_inputs(tensor) -> list:
    """The model inputs (``Input`` tensors) that ``tensor`` is computed from, in the order first
    met walking back from it; an input tensor gives itself."""
    if not is_keras_tensor(tensor):
        raise ValueError(f"get_source_inputs: expected a symbolic tensor, got {type(tensor).__name__}")
    found, seen, stack = [], set(), [tensor]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t.node is None:
            found.append(t)
        else:
            stack.extend(reversed(t.node.parents))
    return found


__all__ = ["clear_session", "get_source_inputs", "is_keras_tensor", "standardize_dtype"]
