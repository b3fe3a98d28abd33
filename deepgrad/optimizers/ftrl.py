"""FTRL-Proximal (McMahan et al., 2013, "Ad Click Prediction: a View from the Trenches")."""
from __future__ import annotations

import numpy as np

from .base import Optimizer


class Ftrl(Optimizer):
    """Follow The Regularized Leader, as Keras 3 computes it (p = -learning_rate_power,
    λ1, λ2 the L1/L2 strengths, λ2 += β / (2 lr), s the L2 shrinkage strength):

        g' = g + 2 s w                      n_t = n_{t-1} + g²
        z_t = z_{t-1} + g' - (n_t^p - n_{t-1}^p) / lr · w
        w_t = (clip(z_t, -λ1, λ1) - z_t) / (n_t^p / lr + 2 λ2)

    n (the "accumulator") starts at ``initial_accumulator_value``, z (the "linear") at 0.
    """

    elementwise_update = True  # the flat-group fast path (see flat_group)
    slot_names = ("accumulator", "linear")

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        for arg, value in (("initial_accumulator_value", initial_accumulator_value),
                           ("l1_regularization_strength", l1_regularization_strength),
                           ("l2_regularization_strength", l2_regularization_strength),
                           ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength)):
            if value < 0:
                raise ValueError(f"Ftrl: {arg} must be >= 0, got {value}")
        if learning_rate_power > 0:
            raise ValueError(f"Ftrl: learning_rate_power must be <= 0, got {learning_rate_power}")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta
        self.slot_initial_values = {"accumulator": float(initial_accumulator_value)}

    def update_step(self, gradient, variable, learning_rate):
        slots = self.slots(variable)
        n, z, w = slots["accumulator"], slots["linear"], variable.data
        power = -self.learning_rate_power
        l1 = self.l1_regularization_strength
        l2 = self.l2_regularization_strength + self.beta / (2.0 * learning_rate)
        shrunk = gradient + (2 * self.l2_shrinkage_regularization_strength) * w
        n_new = n + np.square(gradient)
        n_new_power = np.power(n_new, power)
        z += shrunk - (n_new_power - np.power(n, power)) / learning_rate * w
        quadratic = n_new_power / learning_rate + 2 * l2
        w[...] = (np.clip(z, -l1, l1) - z) / quadratic
        n[...] = n_new

    def get_config(self):
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}
