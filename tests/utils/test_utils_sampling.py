"""train_test_split, random over/under-sampling and class weights: sizes, proportions, formulas."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepgrad as dg
from deepgrad.utils import (compute_class_weight, random_oversample, random_undersample, to_categorical,
                            train_test_split)


def imbalanced(counts=(50, 30, 20)):
    y = np.repeat(np.arange(len(counts)), counts)
    x = np.stack([np.arange(len(y)), y], axis=1).astype(np.float32)  # column 1 repeats the label
    return x, y


def test_split_sizes_and_pairing():
    x, y = imbalanced()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=0)
    assert len(x_test) == 25 and len(x_train) == 75
    np.testing.assert_array_equal(x_train[:, 1], y_train)
    np.testing.assert_array_equal(x_test[:, 1], y_test)
    ids = np.concatenate([x_train[:, 0], x_test[:, 0]])
    np.testing.assert_array_equal(np.sort(ids), np.arange(100))  # a partition, nothing lost or repeated
    x_train2, x_test2, *_ = train_test_split(x, y, test_size=0.25, seed=0)
    np.testing.assert_array_equal(x_test, x_test2)


def test_split_fraction_rounds_up_and_count_is_exact():
    x = np.arange(10)
    train, test = train_test_split(x, test_size=0.33, seed=1)
    assert len(test) == math.ceil(0.33 * 10) == 4 and len(train) == 6
    train, test = train_test_split(x, test_size=3, seed=1)
    assert len(test) == 3


def test_split_follows_deepgrad_seed():
    x = np.arange(50)
    dg.utils.set_random_seed(5)
    a = train_test_split(x)[1]
    dg.utils.set_random_seed(5)
    b = train_test_split(x)[1]
    np.testing.assert_array_equal(a, b)


@given(st.lists(st.integers(4, 40), min_size=2, max_size=5), st.sampled_from([0.1, 0.2, 0.3, 0.5]))
def test_stratified_split_keeps_class_shares(counts, test_size):
    x, y = imbalanced(counts)
    _, _, y_train, y_test = train_test_split(x, y, test_size=test_size, stratify=True, seed=3)
    n_test = math.ceil(test_size * len(y))
    assert len(y_test) == n_test
    ideal = np.array(counts) * n_test / len(y)
    got = np.bincount(y_test, minlength=len(counts))
    assert np.all(np.abs(got - ideal) < 1)  # largest-remainder rounding of each class's share
    np.testing.assert_array_equal(got + np.bincount(y_train, minlength=len(counts)), counts)


def test_stratify_by_other_labels_and_one_hot():
    x, y = imbalanced((60, 40))
    _, _, _, y_test = train_test_split(x, to_categorical(y), test_size=0.2, stratify=True, seed=0)
    np.testing.assert_array_equal(y_test.sum(axis=0), [12, 8])
    groups = (np.arange(100) % 4 == 0).astype(int)  # 25 in group 1
    _, x_test = train_test_split(x, test_size=0.2, stratify=groups, seed=0)
    assert np.sum(x_test[:, 0] % 4 == 0) == 5


def test_split_rejects_bad_sizes():
    with pytest.raises(ValueError, match=r"test_size must be a fraction in \(0, 1\) or a count in \[1, 9\]"):
        train_test_split(np.arange(10), test_size=1.0)
    with pytest.raises(ValueError, match="same number of samples, got 10 and 9"):
        train_test_split(np.arange(10), np.arange(9))
    with pytest.raises(ValueError, match="stratify=True needs y"):
        train_test_split(np.arange(10), stratify=True)


def test_oversample_balances_up_and_keeps_every_sample():
    x, y = imbalanced()
    xs, ys = random_oversample(x, y, seed=0)
    np.testing.assert_array_equal(np.bincount(ys), [50, 50, 50])
    np.testing.assert_array_equal(xs[:, 1], ys)
    assert set(xs[:, 0].astype(int)) == set(range(100))
    # the extra rows are copies of real samples of the same class
    assert np.all(np.isin(xs[ys == 2, 0], np.flatnonzero(y == 2)))


def test_undersample_balances_down_without_repeats():
    x, y = imbalanced()
    xs, ys = random_undersample(x, y, seed=0)
    np.testing.assert_array_equal(np.bincount(ys), [20, 20, 20])
    np.testing.assert_array_equal(xs[:, 1], ys)
    assert len(np.unique(xs[:, 0])) == 60


def test_resampling_one_hot_labels():
    x, y = imbalanced((8, 2))
    xs, ys = random_oversample(x, to_categorical(y), seed=1)
    np.testing.assert_array_equal(ys.sum(axis=0), [8, 8])
    assert ys.shape == (16, 2)


def test_balanced_class_weights_formula():
    y = np.array([0] * 6 + [1] * 3 + [2] * 1)
    weights = compute_class_weight("balanced", classes=[0, 1, 2], y=y)
    assert weights == pytest.approx({0: 10 / (3 * 6), 1: 10 / (3 * 3), 2: 10 / (3 * 1)})
    assert all(type(k) is int for k in weights)
    # weighted counts are equal: each class carries N / n_classes of the loss
    assert [weights[c] * n for c, n in enumerate((6, 3, 1))] == pytest.approx([10 / 3] * 3)


def test_class_weight_other_modes_and_errors():
    y = np.array([[0], [1], [1]])
    assert compute_class_weight(None, y=y) == {0: 1.0, 1: 1.0}
    assert compute_class_weight({1: 2.5}, classes=[0, 1], y=y) == {0: 1.0, 1: 2.5}
    with pytest.raises(ValueError, match=r"classes \[2\] have no samples"):
        compute_class_weight("balanced", classes=[0, 1, 2], y=y)
    with pytest.raises(ValueError, match=r"labels \[1\] not in classes"):
        compute_class_weight("balanced", classes=[0], y=y)


def test_random_state_is_scikit_learns_name_for_seed():
    from deepgrad.utils import train_test_split

    x, y = np.arange(40).reshape(20, 2), np.arange(20) % 2
    a = train_test_split(x, y, test_size=0.25, random_state=42)
    b = train_test_split(x, y, test_size=0.25, seed=42)
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)
    with pytest.raises(ValueError, match="not both"):
        train_test_split(x, y, seed=1, random_state=2)
