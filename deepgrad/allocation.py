"""An allocation budget for building a model from a file.

A model file names its architecture in a few bytes of JSON: ``Dense(200_000_000)`` is a
short line that asks for gigabytes. While a model is rebuilt from a file, every weight it
creates is charged against the bytes the file really holds (plus a small slack), so a
config asking for more is refused with an error naming the layer and the shape *before*
the memory is allocated. Outside ``allocation_budget`` nothing is charged.
"""
from __future__ import annotations

import contextlib
import threading

_state = threading.local()


class AllocationBudgetError(ValueError):
    """A file asked for more memory than it holds weights for."""


@contextlib.contextmanager
def allocation_budget(nbytes: int, source: str):
    """Within the block, ``reserve`` refuses once more than ``nbytes`` have been reserved."""
    previous = getattr(_state, "budget", None)
    _state.budget = [int(nbytes), 0, source]
    try:
        yield
    finally:
        _state.budget = previous


def reserve(nbytes: int, what: str) -> None:
    """Charge ``nbytes`` for ``what`` (e.g. "layer 'dense' weight 'kernel' of shape (3, 200000000)")."""
    budget = getattr(_state, "budget", None)
    if budget is None:
        return
    limit, used, source = budget
    if used + nbytes > limit:
        raise AllocationBudgetError(
            f"{source}: {what} needs {nbytes} bytes, over the budget of {limit} bytes for this file (the bytes "
            f"its weights take, plus a small slack; "
            f"{used} already used): the architecture asks for more memory than the file can fill, "
            "so it is refused before allocating")
    budget[1] = used + nbytes
