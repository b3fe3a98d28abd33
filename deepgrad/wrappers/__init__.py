"""Floor 8: scikit-learn estimators around models, by Keras's names (``keras.wrappers``).

``SKLearnClassifier``, ``SKLearnRegressor`` and ``SKLearnTransformer`` make a compiled model
(or a function that builds one from ``X`` and ``y``) an estimator that ``Pipeline``,
``cross_val_score``, ``GridSearchCV`` and ``clone`` accept. They need scikit-learn
(``pip install deepgrad[sklearn]``), imported when a wrapper is first named, so this package
imports without it.
"""
_NAMES = ("SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer")

__all__ = list(_NAMES)


def __getattr__(name):
    if name in _NAMES:
        from . import sklearn_wrapper

        return getattr(sklearn_wrapper, name)
    raise AttributeError(f"module 'deepgrad.wrappers' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_NAMES))
