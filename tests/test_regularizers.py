"""Weight penalties (values and gradients by formula) and the weight constraints the
optimiser applies after each step."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import constraints, regularizers
from oracle import check_gradients

W = np.array([[0.5, -1.5, 2.0], [-0.25, 0.75, -3.0]])


def value_and_grad(reg, w=W):
    t = dg.Tensor(w.copy(), requires_grad=True)
    out = reg(t)
    assert out.shape == ()
    out.backward()
    return float(out.data), t.grad


def test_l1():
    value, grad = value_and_grad(regularizers.L1(0.1))
    assert value == pytest.approx(0.1 * np.sum(np.abs(W)))
    np.testing.assert_allclose(grad, 0.1 * np.sign(W))


def test_l2_has_no_one_half():
    value, grad = value_and_grad(regularizers.L2(0.1))
    assert value == pytest.approx(0.1 * np.sum(W ** 2))
    np.testing.assert_allclose(grad, 0.2 * W)


def test_l1_l2_and_defaults():
    value, grad = value_and_grad(regularizers.L1L2(l1=0.01, l2=0.02))
    assert value == pytest.approx(0.01 * np.sum(np.abs(W)) + 0.02 * np.sum(W ** 2))
    np.testing.assert_allclose(grad, 0.01 * np.sign(W) + 0.04 * W)
    assert regularizers.get("l1").get_config() == {"l1": 0.01}
    assert regularizers.get("l2").get_config() == {"l2": 0.01}
    assert regularizers.get("l1_l2").get_config() == {"l1": 0.0, "l2": 0.0}
    value, grad = value_and_grad(regularizers.L1L2())
    assert value == 0.0 and np.all(grad == 0)


def test_orthogonal_regularizer_formula():
    w = np.random.default_rng(0).standard_normal((4, 3))
    for mode, m in (("rows", w), ("columns", w.T)):
        unit = m / np.linalg.norm(m, axis=1, keepdims=True)
        n = m.shape[0]
        cosines = np.abs(unit @ unit.T)[~np.eye(n, dtype=bool)]
        expected = 0.1 * 0.5 * cosines.sum() / (n * (n - 1) / 2)  # Keras: mean |cos| over pairs
        value, _ = value_and_grad(regularizers.OrthogonalRegularizer(0.1, mode=mode), w)
        assert value == pytest.approx(expected)
        check_gradients(lambda t: regularizers.OrthogonalRegularizer(0.1, mode=mode)(t), [w])
    with pytest.raises(ValueError, match="2-D"):
        regularizers.OrthogonalRegularizer()(dg.Tensor(np.ones(3)))


def test_float32_penalty_stays_float32():
    t = dg.Tensor(W.astype(np.float32), requires_grad=True)
    assert regularizers.L1L2(0.1, 0.1)(t).dtype == np.float32


def test_get_and_config_round_trip():
    assert regularizers.get(None) is None
    reg = regularizers.L1L2(l1=0.3, l2=0.2)
    assert regularizers.get(reg) is reg
    clone = regularizers.deserialize(regularizers.serialize(reg))
    assert type(clone) is regularizers.L1L2 and clone.get_config() == {"l1": 0.3, "l2": 0.2}
    assert isinstance(regularizers.get({"class_name": "L2", "config": {"l2": 0.5}}), regularizers.L2)
    with pytest.raises(ValueError, match="Unknown regularizer 'l3'"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="non-negative"):
        regularizers.L2(-1.0)


# ----------------------------------------------------------------- constraints
def test_max_norm_rescales_only_long_columns():
    w = np.array([[3.0, 0.3], [4.0, 0.4]])  # column norms 5 and 0.5
    out = constraints.MaxNorm(max_value=2.0)(w)
    np.testing.assert_allclose(out[:, 0], [1.2, 1.6], rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], [0.3, 0.4], rtol=1e-6)
    out = constraints.MaxNorm(max_value=1.0, axis=1)(w.T)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), [1.0, 0.5], rtol=1e-6)


def test_non_neg_unit_norm_min_max_norm():
    np.testing.assert_array_equal(constraints.NonNeg()(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 2.0])
    w = np.array([[3.0, 0.1], [4.0, 0.0]])
    np.testing.assert_allclose(np.linalg.norm(constraints.UnitNorm()(w), axis=0), [1.0, 1.0], rtol=1e-5)
    out = constraints.MinMaxNorm(min_value=1.0, max_value=2.0)(np.array([[3.0, 0.3], [4.0, 0.4]]))
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), [2.0, 1.0], rtol=1e-6)
    # rate 0.5: halfway between the current norm and the clipped one
    out = constraints.MinMaxNorm(min_value=1.0, max_value=2.0, rate=0.5)(np.array([[3.0], [4.0]]))
    np.testing.assert_allclose(np.linalg.norm(out), 3.5, rtol=1e-6)


def test_constraints_keep_dtype_and_accept_tensors():
    w = dg.Variable(np.array([[3.0], [4.0]], np.float32))
    for c in (constraints.MaxNorm(1.0), constraints.NonNeg(), constraints.UnitNorm(), constraints.MinMaxNorm()):
        assert c(w).dtype == np.float32


def test_constraint_lookup():
    assert constraints.get(None) is None
    assert isinstance(constraints.get("max_norm"), constraints.MaxNorm)
    assert isinstance(constraints.get("NonNeg"), constraints.NonNeg)
    c = constraints.get({"class_name": "MinMaxNorm", "config": {"min_value": 0.5, "max_value": 3.0}})
    assert c.get_config() == {"min_value": 0.5, "max_value": 3.0, "rate": 1.0, "axis": 0}
    assert constraints.deserialize(constraints.serialize(c)).get_config() == c.get_config()
    with pytest.raises(ValueError, match="Unknown constraint"):
        constraints.get("positive")
