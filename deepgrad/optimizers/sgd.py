"""Stochastic gradient descent, with Keras's momentum and Nesterov formulas."""
from __future__ import annotations

import numpy as np

from .base import Optimizer


class SGD(Optimizer):
    """Plain: w -= lr * g.
    Momentum: v = momentum * v - lr * g; w += v.
    Nesterov: v as above; w += momentum * v - lr * g.
    (PyTorch's b = momentum * b + g; w -= lr * b is the same update with v = -lr * b.)
    """

    elementwise_update = True  # the flat-group fast path (see flat_group)

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        if not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be a number in [0, 1], got {momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _slot_names_for(self, variable) -> tuple:
        return ("momentum",) if self.momentum else ()

    @property
    def momentums(self) -> list:
        """Each variable's momentum (Keras's ``SGD.momentums``; empty when ``momentum`` is 0),
        as Variables on the optimiser's own arrays."""
        return [self._slot_variable(i, "momentum") for i, slots in enumerate(self._slots) if "momentum" in slots]

    def update_step(self, gradient, variable, learning_rate):
        step = gradient * learning_rate  # lr * g, one temporary
        if not self.momentum:
            variable.data -= step
            return
        v = self.slots(variable)["momentum"]
        v *= self.momentum
        v -= step
        if self.nesterov:
            variable.data -= step
            variable.data += self.momentum * v
        else:
            variable.data += v

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
