"""Metrics against scikit-learn and the published formulas, with sample weights and several batches."""
import math

import numpy as np
import pytest
from sklearn.metrics import precision_score, recall_score, roc_auc_score

from deepgrad import metrics


def batches(n, size):
    return [slice(i, i + size) for i in range(0, n, size)]


def accumulate(metric, y_true, y_pred, weights=None, size=7):
    metric.reset_state()
    for s in batches(len(y_true), size):
        metric.update_state(y_true[s], y_pred[s], None if weights is None else weights[s])
    return metric.result()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_mean_weighted_over_batches(rng):
    v, w = rng.standard_normal(30), rng.random(30)
    m = metrics.Mean()
    for s in batches(30, 8):
        m.update_state(v[s], w[s])
    assert m.result() == pytest.approx(np.sum(v * w) / np.sum(w), rel=1e-6)  # result() is float32, as Keras's; the sums are float64
    m.reset_state()
    assert m.result() == 0.0


def test_binary_accuracy_threshold_and_weights(rng):
    y = (rng.random((40, 1)) > 0.5).astype(np.float32)
    p = rng.random((40, 1)).astype(np.float32)
    w = rng.random(40)
    got = accumulate(metrics.BinaryAccuracy(threshold=0.3), y, p, w)
    right = ((p[:, 0] > 0.3) == (y[:, 0] == 1)).astype(float)
    assert got == pytest.approx(np.sum(right * w) / np.sum(w), rel=1e-6)


def test_categorical_and_sparse_accuracy_agree(rng):
    labels = rng.integers(0, 5, 33)
    p = rng.random((33, 5)).astype(np.float32)
    expected = np.mean(np.argmax(p, 1) == labels)
    assert accumulate(metrics.CategoricalAccuracy(), np.eye(5)[labels], p) == pytest.approx(expected)
    assert accumulate(metrics.SparseCategoricalAccuracy(), labels, p) == pytest.approx(expected)
    assert accumulate(metrics.SparseCategoricalAccuracy(), labels[:, None].astype(np.float32), p) == \
        pytest.approx(expected)


def test_accuracy_exact_match():
    m = metrics.Accuracy()
    m.update_state(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4]))
    assert m.result() == pytest.approx(0.75)


def test_top_k_accuracy_formula(rng):
    labels = rng.integers(0, 6, 50)
    p = rng.random((50, 6))
    rank = np.sum(p > p[np.arange(50), labels][:, None], axis=1)  # classes scoring above the target
    for k in (1, 2, 5):
        expected = np.mean(rank < k)
        assert accumulate(metrics.SparseTopKCategoricalAccuracy(k=k), labels, p) == pytest.approx(expected)
        assert accumulate(metrics.TopKCategoricalAccuracy(k=k), np.eye(6)[labels], p) == pytest.approx(expected)


def test_precision_recall_against_sklearn(rng):
    y = rng.integers(0, 2, 60)
    p = rng.random(60)
    w = rng.random(60)
    for threshold in (0.5, 0.2):
        pred = (p > threshold).astype(int)
        assert accumulate(metrics.Precision(thresholds=threshold), y, p, w) == \
            pytest.approx(precision_score(y, pred, sample_weight=w), rel=1e-9)
        assert accumulate(metrics.Recall(thresholds=threshold), y, p, w) == \
            pytest.approx(recall_score(y, pred, sample_weight=w), rel=1e-9)


def test_precision_several_thresholds_and_class_id(rng):
    y = np.eye(3)[rng.integers(0, 3, 40)]
    p = rng.random((40, 3))
    m = metrics.Precision(thresholds=[0.3, 0.7], class_id=1)
    got = accumulate(m, y, p)
    expected = [precision_score(y[:, 1], p[:, 1] > t) for t in (0.3, 0.7)]
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_precision_top_k(rng):
    y = (rng.random((20, 5)) > 0.6).astype(float)
    p = rng.random((20, 5))
    top = np.argsort(-p, axis=1)[:, :2]
    chosen = np.zeros_like(y, dtype=bool)
    np.put_along_axis(chosen, top, True, axis=1)
    expected = np.sum(chosen & (y == 1)) / np.sum(chosen)
    assert accumulate(metrics.Precision(top_k=2), y, p) == pytest.approx(expected)


def keras_roc_auc(y, p, w, n=200):
    """Keras's AUC written out: counts at each threshold with an (N, T) comparison, trapezoids."""
    eps = 1e-7
    t = np.array([-eps] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1 + eps])
    above = p[:, None] > t[None, :]
    pos, neg = (y == 1)[:, None], (y == 0)[:, None]
    tp, fp = np.sum(w[:, None] * above * pos, 0), np.sum(w[:, None] * above * neg, 0)
    fn, tn = np.sum(w[:, None] * ~above * pos, 0), np.sum(w[:, None] * ~above * neg, 0)
    tpr, fpr = tp / (tp + fn), fp / (fp + tn)
    return np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2)


def test_auc_matches_keras_formula_and_sklearn(rng):
    y = rng.integers(0, 2, 300)
    p = np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1)
    w = rng.random(300)
    got = accumulate(metrics.AUC(), y, p, w, size=64)
    assert got == pytest.approx(keras_roc_auc(y, p, w), rel=1e-6)  # a float32 result, as Keras's
    assert got == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=5e-3)


def test_auc_pr_interpolation_close_to_average_precision(rng):
    from sklearn.metrics import average_precision_score

    y = rng.integers(0, 2, 400)
    p = np.clip(y * 0.4 + rng.random(400) * 0.6, 0, 1)
    got = accumulate(metrics.AUC(curve="PR", num_thresholds=1000), y, p, size=100)
    assert got == pytest.approx(average_precision_score(y, p), abs=0.02)


def test_regression_metrics(rng):
    y, p, w = rng.standard_normal((25, 3)), rng.standard_normal((25, 3)), rng.random(25)
    per_sample_sq = np.mean((y - p) ** 2, axis=1)
    assert accumulate(metrics.MeanSquaredError(), y, p, w) == pytest.approx(np.sum(per_sample_sq * w) / w.sum())
    assert accumulate(metrics.MeanAbsoluteError(), y, p) == pytest.approx(np.mean(np.abs(y - p)))
    assert accumulate(metrics.RootMeanSquaredError(), y, p, w) == \
        pytest.approx(math.sqrt(np.sum(per_sample_sq * w) / w.sum()))


def test_crossentropy_metrics(rng):
    labels = rng.integers(0, 4, 30)
    logits = rng.standard_normal((30, 4))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = np.mean(-np.log(probs[np.arange(30), labels]))
    assert accumulate(metrics.SparseCategoricalCrossentropy(), labels, probs) == pytest.approx(expected, rel=1e-6)
    assert accumulate(metrics.SparseCategoricalCrossentropy(from_logits=True), labels, logits) == \
        pytest.approx(expected, rel=1e-6)
    assert accumulate(metrics.CategoricalCrossentropy(), np.eye(4)[labels], probs) == pytest.approx(expected, rel=1e-6)
    y = rng.integers(0, 2, (30, 1)).astype(float)
    q = rng.uniform(0.05, 0.95, (30, 1))
    bce = np.mean(-(y * np.log(q) + (1 - y) * np.log(1 - q)))
    assert accumulate(metrics.BinaryCrossentropy(), y, q) == pytest.approx(bce, rel=1e-5)


@pytest.mark.parametrize("loss, cls", [("binary_crossentropy", metrics.BinaryAccuracy),
                                       ("categorical_crossentropy", metrics.CategoricalAccuracy),
                                       ("sparse_categorical_crossentropy", metrics.SparseCategoricalAccuracy)])
def test_get_accuracy_follows_loss(loss, cls):
    m = metrics.get("accuracy", loss=loss)
    assert type(m) is cls and m.name == "accuracy"
    from deepgrad import losses

    assert type(metrics.get("acc", loss=losses.get(loss))) is cls


def test_get_accuracy_decides_by_shapes():
    p = np.array([[0.1, 0.9], [0.8, 0.2]])
    sparse, cat, binary = metrics.get("accuracy"), metrics.get("accuracy"), metrics.get("accuracy", loss="mse")
    sparse.update_state(np.array([1, 1]), p)
    cat.update_state(np.array([[0, 1], [0, 1]]), p)
    binary.update_state(np.array([[1], [0]]), np.array([[0.7], [0.6]]))
    assert (sparse.result(), cat.result(), binary.result()) == (0.5, 0.5, 0.5)
    assert binary.kind is metrics.binary_accuracy


def test_get_names_instances_functions():
    assert type(metrics.get("mse")) is metrics.MeanSquaredError and metrics.get("mse").name == "mean_squared_error"
    assert type(metrics.get("AUC")) is metrics.AUC
    m = metrics.Recall()
    assert metrics.get(m) is m

    def doubled_error(y_true, y_pred):
        return 2 * np.abs(y_true - y_pred)

    wrapped = metrics.get(doubled_error)
    wrapped.update_state(np.zeros(4), np.ones(4))
    assert wrapped.name == "doubled_error" and wrapped.result() == 2.0
    with pytest.raises(ValueError, match="Unknown metric 'nope'"):
        metrics.get("nope")


def test_config_round_trip():
    for m in [metrics.BinaryAccuracy(threshold=0.3), metrics.AUC(num_thresholds=50, curve="PR"),
              metrics.Precision(thresholds=0.7, class_id=2), metrics.SparseTopKCategoricalAccuracy(k=3)]:
        clone = metrics.deserialize(metrics.serialize(m))
        assert type(clone) is type(m) and clone.get_config() == m.get_config()
    with pytest.raises(ValueError, match="os.system"):
        metrics.deserialize({"class_name": "os.system", "config": {}})


def test_auc_on_a_large_batch_matches_scikit_learn(rng):
    y, p = rng.integers(0, 2, 100_000), rng.random(100_000)
    m = metrics.AUC()
    m.update_state(y, p)
    assert m.result() == pytest.approx(roc_auc_score(y, p), abs=5e-3)


def test_crossentropy_metrics_agree_with_the_losses(rng):
    """The NumPy metric formulas and deepgrad.losses give the same per-sample values."""
    from deepgrad import losses

    logits = rng.standard_normal((12, 5)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, 5, 12)
    onehot = np.eye(5, dtype=np.float32)[labels]
    for logit_mode, pred in ((False, probs), (True, logits)):
        np.testing.assert_allclose(
            metrics.sparse_categorical_crossentropy(labels, pred, from_logits=logit_mode),
            losses.sparse_categorical_crossentropy(labels, pred, from_logits=logit_mode).data, rtol=1e-5)
        np.testing.assert_allclose(
            metrics.categorical_crossentropy(onehot, pred, from_logits=logit_mode, label_smoothing=0.1),
            losses.categorical_crossentropy(onehot, pred, from_logits=logit_mode, label_smoothing=0.1).data,
            rtol=1e-5)
        binary_pred = pred[:, :1] if logit_mode else probs[:, :1]
        y = (labels[:, None] > 2).astype(np.float32)
        np.testing.assert_allclose(
            metrics.binary_crossentropy(y, binary_pred, from_logits=logit_mode, label_smoothing=0.2),
            losses.binary_crossentropy(y, binary_pred, from_logits=logit_mode, label_smoothing=0.2).data,
            rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy",
                                  "sparse_categorical_crossentropy"])
def test_crossentropy_metrics_run_the_losses_formulas(monkeypatch, name):
    """One formula per cross-entropy: the metric evaluates the loss function, without a graph."""
    from deepgrad import losses
    from deepgrad.autograd import is_grad_enabled

    real, calls = getattr(losses, name), []

    def spy(*args, **kwargs):
        calls.append(is_grad_enabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(losses, name, spy)
    y_true = np.array([1, 0]) if name.startswith("sparse") else np.array([[0.0, 1.0], [1.0, 0.0]])
    value = getattr(metrics, name)(y_true, np.array([[0.3, 0.7], [0.6, 0.4]], np.float32))
    assert calls == [False] and isinstance(value, np.ndarray) and value.shape == (2,)


# ----------------------------------------------------------------- against scikit-learn and SciPy
def test_r2_score_against_sklearn(rng):
    from sklearn.metrics import r2_score

    y = rng.standard_normal((45, 3))
    p = y + 0.5 * rng.standard_normal((45, 3)) * np.array([1.0, 2.0, 0.3])
    w = rng.random(45)
    for aggregation, multioutput in [("uniform_average", "uniform_average"),
                                     ("variance_weighted_average", "variance_weighted"), (None, "raw_values")]:
        got = accumulate(metrics.R2Score(class_aggregation=aggregation), y, p, w)
        np.testing.assert_allclose(got, r2_score(y, p, sample_weight=w, multioutput=multioutput), rtol=1e-6)
    # adjusted R^2 with p regressors over n = 135 values: 1 - (1 - R^2)(n - 1) / (n - p - 1)
    plain = r2_score(y, p)
    assert accumulate(metrics.R2Score(num_regressors=4), y, p) == pytest.approx(1 - (1 - plain) * 134 / 130)


def test_f_scores_against_sklearn(rng):
    from sklearn.metrics import f1_score, fbeta_score

    y = (rng.random((50, 4)) > 0.5).astype(np.float64)
    p = rng.random((50, 4))
    w = rng.random(50)
    hard = (p > 0.4).astype(int)
    for average in [None, "micro", "macro", "weighted"]:
        got = accumulate(metrics.F1Score(average=average, threshold=0.4), y, p, w)
        np.testing.assert_allclose(got, f1_score(y, hard, average=average, sample_weight=w), rtol=1e-5)
        got = accumulate(metrics.FBetaScore(average=average, beta=2.0, threshold=0.4), y, p, w)
        np.testing.assert_allclose(got, fbeta_score(y, hard, beta=2.0, average=average, sample_weight=w), rtol=1e-5)
    # threshold None: the best class of each row is the prediction (multi-class F1)
    labels = rng.integers(0, 4, 50)
    got = accumulate(metrics.F1Score(average="macro"), np.eye(4)[labels], p)
    assert got == pytest.approx(f1_score(labels, p.argmax(1), average="macro"), rel=1e-5)


def test_iou_against_sklearn_jaccard(rng):
    from sklearn.metrics import jaccard_score

    y, p = rng.integers(0, 4, (30, 5)), rng.integers(0, 4, (30, 5))
    w = rng.integers(0, 3, (30, 5))
    expected = jaccard_score(y.ravel(), p.ravel(), average=None, sample_weight=w.ravel())
    assert accumulate(metrics.MeanIoU(num_classes=4), y, p, w) == pytest.approx(expected.mean(), rel=1e-6)
    assert accumulate(metrics.IoU(4, target_class_ids=[1, 3]), y, p, w) == \
        pytest.approx(expected[[1, 3]].mean(), rel=1e-6)
    scores = rng.random((30, 5, 4))
    assert accumulate(metrics.OneHotMeanIoU(num_classes=4), np.eye(4)[y], scores) == pytest.approx(
        jaccard_score(y.ravel(), scores.argmax(-1).ravel(), average="macro"), rel=1e-6)
    probs = rng.random(60)
    truth = (rng.random(60) > 0.5).astype(int)
    assert accumulate(metrics.BinaryIoU(target_class_ids=[1], threshold=0.3), truth, probs) == pytest.approx(
        jaccard_score(truth, (probs >= 0.3).astype(int)), rel=1e-6)


def test_correlations_against_scipy(rng):
    from scipy.stats import pearsonr

    y, p = rng.standard_normal((12, 9)), rng.standard_normal((12, 9))
    expected = np.array([pearsonr(a, b)[0] for a, b in zip(y, p)])
    np.testing.assert_allclose(metrics.pearson_correlation(y, p), expected, rtol=1e-10)
    assert accumulate(metrics.PearsonCorrelation(), y, p) == pytest.approx(expected.mean(), rel=1e-6)  # a float32 result
    # Lin's concordance where Keras's covariance term agrees with it: y_true and y_pred of one mean
    p = p - p.mean(1, keepdims=True) + y.mean(1, keepdims=True)
    lin = 2 * np.mean((y - y.mean(1, keepdims=True)) * (p - p.mean(1, keepdims=True)), 1) / (y.var(1) + p.var(1))
    np.testing.assert_allclose(metrics.concordance_correlation(y, p), lin, rtol=1e-5)


def test_confusion_counts_and_rates_by_hand():
    y = np.array([1, 1, 1, 0, 0, 0, 1, 0], np.float32)
    p = np.array([0.9, 0.6, 0.2, 0.7, 0.1, 0.4, 0.8, 0.3], np.float32)
    w = np.array([1, 2, 1, 1, 3, 1, 1, 2], np.float32)
    assert accumulate(metrics.TruePositives(), y, p, w) == 4.0      # 0.9, 0.6 (w 2), 0.8
    assert accumulate(metrics.FalsePositives(), y, p, w) == 1.0     # 0.7
    assert accumulate(metrics.TrueNegatives(), y, p, w) == 6.0      # 0.1 (w 3), 0.4, 0.3 (w 2)
    assert accumulate(metrics.FalseNegatives(), y, p, w) == 1.0     # 0.2
    assert accumulate(metrics.TruePositives(thresholds=[0.15, 0.65]), y, p) == [4.0, 2.0]
    counts = metrics.FalsePositives(thresholds=[0.0, 0.5, 1.0])
    counts.update_state(y, p)
    np.testing.assert_array_equal(counts.accumulator, [4.0, 1.0, 0.0])
    # recall >= 0.75 needs a threshold below 0.6 (3 of 4 positives above it): precision 3 / 4 at t in [0.4, 0.6)
    assert accumulate(metrics.PrecisionAtRecall(0.75), y, p) == pytest.approx(0.75)
    # precision 1 holds above 0.7 only: recall 2 / 4
    assert accumulate(metrics.RecallAtPrecision(1.0), y, p) == pytest.approx(0.5)
    # specificity 1 needs t >= 0.7 (above the negative at 0.7): 0.8 and 0.9 of the positives, 2 / 4
    assert accumulate(metrics.SensitivityAtSpecificity(1.0), y, p) == pytest.approx(0.5)
    # sensitivity 1 needs t below 0.2, where only the negative at 0.1 is predicted negative: 1 / 4
    assert accumulate(metrics.SpecificityAtSensitivity(1.0), y, p) == pytest.approx(0.25)


def test_iou_per_sample_weights_cover_every_label_of_the_sample(rng):
    y, p = rng.integers(0, 3, (6, 2, 2)), rng.integers(0, 3, (6, 2, 2))
    w = rng.random(6)
    per_sample = accumulate(metrics.MeanIoU(3, dtype="float64"), y, p, w)
    per_label = accumulate(metrics.MeanIoU(3, dtype="float64"), y, p, np.broadcast_to(w[:, None, None], y.shape))
    assert per_sample == pytest.approx(per_label, rel=1e-12) and per_sample > 0
    with pytest.raises(ValueError, match=r"sample_weight of shape \(4, 1, 1\) does not match labels of shape"):
        metrics.MeanIoU(3).update_state(y, p, np.ones(4, int))


def test_calling_a_metric_updates_it_and_returns_the_running_result():
    mean = metrics.Mean(name="train_loss")
    assert mean(3.0) == 3.0 and mean(5.0) == 4.0 and mean(np.array([1.0, 1.0]), sample_weight=[1.0, 3.0]) == 2.0
    accuracy = metrics.SparseCategoricalAccuracy()
    assert accuracy(np.array([1, 0]), np.array([[0.1, 0.9], [0.2, 0.8]])) == 0.5
    assert accuracy(np.array([0]), np.array([[0.9, 0.1]]), sample_weight=np.array([2.0])) == 0.75
