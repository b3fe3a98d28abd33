"""Keras's ``StatelessScope`` and ``SymbolicScope``.

Inside ``with StatelessScope(state_mapping) as scope:`` the mapped variables hold the given
values and nothing written to a variable outlives the block: every variable that was mapped or
assigned (``assign``, ``assign_add``, ``assign_sub``) gets its own value back on exit, and the
value it had at the end of the block is kept in the scope, read with
``scope.get_current_value(variable)`` (None for a variable neither mapped nor assigned).

Variables are NumPy arrays updated in place, so the scope swaps values in and out instead of
redirecting reads: code inside the block that writes a variable's ``.data`` directly, bypassing
``assign``, is not seen (the built-in optimizers' ``apply`` does; use ``stateless_apply``).
"""
from __future__ import annotations

import threading

import numpy as np

from .tensor import Tensor

_state = threading.local()


def get_stateless_scope():
    """The innermost open ``StatelessScope`` of this thread, or None."""
    return getattr(_state, "stateless", None)


def in_stateless_scope() -> bool:
    return get_stateless_scope() is not None


def get_symbolic_scope():
    """The innermost open ``SymbolicScope`` of this thread, or None."""
    return getattr(_state, "symbolic", None)


def in_symbolic_scope() -> bool:
    return get_symbolic_scope() is not None


class StatelessScope:
    """``StatelessScope(state_mapping=None, collect_losses=False, initialize_variables=True)``:
    ``state_mapping`` is a list of ``(variable, value)`` pairs, each value of the variable's
    shape (cast to its dtype). Losses added by layers inside the block are collected in
    ``scope.losses`` when ``collect_losses`` is True."""

    def __init__(self, state_mapping=None, collect_losses=False, initialize_variables=True):
        self.collect_losses = collect_losses
        self.initialize_variables = initialize_variables
        self.losses = []
        self._mapping = {}     # id(variable) -> (variable, value to hold inside)
        self._current = {}     # id(variable) -> its value when the block ended
        self._saved = None
        for variable, value in state_mapping or ():
            if not (isinstance(variable, Tensor) and hasattr(variable, "assign")):
                raise ValueError("Invalid reference variable in StatelessScope: all keys in argument `mapping` "
                                 f"must be Variable instances. Received instead: {variable}")
            array = np.asarray(value.data if isinstance(value, Tensor) else value, dtype=variable.dtype)
            if array.shape != variable.shape:
                raise ValueError("Invalid variable value in StatelessScope: all values in argument `mapping` must "
                                 "be tensors with a shape that matches the corresponding variable shape. For "
                                 f"variable {variable}, received invalid value with shape {array.shape}.")
            self._mapping[id(variable)] = (variable, array)

    def __enter__(self):
        self._outer = get_stateless_scope()
        self._saved = {}
        self._current = {}
        for key, (variable, array) in self._mapping.items():
            self.note(variable)
            variable.data[...] = array
        _state.stateless = self
        return self

    def note(self, variable) -> None:
        """Keep ``variable``'s value from before its first write inside the block."""
        if id(variable) not in self._saved:
            self._saved[id(variable)] = (variable, variable.data.copy())

    def add_loss(self, loss) -> None:
        self.losses.append(loss)

    def add_update(self, update) -> None:
        """``(variable, value)``: the value the variable holds from here to the end of the block."""
        variable, value = update
        self.note(variable)
        variable.data[...] = np.asarray(getattr(value, "data", value), dtype=variable.dtype)

    def get_current_value(self, variable):
        """The variable's value when the block ended (or now, inside it); None when the block
        neither mapped nor assigned it."""
        if self._saved is not None and _state_is(self) and id(variable) in self._saved:
            return Tensor(variable.data.copy())
        value = self._current.get(id(variable))
        return None if value is None else Tensor(value)

    def __exit__(self, *exc):
        _state.stateless = self._outer
        for key, (variable, original) in self._saved.items():
            self._current[key] = variable.data.copy()
            variable.data[...] = original
        self._saved = {}


def _state_is(scope) -> bool:
    return get_stateless_scope() is scope


class SymbolicScope:
    """Marks the symbolic stage (a model being traced on KerasTensors), as Keras's."""

    def __enter__(self):
        self._outer = get_symbolic_scope()
        _state.symbolic = self
        return self

    def __exit__(self, *exc):
        _state.symbolic = self._outer


class watching_writes:
    """``with watching_writes() as log:`` ``log`` lists ``(target, key, value before)`` for each
    variable written (``assign``, ``assign_add``, ``assign_sub``; ``key`` None) and each attribute
    noted by ``note_write(obj, name)`` inside the block, once each, with the value it had before
    its first write. A checkpoint reruns its function with those values (a seed generator's
    state, a seeded dropout's call count) and puts the later ones back after (``restore``)."""

    def __enter__(self) -> list:
        self._log: list = []
        self._seen: set = set()
        logs = getattr(_state, "write_logs", None)
        _state.write_logs = (logs or ()) + (self,)
        return self._log

    def note(self, target, key) -> None:
        if (id(target), key) not in self._seen:
            self._seen.add((id(target), key))
            self._log.append((target, key, _read(target, key)))

    def __exit__(self, *exc):
        _state.write_logs = tuple(log for log in _state.write_logs if log is not self)
        return False


def note_write(target, key=None) -> None:
    """``target`` (a variable, or an object's attribute ``key``) is about to be written: each
    open ``watching_writes`` block keeps its value from before its first write."""
    logs = getattr(_state, "write_logs", None)
    if logs:
        for log in logs:
            log.note(target, key)


def _read(target, key):
    if key is None:
        return target.data.copy()
    value = getattr(target, key, _MISSING)
    return list(value) if type(value) is list else value  # a list appended to in place is kept as it was


_MISSING = object()


def current_values(log: list) -> list:
    """``log``'s targets with their values now, in ``watching_writes``'s form."""
    return [(target, key, _read(target, key)) for target, key, _ in log]


def restore(log: list) -> None:
    """Write back the values of ``log`` (last entry first, so the earliest value wins)."""
    for target, key, value in reversed(log):
        if key is None:
            target.data[...] = value
        elif value is _MISSING:
            target.__dict__.pop(key, None)
        else:
            setattr(target, key, value)


__all__ = ["StatelessScope", "SymbolicScope", "get_stateless_scope", "get_symbolic_scope", "in_stateless_scope",
           "in_symbolic_scope", "note_write", "watching_writes"]
