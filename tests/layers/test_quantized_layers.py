"""layer.quantize("int8") and Model.quantize: Keras 3's variables, outputs and gradients on the
same weights, the dtype policy and config round trip, training after quantization, and the
errors for what is not quantized."""
import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import layers, quantizers  # noqa: E402

RNG = np.random.default_rng(1)


def _pair_dense(units=5, k_in=7, activation="relu"):
    km = keras.Sequential([keras.Input((k_in,)), keras.layers.Dense(units, activation=activation)])
    dm = dg.Sequential([layers.Input((k_in,)), layers.Dense(units, activation=activation)])
    dm.set_weights([RNG.normal(size=(k_in, units)).astype(np.float32), RNG.normal(size=units).astype(np.float32)])
    km.set_weights(dm.get_weights())
    return km, dm


def test_dense_quantize_matches_keras_variables_outputs_and_gradients():
    km, dm = _pair_dense()
    km.quantize("int8")
    dm.quantize("int8")
    kd, dd = km.layers[0], dm.layers[0]
    # same variables: bias (trainable), int8 kernel and per-unit scale (not trainable), Keras's order
    assert [(w.name.split("/")[-1], str(w.dtype), w.trainable) for w in dd.weights] == \
        [(w.name, str(w.dtype), w.trainable) for w in kd.weights] == \
        [("bias", "float32", True), ("kernel", "int8", False), ("kernel_scale", "float32", False)]
    np.testing.assert_array_equal(dd.kernel.data, keras.ops.convert_to_numpy(kd._kernel))
    np.testing.assert_allclose(dd.kernel_scale.data, keras.ops.convert_to_numpy(kd.kernel_scale), rtol=1e-7)
    assert dd.dtype_policy.name == kd.dtype_policy.name == "int8_from_float32"
    x = RNG.normal(size=(6, 7)).astype(np.float32)
    xk = torch.tensor(x, requires_grad=True)
    yk = kd(xk)
    g = RNG.normal(size=yk.shape).astype(np.float32)
    yk.backward(torch.tensor(g))
    xd = dg.Tensor(x, requires_grad=True)
    yd = dd(xd)
    yd.backward(dg.Tensor(g))
    np.testing.assert_allclose(yd.data, yk.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xd.grad, xk.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dd.bias.grad, kd.bias.value.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_embedding_quantize_matches_keras():
    km = keras.Sequential([keras.Input((4,), dtype="int32"), keras.layers.Embedding(9, 6)])
    dm = dg.Sequential([layers.Input((4,), dtype="int32"), layers.Embedding(9, 6)])
    dm.set_weights([RNG.normal(size=(9, 6)).astype(np.float32)])
    km.set_weights(dm.get_weights())
    km.quantize("int8")
    dm.quantize("int8")
    ke, de = km.layers[0], dm.layers[0]
    assert [(w.name.split("/")[-1], str(w.dtype), w.shape) for w in de.weights] == \
        [(w.name, str(w.dtype), tuple(w.shape)) for w in ke.weights] == \
        [("embeddings", "int8", (9, 6)), ("embeddings_scale", "float32", (9,))]
    ids = RNG.integers(0, 9, (3, 4))
    np.testing.assert_allclose(dm.predict(ids, verbose=0), np.asarray(km.predict(ids, verbose=0)), rtol=1e-6)


def test_quantized_dense_stays_close_to_float():
    _, dm = _pair_dense(units=32, k_in=64, activation=None)
    x = RNG.normal(size=(16, 64)).astype(np.float32)
    before = dm.predict(x, verbose=0)
    dm.quantize("int8")
    after = dm.predict(x, verbose=0)
    # two roundings of at most half a step each: |error| well under 2% of the output's spread
    assert 0 < np.abs(after - before).max() < 0.02 * np.abs(before).max()


@pytest.mark.parametrize("cls,kwargs,shape", [
    (layers.Conv1D, dict(padding="causal", dilation_rate=2), (2, 9, 3)),
    (layers.Conv2D, dict(strides=2, padding="same"), (2, 8, 7, 3)),
    (layers.Conv2D, dict(data_format="channels_first"), (2, 3, 6, 6)),
    (layers.Conv3D, dict(), (1, 5, 5, 4, 3)),
])
def test_conv_quantize_is_dense_on_receptive_fields(cls, kwargs, shape):
    layer = cls(4, 3, activation="relu", **kwargs)
    x = RNG.normal(size=shape).astype(np.float32)
    before = layer(x).data
    kernel = layer.kernel.data.copy()
    layer.quantize("int8")
    assert layer.kernel.dtype == np.int8 and layer.kernel_scale.shape == (4,)
    expected_scale = np.float32(127) / (np.abs(kernel).reshape(-1, 4).max(axis=0) + np.float32(1e-7))
    np.testing.assert_allclose(layer.kernel_scale.data, expected_scale, rtol=1e-6)
    np.testing.assert_array_equal(layer.kernel.data, np.clip(np.round(kernel * expected_scale), -127, 127))
    after = layer(x).data
    assert after.shape == before.shape
    assert np.abs(after - before).max() < 0.03 * np.abs(before).max()


def test_model_quantize_layers_and_filters():
    model = dg.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(4, 3, name="conv"), layers.Flatten(),
                           layers.Dense(6, name="hidden"), layers.BatchNormalization(name="norm"),
                           layers.Dense(3, name="out")])
    model.quantize("int8", filters=["hidden", "conv"])
    assert [model.get_layer(name).quantization_mode for name in ("conv", "hidden", "out")] == ["int8", "int8", None]
    assert model.get_layer("norm").quantization_mode is None  # every layer has one, as in Keras
    model.quantize("int8", filters=lambda layer: layer.name == "out")
    assert model.get_layer("out").quantization_mode == "int8"
    assert model.get_layer("norm").dtype_policy.name == "float32"


def test_quantize_errors_name_the_mode_or_the_layer():
    _, dm = _pair_dense()
    # float8 (Dense, EinsumDense) and int4 (Dense) run: tests/examples/test_keras_io_recipes_programs.py
    table = layers.Embedding(5, 2)
    table.build((None, 3))
    with pytest.raises(NotImplementedError, match="'int4'"):
        table.quantize("int4")
    with pytest.raises(ValueError, match="invalid quantization mode 'int3'"):
        dm.quantize("int3")
    with pytest.raises(ValueError, match="needs a GPTQConfig"):
        dm.quantize("gptq")
    with pytest.raises(ValueError, match="contradictory"):
        dm.quantize("int4", config=quantizers.Int8QuantizationConfig())
    with pytest.raises(ValueError, match="not built"):
        layers.Dense(3).quantize("int8")
    dm.quantize("int8")
    with pytest.raises(ValueError, match="already quantized"):
        dm.layers[0].quantize("int8")
    grouped = layers.Conv2D(4, 3, groups=2)
    grouped(np.zeros((1, 5, 5, 2), np.float32))
    with pytest.raises(NotImplementedError, match="groups=2"):
        grouped.quantize("int8")


def test_subclassed_layer_is_left_float_with_a_warning():
    class MyDense(layers.Dense):
        pass

    model = dg.Sequential([layers.Input((4,)), MyDense(3)])
    with pytest.warns(UserWarning, match="MyDense"):
        model.quantize("int8")
    assert model.layers[0].kernel.dtype == np.float32
    model.quantize("int8", type_check=False)
    assert model.layers[0].kernel.dtype == np.int8


def test_config_round_trip_rebuilds_int8_weights():
    _, dm = _pair_dense()
    dm.quantize("int8")
    config = dm.layers[0].get_config()
    assert config["dtype"] == {"module": "keras.dtype_policies", "class_name": "QuantizedDTypePolicy",
                               "config": {"mode": "int8", "source_name": "float32"}, "registered_name": None}
    assert config["quantization_config"]["class_name"] == "Int8QuantizationConfig"
    clone = layers.Dense.from_config(config)
    clone.build((None, 7))
    assert [(w.name.split("/")[-1], w.dtype) for w in clone.weights] == \
        [("bias", np.float32), ("kernel", np.int8), ("kernel_scale", np.float32)]
    clone.set_weights(dm.layers[0].get_weights())
    x = RNG.normal(size=(3, 7)).astype(np.float32)
    np.testing.assert_array_equal(clone(x).data, dm.layers[0](x).data)
    assert isinstance(clone.quantization_config, quantizers.Int8QuantizationConfig)


def test_weight_only_config_skips_input_quantization():
    _, dm = _pair_dense(activation=None)
    dm.quantize(config=quantizers.Int8QuantizationConfig(activation_quantizer=None))
    layer = dm.layers[0]
    x = RNG.normal(size=(3, 7)).astype(np.float32)
    expected = x @ (layer.kernel.data.astype(np.float32) / layer.kernel_scale.data) + layer.bias.data
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-5, atol=1e-6)


def test_quantized_model_trains_its_float_weights_only():
    model = dg.Sequential([layers.Input((10,)), layers.Dense(16, activation="relu"),
                           layers.BatchNormalization(), layers.Dense(3, activation="softmax")])
    x = RNG.normal(size=(128, 10)).astype(np.float32)
    y = (x[:, :3].argmax(axis=1)).astype(np.int64)
    model.quantize("int8")
    model.compile(optimizer=dg.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    kernels = [layer.kernel.data.copy() for layer in model.layers if isinstance(layer, layers.Dense)]
    bias = model.layers[0].bias.data.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning about int8 weights without gradients
        history = model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0]
    for layer, before in zip([la for la in model.layers if isinstance(la, layers.Dense)], kernels):
        np.testing.assert_array_equal(layer.kernel.data, before)
    assert not np.array_equal(model.layers[0].bias.data, bias)


@pytest.mark.parametrize("equation,input_shape,output_shape,bias_axes", [
    ("ab,bc->ac", (6,), (4,), "c"), ("abc,cd->abd", (3, 5), (None, 6), "d"),
    ("abc,cde->abde", (3, 5), (None, 2, 4), "de"), ("abcd,cde->abe", (3, 2, 4), (None, 5), None),
    ("abc,bcd->ad", (3, 5), (4,), None)])
def test_einsum_dense_quantize_matches_keras(equation, input_shape, output_shape, bias_axes):
    kl = keras.layers.EinsumDense(equation, output_shape=output_shape, bias_axes=bias_axes)
    dl = layers.EinsumDense(equation, output_shape=output_shape, bias_axes=bias_axes)
    x = RNG.normal(size=(2,) + input_shape).astype(np.float32)
    kl(x), dl(x)
    dl.set_weights([RNG.normal(size=w.shape).astype(np.float32) for w in dl.weights])
    kl.set_weights(dl.get_weights())
    kl.quantize("int8")
    dl.quantize("int8")
    assert [(w.name.split("/")[-1], tuple(w.shape)) for w in dl.weights] == \
        [(w.name, tuple(w.shape)) for w in kl.weights]
    np.testing.assert_array_equal(dl.kernel.data, keras.ops.convert_to_numpy(kl._kernel))
    np.testing.assert_allclose(dl.kernel_scale.data, keras.ops.convert_to_numpy(kl.kernel_scale), rtol=1e-7)
    xk = torch.tensor(x, requires_grad=True)
    yk = kl(xk)
    g = RNG.normal(size=tuple(yk.shape)).astype(np.float32)
    yk.backward(torch.tensor(g))
    xd = dg.Tensor(x, requires_grad=True)
    yd = dl(xd)
    yd.backward(dg.Tensor(g))
    np.testing.assert_allclose(yd.data, yk.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xd.grad, xk.grad.numpy(), rtol=1e-5, atol=1e-5)
    clone = layers.EinsumDense.from_config(dl.get_config())
    clone(x)
    clone.set_weights(dl.get_weights())
    np.testing.assert_array_equal(clone(x).data, yd.data)


def test_einsum_dense_with_input_only_axes_is_refused():
    layer = layers.EinsumDense("abc,cd->ad", output_shape=(4,))
    layer(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(NotImplementedError, match="abc,cd->ad"):
        layer.quantize("int8")


def test_quantizing_a_trained_compiled_model_restarts_its_optimizer(tmp_path):
    model = dg.Sequential([layers.Input((10,)), layers.Dense(8, activation="relu"), layers.Dense(3)])
    model.compile(optimizer=dg.optimizers.Adam(0.01), loss="mse")
    x, y = RNG.normal(size=(64, 10)).astype(np.float32), RNG.normal(size=(64, 3)).astype(np.float32)
    model.fit(x, y, epochs=2, verbose=0)
    model.quantize("int8")
    assert model.optimizer.learning_rate == 0.01 and model.optimizer.iterations == 0
    model.fit(x, y, epochs=1, verbose=0)
    assert len(model.optimizer._built_variables()) == 2  # the two biases
    # its state, as Keras lists it: iteration, learning_rate, then the momentum and velocity of each bias
    assert [v.name.rsplit("_", 1)[-1] for v in model.optimizer.variables] == \
        ["iteration", "rate", "momentum", "velocity", "momentum", "velocity"]
    model.save(tmp_path / "m.keras")
    loaded = dg.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
