"""The new metrics in ``compile(metrics=[...])``, by name and by class: ``fit`` logs them per
epoch in History, and ``evaluate`` gives what Keras's metric computes on the model's predictions."""
import keras
import numpy as np
import pytest

import deepgrad as dg
from conftest import to_numpy
from deepgrad import layers


@pytest.fixture(autouse=True)
def _fresh_names():
    """Metric names count per session in both frameworks (auc, auc_1, ...): start each test at zero."""
    keras.backend.clear_session()
    dg.backend.clear_session()


def _keras_value(metric, y, pred, sample_weight=None):
    metric.update_state(y, pred, sample_weight=sample_weight)
    return float(to_numpy(metric.result()))


def test_binary_classifier_metrics_by_name_and_class():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 3)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.standard_normal(96) > 0).astype("float32")[:, None]
    dg.utils.set_random_seed(0)
    model = dg.Sequential([layers.Input(shape=(3,)), layers.Dense(1, activation="sigmoid")])
    by_name = ["true_positives", "false_negatives", "hinge", "squared_hinge", "poisson", "kl_divergence"]
    by_class = [dg.metrics.PrecisionAtRecall(0.5), dg.metrics.SensitivityAtSpecificity(0.7, num_thresholds=50),
                dg.metrics.BinaryIoU(target_class_ids=[1]), dg.metrics.F1Score(average="micro", threshold=0.5),
                dg.metrics.TrueNegatives(thresholds=0.3), dg.metrics.FBetaScore(beta=2.0, average="macro",
                                                                             threshold=0.5)]
    model.compile(optimizer=dg.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=by_name + by_class)
    history = model.fit(x, y, batch_size=32, epochs=3, verbose=0, validation_split=0.25)
    names = by_name + ["precision_at_recall", "sensitivity_at_specificity", "binary_io_u", "f1_score",
                       "true_negatives", "fbeta_score"]
    assert set(history.history) == {"loss", "val_loss", *names, *(f"val_{n}" for n in names)}
    assert all(len(history.history[n]) == 3 and np.all(np.isfinite(history.history[n])) for n in names)
    assert history.history["true_positives"][0] > 0

    logs = model.evaluate(x, y, batch_size=20, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    expected = {
        "true_positives": keras.metrics.TruePositives(), "false_negatives": keras.metrics.FalseNegatives(),
        "hinge": keras.metrics.Hinge(), "squared_hinge": keras.metrics.SquaredHinge(),
        "poisson": keras.metrics.Poisson(), "kl_divergence": keras.metrics.KLDivergence(),
        "precision_at_recall": keras.metrics.PrecisionAtRecall(0.5),
        "sensitivity_at_specificity": keras.metrics.SensitivityAtSpecificity(0.7, num_thresholds=50),
        "binary_io_u": keras.metrics.BinaryIoU(target_class_ids=[1]),
        "f1_score": keras.metrics.F1Score(average="micro", threshold=0.5),
        "true_negatives": keras.metrics.TrueNegatives(thresholds=0.3),
        "fbeta_score": keras.metrics.FBetaScore(beta=2.0, average="macro", threshold=0.5),
    }
    for name, metric in expected.items():
        np.testing.assert_allclose(logs[name], _keras_value(metric, y, pred), rtol=1e-4, atol=1e-5, err_msg=name)


def test_regression_metrics_weighted_by_name_and_class():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.5, 2, (80, 4)).astype("float32")
    y = (x @ rng.uniform(0.2, 1, (4, 3))).astype("float32")
    w = rng.uniform(0, 2, 80).astype("float32")
    dg.utils.set_random_seed(1)
    model = dg.Sequential([layers.Input(shape=(4,)), layers.Dense(3, activation="softplus")])
    model.compile(optimizer=dg.optimizers.Adam(0.05), loss="mse",
                  weighted_metrics=["mape", "msle", "log_cosh_error", "cosine_similarity", "r2_score",
                                    dg.metrics.PearsonCorrelation(), dg.metrics.ConcordanceCorrelation(),
                                    dg.metrics.R2Score(class_aggregation="variance_weighted_average", name="r2_vw")])
    history = model.fit(x, y, sample_weight=w, batch_size=16, epochs=3, verbose=0)
    assert history.history["r2_score"][-1] > history.history["r2_score"][0]
    assert history.history["mape"][-1] < history.history["mape"][0]

    logs = model.evaluate(x, y, sample_weight=w, batch_size=32, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    expected = {"mape": keras.metrics.MeanAbsolutePercentageError(), "msle": keras.metrics.MeanSquaredLogarithmicError(),
                "log_cosh_error": keras.metrics.LogCoshError(), "cosine_similarity": keras.metrics.CosineSimilarity(),
                "r2_score": keras.metrics.R2Score(), "pearson_correlation": keras.metrics.PearsonCorrelation(),
                "concordance_correlation": keras.metrics.ConcordanceCorrelation(),
                "r2_vw": keras.metrics.R2Score(class_aggregation="variance_weighted_average")}
    for name, metric in expected.items():
        np.testing.assert_allclose(logs[name], _keras_value(metric, y, pred, w), rtol=1e-4, atol=1e-5, err_msg=name)


def test_compile_config_keeps_the_metrics_arguments():
    """A metric whose arguments differ from its name's defaults is kept as its config, so the
    compile config rebuilds the same metrics; one that needs arguments cannot come from a name."""
    dg.backend.clear_session()  # the first TrueNegatives of the session: "true_negatives"
    model = dg.Sequential([layers.Input(shape=(3,)), layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy",
                  metrics=["true_positives", dg.metrics.TrueNegatives(thresholds=0.3),
                           dg.metrics.PrecisionAtRecall(0.4, num_thresholds=20), dg.metrics.F1Score(average="macro")])
    config = model.get_compile_config()
    assert config["metrics"][0] == "true_positives"
    again = dg.Sequential([layers.Input(shape=(3,)), layers.Dense(1, activation="sigmoid")])
    again.compile_from_config(config)
    restored = {m.name: m.get_config() for m in again.metrics if isinstance(m, dg.metrics.Metric)}
    for metric in model.metrics:
        if not isinstance(metric, dg.metrics.Metric):  # the loss tracker
            continue
        assert restored[metric.name] == metric.get_config()
    assert restored["true_negatives"]["thresholds"] == 0.3
    try:
        dg.metrics.get("precision_at_recall")
    except ValueError as error:
        assert "PrecisionAtRecall" in str(error)
    else:
        raise AssertionError("precision_at_recall was built without its recall")


def test_vector_results_are_logged_as_arrays():
    """F1Score() scores each class and TruePositives at several thresholds counts each: fit logs
    those arrays in History and evaluate returns them, with Keras's values."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((60, 4)).astype("float32")
    labels = (x[:, :3] + 0.5 * rng.standard_normal((60, 3))).argmax(1)
    y = np.eye(3, dtype="float32")[labels]
    dg.utils.set_random_seed(2)
    model = dg.Sequential([layers.Input(shape=(4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=dg.optimizers.Adam(0.05), loss="categorical_crossentropy",
                  metrics=[dg.metrics.F1Score(), dg.metrics.TruePositives(thresholds=[0.2, 0.5])])
    history = model.fit(x, y, batch_size=20, epochs=2, verbose=0)
    assert np.shape(history.history["f1_score"][-1]) == (3,)
    assert np.shape(history.history["true_positives"][-1]) == (2,)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    k_f1 = keras.metrics.F1Score()
    k_f1.update_state(y, pred)
    np.testing.assert_allclose(logs["f1_score"], to_numpy(k_f1.result()), rtol=1e-5, atol=1e-6)
    k_tp = keras.metrics.TruePositives(thresholds=[0.2, 0.5])
    k_tp.update_state(y, pred)
    np.testing.assert_allclose(logs["true_positives"], to_numpy(k_tp.result()))


def _metrics_names(K):
    """``metrics_names`` of the same models in each library, before and after fitting."""
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 4), dtype=np.float32), rng.random((8, 2), dtype=np.float32)
    seen = {}
    for label, kwargs in (("none", {}), ("metrics", {"metrics": ["mae"]}), ("weighted", {"weighted_metrics": ["mae"]})):
        model = K.Sequential([K.Input((4,)), K.layers.Dense(2)])
        model.compile(optimizer="sgd", loss="mse", **kwargs)
        before = list(model.metrics_names)
        model.fit(x, y, epochs=1, verbose=0)
        seen[label] = (before, list(model.metrics_names))
    inputs = K.Input((4,))
    model = K.Model(inputs, [K.layers.Dense(2, name="a")(inputs), K.layers.Dense(1, name="b")(inputs)])
    model.compile(optimizer="sgd", loss=["mse", "mae"], metrics=[["mae"], ["mse"]])
    before = list(model.metrics_names)
    model.fit(x, [y, y[:, :1]], epochs=1, verbose=0)
    seen["two outputs"] = (before, list(model.metrics_names))

    class WithTracker(K.Model):
        def __init__(self):
            super().__init__()
            self.dense = K.layers.Dense(2)
            self.tracker = K.metrics.Mean(name="my_loss")

        def call(self, x):
            return self.dense(x)

    model = WithTracker()
    before = list(model.metrics_names)
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=1, verbose=0)
    seen["tracker"] = (before, list(model.metrics_names))
    return seen


def test_metrics_names_are_kerass():
    """Keras names the compiled metrics together ("compile_metrics"), lists the per-output losses
    once a step has computed them, then the metrics a model holds as attributes."""
    ours, theirs = _metrics_names(dg), _metrics_names(keras)
    assert theirs["metrics"][1] == ["loss", "compile_metrics"] and theirs["none"][1] == ["loss"]
    assert ours == theirs
