"""Learning-rate schedules against their formulas written out."""
import math

import numpy as np
import pytest

from deepgrad.optimizers import schedules

STEPS = [0, 1, 3, 7, 10, 15, 25]


def test_exponential_decay():
    s = schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5)
    assert [s(t) for t in STEPS] == pytest.approx([0.1 * 0.5 ** (t / 4) for t in STEPS])
    s = schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5, staircase=True)
    assert [s(t) for t in STEPS] == pytest.approx([0.1 * 0.5 ** (t // 4) for t in STEPS])


def test_inverse_time_decay():
    s = schedules.InverseTimeDecay(0.1, decay_steps=5, decay_rate=0.5)
    assert [s(t) for t in STEPS] == pytest.approx([0.1 / (1 + 0.5 * t / 5) for t in STEPS])
    s = schedules.InverseTimeDecay(0.1, decay_steps=5, decay_rate=0.5, staircase=True)
    assert [s(t) for t in STEPS] == pytest.approx([0.1 / (1 + 0.5 * (t // 5)) for t in STEPS])


def test_piecewise_constant_decay():
    s = schedules.PiecewiseConstantDecay([3, 10], [1.0, 0.5, 0.1])
    assert [s(t) for t in [0, 3, 4, 10, 11, 100]] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    with pytest.raises(ValueError, match="one more entry"):
        schedules.PiecewiseConstantDecay([3], [1.0])


def test_polynomial_decay():
    s = schedules.PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.01, power=2.0)
    expected = [(0.1 - 0.01) * (1 - min(t, 10) / 10) ** 2 + 0.01 for t in STEPS]
    assert [s(t) for t in STEPS] == pytest.approx(expected)
    s = schedules.PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.01, cycle=True)
    expected = [(0.1 - 0.01) * (1 - t / (10 * max(1, math.ceil(t / 10)))) + 0.01 for t in STEPS]
    assert [s(t) for t in STEPS] == pytest.approx(expected)


def test_cosine_decay_and_warmup():
    s = schedules.CosineDecay(0.1, decay_steps=10, alpha=0.2)
    expected = [0.1 * (0.8 * 0.5 * (1 + math.cos(math.pi * min(t, 10) / 10)) + 0.2) for t in STEPS]
    assert [s(t) for t in STEPS] == pytest.approx(expected)
    s = schedules.CosineDecay(0.0, decay_steps=10, warmup_target=0.1, warmup_steps=5)
    assert [s(t) for t in [0, 1, 4]] == pytest.approx([0.0, 0.02, 0.08])
    after = [5, 10, 15, 30]
    assert [s(t) for t in after] == pytest.approx(
        [0.1 * 0.5 * (1 + math.cos(math.pi * min(t - 5, 10) / 10)) for t in after])


def test_cosine_decay_restarts():
    s = schedules.CosineDecayRestarts(1.0, first_decay_steps=4, t_mul=2.0, m_mul=0.5)
    # periods: [0, 4) from 1.0, [4, 12) from 0.5, [12, 28) from 0.25
    assert s(0) == pytest.approx(1.0)
    assert s(2) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert s(4) == pytest.approx(0.5)
    assert s(8) == pytest.approx(0.5 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert s(12) == pytest.approx(0.25)


@pytest.mark.parametrize("schedule", [
    schedules.ExponentialDecay(0.1, 3, 0.9, staircase=True),
    schedules.PiecewiseConstantDecay([2], [0.1, 0.01]),
    schedules.PolynomialDecay(0.1, 7, power=0.5),
    schedules.InverseTimeDecay(0.1, 3, 0.2),
    schedules.CosineDecay(0.1, 9, warmup_target=0.2, warmup_steps=3),
    schedules.CosineDecayRestarts(0.1, 5),
])
def test_config_round_trip(schedule):
    clone = schedules.deserialize(schedules.serialize(schedule))
    assert type(clone) is type(schedule) and clone.get_config() == schedule.get_config()
    np.testing.assert_allclose([clone(t) for t in STEPS], [schedule(t) for t in STEPS])


def test_bad_arguments():
    with pytest.raises(ValueError, match="decay_steps must be positive"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="Unknown learning-rate schedule"):
        schedules.deserialize({"class_name": "Nope", "config": {}})
