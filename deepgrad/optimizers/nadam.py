"""Nadam (Keras 3): Adam with Nesterov momentum and Dozat's momentum schedule."""
from __future__ import annotations

import numpy as np

from .base import Optimizer


class Nadam(Optimizer):
    """mu_t = b1 (1 - 0.5 * 0.96^t),  t = iterations + 1;  prod_t = mu_1 ... mu_t (shared by all variables)
    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
    m_hat = mu_{t+1} m / (1 - prod_t mu_{t+1}) + (1 - mu_t) g / (1 - prod_t);  v_hat = v / (1 - b2^t)
    w -= lr m_hat / (sqrt(v_hat) + eps).
    """
    keras_slot_names = {"m": "momentum", "v": "velocity"}

    elementwise_update = True  # the flat-group fast path (see flat_group)
    slot_names = ("m", "v")
    global_slots = {"u_product": 1.0}
    unnamed_globals = ("u_product",)  # Keras's Variable(1.0) without a name

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

    def _mu(self, t: int) -> float:
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** t)

    def _before_update(self):
        self._globals["u_product"] *= self._mu(self._steps + 1)

    def update_step(self, gradient, variable, learning_rate):
        slots = self.slots(variable)
        b1, b2 = self.beta_1, self.beta_2
        t = self._steps + 1
        mu_t, mu_next = self._mu(t), self._mu(t + 1)
        product = self._globals["u_product"]
        m, v = slots["m"], slots["v"]
        m *= b1
        m += (1 - b1) * gradient
        v *= b2
        v += (1 - b2) * np.square(gradient)
        m_hat = m * (mu_next / (1 - product * mu_next))
        m_hat += gradient * ((1 - mu_t) / (1 - product))
        denominator = np.sqrt(v * (1 / (1 - b2 ** t)))
        denominator += self.epsilon
        step = np.divide(m_hat, denominator, out=m_hat)
        step *= learning_rate
        variable.data -= step

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
