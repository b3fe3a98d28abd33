"""Loss functions with Keras 3's names, formulas and reductions.

Function forms (``mean_squared_error(y_true, y_pred)``) return one loss per sample (the
last axis reduced); ``Loss`` classes weight and reduce them to a scalar:
``sum(loss * sample_weight) / loss.size`` for the default ``"sum_over_batch_size"``.
``y_true`` may be an ndarray or a list (no gradient needed); ``y_pred`` is a Tensor.
Probabilities are clipped to [eps, 1 - eps] (eps = 1e-7) as Keras does; ``from_logits``
takes the stable fused paths.

The package: ``reduction`` (sample weights, masks, reductions), ``base`` (``Loss``, the
wrapper every built-in class is), ``regression``, ``probabilistic`` (the cross-entropies),
``hinge``, ``overlap`` (Dice, Tversky), ``metric_learning`` (Circle), ``sequence`` (CTC); every public name is here, as ``deepgrad.losses.X``.
"""
from __future__ import annotations

from ..registry import Registry
from .base import Loss, LossFunctionWrapper, loss_class
from .hinge import CategoricalHinge, Hinge, SquaredHinge, categorical_hinge, hinge, squared_hinge
from .metric_learning import Circle, circle
from .overlap import Dice, Tversky, dice, tversky
from .probabilistic import (
    BCE, KLD, BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy, CategoricalFocalCrossentropy,
    CategoricalGeneralizedCrossEntropy, KLDivergence, Poisson, SparseCategoricalCrossentropy, bce,
    binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy, categorical_focal_crossentropy,
    categorical_generalized_cross_entropy, kl_divergence, kld, kullback_leibler_divergence, poisson,
    sparse_categorical_crossentropy,
)
from .reduction import REDUCTIONS, Reduction, reduce_weighted_values, squeeze_or_expand_to_same_rank, standardize_reduction
from .regression import (
    MAE, MAPE, MSE, MSLE, CosineSimilarity, Huber, LogCosh, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredError, MeanSquaredLogarithmicError, cosine_similarity, huber, log_cosh, logcosh, mae, mape,
    mean_absolute_error, mean_absolute_percentage_error, mean_squared_error, mean_squared_logarithmic_error, mse,
    msle,
)
from .sequence import CTC, ctc

_CLASSES = [MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
            Huber, LogCosh, CosineSimilarity, BinaryCrossentropy, BinaryFocalCrossentropy,
            CategoricalCrossentropy, CategoricalFocalCrossentropy, SparseCategoricalCrossentropy,
            KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge, CTC, Dice, Tversky, Circle,
            CategoricalGeneralizedCrossEntropy]
_FUNCTIONS = [mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
              mean_squared_logarithmic_error, huber, log_cosh, cosine_similarity, binary_crossentropy,
              binary_focal_crossentropy, categorical_crossentropy, categorical_focal_crossentropy,
              sparse_categorical_crossentropy, kl_divergence, poisson, hinge, squared_hinge,
              categorical_hinge, ctc, dice, tversky, circle, categorical_generalized_cross_entropy]
for _cls in [Loss, LossFunctionWrapper, *_CLASSES]:
    _cls.__module__ = __name__  # the public path, as Keras shows ``keras.losses.MeanSquaredError``
del _cls

# every name Keras accepts: function names first (so "mean_squared_error" is the function),
# then the class names and their snake case, short aliases and a few legacy ones
_REGISTRY = Registry("loss", [*_FUNCTIONS, *_CLASSES], {
    "mse": mse, "MSE": mse, "mae": mae, "MAE": mae, "mape": mape, "MAPE": mape, "msle": msle,
    "MSLE": msle, "kld": kld, "KLD": kld, "bce": bce, "BCE": bce, "logcosh": log_cosh,
    "kullback_leibler_divergence": kl_divergence, "huber_loss": huber,
    "Loss": Loss, "LossFunctionWrapper": LossFunctionWrapper,
}, base=Loss, ignored_keys=("fn",))


def serialize(loss):
    """A Loss as ``{"class_name", "config"}``; a built-in function as its name."""
    return _REGISTRY.serialize(loss)


def deserialize(name, custom_objects=None):
    """A loss from a name (the function, or a new instance for a class name) or a
    ``{"class_name": ..., "config": {...}}`` dict (Keras calls either one ``name``)."""
    return _REGISTRY.deserialize(name, custom_objects)


def get(identifier):
    """None -> None; a name -> the function or (for class names) a new instance;
    a config dict -> an instance; a Loss or any callable -> itself."""
    return _REGISTRY.get(identifier)
