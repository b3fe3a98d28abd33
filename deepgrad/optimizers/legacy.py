"""``optimizers.legacy``, as Keras 3 has it: the names of Keras 2's legacy optimisers, each of
which refuses to be built and says what to use instead."""
from __future__ import annotations


class LegacyOptimizerWarning:
    """Keras 2's ``tf.keras.optimizers.legacy`` classes are gone in Keras 3, and in deepgrad."""

    def __init__(self, *args, **kwargs):
        raise ImportError("deepgrad.optimizers.legacy is not supported (it is gone in Keras 3 too): use the "
                          "optimizers of deepgrad.optimizers, e.g. deepgrad.optimizers.Adam, which take the "
                          "same arguments")


Adagrad = Adam = Ftrl = Optimizer = RMSprop = SGD = LegacyOptimizerWarning

__all__ = ["Adagrad", "Adam", "Ftrl", "Optimizer", "RMSprop", "SGD"]
