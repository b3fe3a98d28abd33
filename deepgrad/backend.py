"""Floor 1: the array module, the float policy and the seeded random generator."""
from __future__ import annotations

import ctypes
import ctypes.util

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


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def keep_freed_memory(limit: int = 1 << 30) -> bool:
    """Serve large blocks from the heap and keep freed ones (up to ``limit`` bytes) for reuse.

    glibc maps blocks above M_MMAP_THRESHOLD with mmap and unmaps them on free, and trims the
    heap top above M_TRIM_THRESHOLD; a training step that allocates the same large temporaries
    every time then pays for fresh zeroed pages again and again (30-40% of a CNN step). This
    changes the whole process's allocator, so it is for applications to call (the
    ``deepgrad`` command and the benchmarks do); importing deepgrad never does. Returns False
    where the C library has no ``mallopt`` (not glibc).
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, limit)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, limit))
    except (OSError, AttributeError, TypeError):
        return False
