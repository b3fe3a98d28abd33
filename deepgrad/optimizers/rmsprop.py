"""RMSprop (Keras 3): divide the step by a running root mean square of the gradients."""
from __future__ import annotations

import numpy as np

from .base import Optimizer


class RMSprop(Optimizer):
    """velocity = rho * velocity + (1 - rho) * g^2
    centered:  mean_g = rho * mean_g + (1 - rho) * g;  denominator = velocity - mean_g^2 + eps
    otherwise: denominator = velocity + eps
    increment = lr * g / sqrt(denominator)
    momentum:  buf = momentum * buf + increment; w -= buf;  otherwise w -= increment.
    (Keras puts epsilon inside the square root; PyTorch adds it after.)
    """
    keras_slot_groups = (("velocity",), ("momentum",), ("average_gradient",))

    elementwise_update = True  # the flat-group fast path (see flat_group)

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        if not 0 <= rho <= 1:
            raise ValueError(f"RMSprop: rho must be in [0, 1], got {rho}")
        self.rho, self.momentum, self.epsilon, self.centered = float(rho), float(momentum), float(epsilon), bool(centered)

    def _slot_names_for(self, variable) -> tuple:
        return ("velocity",) + (("momentum",) if self.momentum > 0 else ()) + \
            (("average_gradient",) if self.centered else ())

    def update_step(self, gradient, variable, learning_rate):
        slots = self.slots(variable)
        rho = self.rho
        velocity = slots["velocity"]
        velocity *= rho
        velocity += (1 - rho) * np.square(gradient)
        denominator = velocity + self.epsilon
        if self.centered:
            mean_g = slots["average_gradient"]
            mean_g *= rho
            mean_g += (1 - rho) * gradient
            denominator -= np.square(mean_g)
        np.sqrt(denominator, out=denominator)
        increment = np.divide(gradient, denominator, out=denominator)
        increment *= learning_rate
        if self.momentum > 0:
            buf = slots["momentum"]
            buf *= self.momentum
            buf += increment
            increment = buf
        variable.data -= increment

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}
