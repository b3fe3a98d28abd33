"""Dtype policies and mixed precision against Keras: policy properties and configs, layers
that compute in float16 on float32 variables, the global policy, quantized policies refused."""
import keras
import numpy as np
import pytest

import deepgrad as dg
from conftest import to_numpy
from deepgrad import dtype_policies


@pytest.fixture(autouse=True)
def _restore_policies():
    yield
    dtype_policies._global_policy = None
    keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize("name", ["float32", "float16", "float64", "bfloat16", "mixed_float16", "mixed_bfloat16"])
def test_policy_properties_and_config_match_keras(name):
    ours, theirs = dtype_policies.DTypePolicy(name), keras.dtype_policies.DTypePolicy(name)
    assert (ours.name, ours.compute_dtype, ours.variable_dtype, ours.quantization_mode) == \
        (theirs.name, theirs.compute_dtype, theirs.variable_dtype, theirs.quantization_mode)
    assert ours.get_config() == theirs.get_config() and repr(ours) == repr(theirs)
    assert dtype_policies.serialize(ours) == keras.dtype_policies.serialize(theirs)
    assert dtype_policies.deserialize(keras.dtype_policies.serialize(theirs)) == ours
    if "bfloat16" in name:  # not a NumPy dtype: the arrays are float32
        assert ours.numpy_compute_dtype == np.float32


@pytest.mark.parametrize("name", ["int8_from_float32", "int4_from_mixed_bfloat16", "float8_from_float32",
                                  "int4/128_from_float32", "gptq/4/128_from_float32", "awq/4/64_from_float32"])
def test_quantized_policies_match_keras_and_layers_run_int8_only(name):
    ours, theirs = dtype_policies.get(name), keras.dtype_policies.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.name == theirs.name and ours.get_config() == theirs.get_config()
    assert (ours.compute_dtype, ours.variable_dtype) == (theirs.compute_dtype, theirs.variable_dtype)
    mode = name.split("_from_")[0]
    if mode == "int8":  # the mode deepgrad runs: the layer builds Keras's int8 kernel and its scale
        layer = dg.layers.Dense(2, dtype=name, name="q")
        layer.build((None, 3))
        assert [(w.path, w.dtype) for w in layer.weights] == [("q/bias", np.float32), ("q/kernel", np.int8),
                                                              ("q/kernel_scale", np.float32)]
        return
    if mode in ("float8", "int4", "int4/128"):  # Dense runs these too, with Keras's variables
        layer, reference = dg.layers.Dense(2, dtype=name, name="q"), keras.layers.Dense(2, dtype=name, name="q")
        layer.build((None, 3))
        reference.build((None, 3))
        assert ([(w.path, tuple(w.shape), np.dtype(w.dtype)) for w in layer.weights]
                == [(w.path, tuple(w.shape), np.dtype(w.dtype)) for w in reference.weights])
        return
    with pytest.raises(NotImplementedError, match=f"Dense 'q'.*mode '{mode}'"):
        dg.layers.Dense(2, dtype=name, name="q")


def test_policy_map_matches_keras():
    spec = {"encoder/dense.*": "mixed_float16", "decoder": "float16"}
    ours = dtype_policies.DTypePolicyMap("float32", dict(spec))
    theirs = keras.dtype_policies.DTypePolicyMap("float32", dict(spec))
    for path in ("encoder/dense_1", "decoder", "head"):
        assert ours[path].name == keras.dtype_policies.get(theirs[path]).name  # Keras keeps the given names
    assert ours.name == theirs.name and ours.compute_dtype == theirs.compute_dtype
    assert dtype_policies.deserialize(dtype_policies.serialize(ours)) == ours
    with pytest.raises(ValueError, match="already mapped"):
        ours["decoder"] = "float32"
    layer = dg.layers.Dense(2, dtype=ours, name="decoder")
    assert layer.compute_dtype == np.float16


def test_global_policy_through_mixed_precision_and_config():
    assert dg.mixed_precision.global_policy().name == keras.mixed_precision.global_policy().name == "float32"
    dg.mixed_precision.set_global_policy("mixed_float16")
    keras.mixed_precision.set_global_policy("mixed_float16")
    assert dg.config.dtype_policy() == dg.mixed_precision.global_policy()
    ours, theirs = dg.layers.Dense(3), keras.layers.Dense(3)
    assert ours.dtype_policy.name == theirs.dtype_policy.name == "mixed_float16"
    assert str(ours.compute_dtype) == theirs.compute_dtype and str(ours.variable_dtype) == theirs.variable_dtype
    with pytest.raises(ValueError, match="policy name"):
        dg.mixed_precision.set_global_policy(3)


@pytest.mark.parametrize("make", [
    lambda m, p: m.layers.Dense(4, activation="tanh", dtype=p),
    lambda m, p: m.layers.Conv2D(3, 2, activation="relu", dtype=p),
    lambda m, p: m.layers.LayerNormalization(dtype=p),
])
def test_mixed_float16_layers_compute_like_keras(make):
    shape = (2, 5, 5, 3) if "Conv" in type(make(keras, "float32")).__name__ else (5, 3)
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    theirs = make(keras, "mixed_float16")
    k_out = to_numpy(theirs(x))
    ours = make(dg, {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "mixed_float16"},
                     "registered_name": None})  # a policy's config dict works too
    ours.build(shape)
    ours.set_weights(theirs.get_weights())
    out = ours(x)
    assert out.dtype == np.float16 == k_out.dtype
    assert all(w.dtype == np.float32 for w in ours.weights)
    np.testing.assert_allclose(out.data.astype("float32"), k_out.astype("float32"), rtol=2e-3, atol=2e-3)
    assert ours.get_config()["dtype"] == theirs.get_config()["dtype"]


def test_mixed_float16_gradients_reach_float32_variables_and_training_works():
    dg.mixed_precision.set_global_policy("mixed_float16")
    dg.utils.set_random_seed(0)
    model = dg.Sequential([dg.layers.Input((4,)), dg.layers.Dense(16, activation="relu"),
                           dg.layers.Dense(1, dtype="float32")])
    model.compile(optimizer=dg.optimizers.LossScaleOptimizer(dg.optimizers.Adam(0.01)), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 4)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5], [0.0]], "float32")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=32, epochs=20, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.2 * before
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert model.layers[0](x).dtype == np.float16 and model(x).dtype == np.float32


def test_bfloat16_policies_compute_in_float32():
    layer = dg.layers.Dense(2, dtype="mixed_bfloat16")
    out = layer(np.ones((1, 3), "float32"))
    assert layer.dtype_policy.compute_dtype == "bfloat16" and out.dtype == np.float32
    assert dg.layers.Dense(2, dtype="bfloat16")(np.ones((1, 3))).dtype == np.float32


def test_compile_wraps_the_optimizer_under_mixed_float16_as_keras_does():
    def build(module):
        model = module.Sequential([module.layers.Input((3,)), module.layers.Dense(2)])
        model.compile(optimizer="sgd", loss="mse")
        return model

    assert type(build(dg).optimizer).__name__ == type(build(keras).optimizer).__name__ == "SGD"
    dg.mixed_precision.set_global_policy("mixed_float16")
    keras.mixed_precision.set_global_policy("mixed_float16")
    ours, theirs = build(dg), build(keras)
    assert type(ours.optimizer).__name__ == type(theirs.optimizer).__name__ == "LossScaleOptimizer"
    assert type(ours.optimizer.inner_optimizer).__name__ == "SGD" and ours.optimizer.name == theirs.optimizer.name
    model = dg.Sequential([dg.layers.Input((3,)), dg.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse", auto_scale_loss=False)
    assert type(model.optimizer).__name__ == "SGD"
