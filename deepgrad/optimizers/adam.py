"""Adam and AdamW (Keras 3's formulation)."""
from __future__ import annotations

import math

import numpy as np

from .. import runtime
from ..runtime import for_batch_halves
from . import compiled
from .base import Optimizer


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) as Keras 3 computes it, with t = iterations + 1:

        m_t = β1 m_{t-1} + (1 - β1) g_t
        v_t = β2 v_{t-1} + (1 - β2) g_t²
        α_t = lr √(1 - β2^t) / (1 - β1^t)
        w_t = w_{t-1} - α_t m_t / (√v_t + ε)

    (amsgrad: the last line uses v_hat_t = max(v_hat_{t-1}, v_t) in place of v_t.)
    The bias corrections m̂_t = m_t / (1 - β1^t), v̂_t = v_t / (1 - β2^t) are folded into the
    step size α_t, and ε is added to √v_t: this is the paper's step lr m̂_t / (√v̂_t + ε') with
    ε' = ε / √(1 - β2^t), where PyTorch adds ε itself to √v̂_t.
    """
    keras_slot_names = {"m": "momentum", "v": "velocity", "v_hat": "velocity_hat"}
    keras_slot_groups = (("m", "v"), ("v_hat",))

    elementwise_update = True  # the flat-group fast path (see flat_group)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        for arg, value in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0 <= value < 1:
                raise ValueError(f"{type(self).__name__}: {arg} must be in [0, 1), got {value}")
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = float(beta_1), float(beta_2), float(epsilon), bool(amsgrad)

    def _slot_names_for(self, variable) -> tuple:
        return ("m", "v", "v_hat") if self.amsgrad else ("m", "v")

    def update_step(self, gradient, variable, learning_rate):
        t = self._steps + 1
        alpha_t = learning_rate * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        slots = self.slots(variable)
        if variable.size < runtime._PARALLEL_MIN_SIZE:  # for_batch_halves would run it whole, here
            if self.amsgrad:
                self._adam(alpha_t, gradient, variable.data, slots["m"], slots["v"], slots["v_hat"])
            else:
                self._adam(alpha_t, gradient, variable.data, slots["m"], slots["v"])
            return
        arrays = [gradient, variable.data, slots["m"], slots["v"]] + ([slots["v_hat"]] if self.amsgrad else [])
        if not all(a.flags.c_contiguous for a in arrays[1:]):  # flat views of these would be copies
            self._adam(alpha_t, *arrays)
            return
        # element by element, so a large variable is updated as two halves in two threads
        flat = [a.reshape(-1) for a in arrays]
        for_batch_halves(lambda part: self._adam(alpha_t, *(a[part] for a in flat)), variable.size, variable.size)

    def _adam(self, alpha_t, g, w, m, v, v_hat=None):
        """The formulas of the class docstring, in place. The temporaries share one scratch
        array: written as ``m += (1 - b1) * g`` and so on, each would be an array of its own.
        With the compiled loops built, one compiled pass does the same operations (``compiled``)."""
        b1, b2 = self.beta_1, self.beta_2
        fused = compiled.loaded.get("adam", compiled.kernel)  # the function: not looked up yet
        if fused is compiled.kernel:
            fused = compiled.kernel("adam")
        if fused is not None and v_hat is None and _compiled_fits(alpha_t, g, w, m, v):
            t = g.dtype.type  # NumPy casts a Python float to the arrays' dtype: so do these
            fused(g.reshape(-1), w.reshape(-1), m.reshape(-1), v.reshape(-1), t(b1), t(1 - b1), t(b2),
                  t(1 - b2), t(self.epsilon), t(alpha_t))
            return
        scratch = np.empty_like(g)
        # m_t = β1 m_{t-1} + (1 - β1) g_t
        m *= b1
        m += np.multiply(g, 1 - b1, out=scratch)
        # v_t = β2 v_{t-1} + (1 - β2) g_t²
        v *= b2
        v += np.multiply(np.square(g, out=scratch), 1 - b2, out=scratch)
        if v_hat is not None:  # AMSGrad: v_hat_t = max(v_hat_{t-1}, v_t) in place of v_t
            v = np.maximum(v_hat, v, out=v_hat)
        # w_t = w_{t-1} - α_t m_t / (√v_t + ε)
        denominator = np.add(np.sqrt(v, out=scratch), self.epsilon, out=scratch)
        w -= np.multiply(np.divide(m, denominator, out=scratch), alpha_t, out=scratch)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _compiled_fits(alpha_t, g, w, m, v) -> bool:
    """Whether the compiled pass gives the NumPy path's bits: one float dtype for the four arrays,
    each C-contiguous (flat views, no copies), and a step size that NumPy would round to that dtype
    (a Python float, or a NumPy scalar of the same dtype; a float64 scalar on float32 arrays makes
    NumPy multiply in float64)."""
    dtype = g.dtype
    if dtype not in _FLOATS or not (w.dtype == m.dtype == v.dtype == dtype):
        return False
    if type(alpha_t) is not float and getattr(alpha_t, "dtype", None) != dtype:
        return False
    return g.flags.c_contiguous and w.flags.c_contiguous and m.flags.c_contiguous and v.flags.c_contiguous


class AdamW(Adam):
    """Adam with decoupled weight decay (w -= lr * weight_decay * w before each update), 0.004 by default."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay must be a number (use Adam for no weight decay)")
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
                         weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
