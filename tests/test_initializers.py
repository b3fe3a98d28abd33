"""Initializers: shapes, dtypes, statistics of large samples, fan rules, orthogonality,
seeding and lookup by Keras name."""
import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import initializers

LARGE = (400, 500)  # fan_in 400, fan_out 500, 200,000 samples


@pytest.mark.parametrize("shape,fans", [
    ((), (1, 1)), ((7,), (7, 7)), ((3, 5), (3, 5)),
    ((3, 3, 4, 8), (36, 72)),      # Conv2D kernel: receptive field 9 times the channels
    ((5, 2, 6), (10, 30)),         # Conv1D kernel
])
def test_compute_fans_like_keras(shape, fans):
    assert initializers.compute_fans(shape) == fans


def test_constants_and_identity():
    np.testing.assert_array_equal(initializers.get("zeros")((2, 3)), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(initializers.get("ones")((4,)), np.ones(4, np.float32))
    np.testing.assert_array_equal(initializers.Constant(2.5)((2, 2), dtype="float64"), np.full((2, 2), 2.5))
    np.testing.assert_array_equal(initializers.Identity(gain=3.0)((2, 3)), 3 * np.eye(2, 3, dtype=np.float32))
    with pytest.raises(ValueError, match="2-D"):
        initializers.Identity()((2, 2, 2))


ALL_NAMES = ["zeros", "ones", "constant", "random_normal", "random_uniform", "truncated_normal",
             "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
             "orthogonal", "identity", "variance_scaling", "uniform", "normal"]


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_name_gives_shape_and_dtype(name):
    init = initializers.get(name)
    out = init((6, 4))
    assert out.shape == (6, 4) and out.dtype == np.float32
    assert init((6, 4), dtype="float64").dtype == np.float64
    if name in ("zeros", "ones", "constant"):  # Keras's constant initializers fill any dtype
        assert init((6, 4), dtype="int32").dtype == np.int32
        return
    with pytest.raises(ValueError, match="floating-point"):
        init((6, 4), dtype="int32")


def test_random_normal_uniform_truncated_statistics():
    x = initializers.RandomNormal(mean=1.0, stddev=0.5)(LARGE, "float64")
    assert abs(x.mean() - 1.0) < 0.005 and abs(x.std() - 0.5) < 0.005
    x = initializers.RandomUniform(minval=-0.2, maxval=0.6)(LARGE, "float64")
    assert x.min() >= -0.2 and x.max() < 0.6
    assert abs(x.mean() - 0.2) < 0.003 and abs(x.std() - 0.8 / math.sqrt(12)) < 0.003
    x = initializers.TruncatedNormal(mean=0.0, stddev=1.0)(LARGE, "float64")
    assert np.abs(x).max() <= 2.0
    assert abs(x.std() - 0.87962566103423978) < 0.005  # a unit normal cut at 2 sigma


@pytest.mark.parametrize("name,expected_std", [
    ("glorot_uniform", math.sqrt(2 / 900)), ("glorot_normal", math.sqrt(2 / 900)),
    ("he_uniform", math.sqrt(2 / 400)), ("he_normal", math.sqrt(2 / 400)),
    ("lecun_uniform", math.sqrt(1 / 400)), ("lecun_normal", math.sqrt(1 / 400)),
])
def test_variance_scaling_family_has_the_keras_variance(name, expected_std):
    x = initializers.get(name)(LARGE, "float64")
    assert abs(x.mean()) < 0.01 * expected_std  # ~4.5 standard errors of the mean
    assert abs(x.std() / expected_std - 1) < 0.01
    if name.endswith("uniform"):
        limit = math.sqrt(3) * expected_std
        assert np.abs(x).max() <= limit and np.abs(x).max() > 0.99 * limit
    else:  # truncated at two of its own (pre-correction) standard deviations
        assert np.abs(x).max() <= 2 * expected_std / 0.87962566103423978 + 1e-12


def test_variance_scaling_modes_and_conv_fans():
    shape = (3, 3, 16, 32)  # fan_in 144, fan_out 288
    x = initializers.VarianceScaling(scale=2.0, mode="fan_out", distribution="untruncated_normal")(shape, "float64")
    assert abs(x.std() / math.sqrt(2 / 288) - 1) < 0.03
    x = initializers.VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform")(shape, "float64")
    assert np.abs(x).max() <= math.sqrt(3 / 144)
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="distribution"):
        initializers.VarianceScaling(distribution="cauchy")
    with pytest.raises(ValueError, match="scale"):
        initializers.VarianceScaling(scale=0)


@pytest.mark.parametrize("shape", [(5, 5), (8, 3), (3, 8), (2, 3, 6)])
def test_orthogonal(shape):
    q = initializers.Orthogonal(gain=2.0)(shape, "float64")
    assert q.shape == shape
    m = q.reshape(-1, shape[-1])
    small = min(m.shape)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)
    with pytest.raises(ValueError, match="rank >= 2"):
        initializers.Orthogonal()((4,))


def test_backend_seed_makes_initialisation_repeat():
    dg.backend.seed(7)
    a = initializers.GlorotUniform()((4, 5))
    b = initializers.GlorotUniform()((4, 5))
    dg.backend.seed(7)
    np.testing.assert_array_equal(initializers.GlorotUniform()((4, 5)), a)
    assert not np.array_equal(a, b)


def test_own_seed_repeats_on_every_call():
    init = initializers.HeNormal(seed=3)
    np.testing.assert_array_equal(init((3, 3)), init((3, 3)))
    assert not np.array_equal(init((3, 3)), initializers.HeNormal(seed=4)((3, 3)))
    with pytest.raises(ValueError, match="seed"):
        initializers.RandomNormal(seed="x")


def test_get_accepts_names_dicts_instances_classes_and_callables():
    assert isinstance(initializers.get("GlorotUniform"), initializers.GlorotUniform)
    assert isinstance(initializers.get("uniform"), initializers.RandomUniform)
    assert isinstance(initializers.get("normal"), initializers.RandomNormal)
    init = initializers.get({"class_name": "RandomNormal", "config": {"mean": 2.0, "stddev": 0.1, "seed": 1}})
    assert init.get_config() == {"mean": 2.0, "stddev": 0.1, "seed": 1}
    same = initializers.Zeros()
    assert initializers.get(same) is same
    assert isinstance(initializers.get(initializers.Ones), initializers.Ones)

    def custom(shape, dtype=None):
        return np.full(shape, 7.0, dtype or "float32")

    assert initializers.get(custom) is custom
    assert initializers.get(None) is None
    with pytest.raises(ValueError, match="Unknown initializer 'glorot'"):
        initializers.get("glorot")


@pytest.mark.parametrize("init", [
    initializers.Constant(3.0), initializers.RandomNormal(0.5, 2.0, seed=1), initializers.RandomUniform(-1, 1),
    initializers.TruncatedNormal(stddev=0.3), initializers.VarianceScaling(0.5, "fan_avg", "uniform", seed=2),
    initializers.GlorotNormal(seed=5), initializers.Orthogonal(gain=0.5), initializers.Identity(2.0),
])
def test_config_round_trip(init):
    clone = initializers.deserialize(initializers.serialize(init))
    assert type(clone) is type(init) and clone.get_config() == init.get_config()


def test_initializers_give_tensors_as_keras_and_user_subclasses_too():
    import deepgrad as dg

    out = dg.initializers.GlorotNormal(seed=42)(shape=(1, 1))
    assert isinstance(out, dg.Tensor) and out.shape == (1, 1)
    assert float(out) == float(dg.initializers.GlorotNormal(seed=42)(shape=(1, 1)))   # Keras's reproducibility idiom

    class Twos(dg.initializers.Initializer):
        def __call__(self, shape, dtype=None):
            return np.full(shape, 2.0, "float32")
    assert isinstance(Twos()((2,)), dg.Tensor)
    layer = dg.layers.Dense(3, kernel_initializer=Twos())
    layer.build((None, 2))
    assert np.all(layer.kernel.numpy() == 2.0)
    v = dg.Variable(dg.initializers.Ones(), shape=(2,))
    assert v.numpy().tolist() == [1.0, 1.0]
