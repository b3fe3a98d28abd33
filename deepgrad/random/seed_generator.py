"""``SeedGenerator``: a seed that advances with every draw, kept in a Variable so it is saved
and restored with the rest of a model's state (Keras's ``keras.random.SeedGenerator``)."""
from __future__ import annotations

import itertools

import numpy as np

from .. import backend
from ..autograd import Tensor, Variable

_names = itertools.count()


class SeedGenerator:
    """``SeedGenerator(seed=None, name=None)``: ``next()`` returns the state ``[seed, counter]``
    and advances the counter, so each draw through it gives new numbers, and two generators
    made with the same seed give the same sequence.

    ``seed=None`` takes a seed from deepgrad's global generator, so
    ``deepgrad.utils.set_random_seed`` makes it repeat too.
    """

    def __init__(self, seed=None, name=None, **kwargs):
        # Keras's choice of backend module: there is only one here, deepgrad's own
        self.backend = kwargs.pop("backend", None) or backend
        if kwargs:
            raise ValueError(f"SeedGenerator: unrecognized keyword arguments: {kwargs}")
        self.name = name if name is not None else f"seed_generator_{next(_names)}"
        self._initial_seed = seed
        if seed is None:
            seed = int(backend.rng().integers(1, 10**9))
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"SeedGenerator: argument `seed` must be an integer, got seed={seed!r}")
        self.state = Variable(np.array([int(seed), 0], dtype=np.int64), trainable=False,
                              name="seed_generator_state", dtype=np.int64)

    def next(self, ordered=True):
        """The current state ``[seed, counter]`` (a copy); the state then moves on.

        ``ordered=True`` adds one to the counter; ``ordered=False`` scrambles the state as
        Keras does, ``(state + 1) * 5387 % 933199``.
        """
        current = self.state.data.copy()
        if ordered:
            self.state.assign(current + np.array([0, 1], np.int64))
        else:
            self.state.assign((current + 1) * 5387 % 933199)
        return Tensor(current, dtype=current.dtype)

    @property
    def variables(self) -> list:
        return [self.state]

    def get_config(self) -> dict:
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> "SeedGenerator":
        return cls(**config)

    def __repr__(self) -> str:
        return f"<SeedGenerator {self.name!r} state={self.state.data.tolist()}>"


def numpy_generator(seed, op: str) -> np.random.Generator:
    """The NumPy generator one draw uses.

    ``None``: deepgrad's global generator (reseeded by ``set_random_seed``); an int: a fresh
    generator from that seed, so the same int gives the same numbers every call; a
    ``SeedGenerator``: a fresh generator from its next state.
    """
    if seed is None:
        return backend.rng()
    if isinstance(seed, SeedGenerator):
        return np.random.default_rng(seed.next().data.astype(np.uint64))
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed) & 0xFFFFFFFFFFFFFFFF)
    if isinstance(seed, (Tensor, np.ndarray, list, tuple)):
        values = np.asarray(getattr(seed, "data", seed))
        if values.dtype.kind in "iu":
            return np.random.default_rng(values.astype(np.int64).astype(np.uint64).reshape(-1))
    raise ValueError(f"{op}: argument `seed` must be an integer, a SeedGenerator or None, "
                     f"got seed={seed!r} (of type {type(seed).__name__})")
