"""Schedule-Free AdamW (Defazio et al., 2024, "The Road Less Scheduled")."""
from __future__ import annotations

import numpy as np

from .base import Optimizer


class ScheduleFreeAdamW(Optimizer):
    """Keras 3's formulation, t = iterations + 1, with the warm-up lr_t = lr min(1, t / warmup_steps).

    The variable holds y (where gradients are taken); the slot "momentum" holds z (the
    AdamW iterate, starting at the variable's value) and x, the average, is recovered from
    y = (1 - β1) z + β1 x:

        v_t = β2 v_{t-1} + (1 - β2) g²
        z_t = z_{t-1} - lr_t g / (√(v_t / (1 - β2^t)) + ε)
        x_{t-1} = (y_{t-1} - (1 - β1) z_{t-1}) / β1
        x_t = (1 - 1/t) x_{t-1} + (1/t) z_t
        y_t = (1 - β1) z_t + β1 x_t

    No learning-rate schedule is needed: the running average x plays its part.
    """

    elementwise_update = True  # the flat-group fast path (see flat_group)
    slot_names = ("momentum", "velocity")

    def __init__(self, learning_rate=0.0025, beta_1=0.9, beta_2=0.999, epsilon=1e-8, warmup_steps=0,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps,
                         name=name, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ValueError(f"ScheduleFreeAdamW: beta_1 must be in (0, 1] (x is recovered by dividing by it), "
                             f"got {beta_1}")
        self.beta_1, self.beta_2, self.epsilon, self.warmup_steps = beta_1, beta_2, epsilon, warmup_steps

    def _init_slots(self, variable, slots):
        slots["momentum"][...] = variable.data  # z starts at the variable

    def update_step(self, gradient, variable, learning_rate):
        t = self._steps + 1
        b1, b2 = self.beta_1, self.beta_2
        if self.warmup_steps > 0:
            learning_rate = learning_rate * min(t / self.warmup_steps, 1.0)
        slots = self.slots(variable)
        z, v, y = slots["momentum"], slots["velocity"], variable.data
        x = (y - (1 - b1) * z) / b1  # from z_{t-1} and y_{t-1}
        v += (np.square(gradient) - v) * (1 - b2)
        denominator = np.sqrt(v / (1 - b2 ** t))
        denominator += self.epsilon
        z -= learning_rate * gradient / denominator
        weight = 1.0 / t
        x *= 1 - weight
        x += weight * z
        y[...] = (1 - b1) * z + b1 * x

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "warmup_steps": self.warmup_steps}
