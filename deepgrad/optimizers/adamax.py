"""Adamax (Keras 3): Adam with the infinity norm in place of the second moment."""
from __future__ import annotations

import numpy as np

from .base import Optimizer


class Adamax(Optimizer):
    """m = b1 m + (1 - b1) g;  u = max(b2 u, |g|);  w -= lr m / ((1 - b1^t) (u + eps)),  t = iterations + 1."""
    keras_slot_names = {"m": "momentum", "u": "norm"}

    elementwise_update = True  # the flat-group fast path (see flat_group)
    slot_names = ("m", "u")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def update_step(self, gradient, variable, learning_rate):
        slots = self.slots(variable)
        b1 = self.beta_1
        m, u = slots["m"], slots["u"]
        m *= b1
        m += (1 - b1) * gradient
        u *= self.beta_2
        np.maximum(u, np.abs(gradient), out=u)
        denominator = u + self.epsilon
        step = np.divide(m, denominator, out=denominator)
        step *= learning_rate / (1 - b1 ** (self._steps + 1))
        variable.data -= step

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
