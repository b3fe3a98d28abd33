"""``Loss``: per-sample losses from ``call``, weighted and reduced by ``__call__``; the helpers
every loss function shares (targets in the prediction's dtype, matching shapes, eps)."""
from __future__ import annotations

import inspect

import numpy as np

from .. import backend
from ..autograd import Tensor
from ..naming import to_snake_case
from .reduction import _data, _pred, reduce_weighted_values, squeeze_or_expand_to_same_rank, standardize_reduction


def _true(y_true, dtype):
    """Targets in the prediction's dtype; a Tensor that requires grad stays in the graph."""
    if isinstance(y_true, Tensor):
        if y_true.requires_grad:
            return y_true if y_true.dtype == dtype else y_true.astype(dtype)
        y_true = y_true.data
    return np.asarray(y_true, dtype=dtype)


def _prepare(name: str, y_true, y_pred, broadcast: bool = False):
    """(y_true, y_pred) of the same shape, or a ValueError naming the loss and both shapes.

    With ``broadcast`` (the element-wise losses: squared and absolute errors, hinge, Poisson,
    ...) shapes that broadcast together are brought to their common shape, as Keras's element-wise
    formulas broadcast them (``y_true`` of shape (8, 1) against ``y_pred`` of shape (8, 10)); the
    cross-entropies keep Keras's rule of equal shapes."""
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        try:
            shape = np.broadcast_shapes(tuple(y_true.shape), tuple(y_pred.shape)) if broadcast else None
        except ValueError:
            shape = None
        if shape is None:
            raise ValueError(f"{name}: y_true of shape {tuple(y_true.shape)} does not match "
                             f"y_pred of shape {tuple(y_pred.shape)}")
        y_true, y_pred = (_broadcast(y, shape) for y in (y_true, y_pred))
    return y_true, y_pred


def _broadcast(value, shape: tuple):
    if tuple(value.shape) == shape:
        return value
    if isinstance(value, Tensor):
        from ..ops import broadcast_to   # floor 3, below this one
        return broadcast_to(value, shape)
    return np.array(np.broadcast_to(value, shape))


def _eps() -> float:
    return backend.epsilon()


class Loss:
    """Base class: ``call(y_true, y_pred)`` gives per-sample losses; ``__call__`` weights
    them with ``sample_weight`` and reduces them (default ``"sum_over_batch_size"``)."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or backend.auto_name(to_snake_case(type(self).__name__))
        self.reduction = standardize_reduction(reduction)
        self.dtype = np.dtype(dtype) if dtype is not None else None

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = _pred(y_pred)
        if self.dtype is not None and y_pred.dtype != self.dtype:
            y_pred = y_pred.astype(self.dtype)
        in_mask = y_pred._keras_mask
        losses = self.call(y_true, y_pred)
        out_mask = getattr(losses, "_keras_mask", None)
        mask = in_mask if out_mask is None else out_mask if in_mask is None else (
            np.asarray(_data(in_mask), bool) & np.asarray(out_mask, bool))
        if mask is not None and np.shape(_data(mask)) != tuple(losses.shape):
            mask = None  # a (batch, time) mask applies only to per-timestep losses
        return reduce_weighted_values(losses, sample_weight, mask, self.reduction, self.name)

    def call(self, y_true, y_pred):  # pragma: no cover - interface
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict) -> "Loss":
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"


class LossFunctionWrapper(Loss):
    """A Loss made from a per-sample function and its keyword arguments."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def __getattr__(self, name):
        # the function's options read as attributes, as Keras's loss classes keep them
        # (``CategoricalCrossentropy(...).from_logits``, ``.label_smoothing``, ``.axis``)
        kwargs = self.__dict__.get("_fn_kwargs")
        if kwargs is not None and name in kwargs:
            return kwargs[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.__dict__.get("_fn_kwargs", ())))

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def loss_class(class_name: str, fn, default_name: str, order=None, **defaults):
    """A LossFunctionWrapper subclass with Keras's constructor signature: ``defaults`` (the
    function's keyword arguments), then ``reduction``, ``name`` and ``dtype``, in ``order`` when
    Keras puts them otherwise (``Dice(reduction, name, axis, dtype)``)."""
    every_default = {**defaults, "reduction": "sum_over_batch_size", "name": default_name, "dtype": None}
    order = order or [*defaults, "reduction", "name", "dtype"]
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    signature = inspect.Signature([inspect.Parameter("self", kind)] +
                                  [inspect.Parameter(n, kind, default=every_default[n]) for n in order])

    def __init__(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{class_name}: {error}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        del values["self"]
        LossFunctionWrapper.__init__(self, fn, reduction=values.pop("reduction"), name=values.pop("name"),
                                     dtype=values.pop("dtype"), **values)

    __init__.__signature__ = signature
    doc = f"``{class_name}({', '.join(f'{k}={v!r}' for k, v in defaults.items())})``: {fn.__doc__ or ''}"
    return type(class_name, (LossFunctionWrapper,), {"__init__": __init__, "__doc__": doc})
