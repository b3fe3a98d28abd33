"""Adagrad and Adadelta (Keras 3): per-coordinate steps from accumulated squared gradients."""
from __future__ import annotations

import numpy as np

from .base import Optimizer


class Adagrad(Optimizer):
    """accumulator += g^2 (it starts at ``initial_accumulator_value``);  w -= lr g / sqrt(accumulator + eps)."""

    elementwise_update = True  # the flat-group fast path (see flat_group)
    slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        if initial_accumulator_value < 0:
            raise ValueError(f"Adagrad: initial_accumulator_value must be >= 0, got {initial_accumulator_value}")
        self.initial_accumulator_value, self.epsilon = float(initial_accumulator_value), float(epsilon)
        self.slot_initial_values = {"accumulator": self.initial_accumulator_value}

    def update_step(self, gradient, variable, learning_rate):
        accumulator = self.slots(variable)["accumulator"]
        accumulator += np.square(gradient)
        denominator = accumulator + self.epsilon
        np.sqrt(denominator, out=denominator)
        step = np.divide(gradient, denominator, out=denominator)
        step *= learning_rate
        variable.data -= step

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """E[g^2] = rho E[g^2] + (1 - rho) g^2
    delta = -sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g
    E[dx^2] = rho E[dx^2] + (1 - rho) delta^2;  w += lr * delta.
    """

    elementwise_update = True  # the flat-group fast path (see flat_group)
    slot_names = ("accumulated_grad", "accumulated_delta_var")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        if not 0 <= rho <= 1:
            raise ValueError(f"Adadelta: rho must be in [0, 1], got {rho}")
        self.rho, self.epsilon = float(rho), float(epsilon)

    def update_step(self, gradient, variable, learning_rate):
        slots = self.slots(variable)
        rho, eps = self.rho, self.epsilon
        acc_grad, acc_delta = slots["accumulated_grad"], slots["accumulated_delta_var"]
        acc_grad *= rho
        acc_grad += (1 - rho) * np.square(gradient)
        delta = np.sqrt(acc_delta + eps)
        delta /= np.sqrt(acc_grad + eps)
        delta *= gradient  # the step is -delta
        acc_delta *= rho
        acc_delta += (1 - rho) * np.square(delta)
        delta *= learning_rate
        variable.data -= delta

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
