"""The metrics beyond accuracy, cross-entropy and Precision/Recall/AUC give Keras's results over
three update_state calls with sample weights, after reset_state, and on one more batch after it."""
import warnings

import keras
import numpy as np
import pytest

import deepgrad as dg
from conftest import to_numpy

N, C = 10, 4


def batches(kind, seed=0, count=3):
    """``count`` (y_true, y_pred, sample_weight) batches suited to a metric family."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        weight = rng.uniform(0, 2, N).astype("float32")
        if kind == "binary":
            y_true = rng.integers(0, 2, (N, 1)).astype("float32")
            y_pred = rng.uniform(0, 1, (N, 1)).astype("float32")
        elif kind == "multilabel":
            y_true = rng.integers(0, 2, (N, C)).astype("float32")
            y_pred = rng.uniform(0, 1, (N, C)).astype("float32")
        elif kind == "regression":
            y_true = rng.standard_normal((N, C)).astype("float32")
            y_pred = (y_true + 0.7 * rng.standard_normal((N, C))).astype("float32")
        elif kind == "positive":
            y_true = rng.uniform(0.1, 3, (N, C)).astype("float32")
            y_pred = rng.uniform(0.1, 3, (N, C)).astype("float32")
        elif kind == "hinge":
            y_true = rng.choice([-1.0, 1.0], (N, C)).astype("float32")
            y_pred = rng.standard_normal((N, C)).astype("float32")
        elif kind == "distribution":
            p, q = rng.uniform(0.05, 1, (N, C)), rng.uniform(0.05, 1, (N, C))
            y_true = (p / p.sum(-1, keepdims=True)).astype("float32")
            y_pred = (q / q.sum(-1, keepdims=True)).astype("float32")
        elif kind == "segmentation":  # class ids of 2x3 images; 4 stands outside num_classes=4
            y_true = rng.integers(0, 5, (N, 2, 3)).astype("int32")
            y_pred = rng.integers(0, 4, (N, 2, 3)).astype("int32")
            weight = rng.integers(0, 3, N).astype("int32")[:, None, None] * np.ones((1, 2, 3), "int32")
        elif kind == "segmentation_float":  # float weights on an int metric: Keras truncates them
            y_true = rng.integers(0, 4, (N, 2, 3)).astype("int32")
            y_pred = rng.integers(0, 4, (N, 2, 3)).astype("int32")
            weight = rng.uniform(0, 3, (N, 2, 3)).astype("float32")
        elif kind == "onehot":
            y_true = np.eye(C, dtype="float32")[rng.integers(0, C, N)]
            y_pred = rng.uniform(0, 1, (N, C)).astype("float32")
        elif kind == "sorted_ids":
            y_true = rng.integers(0, 6, N).astype("int32")
            y_pred = np.argsort(-rng.uniform(size=(N, 6)), axis=-1)[:, :3].astype("int32")
        elif kind == "sparse_ignore":  # labels 0..3 over 3 time steps, class 1 ignored
            logits = rng.standard_normal((N, 3, C)).astype("float32")
            y_true = rng.integers(0, C, (N, 3)).astype("int32")
            y_pred = logits
            weight = rng.uniform(0, 2, (N, 3)).astype("float32")  # per time step, as Keras needs here
        else:
            probs = rng.uniform(0.01, 1, (N, C)).astype("float32")
            y_pred = probs / probs.sum(-1, keepdims=True)
            y_true = np.eye(C, dtype="float32")[rng.integers(0, C, N)]
        out.append((y_true, y_pred, weight))
    return out


CASES = [
    ("TruePositives", {}, "binary"),
    ("FalsePositives", dict(thresholds=[0.2, 0.6]), "multilabel"),
    ("TrueNegatives", dict(thresholds=0.3), "multilabel"),
    ("FalseNegatives", {}, "multilabel"),
    ("TruePositives", dict(thresholds=[0.0, 0.25, 0.5, 0.75, 1.0]), "multilabel"),
    ("PrecisionAtRecall", dict(recall=0.6), "binary"),
    ("PrecisionAtRecall", dict(recall=0.3, num_thresholds=20, class_id=2), "multilabel"),
    ("RecallAtPrecision", dict(precision=0.6), "multilabel"),
    ("RecallAtPrecision", dict(precision=0.4, num_thresholds=1), "binary"),
    ("SensitivityAtSpecificity", dict(specificity=0.5), "binary"),
    ("SensitivityAtSpecificity", dict(specificity=0.8, class_id=1), "multilabel"),
    ("SpecificityAtSensitivity", dict(sensitivity=0.5, num_thresholds=50), "multilabel"),
    ("F1Score", {}, "categorical"),
    ("F1Score", dict(average="macro", threshold=0.4), "multilabel"),
    ("F1Score", dict(average="micro"), "categorical"),
    ("FBetaScore", dict(beta=2.0, average="weighted", threshold=0.5), "multilabel"),
    ("FBetaScore", dict(beta=0.5), "multilabel"),
    ("R2Score", {}, "regression"),
    ("R2Score", dict(class_aggregation=None), "regression"),
    ("R2Score", dict(class_aggregation="variance_weighted_average", num_regressors=3), "regression"),
    ("PearsonCorrelation", {}, "regression"),
    ("PearsonCorrelation", dict(axis=0), "regression"),
    ("ConcordanceCorrelation", {}, "regression"),
    ("CosineSimilarity", {}, "regression"),
    ("CosineSimilarity", dict(axis=0), "regression"),
    ("LogCoshError", {}, "regression"),
    ("MeanAbsolutePercentageError", {}, "positive"),
    ("MeanSquaredLogarithmicError", {}, "positive"),
    ("KLDivergence", {}, "distribution"),
    ("Poisson", {}, "positive"),
    ("Hinge", {}, "hinge"),
    ("SquaredHinge", {}, "hinge"),
    ("CategoricalHinge", {}, "categorical"),
    ("IoU", dict(num_classes=4, target_class_ids=[0, 2]), "segmentation"),
    ("IoU", dict(num_classes=4, target_class_ids=[1, 3], ignore_class=0), "segmentation"),
    ("MeanIoU", dict(num_classes=4), "segmentation"),
    ("MeanIoU", dict(num_classes=4), "segmentation_float"),
    ("MeanIoU", dict(num_classes=4, dtype="float32", sparse_y_true=False, sparse_y_pred=False), "onehot"),
    ("OneHotIoU", dict(num_classes=4, target_class_ids=[1, 2], dtype="float32"), "onehot"),
    ("OneHotMeanIoU", dict(num_classes=4, dtype="float32"), "onehot"),
    ("BinaryIoU", dict(dtype="float32"), "binary"),
    ("BinaryIoU", dict(target_class_ids=[1], threshold=0.3, dtype="float32"), "binary"),
    ("SparseTopKCategoricalAccuracy", dict(k=2, from_sorted_ids=True), "sorted_ids"),
    ("SparseCategoricalCrossentropy", dict(from_logits=True, ignore_class=1), "sparse_ignore"),
]


def _ids(cases):
    return [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw, _ in cases]


def _same(ours, theirs, msg):
    np.testing.assert_allclose(np.asarray(to_numpy(ours) if not isinstance(ours, (list, float)) else ours,
                                          np.float64),
                               to_numpy(theirs).astype(np.float64), rtol=2e-5, atol=1e-6, err_msg=msg)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name, kwargs, kind", CASES, ids=_ids(CASES))
def test_metric_matches_keras(name, kwargs, kind, weighted):
    if weighted and kwargs.get("axis") == 0:
        pytest.skip("one value per column, not per sample: sample weights do not apply (Keras rejects them too)")
    data = batches(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # R2Score's adjusted score, IoU's float weights
        keras.backend.clear_session()
        dg.backend.clear_session()
        k_metric = getattr(keras.metrics, name)(**kwargs)
        d_metric = getattr(dg.metrics, name)(**kwargs)
        assert d_metric.name == k_metric.name
        for i, (y_true, y_pred, weight) in enumerate(data):
            w = weight if weighted else None
            k_metric.update_state(y_true, y_pred, sample_weight=w)
            d_metric.update_state(y_true, y_pred, sample_weight=w)
            _same(d_metric.result(), k_metric.result(), f"after batch {i + 1}")
        k_metric.reset_state()
        d_metric.reset_state()
        if name not in ("R2Score",):  # Keras's R2 of nothing is nan; deepgrad's is 0
            _same(d_metric.result(), k_metric.result(), "after reset_state")
        y_true, y_pred, weight = batches(kind, seed=9, count=1)[0]
        k_metric.update_state(y_true, y_pred, sample_weight=weight if weighted else None)
        d_metric.update_state(y_true, y_pred, sample_weight=weight if weighted else None)
        _same(d_metric.result(), k_metric.result(), "after reset_state and one more batch")


def test_confusion_metric_results_are_not_constant():
    """The data above moves every new metric off its starting value (so the comparisons bite)."""
    for name, kwargs, kind in CASES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            metric = getattr(dg.metrics, name)(**kwargs)
            y_true, y_pred, _ = batches(kind)[0]
            metric.update_state(y_true, y_pred)
            assert np.any(np.asarray(metric.result()) != 0), name


FUNCTIONS = [
    ("hinge", {}, "hinge"), ("squared_hinge", {}, "hinge"), ("categorical_hinge", {}, "categorical"),
    ("huber", dict(delta=0.5), "regression"), ("log_cosh", {}, "regression"),
    ("kl_divergence", {}, "distribution"), ("poisson", {}, "positive"),
    ("mean_absolute_percentage_error", {}, "positive"), ("mean_squared_logarithmic_error", {}, "positive"),
    ("pearson_correlation", {}, "regression"), ("concordance_correlation", dict(axis=0), "regression"),
    ("binary_focal_crossentropy", dict(apply_class_balancing=True, gamma=1.5), "multilabel"),
    ("categorical_focal_crossentropy", dict(alpha=0.4), "categorical"),
    ("sparse_top_k_categorical_accuracy", dict(k=2, from_sorted_ids=True), "sorted_ids"),
]


@pytest.mark.parametrize("name, kwargs, kind", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_metric_functions(name, kwargs, kind):
    y_true, y_pred, _ = batches(kind)[0]
    ours = getattr(dg.metrics, name)(y_true, y_pred, **kwargs)
    assert isinstance(ours, np.ndarray)
    np.testing.assert_allclose(ours, to_numpy(getattr(keras.metrics, name)(y_true, y_pred, **kwargs)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, kwargs, kind", CASES, ids=_ids(CASES))
def test_config_round_trip(name, kwargs, kind):
    metric = getattr(dg.metrics, name)(**kwargs)
    config = dg.metrics.serialize(metric)
    again = dg.metrics.deserialize(config)
    assert type(again) is type(metric) and again.get_config() == metric.get_config()
    k_config = getattr(keras.metrics, name)(**kwargs).get_config()
    for key, value in config["config"].items():  # every argument deepgrad saves has Keras's value
        if key in k_config and key not in ("name", "dtype"):
            expected = k_config[key]
            assert (list(value) if isinstance(value, tuple) else value) == \
                (list(expected) if isinstance(expected, tuple) else expected), key


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="recall must be in"):
        dg.metrics.PrecisionAtRecall(recall=1.5)
    with pytest.raises(ValueError, match="num_thresholds"):
        dg.metrics.SensitivityAtSpecificity(0.5, num_thresholds=0)
    with pytest.raises(ValueError, match="out of range"):
        dg.metrics.IoU(num_classes=3, target_class_ids=[3])
    with pytest.raises(ValueError, match="beta"):
        dg.metrics.FBetaScore(beta=2)
    with pytest.raises(ValueError, match="average"):
        dg.metrics.F1Score(average="mean")
    with pytest.raises(ValueError, match="class_aggregation"):
        dg.metrics.R2Score(class_aggregation="sum")
    with pytest.raises(ValueError, match="2-D"):
        dg.metrics.R2Score().update_state(np.zeros(3), np.zeros(3) + 1)
