"""Adafactor (Shazeer and Stern, 2018): second moments kept as row and column factors."""
from __future__ import annotations

import math

import numpy as np

from .base import Optimizer


def _rms(x: np.ndarray) -> float:
    return math.sqrt(float(np.mean(np.square(x))))


class Adafactor(Optimizer):
    """Keras 3's Adafactor, t = iterations + 1:

        ρ_t = min(lr, 1/√t)            α_t = max(ε2, RMS(w)) ρ_t
        β2_t = 1 - t^beta_2_decay      G = g² + ε1
        rank >= 2 (the last two axes factored):
            r = β2_t r + (1 - β2_t) mean(G, axis=-1),  c = β2_t c + (1 - β2_t) mean(G, axis=-2)
            v = (r / mean(r, axis=-1))[..., :, None] · c[..., None, :]
        rank < 2: v = β2_t v + (1 - β2_t) G
        u = g / √v,  û = u / max(1, RMS(u) / clip_threshold),  w -= α_t û

    For a rank-2 (m, n) variable the state is m + n numbers instead of m n: Adafactor is
    for large embedding and dense kernels. The step is relative to the variable's RMS.
    """

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3, clip_threshold=1.0,
                 relative_step=True, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.beta_2_decay, self.epsilon_1, self.epsilon_2 = beta_2_decay, epsilon_1, epsilon_2
        self.clip_threshold, self.relative_step = clip_threshold, relative_step

    def _slot_names_for(self, variable) -> tuple:
        return ("r", "c", "velocity")

    def _slot_shape(self, variable, name):
        shape = tuple(variable.shape)
        if name == "velocity" or name not in ("r", "c"):
            return shape
        if len(shape) < 2:
            return ()  # unused: a variable of rank < 2 is not factored
        return shape[:-1] if name == "r" else shape[:-2] + shape[-1:]

    def update_step(self, gradient, variable, learning_rate):
        t = self._steps + 1
        slots = self.slots(variable)
        rho_t = min(learning_rate, 1 / math.sqrt(t))
        alpha_t = max(self.epsilon_2, _rms(variable.data)) * rho_t
        regulated = np.square(gradient) + self.epsilon_1
        beta_2_t = 1 - t ** self.beta_2_decay
        v = slots["velocity"]
        if variable.ndim >= 2:
            r, c = slots["r"], slots["c"]
            r[...] = beta_2_t * r + (1 - beta_2_t) * regulated.mean(axis=-1)
            c[...] = beta_2_t * c + (1 - beta_2_t) * regulated.mean(axis=-2)
            v[...] = (r / r.mean(axis=-1, keepdims=True))[..., None] * c[..., None, :]
        else:
            v[...] = beta_2_t * v + (1 - beta_2_t) * regulated
        u = gradient / np.sqrt(v)
        u /= max(1.0, _rms(u) / self.clip_threshold)
        variable.data -= alpha_t * u

    def get_config(self):
        return {**super().get_config(), "beta_2_decay": self.beta_2_decay, "epsilon_1": self.epsilon_1,
                "epsilon_2": self.epsilon_2, "clip_threshold": self.clip_threshold,
                "relative_step": self.relative_step}
