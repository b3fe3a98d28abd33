"""Gradients of the segmentation, metric-learning, noise-robust and CTC losses: against Keras
(its torch backend, differentiated by torch), against ``torch.nn.functional.ctc_loss``, and
against float64 central differences."""
import keras
import numpy as np
import pytest
import torch

import deepgrad as dg
from oracle import check_gradients

N = 6


def _case(kind, seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    if kind == "mask":
        return rng.integers(0, 2, (N, 3, 3, 1)).astype(dtype), rng.uniform(0.05, 0.95, (N, 3, 3, 1)).astype(dtype)
    if kind == "embedding":
        e = rng.standard_normal((N, 4))
        return rng.integers(0, 3, N).astype("int32"), (e / np.linalg.norm(e, axis=1, keepdims=True)).astype(dtype)
    if kind == "sparse":
        p = rng.uniform(0.05, 1, (N, 4))
        return rng.integers(0, 4, N).astype("int32"), (p / p.sum(-1, keepdims=True)).astype(dtype)
    labels = rng.integers(1, 4, (N, 3))
    labels[np.arange(N) % 3 == 0, 2] = 0
    return labels.astype("int32"), rng.standard_normal((N, 5, 4)).astype(dtype)


CASES = [
    ("Dice", {}, "mask"),
    ("Dice", dict(axis=(1, 2, 3)), "mask"),
    ("Tversky", dict(alpha=0.3, beta=0.7), "mask"),
    ("Tversky", dict(axis=(1, 2)), "mask"),
    ("Circle", {}, "embedding"),
    ("Circle", dict(gamma=8.0, margin=0.3, remove_diagonal=False), "embedding"),
    ("CategoricalGeneralizedCrossEntropy", dict(q=0.3), "sparse"),
    ("CTC", {}, "ctc"),
]


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum"])
@pytest.mark.parametrize("name, kwargs, kind", CASES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)])
def test_gradient_against_keras(name, kwargs, kind, reduction):
    y_true, y_pred = _case(kind)
    weight = np.random.default_rng(3).uniform(0, 2, N).astype("float32")
    ours = dg.Tensor(y_pred, requires_grad=True)
    loss = getattr(dg.losses, name)(reduction=reduction, **kwargs)(y_true, ours, sample_weight=weight)
    loss.backward()
    theirs = torch.tensor(y_pred, requires_grad=True)
    k_loss = getattr(keras.losses, name)(reduction=reduction, **kwargs)(torch.tensor(y_true), theirs,
                                                                        sample_weight=torch.tensor(weight))
    k_loss.backward()
    np.testing.assert_allclose(loss.data, k_loss.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-4, atol=1e-6)
    assert np.abs(ours.grad).max() > 0


FUNCTIONS = [
    (dg.losses.dice, {}, "mask"),
    (dg.losses.tversky, dict(alpha=0.2, beta=0.8, axis=(1, 2, 3)), "mask"),
    (dg.losses.circle, dict(gamma=4.0, margin=0.25), "embedding"),
    (dg.losses.categorical_generalized_cross_entropy, dict(q=0.6), "sparse"),
    (dg.losses.ctc, {}, "ctc"),
]


@pytest.mark.parametrize("fn, kwargs, kind", FUNCTIONS, ids=[f[0].__name__ for f in FUNCTIONS])
def test_central_differences_float64(fn, kwargs, kind):
    y_true, y_pred = _case(kind, seed=1, dtype="float64")
    check_gradients(lambda p: fn(y_true, p, **kwargs), [y_pred], rtol=1e-5, atol=1e-7)


def test_ctc_against_torch():
    """Per-sample losses and their gradients match torch's CTC (blank 0, full-length inputs)."""
    labels, logits = _case("ctc", seed=2, dtype="float64")
    ours = dg.Tensor(logits, requires_grad=True)
    losses = dg.losses.ctc(labels, ours)
    upstream = np.random.default_rng(4).standard_normal(N)
    losses.backward(upstream)
    theirs = torch.tensor(logits, requires_grad=True)
    lengths = torch.tensor((labels != 0).sum(-1))
    t_losses = torch.nn.functional.ctc_loss(torch.log_softmax(theirs, -1).transpose(0, 1), torch.tensor(labels),
                                            torch.full((N,), logits.shape[1]), lengths, blank=0, reduction="none")
    t_losses.backward(torch.tensor(upstream))
    np.testing.assert_allclose(losses.data, t_losses.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_circle_masks_queries_without_pairs():
    """Unique labels leave no positive pair: every loss is zero and masked, so the mean is 0."""
    _, emb = _case("embedding")
    labels = np.arange(N)
    ours = dg.Tensor(emb, requires_grad=True)
    loss = dg.losses.Circle()(labels, ours)
    loss.backward()
    k = keras.losses.Circle()(labels, emb)
    np.testing.assert_allclose(loss.data, keras.ops.convert_to_numpy(k))
    assert float(loss.data) == 0.0 and np.all(ours.grad == 0)


def test_generalized_cross_entropy_limits_and_checks():
    labels, probs = _case("sparse")
    p_true = probs[np.arange(N), labels]
    # q -> 1 is 1 - p (MAE on the true class); small q approaches -log p
    np.testing.assert_allclose(dg.losses.categorical_generalized_cross_entropy(labels, probs, q=1.0).data, 1 - p_true,
                               rtol=1e-6)
    np.testing.assert_allclose(dg.losses.categorical_generalized_cross_entropy(labels, probs, q=1e-4).data,
                               -np.log(p_true), rtol=1e-3)
    np.testing.assert_allclose(dg.losses.categorical_generalized_cross_entropy(labels[:, None], probs, q=0.5).data,
                               dg.losses.categorical_generalized_cross_entropy(labels, probs, q=0.5).data)
    with pytest.raises(ValueError, match="q must be in"):
        dg.losses.CategoricalGeneralizedCrossEntropy(q=1.5)


def test_loss_configs_round_trip():
    for name, kwargs, _ in CASES:
        loss = getattr(dg.losses, name)(reduction="sum", **kwargs)
        config = dg.losses.serialize(loss)
        k_config = keras.losses.serialize(getattr(keras.losses, name)(reduction="sum", **kwargs))["config"]
        assert {k: v for k, v in config["config"].items() if k != "dtype"} == \
            {k: (tuple(v) if isinstance(v, list) else v) for k, v in k_config.items() if k != "dtype"}
        again = dg.losses.deserialize(config)
        assert type(again) is type(loss) and again.get_config() == loss.get_config()
