"""Metrics with Keras 3's names and semantics, on NumPy arrays.

``metrics.get("accuracy", loss="sparse_categorical_crossentropy")`` resolves names as
``model.compile(metrics=[...])`` does; a ``Metric`` instance is used as is and a plain
function ``fn(y_true, y_pred) -> per-sample values`` is wrapped in a mean.
"""
from __future__ import annotations

from ..naming import to_snake_case
from ..registry import Registry

from .accuracy import (Accuracy, AutoAccuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
                       SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, accuracy, binary_accuracy,
                       categorical_accuracy, sparse_categorical_accuracy, sparse_top_k_categorical_accuracy,
                       top_k_categorical_accuracy)
from .base import Mean, MeanMetricWrapper, Metric, Sum
from .confusion import AUC, FalseNegatives, FalsePositives, Precision, Recall, TrueNegatives, TruePositives
from .correlation import ConcordanceCorrelation, PearsonCorrelation, concordance_correlation, pearson_correlation
from .f_score import F1Score, FBetaScore
from .hinge import CategoricalHinge, Hinge, SquaredHinge, categorical_hinge, hinge, squared_hinge
from .iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from .probabilistic import (BinaryCrossentropy, CategoricalCrossentropy, KLDivergence, Poisson,
                            SparseCategoricalCrossentropy, binary_crossentropy, binary_focal_crossentropy,
                            categorical_crossentropy, categorical_focal_crossentropy, kl_divergence, poisson,
                            sparse_categorical_crossentropy)
from .regression import (CosineSimilarity, LogCoshError, MeanAbsoluteError, MeanAbsolutePercentageError,
                         MeanSquaredError, MeanSquaredLogarithmicError, R2Score, RootMeanSquaredError, huber,
                         log_cosh, mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
                         mean_squared_logarithmic_error)
from .sensitivity import PrecisionAtRecall, RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity

_CLASSES = [Mean, Sum, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, Precision, Recall, AUC, TruePositives,
            TrueNegatives, FalsePositives, FalseNegatives, PrecisionAtRecall, RecallAtPrecision,
            SensitivityAtSpecificity, SpecificityAtSensitivity, MeanSquaredError, MeanAbsoluteError,
            RootMeanSquaredError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, LogCoshError,
            CosineSimilarity, R2Score, PearsonCorrelation, ConcordanceCorrelation, BinaryCrossentropy,
            CategoricalCrossentropy, SparseCategoricalCrossentropy, KLDivergence, Poisson, Hinge, SquaredHinge,
            CategoricalHinge, F1Score, FBetaScore, IoU, MeanIoU, BinaryIoU, OneHotIoU, OneHotMeanIoU]


def _make(cls, name: str) -> Metric:
    """A metric from a name resolving to its class: built without a name, as Keras builds it
    (``"auc"`` gives ``auc``, then ``auc_1``, ...); ``compile`` logs it under the name written."""
    try:
        return cls()
    except TypeError as error:  # e.g. "precision_at_recall" needs its recall
        raise ValueError(f"Metric {name!r} cannot be built from its name alone ({error}); "
                         f"pass an instance, e.g. metrics.{cls.__name__}(...)") from None


# class names, their snake case ("binary_accuracy", "auc") and Keras's short aliases
_REGISTRY = Registry("metric", _CLASSES, {"mse": MeanSquaredError, "MSE": MeanSquaredError,
                                          "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
                                          "rmse": RootMeanSquaredError, "bce": BinaryCrossentropy,
                                          "BCE": BinaryCrossentropy, "mape": MeanAbsolutePercentageError,
                                          "MAPE": MeanAbsolutePercentageError, "msle": MeanSquaredLogarithmicError,
                                          "MSLE": MeanSquaredLogarithmicError},
                     base=Metric, make=_make,
                     wrap_callable=lambda fn: MeanMetricWrapper(fn, name=getattr(fn, "__name__", None)))

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
    name = _LOSS_ALIASES.get(name, name)
    return name if name.islower() else to_snake_case(name)


def known_names() -> set[str]:
    """Every string ``get`` resolves (some of them only with a cross-entropy loss)."""
    return set(_REGISTRY.by_name) | {"accuracy", "acc", "crossentropy", "ce"}


def get(identifier, loss=None) -> Metric:
    """A Metric from a name, a class name, a config dict, a Metric, or a function.

    "accuracy"/"acc" (and "crossentropy"/"ce") follow the loss: binary, categorical or
    sparse categorical cross-entropy pick the matching metric; any other loss decides by
    the shapes of the first batch.
    """
    if identifier in ("accuracy", "acc"):
        cls = _ACCURACY_BY_LOSS.get(_loss_name(loss))
        return cls(name=identifier) if cls else AutoAccuracy(name=identifier)
    if identifier in ("crossentropy", "ce"):
        cls = _CROSSENTROPY_BY_LOSS.get(_loss_name(loss))
        if cls is None:
            raise ValueError(f"Metric {identifier!r} needs a cross-entropy loss to resolve, got loss {loss!r}")
        return cls(name=identifier)
    if identifier is None:
        raise ValueError("Could not interpret metric identifier: None")
    return _REGISTRY.get(identifier)


def serialize(metric: Metric) -> dict:
    return _REGISTRY.serialize(metric)


def deserialize(config: dict, custom_objects=None) -> Metric:
    """A Metric from ``{"class_name", "config"}``; only built-in or ``custom_objects`` classes."""
    return _REGISTRY.deserialize(config, custom_objects)
