"""keras.random: distributions (moments within sampling error), shapes, dtypes, seeds."""
import inspect
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import random as dr  # noqa: E402

N = 200_000
NAMES = ["SeedGenerator", "beta", "binomial", "categorical", "dropout", "gamma", "normal", "randint",
         "shuffle", "truncated_normal", "uniform"]


def check_moments(sample, mean, var, fourth=None):
    """Sample mean and variance within 6 standard errors of the true values.

    SE(mean) = sqrt(var / n); SE(variance) = sqrt((mu4 - var^2) / n), with mu4 the fourth
    central moment (3 var^2 for a normal when not given).
    """
    s = np.asarray(sample.data if isinstance(sample, dg.Tensor) else sample, dtype=np.float64).ravel()
    n = s.size
    mu4 = 3 * var ** 2 if fourth is None else fourth
    assert abs(s.mean() - mean) < 6 * np.sqrt(var / n), (s.mean(), mean)
    assert abs(s.var() - var) < 6 * np.sqrt((mu4 - var ** 2) / n) + 1e-12, (s.var(), var)


def test_names_and_signatures_match_keras():
    assert dg.random is dr
    for name in NAMES:
        assert inspect.signature(getattr(dr, name)) == inspect.signature(getattr(keras.random, name)), name


@pytest.mark.parametrize("name,args", [
    ("normal", {}), ("uniform", {}), ("truncated_normal", {}), ("randint", {"minval": 0, "maxval": 5}),
    ("gamma", {"alpha": 2.0}), ("beta", {"alpha": 2.0, "beta": 3.0}),
    ("binomial", {"counts": 5, "probabilities": 0.5}),
])
@pytest.mark.parametrize("dtype", [None, "float16", "float64", "int64"])
def test_shapes_and_dtypes_as_keras(name, args, dtype):
    if (dtype == "int64") != (name == "randint") and dtype is not None and name != "binomial":
        with pytest.raises(ValueError, match=name):
            getattr(dr, name)((2, 3), **args, dtype=dtype)
        return
    kwargs = dict(args) if dtype is None else dict(args, dtype=dtype)
    ours = getattr(dr, name)((2, 3), **kwargs, seed=1)
    ref = getattr(keras.random, name)((2, 3), **kwargs, seed=1)
    assert ours.shape == tuple(ref.shape) == (2, 3)
    assert ours.dtype == keras.ops.convert_to_numpy(ref).dtype
    assert getattr(dr, name)((0, 4), **args, seed=1).shape == (0, 4)


def test_normal_moments():
    check_moments(dr.normal((N,), seed=1, dtype="float64"), 0.0, 1.0)
    check_moments(dr.normal((400, 500), mean=3.0, stddev=0.5, seed=2), 3.0, 0.25)


def test_uniform_moments_and_bounds():
    x = dr.uniform((N,), minval=-2.0, maxval=3.0, seed=3, dtype="float64")
    assert x.data.min() >= -2.0 and x.data.max() < 3.0
    check_moments(x, 0.5, 25 / 12, fourth=5 ** 4 / 80)  # mu4 of U(a, b) = (b - a)^4 / 80


def test_truncated_normal_moments_and_bounds():
    x = dr.truncated_normal((N,), mean=1.0, stddev=2.0, seed=4, dtype="float64")
    assert np.all(np.abs(x.data - 1.0) <= 4.0)
    phi2 = np.exp(-2.0) / np.sqrt(2 * np.pi)  # standard normal density at 2
    z = 0.954499736103642  # P(|Z| < 2)
    var = 1 - 4 * phi2 / z  # variance of N(0, 1) truncated to [-2, 2]
    mu4 = 3 - (16 + 12) * phi2 / z  # E[Z^4] truncated: 3 - (2 a^3 + 6 a) phi(a) / Z with a = 2
    check_moments((x.data - 1.0) / 2.0, 0.0, var, fourth=mu4)


def test_randint():
    x = dr.randint((N,), 3, 9, seed=5)
    assert x.dtype == np.int32 and x.data.min() == 3 and x.data.max() == 8
    counts = np.bincount(x.data - 3, minlength=6) / N
    assert np.all(np.abs(counts - 1 / 6) < 6 * np.sqrt(1 / 6 * 5 / 6 / N))
    assert dr.randint((4,), 0, 10, dtype="int64").dtype == np.int64
    with pytest.raises(ValueError, match="randint"):
        dr.randint((4,), 5, 5)
    with pytest.raises(ValueError, match="randint"):
        dr.randint((4,), 0, 5, dtype="float32")


def test_categorical_frequencies():
    logits = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]]) + 1e-30)
    draws = dr.categorical(logits, 50_000, seed=6)
    assert draws.shape == (2, 50_000) and draws.dtype == np.int32
    for row, p in zip(draws.data, np.exp(logits)):
        freq = np.bincount(row, minlength=3) / row.size
        assert np.all(np.abs(freq - p) < 6 * np.sqrt(p * (1 - p) / row.size) + 1e-12), (freq, p)
    ref = keras.random.categorical(logits.astype(np.float32), 4, seed=1)
    assert tuple(ref.shape) == dr.categorical(logits, 4, seed=1).shape
    assert dr.categorical(logits[0], 3, seed=1, dtype="int64").shape == (3,)
    with pytest.raises(ValueError, match="categorical"):
        dr.categorical(np.zeros((2, 2, 2)), 3)


def test_dropout_values_and_gradient():
    x = dg.Tensor(np.full((500, 400), 2.0), requires_grad=True)
    y = dr.dropout(x, 0.3, seed=7)
    kept = y.data != 0
    assert abs(kept.mean() - 0.7) < 6 * np.sqrt(0.21 / kept.size)
    np.testing.assert_allclose(y.data[kept], 2.0 / 0.7)
    y.backward(np.ones(y.shape))
    np.testing.assert_allclose(x.grad, kept / 0.7)  # d(x m / (1 - rate)) / dx = m / (1 - rate)
    shared = dr.dropout(np.ones((4, 5, 6), np.float32), 0.5, noise_shape=(4, 1, None), seed=8)
    assert shared.dtype == np.float32
    assert np.all(shared.data == shared.data[:, :1, :])  # one mask along the axis of size 1
    assert np.array_equal(dr.dropout(x, 0.0, seed=1).data, x.data)
    with pytest.raises(ValueError, match="dropout"):
        dr.dropout(x, 1.0)


def test_shuffle_is_a_permutation_with_gradient():
    x = np.arange(24.0).reshape(6, 4)
    y = dr.shuffle(x, seed=9)
    assert sorted(map(tuple, y.data)) == sorted(map(tuple, x))  # whole rows move
    assert not np.array_equal(y.data, x)
    z = dr.shuffle(x, axis=1, seed=9)
    np.testing.assert_array_equal(np.sort(z.data, axis=1), x)
    t = dg.Tensor(x, requires_grad=True)
    out = dr.shuffle(t, axis=-1, seed=3)
    w = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(w)
    # the gradient is the upstream put back where each entry came from
    order = np.argsort(out.data[0])
    np.testing.assert_allclose(t.grad, w[:, order])
    assert dr.shuffle(np.arange(5), seed=1).dtype == np.arange(5).dtype
    with pytest.raises(ValueError, match="shuffle"):
        dr.shuffle(x, axis=2)


def test_gamma_beta_binomial_moments():
    check_moments(dr.gamma((N,), 3.0, seed=10, dtype="float64"), 3.0, 3.0, fourth=3 * 3.0 * (3.0 + 2))
    a, b = 2.0, 5.0
    s = a + b
    var = a * b / (s * s * (s + 1))
    mu4 = 3 * a * b * (a * b * (s - 2) + 2 * s * s) / (s ** 4 * (s + 1) * (s + 2) * (s + 3))
    check_moments(dr.beta((N,), a, b, seed=11, dtype="float64"), a / s, var, fourth=mu4)
    n, p = 20, 0.3
    var = n * p * (1 - p)
    check_moments(dr.binomial((N,), n, p, seed=12), n * p, var, fourth=var * (1 + 3 * (n - 2) * p * (1 - p)))
    with pytest.raises(ValueError, match="gamma"):
        dr.gamma((3,), -1.0)
    with pytest.raises(ValueError, match="binomial"):
        dr.binomial((3,), 5, 1.5)


# ----------------------------------------------------------------- seeds
@pytest.mark.parametrize("fn", [lambda s: dr.normal((5,), seed=s), lambda s: dr.uniform((5,), seed=s),
                                lambda s: dr.randint((5,), 0, 1000, seed=s),
                                lambda s: dr.shuffle(np.arange(10.0), seed=s),
                                lambda s: dr.gamma((5,), 2.0, seed=s)])
def test_seed_kinds(fn):
    # an int seed: the same numbers every call; different ints: different numbers
    np.testing.assert_array_equal(fn(42).data, fn(42).data)
    assert not np.array_equal(fn(42).data, fn(43).data)
    # a SeedGenerator: new numbers each call, the same sequence from the same seed
    g1, g2 = dr.SeedGenerator(7), dr.SeedGenerator(7)
    a1, b1 = fn(g1).data, fn(g1).data
    a2, b2 = fn(g2).data, fn(g2).data
    assert not np.array_equal(a1, b1)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    # None: the global generator, repeatable through set_random_seed
    dg.utils.set_random_seed(123)
    first = [fn(None).data, fn(None).data]
    dg.utils.set_random_seed(123)
    again = [fn(None).data, fn(None).data]
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1])


def test_seed_generator_state_and_config():
    g = dr.SeedGenerator(seed=5, name="gen")
    assert g.state.data.tolist() == [5, 0] and not g.state.trainable
    assert g.next().data.tolist() == [5, 0] and g.state.data.tolist() == [5, 1]
    saved = g.state.data.copy()
    a = dr.normal((4,), seed=g).data
    b = dr.normal((4,), seed=g).data
    g.state.assign(saved)  # restoring the state repeats the draws that followed it
    np.testing.assert_array_equal(dr.normal((4,), seed=g).data, a)
    np.testing.assert_array_equal(dr.normal((4,), seed=g).data, b)
    assert g.get_config() == {"seed": 5, "name": "gen"}
    h = dr.SeedGenerator.from_config(g.get_config())
    h.next()
    np.testing.assert_array_equal(dr.normal((4,), seed=h).data, a)
    # Keras's unordered step
    k = keras.random.SeedGenerator(5)
    ours = dr.SeedGenerator(5)
    k.next(ordered=False)
    ours.next(ordered=False)
    assert ours.state.data.tolist() == keras.ops.convert_to_numpy(k.state.value).tolist()
    assert g in [g] and g.variables == [g.state]


def test_seed_generator_without_seed_follows_set_random_seed():
    dg.utils.set_random_seed(99)
    a = dr.normal((3,), seed=dr.SeedGenerator()).data
    dg.utils.set_random_seed(99)
    b = dr.normal((3,), seed=dr.SeedGenerator()).data
    np.testing.assert_array_equal(a, b)


def test_seed_errors():
    with pytest.raises(ValueError, match="seed"):
        dr.SeedGenerator(seed=1.5)
    with pytest.raises(ValueError, match="Unrecognized|unrecognized"):
        dr.SeedGenerator(seed=1, colour="red")
    with pytest.raises(ValueError, match="normal"):
        dr.normal((2,), seed="abc")
    with pytest.raises(ValueError, match="normal"):
        dr.normal((2, -1))


def test_torch_agrees_on_the_dropout_scale():
    # same mask given to both: the kept values are x / (1 - rate), as torch's dropout scales them
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    y = dr.dropout(x, 0.25, seed=3).data
    mask = y != 0
    np.testing.assert_allclose(y[mask], (torch.tensor(x)[torch.tensor(mask)] / 0.75).numpy(), rtol=1e-6)
