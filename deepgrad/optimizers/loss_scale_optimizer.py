"""``LossScaleOptimizer``: dynamic loss scaling around another optimiser (for float16 training)."""
from __future__ import annotations

import numpy as np

from ..autograd import Tensor, Variable
from . import catalog
from .base import Optimizer
from .multi_optimizer import MultiOptimizer

# The base options a LossScaleOptimizer takes only at their defaults (configs of old versions carry them)
_BASE_DEFAULTS = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
                  "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                  "loss_scale_factor": None, "gradient_accumulation_steps": None}


class LossScaleOptimizer(Optimizer):
    """Keras 3's dynamic loss scaling. The loss is multiplied by a scale S (``scale_loss``,
    which ``fit`` calls), so small float16 gradients do not underflow; ``apply`` then:

    - all gradients finite: updates with g / S through ``inner_optimizer``, and doubles S
      after ``dynamic_growth_steps`` such updates in a row;
    - any inf or NaN: skips the update (the inner optimiser's ``iterations`` do not move)
      and halves S.

    S starts at ``initial_scale``. The learning rate and ``iterations`` are the inner
    optimiser's.
    """

    def __init__(self, inner_optimizer, initial_scale=32768.0, dynamic_growth_steps=2000, name=None, **kwargs):
        if not kwargs.pop("dynamic", True):
            raise ValueError("LossScaleOptimizer: dynamic=False is not supported; set loss_scale_factor on "
                             "the inner optimizer for a fixed scale")
        for key in [k for k in kwargs if k in _BASE_DEFAULTS]:
            value = kwargs.pop(key)
            if value != _BASE_DEFAULTS[key]:
                raise ValueError(f"LossScaleOptimizer does not support {key}={value!r}; set {key} on the "
                                 "inner_optimizer")
        if kwargs:
            raise ValueError(f"LossScaleOptimizer does not support the arguments {sorted(kwargs)}")
        if not isinstance(inner_optimizer, Optimizer):
            raise TypeError(f"LossScaleOptimizer: inner_optimizer must be an Optimizer, got {inner_optimizer!r}")
        if not dynamic_growth_steps >= 1:
            raise ValueError(f"LossScaleOptimizer: dynamic_growth_steps must be >= 1, got {dynamic_growth_steps}")
        super().__init__(0.0, name=name)  # the rates below are the inner one's
        self.inner_optimizer = inner_optimizer
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        self.dynamic_scale = self.initial_scale
        self.step_counter = 0
        self.inner_optimizer.loss_scale_factor = None  # else the gradients would be unscaled twice

    # the learning rate and the iteration count are the inner optimiser's
    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if "inner_optimizer" in self.__dict__:  # not the base constructor's placeholder
            self.inner_optimizer.learning_rate = value

    lr = learning_rate

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @iterations.setter
    def iterations(self, value):
        if "inner_optimizer" in self.__dict__:  # not the base constructor's placeholder
            self.inner_optimizer.iterations = value

    @property
    def variables(self) -> list:
        """Keras's order (copies): its own ``iteration`` and ``learning_rate`` (never used: the
        inner optimiser's count), ``step_counter``, ``dynamic_scale``, then the inner
        optimiser's variables."""
        own = []
        for name, value, dtype in (("iteration", 0, np.int64), ("learning_rate", 0.0, np.float32),
                                   ("step_counter", self.step_counter, np.int64),
                                   ("dynamic_scale", self.dynamic_scale, np.float32)):
            var = Variable(np.asarray(value, dtype), trainable=False, name=name, dtype=dtype)
            var._path = f"{self.name}/{name}"
            own.append(var)
        return own + self.inner_optimizer.variables

    def _built_variables(self) -> list:
        return self.inner_optimizer._built_variables()

    def build(self, variables) -> None:
        self.inner_optimizer.build(variables)
        self.built = True

    def scale_loss(self, loss):
        """loss * S."""
        return loss * self.dynamic_scale

    def apply(self, grads, variables=None) -> None:
        grads = list(grads)
        arrays = [g.data if isinstance(g, Tensor) else np.asarray(g) for g in grads if g is not None]
        if all(np.isfinite(a).all() for a in arrays):
            scale = self.dynamic_scale
            self.inner_optimizer.apply([None if g is None else (g.data if isinstance(g, Tensor) else np.asarray(g))
                                        / scale for g in grads], variables)
            if self.step_counter == self.dynamic_growth_steps - 1:
                self.step_counter = 0
                self.dynamic_scale *= 2.0
            else:
                self.step_counter += 1
        else:
            if not self.inner_optimizer.built and variables is not None:
                self.inner_optimizer.build(list(variables))
            self.step_counter = 0
            self.dynamic_scale *= 0.5
        self.built = True

    def finalize_variable_values(self, var_list) -> None:
        self.inner_optimizer.finalize_variable_values(var_list)

    @property
    def use_ema(self):
        return self.inner_optimizer.use_ema

    @use_ema.setter
    def use_ema(self, value):  # the base constructor sets it; the inner optimiser's counts
        pass

    def moving_averages(self) -> list:
        return self.inner_optimizer.moving_averages()

    def get_state(self) -> dict:
        state = {f"inner/{k}": v for k, v in self.inner_optimizer.get_state().items()}
        state["dynamic_scale"] = np.asarray(self.dynamic_scale, np.float64)
        state["step_counter"] = np.asarray(self.step_counter, np.int64)
        return state

    def set_state(self, state: dict) -> None:
        state = dict(state)
        self.dynamic_scale = float(state.pop("dynamic_scale"))
        self.step_counter = int(state.pop("step_counter"))
        self.inner_optimizer.set_state({k[len("inner/"):]: v for k, v in state.items() if k.startswith("inner/")})

    def get_config(self) -> dict:
        return {"name": self.name, "inner_optimizer": _serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> "LossScaleOptimizer":
        config = dict(config)
        inner = config.pop("inner_optimizer")
        if isinstance(inner, dict) and inner.get("class_name") == "MultiOptimizer":
            inner = MultiOptimizer.from_config(inner.get("config") or {}, custom_objects)
        else:
            inner = catalog.REGISTRY.get(inner, custom_objects)
        return cls(inner, **config)

    def __repr__(self) -> str:
        return f"<LossScaleOptimizer of {self.inner_optimizer!r} scale={self.dynamic_scale}>"


def _serialize(optimizer) -> dict:
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}
