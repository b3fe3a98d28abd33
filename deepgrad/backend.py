"""Floor 1: the array module, the float policy and the seeded random generator.

Process tuning (allocator, BLAS threads) and the thread pool are in ``deepgrad.runtime``."""
from __future__ import annotations

import numpy as np

xp = np  # the array module; NumPy today

_FLOATX = "float32"
_EPSILON = 1e-7
_rng = np.random.default_rng()


def floatx() -> str:
    """The default float type as a string, e.g. ``'float32'`` (Keras's name)."""
    return _FLOATX


def set_floatx(value: str) -> None:
    global _FLOATX
    if value not in ("float16", "float32", "float64"):
        raise ValueError(f"Unknown floatx {value!r}: expected 'float16', 'float32' or 'float64'")
    _FLOATX = value


def epsilon() -> float:
    """The fuzz factor Keras uses to clip probabilities (1e-7)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


def rng() -> np.random.Generator:
    """The one random generator behind initialisers, dropout and shuffling."""
    return _rng


def seed(value: int | None) -> None:
    """Reseed the generator; ``deepgrad.utils.set_random_seed`` also seeds NumPy and ``random``."""
    global _rng
    _rng = np.random.default_rng(value)


def get_rng_state() -> dict:
    return _rng.bit_generator.state


def set_rng_state(state: dict) -> None:
    _rng.bit_generator.state = state


def to_floatx(array) -> np.ndarray:
    """Python numbers, lists, integer and bool arrays become floatx; float arrays keep their dtype."""
    if not isinstance(array, np.ndarray):
        return np.asarray(array, dtype=_FLOATX)
    a = array
    if a.dtype.kind != "f":
        a = a.astype(_FLOATX)
    return a
