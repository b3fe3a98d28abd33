"""Muon (Jordan et al., 2024): momentum orthogonalised by Newton-Schulz iterations, with
AdamW for the variables it does not suit."""
from __future__ import annotations

import math
import re

import numpy as np

from .base import Optimizer


class Muon(Optimizer):
    """Keras 3's Muon. A rank-2 variable that is not excluded (embeddings with
    ``exclude_embeddings``, names matching a pattern of ``exclude_layers``) gets

        m_t = μ m_{t-1} + g_t;   G = g_t + μ m_t (nesterov) or m_t
        O = NS5(G): X = G / (||G||_F + 1e-7) (transposed if it has more rows than columns),
            ``ns_steps`` times  A = X Xᵀ,  X = a X + (b A + c A A) X
        w -= lr O √max(rows, cols) · rms_rate      (just lr O when rms_rate is None)

    and every other variable AdamW at ``lr * adam_lr_ratio`` (β = adam_beta_1, adam_beta_2,
    epsilon; Keras's Adam step with ε added to √v). Weight decay is ``weight_decay`` for the
    Muon variables and ``adam_weight_decay`` for the others, at the learning rate ``lr``.
    """

    def __init__(self, learning_rate=0.001, adam_beta_1=0.9, adam_beta_2=0.999, adam_weight_decay=0.004,
                 epsilon=1e-7, weight_decay=0.004, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, exclude_layers=None, exclude_embeddings=True,
                 muon_a=3.4445, muon_b=-4.775, muon_c=2.0315, adam_lr_ratio=1, momentum=0.95, ns_steps=5,
                 nesterov=True, rms_rate=0.2, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.adam_beta_1, self.adam_beta_2, self.adam_weight_decay = adam_beta_1, adam_beta_2, adam_weight_decay
        self.epsilon = epsilon
        self.exclude_layers = list(exclude_layers or [])
        self.exclude_embeddings = exclude_embeddings
        self.muon_a, self.muon_b, self.muon_c = muon_a, muon_b, muon_c
        self.adam_lr_ratio, self.momentum, self.ns_steps = adam_lr_ratio, momentum, ns_steps
        self.nesterov, self.rms_rate = nesterov, rms_rate

    def _should_use_adamw(self, variable) -> bool:
        if variable.ndim != 2:
            return True
        path = getattr(variable, "path", None) or variable.name or ""
        if self.exclude_embeddings and "embedding" in path.lower():
            return True
        return any(re.search(pattern, path) for pattern in self.exclude_layers)

    def _slot_names_for(self, variable) -> tuple:
        return ("momentum", "velocity") if self._should_use_adamw(variable) else ("momentum",)

    def _apply_weight_decay(self, variables, learning_rate):
        for var in variables:
            if not self._use_weight_decay(var):
                continue
            decay = self.adam_weight_decay if self._should_use_adamw(var) else self.weight_decay
            if decay:
                var.data -= var.data * (decay * learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        slots = self.slots(variable)
        if "velocity" in slots:
            self._adamw_step(gradient, variable, learning_rate * self.adam_lr_ratio, slots)
        else:
            self._muon_step(gradient, variable, learning_rate, slots["momentum"])

    def _adamw_step(self, gradient, variable, learning_rate, slots):
        t = self._steps + 1
        b1, b2 = self.adam_beta_1, self.adam_beta_2
        alpha = learning_rate * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        m, v = slots["momentum"], slots["velocity"]
        m += (gradient - m) * (1 - b1)
        v += (np.square(gradient) - v) * (1 - b2)
        variable.data -= m * alpha / (np.sqrt(v) + self.epsilon)

    def _muon_step(self, gradient, variable, learning_rate, m):
        m *= self.momentum
        m += gradient
        g = gradient + self.momentum * m if self.nesterov else m
        update = learning_rate * self.zeropower_via_newtonschulz5(g, self.ns_steps)
        if self.rms_rate is not None:  # the Moonlight scaling: match AdamW's update RMS
            update *= math.sqrt(max(update.shape[0], update.shape[1])) * self.rms_rate
        variable.data -= update

    def zeropower_via_newtonschulz5(self, x, steps: int) -> np.ndarray:
        """The quintic Newton-Schulz iteration that takes ``x`` towards U Vᵀ (its singular values to about 1)."""
        x = np.asarray(x)
        if x.ndim < 2:
            raise ValueError(f"Muon.zeropower_via_newtonschulz5: expected at least 2 dimensions, got shape {x.shape}")
        tall = x.shape[-2] > x.shape[-1]
        if tall:
            x = np.swapaxes(x, -1, -2)
        x = x / (np.sqrt(np.sum(np.square(x), axis=(-2, -1), keepdims=True)) + 1e-7)
        a, b, c = self.muon_a, self.muon_b, self.muon_c
        for _ in range(steps):
            gram = x @ np.swapaxes(x, -1, -2)
            x = a * x + (b * gram + c * gram @ gram) @ x
        return np.swapaxes(x, -1, -2) if tall else x

    def get_config(self):
        return {**super().get_config(), "adam_beta_1": self.adam_beta_1, "adam_beta_2": self.adam_beta_2,
                "epsilon": self.epsilon, "exclude_layers": self.exclude_layers, "muon_a": self.muon_a,
                "muon_b": self.muon_b, "muon_c": self.muon_c, "adam_lr_ratio": self.adam_lr_ratio,
                "momentum": self.momentum, "ns_steps": self.ns_steps, "nesterov": self.nesterov,
                "exclude_embeddings": self.exclude_embeddings, "adam_weight_decay": self.adam_weight_decay,
                "rms_rate": self.rms_rate}
