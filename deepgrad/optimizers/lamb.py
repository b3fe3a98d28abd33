"""LAMB (You et al., 2019, "Large Batch Optimization for Deep Learning"), as Keras 3 has it."""
from __future__ import annotations

import math

import numpy as np

from .base import Optimizer


class Lamb(Optimizer):
    """Adam's direction, rescaled per variable by the trust ratio ||w|| / ||u||; t = iterations + 1:

        m_t = β1 m_{t-1} + (1 - β1) g_t,   v_t = β2 v_{t-1} + (1 - β2) g_t²
        u_t = (m_t / (1 - β1^t)) / (√(v_t / (1 - β2^t)) + ε)
        r_t = ||w|| / ||u_t||  (1 when either norm is 0)
        w_t = w_{t-1} - lr r_t u_t

    The norms are over the whole variable, so the update is not element-wise.
    """

    slot_names = ("momentum", "velocity")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def update_step(self, gradient, variable, learning_rate):
        t = self._steps + 1
        slots = self.slots(variable)
        m, v = slots["momentum"], slots["velocity"]
        m += (gradient - m) * (1 - self.beta_1)
        v += (np.square(gradient) - v) * (1 - self.beta_2)
        update = m / (1 - self.beta_1 ** t)
        update /= np.sqrt(v / (1 - self.beta_2 ** t)) + self.epsilon
        w_norm = math.sqrt(float(np.sum(np.square(variable.data))))
        u_norm = math.sqrt(float(np.sum(np.square(update))))
        ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
        update *= ratio * learning_rate
        variable.data -= update

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
