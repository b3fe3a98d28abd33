"""scikit-learn's estimator contract around a model: ``fit``, ``predict``, ``score``, ``transform``.

``model`` is either a compiled ``Model`` (cloned, with fresh weights, for every fit) or a
callable ``model(X=X, y=y, **model_kwargs)`` returning a compiled model, so the network can
take its input and output sizes from the data. ``fit_kwargs`` go to ``model.fit`` (keywords
passed to ``fit`` itself win). A classifier trains on one-hot targets (``classes_`` are the
sorted labels, any type) and ``predict`` maps the argmax back to labels; a regressor and a
transformer train on ``y`` as a column; ``predict``/``transform`` return ``model.predict``'s
float32 arrays, a 1-D target's single column squeezed back for the regressor.
"""
from __future__ import annotations

import copy
import os
import tempfile

import numpy as np

try:
    import sklearn
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.utils.multiclass import type_of_target
    from sklearn.utils.validation import check_is_fitted
except ImportError:
    raise ImportError("deepgrad.wrappers (SKLearnClassifier, SKLearnRegressor, SKLearnTransformer) needs "
                      "scikit-learn: pip install deepgrad[sklearn]") from None

from ..models import Model, clone_model, load_model


def _validate_data(estimator, *args, **kwargs):
    """scikit-learn's input checks (``n_features_in_``, 2-D numeric X, matching lengths)."""
    try:
        from sklearn.utils.validation import validate_data   # scikit-learn >= 1.6
    except ImportError:
        return estimator._validate_data(*args, **kwargs)
    return validate_data(estimator, *args, **kwargs)


def _target_type(y) -> str:
    kind = type_of_target(y)
    if kind == "unknown":
        raise ValueError(f"Unknown label type for data: {y!r}")
    return kind


def _single(outputs):
    """A model built as ``Model(inputs, [output])`` predicts one array, as Keras unpacks it."""
    if isinstance(outputs, (list, tuple)) and len(outputs) == 1:
        return outputs[0]
    return outputs


def _check_compiled(model) -> None:
    if not getattr(model, "compiled", False) or not model.loss or not model.optimizer:
        raise RuntimeError("Given model needs to be compiled, and have a loss and an optimizer.")


class _SavedModel:
    """A model inside a pickle, as the bytes of its ``.deepgrad`` file (config, weights, compile
    settings, optimiser state; no extra package needed): a fitted estimator pickles (joblib,
    multiprocessing) as Keras's does, and the model comes back through the checked file loader."""

    def __init__(self, model):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.deepgrad")
            model.save(path)
            with open(path, "rb") as f:
                self.data = f.read()

    def load(self):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.deepgrad")
            with open(path, "wb") as f:
                f.write(self.data)
            return load_model(path)


class TargetReshaper(TransformerMixin, BaseEstimator):
    """A 1-D target as a column for training, and a one-column prediction back to 1-D."""

    def fit(self, y):
        self.ndim_ = np.ndim(y)
        return self

    def transform(self, y):
        y = np.asarray(y)
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def inverse_transform(self, y):
        check_is_fitted(self)
        y = np.asarray(y)
        return y[:, 0] if self.ndim_ == 1 and y.ndim == 2 and y.shape[1] == 1 else y


class SKLBase(BaseEstimator):
    """What the three wrappers share: ``model``, ``warm_start``, ``model_kwargs``, ``fit_kwargs``.

    model:        a compiled ``Model`` (cloned, with fresh weights and its compile settings,
                  for each fit) or a callable ``model(X=X, y=y, **model_kwargs)`` returning one
    warm_start:   True: a fit after the first trains the fitted model further (``model_``)
                  instead of starting from a new one
    model_kwargs: further keyword arguments of the callable ``model``
    fit_kwargs:   keyword arguments of ``model.fit`` (``epochs``, ``batch_size``, ``verbose``, ...)

    After ``fit``: ``model_`` (the trained model), ``history_`` (its ``History``),
    ``n_features_in_``; ``epoch_`` counts the epochs the last fit ran.
    """

    def __init__(self, model, warm_start=False, model_kwargs=None, fit_kwargs=None):
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs

    def _more_tags(self):   # scikit-learn < 1.6
        return {"non_deterministic": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True   # weights start random
        return tags

    def __sklearn_clone__(self):
        """A new unfitted estimator with the same parameters; the model (or its builder) is
        shared, not copied, since every fit clones or builds its own model anyway."""
        return type(self)(model=self.model, warm_start=self.warm_start, model_kwargs=self.model_kwargs,
                          fit_kwargs=self.fit_kwargs)

    def __getstate__(self):
        state = dict(self.__dict__)
        for key in ("model", "model_"):
            if isinstance(state.get(key), Model):
                state[key] = _SavedModel(state[key])
        history = state.get("history_")
        if getattr(history, "model", None) is not None:  # the model travels once, as model_
            state["history_"] = copy.copy(history)
            state["history_"].model = None
        return state

    def __setstate__(self, state):
        state = dict(state)
        for key in ("model", "model_"):
            if isinstance(state.get(key), _SavedModel):
                state[key] = state[key].load()
        self.__dict__.update(state)
        if getattr(self, "history_", None) is not None and hasattr(self, "model_"):
            self.history_.model = self.model_

    @property
    def epoch_(self) -> int:
        history = getattr(self, "history_", None)
        return len(history.epoch) if history is not None else 0

    def set_fit_request(self, **kwargs):
        """Which metadata ``fit`` takes when scikit-learn routes it (``sample_weight=True``, say);
        only with ``sklearn.set_config(enable_metadata_routing=True)``."""
        if not sklearn.get_config().get("enable_metadata_routing", False):
            raise RuntimeError("This method is only available when metadata routing is enabled. You can enable "
                               "it using sklearn.set_config(enable_metadata_routing=True).")
        from sklearn.utils.metadata_routing import MetadataRequest

        self._metadata_request = MetadataRequest(owner=type(self).__name__)
        for param, alias in kwargs.items():
            self._metadata_request.fit.add_request(param=param, alias=alias)
        return self

    def _get_model(self, X, y):
        if self.warm_start and hasattr(self, "model_"):
            return self.model_
        if isinstance(self.model, Model):
            model = clone_model(self.model)
            if self.model.compiled:   # the clone trains as the original was set to
                model.compile_from_config(self.model.get_compile_config())
            return model
        if not callable(self.model):
            raise TypeError(f"{type(self).__name__}: model must be a compiled Model or a callable returning one, "
                            f"got {type(self.model).__name__}")
        return self.model(X=X, y=y, **(self.model_kwargs or {}))

    def fit(self, X, y, **kwargs):
        """Build (or clone) the model and train it on ``X`` and ``y``; ``kwargs`` go to ``model.fit``."""
        if y is None:
            _validate_data(self, X, y)   # scikit-learn's own error where its tags say y is required
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None (the "
                             "model trains on targets)")
        X, y = _validate_data(self, X, y)
        y = self._process_target(y, reset=True)
        model = self._get_model(X, y)
        _check_compiled(model)
        self.history_ = model.fit(X, y, **{**(self.fit_kwargs or {}), **kwargs})
        self.model_ = model
        return self

    def predict(self, X):
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False)
        return self._reverse_process_target(_single(self.model_.predict(X)))

    def _process_target(self, y, reset=False):
        """A regressor's target, as a column."""
        _target_type(y)
        if reset:
            self._target_encoder = TargetReshaper().fit(y)
        return self._target_encoder.transform(y)

    def _reverse_process_target(self, y):
        return self._target_encoder.inverse_transform(y)


class SKLearnClassifier(ClassifierMixin, SKLBase):
    """A model as a scikit-learn classifier (binary or multiclass labels of any type).

    The model trains on one-hot targets, so ``model(X=X, y=y)`` sees ``y`` with one column per
    class and should end in ``Dense(n_classes, activation="softmax")`` with a categorical
    cross-entropy; ``predict`` returns the label of each row's largest output,
    ``decision_function`` the outputs themselves, ``score`` the accuracy, ``classes_`` the labels.
    """

    def decision_function(self, X):
        """The model's raw outputs (one column per class)."""
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False)
        return _single(self.model_.predict(X))

    def _process_target(self, y, reset=False):
        kind = _target_type(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"Only binary and multiclass target types are supported. Target type: {kind}")
        if reset:
            self._target_encoder = make_pipeline(TargetReshaper(), OneHotEncoder(sparse_output=False)).fit(y)
            self.classes_ = np.unique(y)
            if len(self.classes_) == 1:
                raise ValueError("Classifier can't train when only one class is present.")
        return self._target_encoder.transform(y)

    def _more_tags(self):
        return {"poor_score": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True   # a few epochs need not reach sklearn's test scores
        return tags


class SKLearnRegressor(RegressorMixin, SKLBase):
    """A model as a scikit-learn regressor of a 1-D target: ``predict`` returns a 1-D float32
    array when the model has one output unit; ``score`` is R^2."""

    def _more_tags(self):
        return {"poor_score": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags


class SKLearnTransformer(TransformerMixin, SKLBase):
    """A model as a scikit-learn transformer: ``fit`` trains it on ``(X, y)``, ``transform``
    returns its outputs (an embedding to feed the next step of a ``Pipeline``, say)."""

    def transform(self, X):
        """The model's outputs for ``X`` (float32, one row per sample)."""
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False)
        return _single(self.model_.predict(X))

    def _more_tags(self):
        return {"preserves_dtype": []}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []   # float32 out whatever comes in
        return tags


__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]
