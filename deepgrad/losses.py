"""Loss functions with Keras 3's names, formulas and reductions.

Function forms (``mean_squared_error(y_true, y_pred)``) return one loss per sample (the
last axis reduced); ``Loss`` classes weight and reduce them to a scalar:
``sum(loss * sample_weight) / loss.size`` for the default ``"sum_over_batch_size"``.
``y_true`` may be an ndarray or a list (no gradient needed); ``y_pred`` is a Tensor.
Probabilities are clipped to [eps, 1 - eps] (eps = 1e-7) as Keras does; ``from_logits``
takes the stable fused paths.
"""
from __future__ import annotations

import math
import re

import numpy as np

from . import backend, ops
from .autograd import Tensor

# ----------------------------------------------------------------- shared helpers


def _pred(y_pred) -> Tensor:
    return y_pred if isinstance(y_pred, Tensor) else Tensor(y_pred)


def _true(y_true, dtype):
    """Targets in the prediction's dtype; a Tensor that requires grad stays in the graph."""
    if isinstance(y_true, Tensor):
        if y_true.requires_grad:
            return y_true if y_true.dtype == dtype else y_true.astype(dtype)
        y_true = y_true.data
    return np.asarray(y_true, dtype=dtype)


def _reshape(x, shape):
    return x.reshape(shape) if isinstance(x, Tensor) else np.reshape(x, shape)


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Make ranks equal when they differ by one trailing axis of size 1 (Keras's rule):
    (N,) against (N, 1) becomes (N, 1) against (N, 1)."""
    r1, r2 = len(x1.shape), len(x2.shape)
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = _reshape(x2, tuple(x2.shape) + (1,))
        else:
            x1 = _reshape(x1, tuple(x1.shape[:-1]))
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = _reshape(x1, tuple(x1.shape) + (1,))
        else:
            x2 = _reshape(x2, tuple(x2.shape[:-1]))
    return x1, x2


def _prepare(name: str, y_true, y_pred):
    """(y_true, y_pred) of the same shape, or a ValueError naming the loss and both shapes."""
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(f"{name}: y_true of shape {tuple(y_true.shape)} does not match "
                         f"y_pred of shape {tuple(y_pred.shape)}")
    return y_true, y_pred


def _eps() -> float:
    return backend.epsilon()


def _l2_normalize(x, axis):
    """x / max(||x||, eps), with a gradient that stays finite at x = 0."""
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), _eps() ** 2))


def _data(x) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else x


# ----------------------------------------------------------------- regression
def mean_squared_error(y_true, y_pred):
    """mean((y_true - y_pred)^2, axis=-1)"""
    y_true, y_pred = _prepare("mean_squared_error", y_true, y_pred)
    return ops.mean(ops.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_true - y_pred|, axis=-1)"""
    y_true, y_pred = _prepare("mean_absolute_error", y_true, y_pred)
    return ops.mean(ops.abs(y_pred - y_true), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|y_true - y_pred| / max(|y_true|, eps), axis=-1)"""
    y_true, y_pred = _prepare("mean_absolute_percentage_error", y_true, y_pred)
    return 100.0 * ops.mean(ops.abs((y_true - y_pred) / ops.maximum(ops.abs(y_true), _eps())), axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2, axis=-1)"""
    y_true, y_pred = _prepare("mean_squared_logarithmic_error", y_true, y_pred)
    first = ops.log(ops.maximum(y_pred, _eps()) + 1.0)
    second = ops.log(ops.maximum(y_true, _eps()) + 1.0)
    return ops.mean(ops.square(first - second), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """mean(0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2, axis=-1), e = y_pred - y_true"""
    y_true, y_pred = _prepare("huber", y_true, y_pred)
    error = y_pred - y_true
    abs_error = ops.abs(error)
    quadratic = 0.5 * ops.square(error)
    linear = delta * abs_error - 0.5 * delta * delta
    return ops.mean(ops.where(abs_error.data <= delta, quadratic, linear), axis=-1)


def log_cosh(y_true, y_pred):
    """mean(log(cosh(e)), axis=-1) = mean(e + softplus(-2e) - log 2), stable for large |e|"""
    y_true, y_pred = _prepare("log_cosh", y_true, y_pred)
    error = y_pred - y_true
    return ops.mean(error + ops.softplus(-2.0 * error) - math.log(2.0), axis=-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)"""
    y_true, y_pred = _prepare("cosine_similarity", y_true, y_pred)
    return -ops.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


# ----------------------------------------------------------------- probabilistic
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """mean(-(y log p + (1 - y) log(1 - p)), axis); labels smoothed towards 0.5.

    From logits z: softplus(z) - z y = max(z, 0) - z y + log1p(e^-|z|).
    """
    y_true, y_pred = _prepare("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        losses = ops.softplus(y_pred) - y_pred * y_true
    else:
        p = ops.clip(y_pred, _eps(), 1.0 - _eps())
        losses = -(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p))
    return ops.mean(losses, axis=axis)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    """mean((1 - p_t)^gamma * bce, axis), p_t = y p + (1 - y)(1 - p); optionally weighted by
    alpha for class 1 and 1 - alpha for class 0."""
    y_true, y_pred = _prepare("binary_focal_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    p = ops.sigmoid(y_pred) if from_logits else y_pred
    clipped = ops.clip(p, _eps(), 1.0 - _eps())
    bce = -(y_true * ops.log(clipped) + (1.0 - y_true) * ops.log(1.0 - clipped))
    p_t = y_true * p + (1.0 - y_true) * (1.0 - p)
    focal = ops.power(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return ops.mean(focal, axis=axis)


def _normalized_probs(y_pred, axis):
    """Keras renormalises probabilities to sum to one along ``axis``, then clips them."""
    p = y_pred / ops.sum(y_pred, axis=axis, keepdims=True)
    return ops.clip(p, _eps(), 1.0 - _eps())


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1, softmax_output=None):
    """-sum(y log p, axis); labels smoothed as y (1 - s) + s / num_classes.

    ``softmax_output``: with ``from_logits``, ``softmax(y_pred, axis)`` if it was already
    computed, so that its probabilities are reused (see ``ops.softmax_cross_entropy``).
    """
    y_true, y_pred = _prepare("categorical_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]
    if from_logits:
        return ops.softmax_cross_entropy(y_pred, y_true, axis=axis, softmax_output=softmax_output)
    return -ops.sum(y_true * ops.log(_normalized_probs(y_pred, axis)), axis=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """sum(alpha (1 - p)^gamma * -y log p, axis)"""
    y_true, y_pred = _prepare("categorical_focal_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]
    if from_logits:
        y_pred = ops.softmax(y_pred, axis=axis)
    p = _normalized_probs(y_pred, axis)
    return ops.sum(alpha * ops.power(1.0 - p, gamma) * (-y_true * ops.log(p)), axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1,
                                    softmax_output=None):
    """-log p[label] for integer labels of shape (N,) or (N, 1) (any leading shape).

    With ``ignore_class`` the loss of those positions is zero and masked out of the mean.
    ``softmax_output`` as for ``categorical_crossentropy``.
    """
    y_pred = _pred(y_pred)
    labels = np.asarray(_data(y_true))
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    axis = axis % y_pred.ndim
    expected = y_pred.shape[:axis] + y_pred.shape[axis + 1:]
    if labels.shape != expected:
        raise ValueError(f"sparse_categorical_crossentropy: y_true of shape {labels.shape} does not "
                         f"match y_pred of shape {y_pred.shape} (expected labels of shape {expected})")
    if labels.dtype.kind == "f" and not np.all(np.mod(labels, 1) == 0):
        raise ValueError("sparse_categorical_crossentropy: y_true must hold integer class ids")
    labels = labels.astype(np.intp)
    valid = None
    if ignore_class is not None:
        valid = labels != ignore_class
        labels = np.where(valid, labels, 0)
    num_classes = y_pred.shape[axis]
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"sparse_categorical_crossentropy: labels must lie in [0, {num_classes}), "
                         f"got values from {labels.min()} to {labels.max()}")
    if from_logits:
        losses = ops.softmax_cross_entropy(y_pred, Tensor(labels, dtype=labels.dtype), axis=axis,
                                           softmax_output=softmax_output)
    else:
        one_hot = np.moveaxis(labels[..., None] == np.arange(num_classes), -1, axis).astype(y_pred.dtype)
        losses = -ops.sum(one_hot * ops.log(_normalized_probs(y_pred, axis)), axis=axis)
    if valid is not None:
        losses = ops.where(valid, losses, 0.0)
        losses._keras_mask = valid
    return losses


def kl_divergence(y_true, y_pred):
    """sum(y log(y / p), axis=-1) with both clipped to [eps, 1]"""
    y_true, y_pred = _prepare("kl_divergence", y_true, y_pred)
    y_true = ops.clip(y_true, _eps(), 1.0) if isinstance(y_true, Tensor) else np.clip(y_true, _eps(), 1.0)
    p = ops.clip(y_pred, _eps(), 1.0)
    return ops.sum(y_true * ops.log(y_true / p), axis=-1)


def poisson(y_true, y_pred):
    """mean(y_pred - y_true log(y_pred + eps), axis=-1)"""
    y_true, y_pred = _prepare("poisson", y_true, y_pred)
    return ops.mean(y_pred - y_true * ops.log(y_pred + _eps()), axis=-1)


# ----------------------------------------------------------------- hinge
def _hinge_labels(y_true):
    """Labels in {0, 1} become {-1, 1}; others are left as they are."""
    data = _data(y_true)
    if np.all((data == 0) | (data == 1)):
        return 2.0 * y_true - 1.0
    return y_true


def hinge(y_true, y_pred):
    """mean(max(1 - y_true y_pred, 0), axis=-1)"""
    y_true, y_pred = _prepare("hinge", y_true, y_pred)
    return ops.mean(ops.relu(1.0 - _hinge_labels(y_true) * y_pred), axis=-1)


def squared_hinge(y_true, y_pred):
    """mean(max(1 - y_true y_pred, 0)^2, axis=-1)"""
    y_true, y_pred = _prepare("squared_hinge", y_true, y_pred)
    return ops.mean(ops.square(ops.relu(1.0 - _hinge_labels(y_true) * y_pred)), axis=-1)


def categorical_hinge(y_true, y_pred):
    """max(neg - pos + 1, 0), pos = sum(y_true y_pred), neg = max((1 - y_true) y_pred)"""
    y_true, y_pred = _prepare("categorical_hinge", y_true, y_pred)
    pos = ops.sum(y_true * y_pred, axis=-1)
    neg = ops.max((1.0 - y_true) * y_pred, axis=-1)
    return ops.relu(neg - pos + 1.0)


# short names, as Keras accepts them
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
bce = BCE = binary_crossentropy
logcosh = log_cosh


# ----------------------------------------------------------------- weighting and reduction
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def standardize_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"Invalid reduction {reduction!r}; expected one of {REDUCTIONS}")
    return reduction


def _weights_like(weights: np.ndarray, values, name: str) -> np.ndarray:
    """Per-sample weights (N,) broadcast over the trailing axes of per-sample losses (N, ...)."""
    if tuple(weights.shape) == tuple(values.shape):
        return weights
    values_shape = tuple(values.shape)
    if weights.ndim < len(values_shape):
        weights = weights.reshape(weights.shape + (1,) * (len(values_shape) - weights.ndim))
    try:
        np.broadcast_shapes(weights.shape, values_shape)
    except ValueError:
        raise ValueError(f"{name}: sample_weight of shape {weights.shape} does not match the "
                         f"per-sample losses of shape {values_shape}") from None
    return weights


def reduce_weighted_values(values, sample_weight=None, mask=None, reduction="sum_over_batch_size",
                           name: str = "loss"):
    """Weight per-sample losses and reduce them as Keras 3 does.

    "sum_over_batch_size" / "mean": sum(loss * w) / loss.size; "sum": sum(loss * w);
    "mean_with_sample_weight": sum(loss * w) / sum(w); "none" / None: loss * w.
    A mask (bool, the losses' shape) zeroes masked entries and, for the mean reductions,
    rescales by total / valid so the mean runs over the valid entries only.
    """
    reduction = standardize_reduction(reduction)
    values = _pred(values)
    weights = None
    if sample_weight is not None:
        weights = np.asarray(_data(sample_weight), dtype=values.dtype)
        weights, values = squeeze_or_expand_to_same_rank(weights, values)
    if mask is not None:
        mask = np.asarray(_data(mask)).astype(values.dtype)
        if reduction in ("sum_over_batch_size", "mean"):
            valid = mask.sum()
            mask = mask * (mask.size / valid if valid > 0 else 0.0)
        if weights is None:
            weights = mask
        else:
            mask, weights = squeeze_or_expand_to_same_rank(mask, weights)
            weights = _weights_like(weights, mask, name) * mask
    if weights is not None:
        weights = _weights_like(weights, values, name)
        values = values * weights
    if reduction in (None, "none") or values.ndim == 0 or values.shape == (0,):
        return values
    if reduction == "sum":
        return ops.sum(values)
    if reduction == "mean_with_sample_weight" and weights is not None:
        divisor = float(np.broadcast_to(weights, values.shape).sum())
        total = ops.sum(values)
        return total / divisor if divisor != 0 else total * 0.0
    return ops.mean(values) if values.size else ops.sum(values) * 0.0  # sum / size, as one node


# ----------------------------------------------------------------- Loss classes
def _snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


class Loss:
    """Base class: ``call(y_true, y_pred)`` gives per-sample losses; ``__call__`` weights
    them with ``sample_weight`` and reduces them (default ``"sum_over_batch_size"``)."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _snake_case(type(self).__name__)
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

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _loss_class(class_name: str, fn, default_name: str, **defaults):
    """A LossFunctionWrapper subclass ``class_name(**defaults, reduction, name, dtype)``."""
    params = list(defaults)

    def __init__(self, *args, reduction="sum_over_batch_size", name=default_name, dtype=None, **kwargs):
        if len(args) > len(params):
            raise TypeError(f"{class_name} takes at most {len(params)} positional arguments")
        unknown = set(kwargs) - set(params)
        if unknown:
            raise TypeError(f"{class_name}: unexpected keyword argument(s) {sorted(unknown)}")
        values = {**defaults, **dict(zip(params, args)), **kwargs}
        LossFunctionWrapper.__init__(self, fn, reduction=reduction, name=name, dtype=dtype, **values)

    doc = f"``{class_name}({', '.join(f'{k}={v!r}' for k, v in defaults.items())})``: {fn.__doc__ or ''}"
    return type(class_name, (LossFunctionWrapper,), {"__init__": __init__, "__doc__": doc})


MeanSquaredError = _loss_class("MeanSquaredError", mean_squared_error, "mean_squared_error")
MeanAbsoluteError = _loss_class("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error")
MeanAbsolutePercentageError = _loss_class("MeanAbsolutePercentageError", mean_absolute_percentage_error,
                                          "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _loss_class("MeanSquaredLogarithmicError", mean_squared_logarithmic_error,
                                          "mean_squared_logarithmic_error")
Huber = _loss_class("Huber", huber, "huber_loss", delta=1.0)
LogCosh = _loss_class("LogCosh", log_cosh, "log_cosh")
CosineSimilarity = _loss_class("CosineSimilarity", cosine_similarity, "cosine_similarity", axis=-1)
BinaryCrossentropy = _loss_class("BinaryCrossentropy", binary_crossentropy, "binary_crossentropy",
                                 from_logits=False, label_smoothing=0.0, axis=-1)
BinaryFocalCrossentropy = _loss_class(
    "BinaryFocalCrossentropy", binary_focal_crossentropy, "binary_focal_crossentropy",
    apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1)
CategoricalCrossentropy = _loss_class("CategoricalCrossentropy", categorical_crossentropy,
                                      "categorical_crossentropy", from_logits=False, label_smoothing=0.0, axis=-1)
CategoricalFocalCrossentropy = _loss_class(
    "CategoricalFocalCrossentropy", categorical_focal_crossentropy, "categorical_focal_crossentropy",
    alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1)
SparseCategoricalCrossentropy = _loss_class(
    "SparseCategoricalCrossentropy", sparse_categorical_crossentropy, "sparse_categorical_crossentropy",
    from_logits=False, ignore_class=None)
KLDivergence = _loss_class("KLDivergence", kl_divergence, "kl_divergence")
Poisson = _loss_class("Poisson", poisson, "poisson")
Hinge = _loss_class("Hinge", hinge, "hinge")
SquaredHinge = _loss_class("SquaredHinge", squared_hinge, "squared_hinge")
CategoricalHinge = _loss_class("CategoricalHinge", categorical_hinge, "categorical_hinge")

_CLASSES = [MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
            Huber, LogCosh, CosineSimilarity, BinaryCrossentropy, BinaryFocalCrossentropy,
            CategoricalCrossentropy, CategoricalFocalCrossentropy, SparseCategoricalCrossentropy,
            KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge]
_FUNCTIONS = [mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
              mean_squared_logarithmic_error, huber, log_cosh, cosine_similarity, binary_crossentropy,
              binary_focal_crossentropy, categorical_crossentropy, categorical_focal_crossentropy,
              sparse_categorical_crossentropy, kl_divergence, poisson, hinge, squared_hinge,
              categorical_hinge]
for _cls in _CLASSES:
    _cls.__module__ = __name__
del _cls

# every name Keras accepts: class names, function names, short aliases (and a few legacy ones)
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({fn.__name__: fn for fn in _FUNCTIONS})
_BY_NAME.update({
    "mse": mse, "MSE": mse, "mae": mae, "MAE": mae, "mape": mape, "MAPE": mape, "msle": msle,
    "MSLE": msle, "kld": kld, "KLD": kld, "bce": bce, "BCE": bce, "logcosh": log_cosh,
    "kullback_leibler_divergence": kl_divergence, "huber_loss": huber,
    "Loss": Loss, "LossFunctionWrapper": LossFunctionWrapper,
})


def serialize(loss):
    """A Loss as ``{"class_name", "config"}``; a built-in function as its name."""
    if isinstance(loss, Loss):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    name = getattr(loss, "__name__", None)
    if name is None:
        raise ValueError(f"Cannot serialize loss {loss!r}")
    return name


def deserialize(config, custom_objects=None):
    """A loss from a name or a ``{"class_name": ..., "config": {...}}`` dict."""
    custom_objects = custom_objects or {}
    if isinstance(config, str):
        obj = custom_objects.get(config) or _BY_NAME.get(config)
        if obj is None:
            raise ValueError(f"Unknown loss {config!r}; expected one of {sorted(_BY_NAME, key=str.lower)}")
        return obj
    name, kwargs = config["class_name"], dict(config.get("config") or {})
    cls = custom_objects.get(name) or _BY_NAME.get(name)
    if cls is None:
        raise ValueError(f"Unknown loss {name!r}")
    if not isinstance(cls, type):
        return cls
    kwargs.pop("fn", None)
    return cls.from_config(kwargs)


def get(identifier):
    """None -> None; a name -> the function or (for class names) a new instance;
    a config dict -> an instance; a Loss or any callable -> itself."""
    if identifier is None:
        return None
    obj = deserialize(identifier) if isinstance(identifier, (str, dict)) else identifier
    if isinstance(obj, type):
        obj = obj()
    if not callable(obj):
        raise ValueError(f"Could not interpret loss identifier {identifier!r}")
    return obj
