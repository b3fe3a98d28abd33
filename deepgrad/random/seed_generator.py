"""How a draw turns its ``seed`` argument into a NumPy generator; ``SeedGenerator`` itself (a
seed that advances with every draw, kept in a Variable) lives in ``deepgrad.seed_generator``
so that layers can own one."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Tensor
from ..seed_generator import SeedGenerator

__all__ = ["SeedGenerator", "numpy_generator"]


def numpy_generator(seed, op: str) -> np.random.Generator:
    """The NumPy generator one draw uses.

    ``None``: deepgrad's global generator (reseeded by ``set_random_seed``); an int: a fresh
    generator from that seed, so the same int gives the same numbers every call; a
    ``SeedGenerator``: a fresh generator from its next state.
    """
    if seed is None:
        return backend.rng()
    if isinstance(seed, SeedGenerator):
        return np.random.default_rng(seed.next().data.view(np.uint32).astype(np.uint64))
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed) & 0xFFFFFFFFFFFFFFFF)
    if isinstance(seed, (Tensor, np.ndarray, list, tuple)):
        values = np.asarray(getattr(seed, "data", seed))
        if values.dtype.kind in "iu":
            return np.random.default_rng(values.astype(np.int64).astype(np.uint64).reshape(-1))
    raise ValueError(f"{op}: argument `seed` must be an integer, a SeedGenerator or None, "
                     f"got seed={seed!r} (of type {type(seed).__name__})")
