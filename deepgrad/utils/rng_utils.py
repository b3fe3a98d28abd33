"""One seed for everything random: ``set_random_seed`` (Keras's name)."""
from __future__ import annotations

import random

import numpy as np

from .. import backend


def set_random_seed(seed: int) -> None:
    """Seed deepgrad's generator (initialisers, dropout, shuffling), NumPy's global RNG and ``random``.

    After this, a program that draws its randomness from these sources repeats exactly on
    the same machine.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"set_random_seed expects an integer seed, got {seed!r} ({type(seed).__name__})")
    if seed < 0 or seed >= 2**32:
        raise ValueError(f"set_random_seed expects a seed in [0, 2**32), got {seed}")
    seed = int(seed)
    backend.seed(seed)
    np.random.seed(seed)
    random.seed(seed)
