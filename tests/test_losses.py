"""Every loss against PyTorch (or Keras's formula written in torch), forward and gradient
with respect to y_pred, then sample weights, reductions, lookup and errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad import losses
from oracle import check_gradients, compare_with_torch

EPS = 1e-7
RNG = np.random.default_rng(0)
N, C = 5, 4
REAL_T, REAL_P = RNG.standard_normal((N, C)), RNG.standard_normal((N, C))
POS_T, POS_P = RNG.uniform(0.1, 3.0, (N, C)), RNG.uniform(0.1, 3.0, (N, C))
BIN_T, PROB_P = (RNG.uniform(size=(N, C)) > 0.5).astype(np.float64), RNG.uniform(0.05, 0.95, (N, C))
SOFT_T = RNG.dirichlet(np.ones(C), N)
DIST_P = RNG.uniform(0.05, 1.0, (N, C))  # not normalised: Keras renormalises
LOGITS = 2 * RNG.standard_normal((N, C))
SIGNS = np.where(BIN_T > 0, 1.0, -1.0)


def per_sample_cases():
    """name -> (deepgrad per-sample fn, torch per-sample fn, y_true, y_pred)"""
    return {
        "mse": (losses.mse, lambda t, p: F.mse_loss(p, t, reduction="none").mean(-1), REAL_T, REAL_P),
        "mae": (losses.mae, lambda t, p: F.l1_loss(p, t, reduction="none").mean(-1), REAL_T, REAL_P),
        "mape": (losses.mape, lambda t, p: 100 * ((t - p).abs() / t.abs().clamp(min=EPS)).mean(-1), REAL_T, REAL_P),
        "msle": (losses.msle, lambda t, p: ((torch.log1p(p.clamp(min=EPS)) - torch.log1p(t.clamp(min=EPS))) ** 2
                                            ).mean(-1), POS_T, POS_P),
        "huber": (losses.huber, lambda t, p: F.huber_loss(p, t, reduction="none", delta=1.0).mean(-1),
                  REAL_T, 2 * REAL_P),
        "huber_delta": (lambda t, p: losses.huber(t, p, delta=0.5),
                        lambda t, p: F.huber_loss(p, t, reduction="none", delta=0.5).mean(-1), REAL_T, REAL_P),
        "log_cosh": (losses.log_cosh, lambda t, p: torch.log(torch.cosh(p - t)).mean(-1), REAL_T, 3 * REAL_P),
        "cosine_similarity": (losses.cosine_similarity, lambda t, p: -F.cosine_similarity(p, t, dim=-1),
                              REAL_T, REAL_P),
        "bce": (losses.binary_crossentropy,
                lambda t, p: F.binary_cross_entropy(p, t, reduction="none").mean(-1), BIN_T, PROB_P),
        "bce_soft_targets": (losses.binary_crossentropy,
                             lambda t, p: F.binary_cross_entropy(p, t, reduction="none").mean(-1), PROB_P[::-1].copy(),
                             PROB_P),
        "bce_logits": (lambda t, p: losses.binary_crossentropy(t, p, from_logits=True),
                       lambda t, p: F.binary_cross_entropy_with_logits(p, t, reduction="none").mean(-1),
                       BIN_T, 10 * LOGITS),
        "bce_logits_smoothing": (
            lambda t, p: losses.binary_crossentropy(t, p, from_logits=True, label_smoothing=0.2),
            lambda t, p: F.binary_cross_entropy_with_logits(p, t * 0.8 + 0.1, reduction="none").mean(-1),
            BIN_T, LOGITS),
        # log then torch's log_softmax = log(p / sum(p)): Keras's renormalisation
        "cce": (losses.categorical_crossentropy,
                lambda t, p: F.cross_entropy(torch.log(p), t, reduction="none"), SOFT_T, DIST_P),
        "cce_logits": (lambda t, p: losses.categorical_crossentropy(t, p, from_logits=True),
                       lambda t, p: F.cross_entropy(p, t, reduction="none"), SOFT_T, LOGITS),
        "cce_logits_smoothing": (
            lambda t, p: losses.categorical_crossentropy(t, p, from_logits=True, label_smoothing=0.1),
            lambda t, p: F.cross_entropy(p, t, reduction="none", label_smoothing=0.1), SOFT_T, LOGITS),
        "cce_smoothing": (
            lambda t, p: losses.categorical_crossentropy(t, p, label_smoothing=0.3),
            lambda t, p: F.cross_entropy(torch.log(p), t, reduction="none", label_smoothing=0.3), SOFT_T, DIST_P),
        "cce_axis0": (lambda t, p: losses.categorical_crossentropy(t, p, from_logits=True, axis=0),
                      lambda t, p: F.cross_entropy(p.T, t.T, reduction="none"), SOFT_T.T.copy(), LOGITS.T.copy()),
        "kld": (losses.kld, lambda t, p: F.kl_div(torch.log(p), t, reduction="none").sum(-1), SOFT_T, PROB_P),
        "poisson": (losses.poisson, lambda t, p: F.poisson_nll_loss(p, t, log_input=False, full=False, eps=EPS,
                                                                   reduction="none").mean(-1), POS_T, POS_P),
        "hinge": (losses.hinge, lambda t, p: F.relu(1 - t * p).mean(-1), SIGNS, REAL_P),
        "hinge_01_labels": (losses.hinge, lambda t, p: F.relu(1 - (2 * t - 1) * p).mean(-1), BIN_T, REAL_P),
        "squared_hinge": (losses.squared_hinge, lambda t, p: (F.relu(1 - t * p) ** 2).mean(-1), SIGNS, REAL_P),
        "categorical_hinge": (losses.categorical_hinge,
                              lambda t, p: F.relu(((1 - t) * p).amax(-1) - (t * p).sum(-1) + 1),
                              np.eye(C)[[0, 2, 1, 3, 0]], REAL_P),
        # Keras's focal formula: mean((1 - p_t)^gamma * bce), p_t = y p + (1 - y)(1 - p)
        "binary_focal": (lambda t, p: losses.binary_focal_crossentropy(t, p, gamma=2.0, from_logits=True),
                         lambda t, p: ((1 - (t * torch.sigmoid(p) + (1 - t) * (1 - torch.sigmoid(p)))) ** 2
                                       * F.binary_cross_entropy(torch.sigmoid(p), t, reduction="none")).mean(-1),
                         BIN_T, LOGITS),
    }


CASES = per_sample_cases()


@pytest.mark.parametrize("case", sorted(CASES))
def test_per_sample_against_torch(case):
    ours, theirs, y_true, y_pred = CASES[case]
    out = compare_with_torch(ours, theirs, [y_true, y_pred], grad_mask=[False, True], rtol=1e-9, atol=1e-12)
    assert out.shape == (N,)


@pytest.mark.parametrize("case", ["mse", "bce", "bce_logits", "cce", "cce_logits", "kld", "huber"])
def test_float32_matches_and_stays_float32(case):
    ours, theirs, y_true, y_pred = CASES[case]
    out = compare_with_torch(ours, theirs, [y_true.astype(np.float32), y_pred.astype(np.float32)],
                             grad_mask=[False, True], rtol=1e-5, atol=1e-6)
    assert out.dtype == np.float32


def test_sparse_categorical_crossentropy_against_torch():
    labels = np.array([0, 3, 1, 2, 3])
    for shape in [(N,), (N, 1)]:
        y = labels.reshape(shape)
        compare_with_torch(lambda t, p: losses.sparse_categorical_crossentropy(t, p, from_logits=True),
                           lambda t, p: F.cross_entropy(p, t.reshape(-1), reduction="none"),
                           [y, LOGITS], grad_mask=[False, True])
        compare_with_torch(lambda t, p: losses.sparse_categorical_crossentropy(t, p),
                           lambda t, p: F.nll_loss(torch.log(p / p.sum(-1, keepdim=True)), t.reshape(-1),
                                                   reduction="none"),
                           [y, DIST_P], grad_mask=[False, True], rtol=1e-9, atol=1e-12)


def test_sparse_ignore_class_averages_over_the_rest():
    labels = np.array([0, 3, -1, 2, -1])
    y_pred = dg.Tensor(LOGITS.copy(), requires_grad=True)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)(labels, y_pred)
    loss.backward()
    z = torch.tensor(LOGITS, requires_grad=True)
    ref = F.cross_entropy(z, torch.tensor(labels), ignore_index=-1)
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(y_pred.grad, z.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_sparse_rejects_bad_labels():
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy.*\(3,\).*\(5, 4\)"):
        losses.sparse_categorical_crossentropy(np.array([0, 1, 2]), dg.Tensor(LOGITS))
    with pytest.raises(ValueError, match=r"in \[0, 4\)"):
        losses.sparse_categorical_crossentropy(np.array([0, 1, 2, 4, 0]), dg.Tensor(LOGITS))


def test_probabilities_are_clipped_like_keras():
    # p = 0 and 1 exactly: Keras clips to [1e-7, 1 - 1e-7] instead of giving inf
    y_pred = dg.Tensor(np.array([[0.0, 1.0]]), requires_grad=True)
    out = losses.binary_crossentropy(np.array([[1.0, 0.0]]), y_pred)
    assert out.item() == pytest.approx(-np.log(EPS), rel=1e-6)
    out = losses.categorical_crossentropy(np.array([[1.0, 0.0]]), y_pred)
    assert out.item() == pytest.approx(-np.log(EPS), rel=1e-6)


def test_stable_logits_paths_at_extremes():
    z = dg.Tensor(np.array([[-800.0, 800.0, 0.0]], np.float32), requires_grad=True)
    out = losses.binary_crossentropy(np.array([[1.0, 0.0, 1.0]]), z, from_logits=True)
    out.backward()
    assert out.item() == pytest.approx((800 + 800 + np.log(2)) / 3, rel=1e-6)
    assert np.all(np.isfinite(z.grad))
    out = losses.categorical_crossentropy(np.array([[1.0, 0.0, 0.0]]), z, from_logits=True)
    assert out.item() == pytest.approx(1600.0, rel=1e-6)


def test_central_differences_for_regression_and_hinge_losses():
    for fn in (losses.log_cosh, losses.cosine_similarity, losses.huber, losses.squared_hinge, losses.mape):
        check_gradients(lambda t, p: fn(t, p), [REAL_T[:2], REAL_P[:2]], indices=[1])


# ----------------------------------------------------------------- weighting and reductions
WEIGHTS = np.array([1.0, 0.0, 2.0, 0.5, 3.0])


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "mean", "sum", "none", None])
def test_sample_weight_and_reduction(reduction):
    per_sample = F.mse_loss(torch.tensor(REAL_P), torch.tensor(REAL_T), reduction="none").mean(-1).numpy()
    weighted = per_sample * WEIGHTS
    expected = {"sum_over_batch_size": weighted.sum() / N, "mean": weighted.sum() / N, "sum": weighted.sum(),
                "none": weighted, None: weighted}[reduction]
    y_pred = dg.Tensor(REAL_P.copy(), requires_grad=True)
    out = losses.MeanSquaredError(reduction=reduction)(REAL_T, y_pred, sample_weight=WEIGHTS)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    out.sum().backward()
    grad_scale = 1.0 / N if reduction in ("sum_over_batch_size", "mean") else 1.0
    expected_grad = 2 * (REAL_P - REAL_T) / C * WEIGHTS[:, None] * grad_scale
    np.testing.assert_allclose(y_pred.grad, expected_grad, rtol=1e-12)


def test_sum_over_batch_size_divides_by_every_element_of_the_per_sample_loss():
    # per-timestep losses (N, T): Keras divides sum(loss * w) by N * T, not by sum(w)
    y_true, y_pred = RNG.standard_normal((3, 4, 2)), RNG.standard_normal((3, 4, 2))
    w = np.array([1.0, 2.0, 0.0])
    per_step = ((y_pred - y_true) ** 2).mean(-1)
    out = losses.MeanSquaredError()(y_true, dg.Tensor(y_pred), sample_weight=w)
    assert out.item() == pytest.approx((per_step * w[:, None]).sum() / 12)
    out = losses.MeanSquaredError(reduction="mean_with_sample_weight")(y_true, dg.Tensor(y_pred), sample_weight=w)
    assert out.item() == pytest.approx((per_step * w[:, None]).sum() / (4 * 3.0))


def test_class_defaults_and_options_reach_the_function():
    y_pred = dg.Tensor(LOGITS)
    via_class = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(SOFT_T, y_pred)
    via_fn = losses.categorical_crossentropy(SOFT_T, y_pred, from_logits=True, label_smoothing=0.1).mean()
    assert via_class.item() == pytest.approx(via_fn.item(), rel=1e-12)
    assert losses.Huber(delta=0.5)(REAL_T, dg.Tensor(REAL_P)).item() == pytest.approx(
        losses.huber(REAL_T, dg.Tensor(REAL_P), delta=0.5).data.mean())
    assert losses.BinaryCrossentropy().get_config() == {
        "name": "binary_crossentropy", "reduction": "sum_over_batch_size", "from_logits": False,
        "label_smoothing": 0.0, "axis": -1}
    assert losses.SparseCategoricalCrossentropy().name == "sparse_categorical_crossentropy"
    with pytest.raises(TypeError, match="unexpected keyword"):
        losses.MeanSquaredError(delta=1.0)
    with pytest.raises(ValueError, match="Invalid reduction"):
        losses.MeanSquaredError(reduction="average")


def test_targets_as_lists_and_rank_rules():
    out = losses.MeanAbsoluteError()([[1.0], [2.0]], dg.Tensor(np.array([0.5, 3.0])))
    assert out.item() == pytest.approx(0.75)
    out = losses.binary_crossentropy(np.array([1.0, 0.0]), dg.Tensor(np.array([[0.9], [0.2]])))
    np.testing.assert_allclose(out.data, -np.log([0.9, 0.8]), rtol=1e-12)


def test_shape_mismatch_names_the_loss_and_both_shapes():
    with pytest.raises(ValueError, match=r"mean_squared_error.*\(5, 3\).*\(5, 4\)"):
        losses.MeanSquaredError()(np.zeros((5, 3)), dg.Tensor(REAL_P))
    with pytest.raises(ValueError, match=r"categorical_crossentropy.*\(4, 4\).*\(5, 4\)"):
        losses.categorical_crossentropy(np.zeros((4, 4)), dg.Tensor(REAL_P))


def test_config_round_trip():
    for loss in (losses.Huber(delta=2.0, reduction="sum"), losses.BinaryCrossentropy(from_logits=True),
                 losses.SparseCategoricalCrossentropy(ignore_class=0, name="scce")):
        clone = losses.deserialize(losses.serialize(loss))
        assert type(clone) is type(loss) and clone.get_config() == loss.get_config()


@pytest.mark.parametrize("name,kind", [
    ("mse", "fn"), ("MSE", "fn"), ("mean_squared_error", "fn"), ("MeanSquaredError", "cls"), ("mae", "fn"),
    ("mape", "fn"), ("msle", "fn"), ("kld", "fn"), ("kl_divergence", "fn"), ("KLDivergence", "cls"),
    ("huber", "fn"), ("huber_loss", "fn"), ("Huber", "cls"), ("log_cosh", "fn"), ("logcosh", "fn"),
    ("poisson", "fn"), ("hinge", "fn"), ("squared_hinge", "fn"), ("categorical_hinge", "fn"),
    ("binary_crossentropy", "fn"), ("BinaryCrossentropy", "cls"), ("categorical_crossentropy", "fn"),
    ("CategoricalCrossentropy", "cls"), ("sparse_categorical_crossentropy", "fn"),
    ("SparseCategoricalCrossentropy", "cls"), ("cosine_similarity", "fn"), ("CosineSimilarity", "cls"),
])
def test_get_every_keras_name(name, kind):
    loss = losses.get(name)
    assert isinstance(loss, losses.Loss) if kind == "cls" else callable(loss) and not isinstance(loss, losses.Loss)
    y_true = np.array([0, 3, 1, 2, 3]) if "parse" in name else SOFT_T
    value = loss(y_true, dg.Tensor(PROB_P))
    assert np.all(np.isfinite(value.data)) and value.shape == (() if kind == "cls" else (N,))


def test_get_callables_and_unknown_names():
    assert losses.get(None) is None
    fn = losses.get("mse")
    assert losses.get(fn) is fn
    instance = losses.Huber()
    assert losses.get(instance) is instance
    with pytest.raises(ValueError, match="Unknown loss 'msee'"):
        losses.get("msee")


def test_the_losses_package_keeps_every_public_name():
    import importlib

    import deepgrad.losses as package
    names = ["Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
             "MeanSquaredLogarithmicError", "Huber", "LogCosh", "CosineSimilarity", "BinaryCrossentropy",
             "BinaryFocalCrossentropy", "CategoricalCrossentropy", "CategoricalFocalCrossentropy",
             "SparseCategoricalCrossentropy", "KLDivergence", "Poisson", "Hinge", "SquaredHinge", "CategoricalHinge",
             "mean_squared_error", "mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "kld", "KLD",
             "kullback_leibler_divergence", "bce", "BCE", "logcosh", "log_cosh", "huber", "cosine_similarity",
             "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
             "categorical_focal_crossentropy", "sparse_categorical_crossentropy", "kl_divergence", "poisson",
             "hinge", "squared_hinge", "categorical_hinge", "reduce_weighted_values", "standardize_reduction",
             "squeeze_or_expand_to_same_rank", "REDUCTIONS", "get", "serialize", "deserialize"]
    namespace = {}
    exec("from deepgrad.losses import " + ", ".join(names), namespace)
    for name in names:
        assert namespace[name] is getattr(package, name), name
    # each formula lives in one submodule and is the same object under the package name
    for module, name in [("regression", "mean_squared_error"), ("probabilistic", "categorical_crossentropy"),
                         ("hinge", "squared_hinge"), ("base", "Loss"), ("reduction", "reduce_weighted_values")]:
        assert getattr(importlib.import_module(f"deepgrad.losses.{module}"), name) is getattr(package, name)
    assert losses.MeanSquaredError.__module__ == "deepgrad.losses"
