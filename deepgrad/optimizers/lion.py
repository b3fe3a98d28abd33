"""Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"), as Keras 3 has it."""
from __future__ import annotations

import numpy as np

from .base import Optimizer


class Lion(Optimizer):
    """The step is the sign of an interpolation, the momentum a second one:

        w_t = w_{t-1} - lr sign(β1 m_{t-1} + (1 - β1) g_t)
        m_t = β2 m_{t-1} + (1 - β2) g_t

    Every coordinate moves by exactly ±lr (or 0), so Lion wants a learning rate 3-10 times
    smaller than Adam's. ``beta_1`` must be in (0, 1]: at 0 it would be sign-SGD.
    """

    elementwise_update = True  # the flat-group fast path (see flat_group)
    slot_names = ("momentum",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ValueError(f"Lion: beta_1 must be in (0, 1] (at 0 Lion is sign-SGD), got {beta_1}")
        self.beta_1, self.beta_2 = beta_1, beta_2

    def update_step(self, gradient, variable, learning_rate):
        m = self.slots(variable)["momentum"]
        # sign(β1 m + (1 - β1) g)
        direction = np.multiply(gradient, 1 - self.beta_1)
        direction += self.beta_1 * m
        np.sign(direction, out=direction)
        direction *= learning_rate
        variable.data -= direction
        # m = β2 m + (1 - β2) g
        m *= self.beta_2
        m += (1 - self.beta_2) * gradient

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
