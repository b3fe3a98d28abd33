"""GroupNormalization, UnitNormalization, RMSNormalization, SpectralNormalization and
LayerNormalization's rms_scaling: the Keras layer checks, formulas and central differences."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers
from layer_test import run_layer_test
from oracle import check_gradients


def rand(*shape, seed=0, dtype="float32"):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def group_norm(x, groups, axis, epsilon, gamma=None, beta=None):
    """Per sample, each group of channels normalised over its channels and the other axes."""
    axis = axis % x.ndim
    c = x.shape[axis]
    g = x.reshape(x.shape[:axis] + (groups, c // groups) + x.shape[axis + 1:]).astype(np.float64)
    reduce = tuple(i for i in range(1, g.ndim) if i != axis)
    y = ((g - g.mean(reduce, keepdims=True)) / np.sqrt(g.var(reduce, keepdims=True) + epsilon)).reshape(x.shape)
    shape = [1] * x.ndim
    shape[axis] = c
    if gamma is not None:
        y = y * gamma.reshape(shape)
    if beta is not None:
        y = y + beta.reshape(shape)
    return y


# ----------------------------------------------------------------- GroupNormalization
@pytest.mark.parametrize("kwargs, shape", [(dict(groups=2), (3, 5, 6)), (dict(groups=-1), (2, 4, 3)),
                                           (dict(groups=3, axis=1, center=False), (2, 6, 4, 2)),
                                           (dict(groups=1, scale=False, epsilon=1e-5), (4, 8))])
def test_group_normalization(kwargs, shape):
    axis = kwargs.get("axis", -1)
    c = shape[axis]
    n_weights = kwargs.get("center", True) + kwargs.get("scale", True)
    layer, _ = run_layer_test(layers.GroupNormalization, kwargs, input_shape=shape, expected_output_shape=shape,
                              expected_weight_shapes=[(c,)] * n_weights)
    weights = [rand(c, seed=i + 1) for i in range(n_weights)]
    layer.set_weights(weights)
    it = iter(weights)
    gamma = next(it) if kwargs.get("scale", True) else None
    beta = next(it) if kwargs.get("center", True) else None
    x = rand(*shape, seed=7) * 3 + 1
    groups = c if kwargs["groups"] == -1 else kwargs["groups"]
    expected = group_norm(x, groups, axis, kwargs.get("epsilon", 1e-3), gamma, beta)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-4, atol=1e-5)


def test_group_normalization_central_differences_and_errors():
    layer = layers.GroupNormalization(2, dtype="float64")
    x = rand(2, 3, 4, dtype="float64")
    layer(x)
    layer.set_weights([rand(4, seed=1, dtype="float64"), rand(4, seed=2, dtype="float64")])
    check_gradients(lambda x: layer(x), [x], rtol=1e-5, atol=1e-8)
    with pytest.raises(ValueError, match="groups"):
        layers.GroupNormalization(0)
    with pytest.raises(ValueError, match="cannot be split"):
        layers.GroupNormalization(3)(rand(2, 4))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 4"):
        layer(rand(2, 3, 6, dtype="float64"))


# ----------------------------------------------------------------- UnitNormalization
@pytest.mark.parametrize("axis", [-1, 1, [1, 2]])
def test_unit_normalization(axis):
    run_layer_test(layers.UnitNormalization, dict(axis=axis), input_shape=(2, 3, 4), expected_output_shape=(2, 3, 4),
                   expected_num_trainable_weights=0)
    x = rand(2, 3, 4)
    axes = tuple(np.atleast_1d(axis))
    out = layers.UnitNormalization(axis=axis)(x).data
    np.testing.assert_allclose(np.sqrt((out ** 2).sum(axis=axes)), 1, rtol=1e-6)
    np.testing.assert_allclose(out, x / np.sqrt((x ** 2).sum(axis=axes, keepdims=True)), rtol=1e-6)
    # a zero vector stays zero (the norm is floored at 1e-12)
    np.testing.assert_array_equal(layers.UnitNormalization()(np.zeros((2, 3), "float32")).data, 0)


def test_unit_normalization_central_differences():
    check_gradients(lambda x: layers.UnitNormalization(axis=[1, 2], dtype="float64")(x),
                    [rand(2, 3, 2, dtype="float64")], rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------- RMSNormalization
@pytest.mark.parametrize("axis, weight", [(-1, (4,)), ([1, 2], (3, 4)), (1, (3,))])
def test_rms_normalization(axis, weight):
    layer, _ = run_layer_test(layers.RMSNormalization, dict(axis=axis), input_shape=(2, 3, 4),
                              expected_output_shape=(2, 3, 4), expected_weight_shapes=[weight])
    scale = rand(*weight, seed=3)
    layer.set_weights([scale])
    x = rand(2, 3, 4, seed=4) * 2
    axes = tuple(np.atleast_1d(axis))
    shape = [1, 1, 1]
    for a in axes:
        shape[a] = x.shape[a]
    expected = x / np.sqrt((x ** 2).mean(axis=axes, keepdims=True) + 1e-6) * scale.reshape(shape)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-5, atol=1e-6)
    assert layer.get_config()["axis"] == sorted(np.atleast_1d(axis).tolist())


def test_rms_normalization_central_differences():
    layer = layers.RMSNormalization(dtype="float64")
    x = rand(2, 3, dtype="float64")
    layer(x)

    def fn(x, s):
        layer.scale = s
        return layer(x)

    check_gradients(fn, [x, rand(3, seed=1, dtype="float64")], rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------- LayerNormalization(rms_scaling=True)
def test_layer_normalization_rms_scaling():
    layer, _ = run_layer_test(layers.LayerNormalization, dict(rms_scaling=True), input_shape=(2, 3, 4),
                              expected_output_shape=(2, 3, 4), expected_weight_shapes=[(4,)])
    gamma = rand(4, seed=2)
    layer.set_weights([gamma])
    x = rand(2, 3, 4, seed=5) + 1
    # Keras's (deprecated) rms_scaling divides by the standard deviation, without centering
    np.testing.assert_allclose(layer(x).data, x / np.sqrt(x.var(-1, keepdims=True) + 1e-3) * gamma,
                               rtol=1e-5, atol=1e-6)
    assert layer.get_config()["rms_scaling"] is True
    assert layers.LayerNormalization().get_config()["rms_scaling"] is False


# ----------------------------------------------------------------- SpectralNormalization
def test_spectral_normalization_layer_checks():
    layer, _ = run_layer_test(layers.SpectralNormalization, dict(layer=layers.Dense(3)), input_shape=(2, 5),
                              expected_output_shape=(2, 3), expected_weight_shapes=[(5, 3), (1, 3), (3,)],
                              expected_num_trainable_weights=2, expected_num_non_trainable_weights=1)
    assert [w.name.split("/")[-1] for w in layer.weights] == ["kernel", "vector_u", "bias"]
    conv, _ = run_layer_test(layers.SpectralNormalization, dict(layer=layers.Conv2D(2, 3), power_iterations=2),
                             input_shape=(2, 5, 5, 3), expected_output_shape=(2, 3, 3, 2),
                             expected_weight_shapes=[(3, 3, 3, 2), (1, 2), (2,)])
    assert conv.get_config()["power_iterations"] == 2


def test_spectral_normalization_divides_by_the_largest_singular_value():
    layer = layers.SpectralNormalization(layers.Dense(4), power_iterations=1)
    x = rand(3, 6)
    layer(x)
    kernel = rand(6, 4, seed=1) * 3
    layer.set_weights([kernel, rand(1, 4, seed=2), np.zeros(4, "float32")])
    sigma = np.linalg.svd(kernel, compute_uv=False)[0]
    # inference leaves the kernel alone
    np.testing.assert_allclose(layer(x).data, x @ kernel, rtol=1e-5, atol=1e-5)
    # one training call: kernel / sigma_estimate, vector_u the new unit estimate
    layer(x, training=True)
    w, u = kernel.astype(np.float64), rand(1, 4, seed=2).astype(np.float64)
    v = u @ w.T / np.linalg.norm(u @ w.T)
    u = v @ w / np.linalg.norm(v @ w)
    estimate = (v @ w @ u.T).item()
    np.testing.assert_allclose(layer.kernel.data, kernel / estimate, rtol=1e-5)
    np.testing.assert_allclose(layer.vector_u.data, u, rtol=1e-5, atol=1e-7)
    # the iteration converges: the normalised kernel's spectral norm goes to 1
    for _ in range(30):
        layer(x, training=True)
    assert abs(np.linalg.svd(layer.kernel.data, compute_uv=False)[0] - 1) < 1e-3
    assert abs(estimate - sigma) / sigma < 0.5
    # gradients reach the kernel through the wrapped layer
    dg.sum(layer(x, training=True)).backward()
    assert layer.kernel.grad is not None and np.any(layer.kernel.grad != 0)


def test_spectral_normalization_errors_and_zero_kernel():
    with pytest.raises(ValueError, match="kernel nor embeddings"):
        layers.SpectralNormalization(layers.UnitNormalization())(rand(2, 3))
    with pytest.raises(ValueError, match="power_iterations"):
        layers.SpectralNormalization(layers.Dense(2), power_iterations=0)
    layer = layers.SpectralNormalization(layers.Dense(2, kernel_initializer="zeros"))
    layer(rand(2, 3), training=True)  # a zero kernel is left as it is (no division by 0)
    np.testing.assert_array_equal(layer.kernel.data, 0)


@pytest.mark.parametrize("make", [lambda: layers.GroupNormalization(2), lambda: layers.RMSNormalization(),
                                  lambda: layers.UnitNormalization(),
                                  lambda: layers.SpectralNormalization(layers.Dense(4)),
                                  lambda: layers.LayerNormalization(rms_scaling=True)])
def test_normalization_save_and_load(tmp_path, make):
    model = dg.Sequential([layers.Input((3, 4)), make(), layers.Flatten(), layers.Dense(2)])
    x = rand(5, 3, 4)
    model.layers[0].set_weights([w + rand(*w.shape, seed=i + 1) * 0.1 for i, w in
                                 enumerate(model.layers[0].get_weights())])
    before = model.predict(x, verbose=0)
    path = tmp_path / "model.deepgrad"
    model.save(str(path))
    np.testing.assert_allclose(dg.models.load_model(str(path)).predict(x, verbose=0), before, rtol=1e-6, atol=1e-6)
