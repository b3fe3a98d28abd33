"""``Metric``: a stateful running value on NumPy arrays, averaged per sample over an epoch.

The trainer calls ``update_state(y_true, y_pred, sample_weight)`` once per batch with plain
ndarrays, reads ``result()`` for the logs and calls ``reset_state()`` at each epoch start.
"""
from __future__ import annotations

import copy
import functools

import numpy as np

from .. import backend, initializers
from ..autograd import Tensor, Variable, no_grad
from ..naming import to_snake_case


def as_array(x, dtype=None) -> np.ndarray:
    """A Tensor's data, or any array-like, as an ndarray (in ``dtype`` when given)."""
    if isinstance(x, Tensor):
        x = x.data
    return np.asarray(x) if dtype is None else np.asarray(x, dtype=dtype)


def loss_values(loss_fn, y_true, y_pred, **kwargs) -> np.ndarray:
    """Per-sample values of a loss function (``deepgrad.losses``), computed without a graph."""
    with no_grad():
        return np.asarray(loss_fn(as_array(y_true), as_array(y_pred), **kwargs).data)


def squeeze_or_expand_to_same_rank(x1: np.ndarray, x2: np.ndarray, expand_rank_1: bool = True):
    """Keras's rule: ranks differing by one trailing axis of size 1 are made equal, by giving a
    rank-1 array that axis ((N,) against (N, 1): both (N, 1), so a per-sample reduction over the
    last axis keeps N values) or else by squeezing it."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2.reshape(x2.shape + (1,))
        else:
            x1 = x1.reshape(x1.shape[:-1])
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1.reshape(x1.shape + (1,))
        else:
            x2 = x2.reshape(x2.shape[:-1])
    return x1, x2


def reduce_to_samplewise_values(values: np.ndarray, sample_weight, dtype):
    """Per-sample values (N,) and their weights, as Keras 3 reduces them.

    Values with more axes than the weights are averaged over the extra axes; weights are
    broadcast to the values, multiplied in, and averaged over their own non-batch axes.
    """
    values = np.asarray(values, dtype=dtype)
    if sample_weight is not None:
        sample_weight = as_array(sample_weight, dtype)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        if values.ndim > sample_weight.ndim:
            values = values.mean(axis=tuple(range(sample_weight.ndim, values.ndim)))
        try:
            sample_weight = np.broadcast_to(sample_weight, values.shape)
        except ValueError:
            raise ValueError(f"sample_weight of shape {sample_weight.shape} cannot be broadcast to "
                             f"the metric values of shape {values.shape}") from None
        values = values * sample_weight
        if sample_weight.ndim > 1:
            sample_weight = sample_weight.mean(axis=tuple(range(1, sample_weight.ndim)))
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, sample_weight


def _result_tensor(value, dtype):
    """A metric's result as Keras gives it: a tensor of the metric's dtype (dicts and None as they are)."""
    if isinstance(value, Tensor) or value is None or isinstance(value, (dict, list, tuple, str)):
        return value
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        return value
    return Tensor(array.astype(dtype if dtype.kind == "f" else backend.floatx()))


class Metric:
    """Base class: subclasses implement ``update_state``, ``result`` and ``reset_state``. As in
    Keras, ``result()`` gives a tensor (``.numpy()``, ``float(...)``); a subclass may compute a
    Python or NumPy number, which is wrapped on the way out."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        result = cls.__dict__.get("result")
        if result is not None and not getattr(result, "_gives_tensor", False):
            @functools.wraps(result)
            def tensor_result(self):
                return _result_tensor(result(self), self.dtype)
            tensor_result._gives_tensor = True
            cls.result = tensor_result

    def __init__(self, dtype=None, name: str | None = None):
        self.name = name or backend.auto_name(to_snake_case(type(self).__name__))
        self._dtype = np.dtype(dtype) if dtype is not None else None

    @property
    def dtype(self) -> np.dtype:
        # Accumulators are float64 so long epochs do not lose precision; result() is a float.
        return self._dtype if self._dtype is not None else np.dtype(backend.floatx())

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:  # pragma: no cover - interface
        raise NotImplementedError(f"{type(self).__name__} must implement update_state")

    def result(self):  # pragma: no cover - interface
        raise NotImplementedError(f"{type(self).__name__} must implement result")

    def reset_state(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError(f"{type(self).__name__} must implement reset_state")

    # ----------------------------------------------------------------- state, as Keras's variables
    def add_variable(self, shape, initializer, dtype=None, aggregation="sum", name=None) -> Variable:
        """A state variable (non-trainable), listed by ``variables`` at ``"<metric>/<name>"``."""
        initializer = initializers.get("zeros" if initializer is None else initializer)
        var = Variable(initializer, shape=tuple(shape), dtype=dtype if dtype is not None else self.dtype,
                       trainable=False, aggregation=aggregation, name=name)
        var._path = f"{self.name}/{var.name}"
        self.__dict__.setdefault("_variables", []).append(var)
        return var

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None) -> Variable:
        return self.add_variable(shape, initializer=initializer, dtype=dtype, name=name)

    def _state_names(self) -> list:
        """The attributes ``reset_state`` sets to numbers or arrays (a metric's running state,
        kept as plain values), found once by resetting a copy and recording what it sets."""
        names = self.__dict__.get("_state_attribute_names")
        if names is None:
            recorded: list = []

            class Recorder(type(self)):
                def __setattr__(probe, key, value):
                    recorded.append(key)
                    object.__setattr__(probe, key, value)

            probe = copy.deepcopy(self)
            probe.__class__ = Recorder
            probe.reset_state()
            names = [k for k in dict.fromkeys(recorded) if not k.startswith("__")
                     and isinstance(getattr(probe, k), (int, float, np.ndarray, np.number))
                     and not isinstance(getattr(probe, k), (bool, Tensor))]
            self.__dict__["_state_attribute_names"] = names
        return names

    def _state_values(self) -> list:
        own = [v.data.copy() for v in self.__dict__.get("_variables", ())]
        return own + [np.array(getattr(self, k)) for k in self._state_names()]

    def _set_state_values(self, values: list) -> None:
        own = self.__dict__.get("_variables", [])
        for var, value in zip(own, values):
            var.assign(value)
        for name, value in zip(self._state_names(), values[len(own):]):
            old = getattr(self, name)
            value = np.asarray(value.data if isinstance(value, Tensor) else value)
            if isinstance(old, np.ndarray):
                object.__setattr__(self, name, value.astype(old.dtype, copy=True))
            else:  # a Python number stays one
                object.__setattr__(self, name, type(old)(value.item()) if isinstance(old, (int, float))
                                   else value.reshape(()).astype(np.asarray(old).dtype))

    @property
    def variables(self) -> list:
        """The metric's state as Variables (``"<metric>/<name>"``): those of ``add_variable``,
        then copies of the running values a built-in metric keeps (read them; ``reset_state``
        and ``update_state`` change the metric)."""
        own = list(self.__dict__.get("_variables", ()))
        for name in self._state_names():
            value = getattr(self, name)
            var = Variable(value if isinstance(value, np.ndarray) else np.asarray(value, self.dtype),
                           trainable=False, name=name)
            var._path = f"{self.name}/{name}"
            own.append(var)
        return own

    def _check_state(self, metric_variables, method: str) -> list:
        values = list(metric_variables)
        expected = len(self.__dict__.get("_variables", ())) + len(self._state_names())
        if len(values) != expected:
            raise ValueError(f"Argument `metric_variables` must be a list of tensors corresponding 1:1 to "
                             f"{type(self).__name__}().variables. Received list with length {len(values)}, "
                             f"but expected {expected} variables.")
        return values

    def stateless_update_state(self, metric_variables, *args, **kwargs) -> list:
        """The state after ``update_state(*args, **kwargs)`` from ``metric_variables``; the metric
        itself is left as it was."""
        values = self._check_state(metric_variables, "stateless_update_state")
        saved = self._state_values()
        try:
            self._set_state_values(values)
            self.update_state(*args, **kwargs)
            return self._state_values()
        finally:
            self._set_state_values(saved)

    def stateless_result(self, metric_variables):
        """``result()`` of the state ``metric_variables``, the metric left as it was."""
        values = self._check_state(metric_variables, "stateless_result")
        saved = self._state_values()
        try:
            self._set_state_values(values)
            result = self.result()
            return result.data.copy() if isinstance(result, Tensor) else copy.deepcopy(result)
        finally:
            self._set_state_values(saved)

    def stateless_reset_state(self) -> list:
        """The state ``reset_state()`` makes, the metric left as it was."""
        saved = self._state_values()
        try:
            self.reset_state()
            return self._state_values()
        finally:
            self._set_state_values(saved)

    def __call__(self, *args, **kwargs):
        """Update with one batch and return the running result (as Keras's ``metric(...)``):
        ``(y_true, y_pred[, sample_weight])``, or ``(values)`` for a ``Mean``."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        config = {"name": self.name}
        if self._dtype is not None:
            config["dtype"] = str(self._dtype)
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


class Mean(Metric):
    """The weighted mean of the values seen: ``sum(v * w) / sum(w)``."""

    def __init__(self, name: str = "mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None) -> None:
        values, sample_weight = reduce_to_samplewise_values(as_array(values), sample_weight, np.float64)
        self.total += float(values.sum())
        if sample_weight is not None:
            self.count += float(np.sum(sample_weight))
        else:
            self.count += values.shape[0] if values.ndim >= 1 else 1

    def result(self) -> float:
        return self.total / self.count if self.count != 0 else 0.0


class Sum(Metric):
    """The weighted sum of the values seen."""

    def __init__(self, name: str = "sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self) -> None:
        self.total = 0.0

    def update_state(self, values, sample_weight=None) -> None:
        values, _ = reduce_to_samplewise_values(as_array(values), sample_weight, np.float64)
        self.total += float(values.sum())

    def result(self) -> float:
        return self.total


class MeanMetricWrapper(Mean):
    """The mean over samples of ``fn(y_true, y_pred, **kwargs)`` (one value per sample)."""

    def __init__(self, fn, name: str | None = None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        with no_grad():
            values = self._fn(as_array(y_true), as_array(y_pred), **self._fn_kwargs)
        super().update_state(as_array(values), sample_weight=sample_weight)

    def get_config(self) -> dict:
        return {**super().get_config(), **self._fn_kwargs}
