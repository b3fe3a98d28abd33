"""``SeedGenerator``: a seed that advances with every draw, kept in a Variable so it is part of
a layer's state (Keras's ``keras.random.SeedGenerator``).

It sits just above ``autograd`` so that layers (Dropout, the noise and augmentation layers, the
recurrent cells) can own one, as Keras's do; ``deepgrad.random`` hands it out under its
public name and draws from it.
"""
from __future__ import annotations

import random

import numpy as np

from . import backend
from .autograd import Tensor, Variable

# Keras's seed dtype on its PyTorch backend (int32 holding the uint32 bits of the seed)
SEED_DTYPE = np.int32


def _seed_bits(seed: int) -> int:
    """The seed's low 32 bits as a signed int32 value, as Keras keeps them."""
    return int(np.array(int(seed) & 0xFFFFFFFF, np.uint32).view(np.int32))


class SeedGenerator:
    """``SeedGenerator(seed=None, name=None)``: ``next()`` returns the state ``[seed, counter]``
    and advances the counter, so each draw through it gives new numbers, and two generators
    made with the same seed give the same sequence.

    ``seed=None`` takes a seed from Python's ``random`` as Keras does (which
    ``deepgrad.utils.set_random_seed`` seeds too, so it repeats; NumPy's streams are left as they
    were). The state variable is named ``seed_generator_state`` under the generator's own name
    (``seed_generator/seed_generator_state``).
    """

    def __init__(self, seed=None, name=None, **kwargs):
        # Keras's choice of backend module: there is only one here, deepgrad's own (not kept on
        # the instance, so a layer holding a generator still deep-copies: modules do not)
        self._backend = kwargs.pop("backend", None)
        if kwargs:
            raise ValueError(f"SeedGenerator: unrecognized keyword arguments: {kwargs}")
        self.name = name if name is not None else backend.auto_name("seed_generator")
        self._initial_seed = seed
        if seed is None:
            seed = random.randint(1, 10**9)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"SeedGenerator: argument `seed` must be an integer, got seed={seed!r}")
        with backend.name_scope(self.name, caller=self):
            self.state = Variable(np.array([_seed_bits(seed), 0], dtype=SEED_DTYPE), trainable=False,
                                  name="seed_generator_state", dtype=SEED_DTYPE)

    @property
    def backend(self):
        return self._backend if self._backend is not None else backend

    def next(self, ordered=True):
        """The current state ``[seed, counter]`` (a copy); the state then moves on.

        ``ordered=True`` adds one to the counter; ``ordered=False`` scrambles the state as
        Keras does, ``(state + 1) * 5387 % 933199``.
        """
        current = self.state.data.copy()
        if ordered:
            self.state.assign(current + np.array([0, 1], SEED_DTYPE))
        else:
            self.state.assign(((current.astype(np.int64) + 1) * 5387 % 933199).astype(SEED_DTYPE))
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
