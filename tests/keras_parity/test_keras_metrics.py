"""Metrics accumulated over two update_state batches (with sample weights) give Keras's results."""

import keras
import numpy as np
import pytest

import deepgrad as dg
from conftest import to_numpy

N, C = 8, 4


def batches(kind, seed=0):
    """Two (y_true, y_pred, sample_weight) batches suited to a metric family."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(2):
        weight = rng.uniform(0, 2, N).astype("float32")
        if kind == "binary":
            y_true = rng.integers(0, 2, (N, 1)).astype("float32")
            y_pred = rng.uniform(0, 1, (N, 1)).astype("float32")
        elif kind == "multilabel":
            y_true = rng.integers(0, 2, (N, C)).astype("float32")
            y_pred = rng.uniform(0, 1, (N, C)).astype("float32")
            weight = rng.uniform(0, 2, (N, 1)).astype("float32")
        elif kind == "exact":  # Accuracy: equality of values
            y_true = rng.integers(0, 3, (N, 1)).astype("float32")
            y_pred = rng.integers(0, 3, (N, 1)).astype("float32")
        elif kind == "regression":
            y_true = rng.standard_normal((N, C)).astype("float32")
            y_pred = rng.standard_normal((N, C)).astype("float32")
        else:
            probs = rng.uniform(0.01, 1, (N, C)).astype("float32")
            y_pred = probs / probs.sum(-1, keepdims=True)
            labels = rng.integers(0, C, N)
            y_true = labels.astype("int32") if kind == "sparse" else np.eye(C, dtype="float32")[labels]
        out.append((y_true, y_pred, weight))
    return out


CASES = [
    ("Accuracy", {}, "exact"),
    ("BinaryAccuracy", {}, "binary"),
    ("BinaryAccuracy", dict(threshold=0.3), "multilabel"),
    ("CategoricalAccuracy", {}, "categorical"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("TopKCategoricalAccuracy", dict(k=2), "categorical"),
    ("SparseTopKCategoricalAccuracy", dict(k=2), "sparse"),
    ("Precision", {}, "binary"),
    ("Precision", dict(thresholds=[0.3, 0.5, 0.7]), "multilabel"),
    ("Precision", dict(top_k=2), "multilabel"),
    ("Precision", dict(class_id=1), "multilabel"),
    ("Recall", {}, "binary"),
    ("Recall", dict(thresholds=0.3), "multilabel"),
    ("Precision", dict(thresholds=[0.4]), "binary"),
    ("Recall", dict(thresholds=[0.6]), "multilabel"),
    ("Recall", dict(top_k=1, class_id=2), "multilabel"),
    ("AUC", {}, "binary"),
    ("AUC", dict(num_thresholds=50), "multilabel"),
    ("AUC", dict(curve="PR"), "binary"),
    ("AUC", dict(summation_method="minoring"), "binary"),
    ("AUC", dict(curve="PR", summation_method="majoring"), "multilabel"),
    ("AUC", dict(thresholds=[0.2, 0.4, 0.6, 0.8]), "binary"),
    ("MeanSquaredError", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
    ("RootMeanSquaredError", {}, "regression"),
    ("BinaryCrossentropy", {}, "multilabel"),
    ("CategoricalCrossentropy", {}, "categorical"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
]


def assert_same_over_two_batches(name, kwargs, data, weighted):
    keras.backend.clear_session()
    dg.backend.clear_session()
    # both number the second and later Precision/Recall/AUC of a session (precision_1, ...)
    k_metric, k_second = getattr(keras.metrics, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    d_metric, d_second = getattr(dg.metrics, name)(**kwargs), getattr(dg.metrics, name)(**kwargs)
    assert (d_metric.name, d_second.name) == (k_metric.name, k_second.name)
    for i, (y_true, y_pred, weight) in enumerate(data):
        sample_weight = weight if weighted else None
        k_metric.update_state(y_true, y_pred, sample_weight=sample_weight)
        d_metric.update_state(y_true, y_pred, sample_weight=sample_weight)
        d_result, k_result = to_numpy(d_metric.result()), to_numpy(k_metric.result())
        assert np.shape(d_result) == np.shape(k_result), f"after batch {i + 1}"
        np.testing.assert_allclose(d_result, k_result, rtol=1e-5, atol=1e-6, err_msg=f"after batch {i + 1}")
    k_metric.reset_state()
    d_metric.reset_state()
    np.testing.assert_allclose(to_numpy(d_metric.result()), to_numpy(k_metric.result()), atol=1e-7)


def _ids(cases):
    return [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw, _ in cases]


@pytest.mark.parametrize("name, kwargs, kind", CASES, ids=_ids(CASES))
def test_metric_two_batches(name, kwargs, kind):
    assert_same_over_two_batches(name, kwargs, batches(kind), weighted=False)


WEIGHTED = [c for c in CASES if c[0] not in ("Precision", "Recall", "AUC") or "class_id" in c[1]]


@pytest.mark.parametrize("name, kwargs, kind", WEIGHTED, ids=_ids(WEIGHTED))
def test_metric_two_batches_weighted(name, kwargs, kind):
    assert_same_over_two_batches(name, kwargs, batches(kind), weighted=True)


CONFUSION_1D = [c for c in CASES if c[0] in ("Precision", "Recall", "AUC") and c[2] == "binary"]


@pytest.mark.parametrize("name, kwargs, kind", CONFUSION_1D, ids=_ids(CONFUSION_1D))
def test_confusion_metric_weighted_rank_1(name, kwargs, kind):
    data = [(y_true[:, 0], y_pred[:, 0], w) for y_true, y_pred, w in batches(kind)]
    assert_same_over_two_batches(name, kwargs, data, weighted=True)


CONFUSION_2D = [c for c in CASES if c[0] in ("Precision", "Recall", "AUC") and c not in WEIGHTED]


@pytest.mark.parametrize("name, kwargs, kind", CONFUSION_2D, ids=_ids(CONFUSION_2D))
def test_confusion_metric_weighted(name, kwargs, kind):
    assert_same_over_two_batches(name, kwargs, batches(kind), weighted=True)


@pytest.mark.parametrize("name", ["binary_accuracy", "categorical_accuracy",
                                  "sparse_categorical_accuracy", "top_k_categorical_accuracy",
                                  "sparse_top_k_categorical_accuracy", "mean_squared_error", "mean_absolute_error"])
def test_metric_functions(name):
    kind = {"binary_accuracy": "multilabel", "mean_squared_error": "regression",
            "mean_absolute_error": "regression"}.get(name, "sparse" if name.startswith("sparse") else "categorical")
    y_true, y_pred, _ = batches(kind)[0]
    kwargs = dict(k=2) if "top_k" in name else {}
    np.testing.assert_allclose(to_numpy(getattr(dg.metrics, name)(y_true, y_pred, **kwargs)),
                               to_numpy(getattr(keras.metrics, name)(y_true, y_pred, **kwargs)), rtol=1e-6, atol=1e-7)
