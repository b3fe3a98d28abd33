"""Switching graph recording off (``no_grad``) and on (``enable_grad``), and listing what is
recorded inside a block (``recording_functions``, for checkpointing)."""
from __future__ import annotations

import functools
import sys
import threading

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


def set_grad_enabled(mode: bool) -> None:
    # inside a ``recording_functions`` block, recording on is its recorder: code that switches
    # grad mode off and on again inside a checkpointed function keeps its ops listed
    _state.enabled = (getattr(_state, "recorder", None) or True) if mode else False


class _Recorder:
    """The grad mode inside ``recording_functions``: true, like recording on, and it lists each
    Function that ``Function.apply`` records. ``apply`` asks ``if <grad mode>:`` exactly when it
    is about to record an op, so that test is where the op is seen (its frame holds it as
    ``fn``); other readers of the grad mode (``is_grad_enabled() and ...``) only get True.
    Outside such a block the grad mode is a plain bool and ``apply`` pays nothing for this."""

    __slots__ = ("functions",)
    apply_code = None  # Function.apply's code object, set by ``function`` when it is defined

    def __init__(self):
        self.functions: list = []

    def __bool__(self) -> bool:
        frame = sys._getframe(1)
        if frame.f_code is _Recorder.apply_code:
            self.functions.append(frame.f_locals["fn"])
        return True


class recording_functions:
    """``with recording_functions() as functions:`` grad recording is on inside, and every
    Function recorded in the block (in this thread) is appended to the list ``functions``, in
    the order they ran. ``note_recorded(fn)`` adds one recorded by hand (a checkpoint's own node)."""

    def __enter__(self) -> list:
        self._prev = getattr(_state, "enabled", True)
        self._outer = getattr(_state, "recorder", None)
        _state.recorder = _state.enabled = _Recorder()
        return _state.recorder.functions

    def __exit__(self, *exc):
        _state.recorder = self._outer
        _state.enabled = self._prev
        return False


def note_recorded(fn) -> None:
    """Tell an open ``recording_functions`` block of a Function recorded without ``apply``."""
    mode = getattr(_state, "enabled", True)
    if type(mode) is _Recorder:
        mode.functions.append(fn)


class _GradMode:
    """Context manager and decorator that sets grad recording to ``self.mode``.

    ``with no_grad():``, ``@no_grad()`` and ``@no_grad`` all work, as in PyTorch.
    """

    mode = True

    def __new__(cls, func=None):
        self = super().__new__(cls)
        return self if func is None else self(func)

    def __enter__(self):
        self._prev = is_grad_enabled()
        set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        _state.enabled = self._prev  # exactly what it was (a bool, or an open recording's recorder)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """``with no_grad():`` or ``@no_grad``: operations record no graph."""

    mode = False


class enable_grad(_GradMode):
    mode = True
