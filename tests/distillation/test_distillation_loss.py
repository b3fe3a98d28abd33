"""keras.distillation's losses: values and gradients against Keras's on the same arrays, their
checks, errors and configs."""
import json

import keras
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad.distillation import DistillationLoss, FeatureDistillation, LogitsDistillation

torch.set_num_threads(1)


def _arrays(seed, shape=(6, 5), scale=3.0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape) * scale).astype(np.float32) for _ in range(2)]


def _ours_and_grad(loss, teacher, student):
    """deepgrad's value and its gradient with respect to the student's outputs."""
    s = dg.tree.map_structure(lambda a: dg.Tensor(a, requires_grad=True), student)
    t = dg.tree.map_structure(dg.Tensor, teacher)
    value = loss.compute_loss(t, s)
    value.backward()
    return float(value.data), [x.grad for x in dg.tree.flatten(s)]


def _keras_and_grad(loss, teacher, student):
    s = keras.tree.map_structure(lambda a: torch.tensor(a, requires_grad=True), student)
    t = keras.tree.map_structure(torch.tensor, teacher)
    value = loss.compute_loss(t, s)
    value.backward()
    return float(value.detach()), [None if x.grad is None else x.grad.numpy() for x in keras.tree.flatten(s)]


LOGITS_CASES = [
    ("kl_divergence", 3.0),        # the default: the function, on the scaled logits as they are
    ("kl_divergence", 1.0),
    ("KLDivergence", 4.0),         # an object: softmax first, then times T**2
    ("categorical_crossentropy", 2.0),
    ("mse", 5.0),
    ("mae", 0.5),
    ("cosine_similarity", 3.0),
]


def _loss_object(framework, name):
    if name == "KLDivergence":
        return framework.losses.KLDivergence()
    if name == "CategoricalCrossentropy":
        return framework.losses.CategoricalCrossentropy(from_logits=True)
    return name


@pytest.mark.parametrize("loss,temperature", LOGITS_CASES, ids=[f"{a}-T{b}" for a, b in LOGITS_CASES])
def test_logits_distillation_value_and_gradient_match_keras(loss, temperature):
    teacher, student = _arrays(sum(map(ord, loss)) + int(temperature * 10))
    ours = LogitsDistillation(temperature=temperature, loss=_loss_object(dg, loss))
    theirs = keras.distillation.LogitsDistillation(temperature=temperature, loss=_loss_object(keras, loss))
    value, grads = _ours_and_grad(ours, teacher, student)
    expected, expected_grads = _keras_and_grad(theirs, teacher, student)
    assert abs(value - expected) <= 1e-6 * max(1.0, abs(expected)), (value, expected)
    np.testing.assert_allclose(grads[0], expected_grads[0], rtol=1e-5, atol=1e-7)


def test_logits_distillation_kl_object_is_temperature_squared_kl_of_softmaxes():
    teacher, student = _arrays(7)
    t = 4.0
    p = np.exp(teacher / t) / np.exp(teacher / t).sum(-1, keepdims=True)
    q = np.exp(student / t) / np.exp(student / t).sum(-1, keepdims=True)
    kl = np.mean(np.sum(p * np.log(p / q), axis=-1)) * t ** 2
    value = LogitsDistillation(t, dg.losses.KLDivergence()).compute_loss(dg.Tensor(teacher), dg.Tensor(student))
    assert abs(float(value.data) - kl) < 1e-5 * max(1.0, kl)


@pytest.mark.parametrize("loss", ["mse", "mae", "cosine_similarity", "huber", "log_cosh"])
def test_feature_distillation_value_and_gradient_match_keras(loss):
    teacher, student = _arrays(11, shape=(4, 3, 7))
    value, grads = _ours_and_grad(FeatureDistillation(loss=loss), teacher, student)
    expected, expected_grads = _keras_and_grad(keras.distillation.FeatureDistillation(loss=loss), teacher, student)
    assert abs(value - expected) <= 1e-6 * max(1.0, abs(expected)), (value, expected)
    np.testing.assert_allclose(grads[0], expected_grads[0], rtol=1e-5, atol=1e-7)


def test_structured_outputs_sum_their_losses_and_skip_none():
    a, b = _arrays(3)
    c, d = _arrays(4, shape=(6, 2))
    teacher, student = [a, c, a], [b, d, b]
    for ours, theirs in [
        (LogitsDistillation(2.0, ["kl_divergence", None, "mse"]),
         keras.distillation.LogitsDistillation(2.0, ["kl_divergence", None, "mse"])),
        (FeatureDistillation(["mse", "cosine_similarity", None]),
         keras.distillation.FeatureDistillation(["mse", "cosine_similarity", None])),
    ]:
        value, grads = _ours_and_grad(ours, teacher, student)
        expected, expected_grads = _keras_and_grad(theirs, teacher, student)
        assert abs(value - expected) <= 1e-6 * max(1.0, abs(expected))
        for g, e in zip(grads, expected_grads):
            if e is None or not np.any(e):
                assert g is None or not np.any(g)
            else:
                np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-7)
    # a dict of outputs, one loss per key
    ours = LogitsDistillation(3.0, {"x": "mse", "y": "kl_divergence"})
    theirs = keras.distillation.LogitsDistillation(3.0, {"x": "mse", "y": "kl_divergence"})
    t, s = {"x": a, "y": c}, {"x": b, "y": d}
    assert abs(_ours_and_grad(ours, t, s)[0] - _keras_and_grad(theirs, t, s)[0]) < 1e-6 * 10


def test_validate_outputs_refuses_mismatched_structures():
    a, b = _arrays(0)
    LogitsDistillation(3.0).validate_outputs(dg.Tensor(a), dg.Tensor(b))
    with pytest.raises(ValueError):
        LogitsDistillation(3.0).validate_outputs(dg.Tensor(a), {"output": dg.Tensor(a)})
    FeatureDistillation("mse").validate_outputs(dg.Tensor(a), dg.Tensor(b))
    with pytest.raises(ValueError):
        FeatureDistillation("mse").validate_outputs(dg.Tensor(a), [dg.Tensor(a), dg.Tensor(a)])
    with pytest.raises(ValueError, match="Loss structure mismatch"):
        FeatureDistillation(["mse", "mae"]).validate_outputs(dg.Tensor(a), dg.Tensor(b))


@pytest.mark.parametrize("make", [
    lambda m: m.LogitsDistillation(temperature=0),
    lambda m: m.LogitsDistillation(temperature=-1.0),
    lambda m: m.LogitsDistillation(temperature="3"),
    lambda m: m.LogitsDistillation(temperature=np.float32(3.0)),
    lambda m: m.LogitsDistillation(loss=None),
    lambda m: m.LogitsDistillation(loss=[None, None]),
    lambda m: m.LogitsDistillation(loss="no_such_loss"),
    lambda m: m.FeatureDistillation(loss=None),
    lambda m: m.FeatureDistillation(loss={"a": None}),
], ids=["T0", "Tneg", "Tstr", "Tnumpy", "none", "all-none", "unknown", "feature-none", "feature-dict-none"])
def test_bad_arguments_raise_where_keras_does(make):
    with pytest.raises(ValueError):
        make(keras.distillation)
    with pytest.raises(ValueError):
        make(dg.distillation)


def test_error_messages_name_the_argument():
    with pytest.raises(ValueError, match="temperature must be positive"):
        LogitsDistillation(temperature=0)
    with pytest.raises(ValueError, match="temperature must be a number"):
        LogitsDistillation(temperature="3")
    with pytest.raises(ValueError, match="at least one non-`None`"):
        FeatureDistillation(loss=None)


def test_base_class_needs_compute_loss():
    with pytest.raises(NotImplementedError, match="compute_loss"):
        DistillationLoss().compute_loss(1, 2)
    assert DistillationLoss().validate_model_compatibility(None, None) is None


def test_names_resolve_as_kerass_do():
    # a name resolves to the function, an object stays an object, None stays None
    assert LogitsDistillation().loss is dg.losses.kl_divergence
    assert FeatureDistillation().loss is dg.losses.mean_squared_error
    assert FeatureDistillation(loss=[None, "mae"]).loss == [None, dg.losses.mean_absolute_error]
    obj = dg.losses.Huber()
    assert FeatureDistillation(loss=obj).loss is obj


def test_configs_round_trip_through_json():
    for loss in [LogitsDistillation(4.0, "categorical_crossentropy"), LogitsDistillation(2.0, dg.losses.KLDivergence()),
                 FeatureDistillation(["mse", None], "t1", "s1"), FeatureDistillation("cosine_similarity")]:
        config = json.loads(json.dumps(loss.get_config()))
        again = type(loss).from_config(config)
        assert again.get_config() == loss.get_config()
        a, b = _arrays(5)
        if isinstance(loss.loss, list):
            a, b = [a, a], [b, b]
        t, s = dg.tree.map_structure(dg.Tensor, a), dg.tree.map_structure(dg.Tensor, b)
        assert float(again.compute_loss(t, s).data) == float(loss.compute_loss(t, s).data)
    config = LogitsDistillation(2.5).get_config()
    assert config == {"temperature": 2.5, "loss": "kl_divergence"}
    assert FeatureDistillation("mse", "a", "b").get_config() == {
        "loss": "mean_squared_error", "teacher_layer_name": "a", "student_layer_name": "b"}
