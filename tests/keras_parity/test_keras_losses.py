"""Every loss deepgrad has, by class and by name, gives Keras's value on the same data and sample weights."""
import keras
import numpy as np
import pytest

import deepgrad as dg
from conftest import to_numpy

N, C = 6, 4


def data(kind, seed=0):
    """(y_true, y_pred) suited to a loss family."""
    rng = np.random.default_rng(seed)
    f = lambda *s: rng.standard_normal(s).astype("float32")  # noqa: E731
    if kind == "regression":
        return f(N, C), f(N, C)
    if kind == "positive":
        return rng.uniform(0.1, 3, (N, C)).astype("float32"), rng.uniform(0.1, 3, (N, C)).astype("float32")
    if kind == "binary":
        return rng.integers(0, 2, (N, C)).astype("float32"), rng.uniform(0.02, 0.98, (N, C)).astype("float32")
    if kind == "binary_logits":
        return rng.integers(0, 2, (N, C)).astype("float32"), f(N, C) * 2
    if kind == "hinge":
        return rng.choice([-1.0, 1.0], (N, C)).astype("float32"), f(N, C)
    logits = f(N, C) * 2
    labels = rng.integers(0, C, N)
    if kind == "sparse":
        return labels.astype("int32"), keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    if kind == "sparse_logits":
        return labels.astype("int32"), logits
    one_hot = np.eye(C, dtype="float32")[labels]
    if kind == "categorical":
        return one_hot, np.asarray(keras.ops.convert_to_numpy(keras.ops.softmax(logits)))
    if kind == "categorical_logits":
        return one_hot, logits
    if kind == "mask":  # segmentation masks (N, 3, 3, 1) and their predicted probabilities
        return rng.integers(0, 2, (N, 3, 3, 1)).astype("float32"), rng.uniform(0, 1, (N, 3, 3, 1)).astype("float32")
    if kind == "embedding":  # integer labels and L2-normalised embeddings
        e = f(N, C)
        return rng.integers(0, 3, N).astype("int32"), e / np.linalg.norm(e, axis=1, keepdims=True)
    if kind == "ctc":  # labels padded with 0 (the blank) and logits over 5 frames
        labels = rng.integers(1, C, (N, 3))
        labels[np.arange(N) % 3 == 0, 2] = 0
        return labels.astype("int32"), f(N, 5, C)
    if kind == "distribution":
        p = rng.uniform(0.05, 1, (N, C)).astype("float32")
        q = rng.uniform(0.05, 1, (N, C)).astype("float32")
        return p / p.sum(-1, keepdims=True), q / q.sum(-1, keepdims=True)
    raise ValueError(kind)


CASES = [
    ("MeanSquaredError", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
    ("MeanAbsolutePercentageError", {}, "positive"),
    ("MeanSquaredLogarithmicError", {}, "positive"),
    ("Huber", {}, "regression"),
    ("Huber", dict(delta=0.5), "regression"),
    ("LogCosh", {}, "regression"),
    ("CosineSimilarity", {}, "regression"),
    ("BinaryCrossentropy", {}, "binary"),
    ("BinaryCrossentropy", dict(label_smoothing=0.1), "binary"),
    ("BinaryCrossentropy", dict(from_logits=True), "binary_logits"),
    ("BinaryFocalCrossentropy", {}, "binary"),
    ("BinaryFocalCrossentropy", dict(apply_class_balancing=True, alpha=0.3, gamma=1.5), "binary"),
    ("BinaryFocalCrossentropy", dict(from_logits=True, label_smoothing=0.2), "binary_logits"),
    ("CategoricalCrossentropy", {}, "categorical"),
    ("CategoricalCrossentropy", dict(label_smoothing=0.1), "categorical"),
    ("CategoricalCrossentropy", dict(from_logits=True), "categorical_logits"),
    ("CategoricalFocalCrossentropy", {}, "categorical"),
    ("CategoricalFocalCrossentropy", dict(from_logits=True, alpha=0.5, gamma=1.0), "categorical_logits"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", dict(from_logits=True), "sparse_logits"),
    ("SparseCategoricalCrossentropy", dict(from_logits=True, ignore_class=1), "sparse_logits"),
    ("KLDivergence", {}, "distribution"),
    ("Poisson", {}, "positive"),
    ("Hinge", {}, "hinge"),
    ("SquaredHinge", {}, "hinge"),
    ("CategoricalHinge", {}, "categorical"),
    ("Dice", {}, "mask"),
    ("Dice", dict(axis=(1, 2, 3)), "mask"),
    ("Tversky", {}, "mask"),
    ("Tversky", dict(alpha=0.3, beta=0.7, axis=(1, 2)), "mask"),
    ("Circle", {}, "embedding"),
    ("Circle", dict(gamma=10.0, margin=0.25, remove_diagonal=False), "embedding"),
    ("CategoricalGeneralizedCrossEntropy", {}, "sparse"),
    ("CategoricalGeneralizedCrossEntropy", dict(q=0.8), "sparse"),
    ("CTC", {}, "ctc"),
]


def assert_close(d, k, msg=""):
    np.testing.assert_allclose(to_numpy(d), to_numpy(k), rtol=1e-5, atol=1e-6, err_msg=msg)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean", "none", "mean_with_sample_weight"])
@pytest.mark.parametrize("name, kwargs, kind", CASES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)])
def test_loss_class(name, kwargs, kind, reduction):
    y_true, y_pred = data(kind)
    weight = np.random.default_rng(5).uniform(0, 2, N).astype("float32")
    k_loss = getattr(keras.losses, name)(reduction=reduction, **kwargs)
    d_loss = getattr(dg.losses, name)(reduction=reduction, **kwargs)
    assert_close(d_loss(y_true, y_pred), k_loss(y_true, y_pred), "no sample_weight")
    assert_close(d_loss(y_true, y_pred, sample_weight=weight), k_loss(y_true, y_pred, sample_weight=weight),
                 "sample_weight")
    assert d_loss.name == k_loss.name


def test_sample_weight_per_timestep():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.standard_normal((3, 5, 2)).astype("float32"), rng.standard_normal((3, 5, 2)).astype("float32")
    weight = rng.uniform(0, 1, (3, 5)).astype("float32")
    for reduction in ["sum_over_batch_size", "mean", "sum"]:
        assert_close(dg.losses.MeanSquaredError(reduction=reduction)(y_true, y_pred, sample_weight=weight),
                     keras.losses.MeanSquaredError(reduction=reduction)(y_true, y_pred, sample_weight=weight),
                     reduction)


NAMES = {"mse": "regression", "mae": "regression", "mape": "positive", "msle": "positive", "huber": "regression",
         "log_cosh": "regression", "logcosh": "regression", "cosine_similarity": "regression",
         "binary_crossentropy": "binary", "bce": "binary", "binary_focal_crossentropy": "binary",
         "categorical_crossentropy": "categorical", "categorical_focal_crossentropy": "categorical",
         "sparse_categorical_crossentropy": "sparse", "kl_divergence": "distribution", "kld": "distribution",
         "kullback_leibler_divergence": "distribution", "poisson": "positive", "hinge": "hinge",
         "squared_hinge": "hinge", "categorical_hinge": "categorical", "mean_squared_error": "regression",
         "mean_absolute_error": "regression", "mean_absolute_percentage_error": "positive",
         "mean_squared_logarithmic_error": "positive", "MSE": "regression", "MAE": "regression",
         "MAPE": "positive", "MSLE": "positive", "KLD": "distribution", "BCE": "binary", "dice": "mask",
         "tversky": "mask", "circle": "embedding", "ctc": "ctc"}


# tf.keras 2 names that Keras 3 dropped and deepgrad still accepts, with their Keras 3 names
LEGACY = {"kullback_leibler_divergence": "kl_divergence", "logcosh": "log_cosh"}


@pytest.mark.parametrize("name", sorted(NAMES))
def test_loss_by_name(name):
    """``loss="name"`` resolves to the same function; per-sample values agree."""
    y_true, y_pred = data(NAMES[name])
    try:
        k_fn = keras.losses.get(LEGACY.get(name, name))
    except ValueError:
        pytest.fail(f"deepgrad accepts loss {name!r}, which Keras does not know")
    assert_close(dg.losses.get(name)(y_true, y_pred), k_fn(y_true, y_pred), name)
    assert_close(getattr(dg.losses, name)(y_true, y_pred), k_fn(y_true, y_pred), name)


def test_every_deepgrad_loss_is_covered():
    classes = {n for n, _, _ in CASES}
    exported = {n for n in dir(dg.losses) if isinstance(getattr(dg.losses, n), type)
                and issubclass(getattr(dg.losses, n), dg.losses.Loss) and not n.startswith("_")}
    assert exported - {"Loss", "LossFunctionWrapper"} == classes
