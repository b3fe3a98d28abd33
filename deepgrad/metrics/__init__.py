"""Metrics with Keras 3's names and semantics, on NumPy arrays.

``metrics.get("accuracy", loss="sparse_categorical_crossentropy")`` resolves names as
``model.compile(metrics=[...])`` does; a ``Metric`` instance is used as is and a plain
function ``fn(y_true, y_pred) -> per-sample values`` is wrapped in a mean.
"""
from __future__ import annotations

from .accuracy import (Accuracy, AutoAccuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
                       SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, accuracy, binary_accuracy,
                       categorical_accuracy, sparse_categorical_accuracy, sparse_top_k_categorical_accuracy,
                       top_k_categorical_accuracy)
from .base import Mean, MeanMetricWrapper, Metric, Sum
from .confusion import AUC, Precision, Recall
from .probabilistic import (BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
                            binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy)
from .regression import MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError, mean_absolute_error, \
    mean_squared_error

_CLASSES = [Mean, Sum, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, Precision, Recall, AUC, MeanSquaredError,
            MeanAbsoluteError, RootMeanSquaredError, BinaryCrossentropy, CategoricalCrossentropy,
            SparseCategoricalCrossentropy]
_BY_CLASS_NAME = {cls.__name__: cls for cls in _CLASSES}

# names that make a new instance, logged under the name the user wrote
_BY_NAME = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "rmse": RootMeanSquaredError, "root_mean_squared_error": RootMeanSquaredError,
    "precision": Precision, "recall": Recall, "auc": AUC,
    "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}

_ACCURACY_BY_LOSS = {"binary_crossentropy": BinaryAccuracy, "categorical_crossentropy": CategoricalAccuracy,
                     "sparse_categorical_crossentropy": SparseCategoricalAccuracy}
_CROSSENTROPY_BY_LOSS = {"binary_crossentropy": BinaryCrossentropy,
                         "categorical_crossentropy": CategoricalCrossentropy,
                         "sparse_categorical_crossentropy": SparseCategoricalCrossentropy}
_LOSS_ALIASES = {"bce": "binary_crossentropy", "BCE": "binary_crossentropy"}


def _loss_name(loss) -> str | None:
    """The snake-case name of a loss given as a string, function or Loss instance."""
    if loss is None:
        return None
    if isinstance(loss, str):
        name = loss
    elif isinstance(loss, dict):
        name = loss.get("class_name", "")
    else:
        name = getattr(loss, "__name__", None)
        if not isinstance(name, str):
            name = getattr(loss, "name", None)  # a Loss instance (its name is the loss's snake-case name)
        if not isinstance(name, str):
            name = type(loss).__name__
    from .base import _snake_case

    name = _LOSS_ALIASES.get(name, name)
    return name if name.islower() else _snake_case(name)


def known_names() -> set[str]:
    """Every string ``get`` resolves (some of them only with a cross-entropy loss)."""
    return set(_BY_NAME) | set(_BY_CLASS_NAME) | {"accuracy", "acc", "crossentropy", "ce"}


def get(identifier, loss=None) -> Metric:
    """A Metric from a name, a class name, a config dict, a Metric, or a function.

    "accuracy"/"acc" (and "crossentropy"/"ce") follow the loss: binary, categorical or
    sparse categorical cross-entropy pick the matching metric; any other loss decides by
    the shapes of the first batch.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        loss_name = _loss_name(loss)
        if identifier in ("accuracy", "acc"):
            cls = _ACCURACY_BY_LOSS.get(loss_name)
            return cls(name=identifier) if cls else AutoAccuracy(name=identifier)
        if identifier in ("crossentropy", "ce"):
            cls = _CROSSENTROPY_BY_LOSS.get(loss_name)
            if cls is None:
                raise ValueError(f"Metric {identifier!r} needs a cross-entropy loss to resolve, got loss {loss!r}")
            return cls(name=identifier)
        if identifier in _BY_NAME:
            return _BY_NAME[identifier](name=identifier)
        if identifier in _BY_CLASS_NAME:
            return _BY_CLASS_NAME[identifier]()
        raise ValueError(f"Unknown metric {identifier!r}; expected one of {sorted(known_names())}")
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError(f"Could not interpret metric identifier {identifier!r}")


def serialize(metric: Metric) -> dict:
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config: dict, custom_objects=None) -> Metric:
    """A Metric from ``{"class_name", "config"}``; only built-in or ``custom_objects`` classes."""
    custom_objects = custom_objects or {}
    name = config.get("class_name")
    cls = custom_objects.get(name) or _BY_CLASS_NAME.get(name)
    if cls is None:
        raise ValueError(f"Unknown metric class {name!r}; expected one of {sorted(_BY_CLASS_NAME)} "
                         "or a class passed in custom_objects")
    return cls.from_config(dict(config.get("config") or {}))
