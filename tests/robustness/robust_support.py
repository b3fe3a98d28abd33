"""The one rule of the robustness suite: an outcome is a correct result or a clear error.

A clear error is a TypeError, ValueError, IndexError or KeyError (deepgrad's own error classes
derive from these) whose message names the op, layer or argument, and is not one of NumPy's or
Python's internal messages. Anything else (AttributeError, ZeroDivisionError, RecursionError,
a bare MemoryError, a raw NumPy message) fails the property.
"""
from __future__ import annotations

import os

import numpy as np
from hypothesis import settings

ALLOWED = (TypeError, ValueError, IndexError, KeyError)

# messages that come from deep inside NumPy or Python rather than from an argument check
RAW_MESSAGES = (
    "operands could not be broadcast", "ufunc", "object of type 'NoneType'", "'NoneType' object",
    "unsupported operand type", "has no attribute", "not subscriptable", "is not iterable",
    "cannot be interpreted as an integer", "invalid literal for int()", "setting an array element with a sequence",
    "only integer scalar arrays", "too many indices for array", "axis out of bounds", "is out of bounds for axis",
    "cannot reshape array of size", "could not convert string to float", "mismatch in its core dimension",
    "must be real number, not", "float() argument must be", "int() argument must be",
    "inhomogeneous shape", "list index out of range", "tuple index out of range", "division by zero",
    "maximum recursion depth", "Unable to allocate", "array is too big", "negative dimensions are not allowed",
    "zero-size array to reduction",
)


def cases(weight: float = 1.0):
    """This property's settings: the profile chosen in conftest, ``weight`` times its example count."""
    long = os.environ.get("DEEPGRAD_HYPOTHESIS", "") == "long"
    parent = settings.get_profile("deepgrad-robust-long" if long else "deepgrad-robust")
    return settings(parent, max_examples=max(1, int(parent.max_examples * weight)))


def clear_error(error: BaseException, names) -> None:
    """Assert ``error`` is an allowed type with a message naming one of ``names``, no raw text."""
    message = str(error)
    assert isinstance(error, ALLOWED), f"{type(error).__name__} is not a clear error: {message}"
    for raw in RAW_MESSAGES:
        assert raw not in message, f"raw internal message {raw!r} in {type(error).__name__}: {message}"
    lowered = message.lower()
    assert any(n.lower() in lowered for n in names), (
        f"{type(error).__name__} message names none of {list(names)}: {message}")


def outcome(call, names, reference=None, rtol=1e-4, atol=1e-5):
    """Run ``call``; an error must be clear (see ``clear_error``), a result must match ``reference``.

    ``reference`` is a zero-argument function giving the NumPy result, or None. Without one,
    a floating result that has NaN where no input did is still a failure (``finite``).
    Returns the result, or None after a clear error.
    """
    try:
        out = call()
    except ALLOWED as e:
        clear_error(e, names)
        return None
    if reference is not None:
        expected = reference()
        got = out.numpy() if hasattr(out, "numpy") else np.asarray(out)
        np.testing.assert_allclose(np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                                   rtol=rtol, atol=atol, equal_nan=True)
    return out


def as_numpy(x):
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def finite(x) -> bool:
    a = as_numpy(x)
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())
