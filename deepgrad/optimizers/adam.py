"""Adam and AdamW (Keras 3's formulation)."""
from __future__ import annotations

import math

import numpy as np

from ..runtime import for_batch_halves
from .base import Optimizer


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2  (amsgrad: v_hat = max(v_hat, v), used for v)
    lr_t = lr sqrt(1 - b2^t) / (1 - b1^t);  w -= lr_t m / (sqrt(v) + eps),  t = iterations + 1.
    (Keras folds the bias corrections into lr_t, so epsilon sits where PyTorch's eps * sqrt(1 - b2^t) would.)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name="adam", **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        for arg, value in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0 <= value < 1:
                raise ValueError(f"{type(self).__name__}: {arg} must be in [0, 1), got {value}")
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = float(beta_1), float(beta_2), float(epsilon), bool(amsgrad)

    def _slot_names_for(self, variable) -> tuple:
        return ("m", "v", "v_hat") if self.amsgrad else ("m", "v")

    def update_step(self, gradient, variable, learning_rate):
        slots = self.slots(variable)
        t = self.iterations + 1
        lr_t = learning_rate * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        arrays = [gradient, variable.data, slots["m"], slots["v"]] + ([slots["v_hat"]] if self.amsgrad else [])
        if not all(a.flags.c_contiguous for a in arrays[1:]):  # flat views of these would be copies
            self._update(lr_t, *arrays)
            return
        # element by element, so a large weight is updated as two halves in two threads
        flat = [a.reshape(-1) for a in arrays]
        for_batch_halves(lambda part: self._update(lr_t, *(a[part] for a in flat)), variable.size, variable.size)

    def _update(self, lr_t, g, w, m, v, v_hat=None):
        """The formulas above, in place through one scratch array."""
        b1, b2 = self.beta_1, self.beta_2
        buf = np.multiply(g, 1 - b1)
        m *= b1
        m += buf
        np.multiply(g, g, out=buf)
        buf *= 1 - b2
        v *= b2
        v += buf
        if v_hat is not None:
            v = np.maximum(v_hat, v, out=v_hat)
        np.sqrt(v, out=buf)
        buf += self.epsilon
        np.divide(m, buf, out=buf)
        buf *= lr_t
        w -= buf

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (w -= lr * weight_decay * w before each update), 0.004 by default."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, name="adamw", **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay must be a number (use Adam for no weight decay)")
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
                         weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
