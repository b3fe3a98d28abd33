"""``Metric``: a stateful running value on NumPy arrays, averaged per sample over an epoch.

The trainer calls ``update_state(y_true, y_pred, sample_weight)`` once per batch with plain
ndarrays, reads ``result()`` for the logs and calls ``reset_state()`` at each epoch start.
"""
from __future__ import annotations


import numpy as np

from .. import backend
from ..autograd import Tensor, no_grad
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


def squeeze_or_expand_to_same_rank(x1: np.ndarray, x2: np.ndarray):
    """Keras's rule: ranks differing by one trailing axis of size 1 are made equal by squeezing it."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        x1 = x1.reshape(x1.shape[:-1])
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
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


class Metric:
    """Base class: subclasses implement ``update_state``, ``result`` and ``reset_state``."""

    def __init__(self, dtype=None, name: str | None = None):
        self.name = name or to_snake_case(type(self).__name__)
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
