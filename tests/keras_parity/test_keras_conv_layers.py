"""Activation and convolution layers against Keras 3: signatures, configs, outputs after set_weights,
weight and input gradients (PyTorch autograd on the Keras layer), and save/load inside models."""
import inspect

import keras
import numpy as np
import pytest
import torch

import deepgrad as dg
from conftest import to_numpy
from test_keras_config import NOT_SUPPORTED, normalise
from test_keras_layers import assert_same_layer

# each class with the positional arguments that make one
LAYERS = {
    "ReLU": (), "LeakyReLU": (), "PReLU": (), "ELU": (), "Softmax": (), "Activation": ("relu",),
    "Conv1D": (4, 3), "Conv2D": (4, 3), "Conv3D": (4, 3), "Conv1DTranspose": (4, 3), "Conv2DTranspose": (4, 3),
    "Conv3DTranspose": (4, 3), "DepthwiseConv1D": (3,), "DepthwiseConv2D": (3,), "SeparableConv1D": (4, 3),
    "SeparableConv2D": (4, 3),
}
ALIASES = ["Convolution3D", "Convolution1DTranspose", "Convolution2DTranspose", "Convolution3DTranspose",
           "SeparableConvolution1D", "SeparableConvolution2D"]


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


@pytest.mark.parametrize("name", sorted(LAYERS) + ALIASES)
def test_signature_matches_keras(name):
    ours = inspect.signature(getattr(dg.layers, name).__init__).parameters
    theirs = inspect.signature(getattr(keras.layers, name).__init__).parameters
    assert [(p.name, p.default) for p in ours.values()] == [(p.name, p.default) for p in theirs.values()]


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_config_matches_keras_and_loads_keras_configs(name):
    k_config = getattr(keras.layers, name)(*LAYERS[name]).get_config()
    d_config = getattr(dg.layers, name)(*LAYERS[name]).get_config()
    assert set(k_config) - set(d_config) <= NOT_SUPPORTED, f"{name}: keys Keras has that deepgrad lacks"
    assert set(d_config) - set(k_config) == set(), f"{name}: keys Keras does not have"
    for key in set(k_config) & set(d_config) - {"name"}:
        assert normalise(d_config[key]) == normalise(k_config[key]), f"{name}.{key}"
    # a config Keras wrote builds the same layer here
    rebuilt = getattr(dg.layers, name).from_config({k: v for k, v in k_config.items() if k != "dtype"})
    for key in set(d_config) - {"name"}:
        assert normalise(rebuilt.get_config()[key]) == normalise(d_config[key]), f"{name}.{key}"


# ------------------------------------------------------------------ outputs after set_weights
ACTIVATION_CASES = [
    ("ReLU", {}), ("ReLU", dict(max_value=1.0)), ("ReLU", dict(negative_slope=0.2, threshold=0.3)),
    ("ReLU", dict(max_value=2.0, negative_slope=0.1, threshold=0.5)), ("LeakyReLU", {}),
    ("LeakyReLU", dict(negative_slope=0.01)), ("ELU", {}), ("ELU", dict(alpha=0.4)), ("Softmax", {}),
    ("Softmax", dict(axis=1)), ("Softmax", dict(axis=[1, 2])), ("PReLU", dict(alpha_initializer="random_normal")),
    ("PReLU", dict(alpha_initializer="ones", shared_axes=[1])), ("Activation", dict(activation="gelu")),
]


@pytest.mark.parametrize("name,kwargs", ACTIVATION_CASES)
def test_activation_layers_match_keras(name, kwargs):
    assert_same_layer(getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs), rand(2, 3, 5) * 2)


def test_softmax_mask_matches_keras():
    x = rand(2, 3, 4)
    mask = np.array([[[1, 0, 1, 1]], [[0, 0, 0, 0]]], bool)
    k_out = to_numpy(keras.layers.Softmax()(x, mask=mask))
    np.testing.assert_allclose(dg.layers.Softmax()(x, mask=mask).data, k_out, rtol=1e-6, atol=1e-7)


CONV_CASES = [
    ("Conv1D", dict(filters=4, kernel_size=3, groups=2), (2, 9, 6)),
    ("Conv1D", dict(filters=3, kernel_size=2, padding="causal", dilation_rate=2, data_format="channels_first"),
     (2, 4, 9)),
    ("Conv2D", dict(filters=6, kernel_size=(3, 2), groups=3, strides=2, padding="same"), (2, 7, 6, 6)),
    ("Conv2D", dict(filters=4, kernel_size=3, data_format="channels_first", activation="relu"), (2, 3, 7, 6)),
    ("Conv3D", dict(filters=4, kernel_size=(2, 3, 2), padding="same"), (2, 4, 5, 3, 2)),
    ("Conv3D", dict(filters=4, kernel_size=2, groups=2, strides=2, data_format="channels_first"), (2, 4, 5, 4, 3)),
    ("Conv1DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same"), (2, 5, 4)),
    ("Conv1DTranspose", dict(filters=3, kernel_size=4, strides=3, output_padding=1), (2, 5, 4)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=4, strides=2, padding="same"), (2, 5, 4, 2)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=(3, 2), strides=(2, 3), padding="same", output_padding=(1, 0)),
     (2, 5, 4, 2)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=3, dilation_rate=2, activation="tanh"), (2, 5, 4, 2)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=3, strides=2, data_format="channels_first"), (2, 3, 4, 5)),
    ("Conv3DTranspose", dict(filters=2, kernel_size=2, strides=(1, 2, 2), padding="same"), (2, 3, 3, 2, 3)),
    ("DepthwiseConv1D", dict(kernel_size=3, depth_multiplier=2, padding="same"), (2, 7, 3)),
    ("DepthwiseConv2D", dict(kernel_size=3, strides=2, depth_multiplier=3), (2, 7, 6, 2)),
    ("DepthwiseConv2D", dict(kernel_size=(2, 3), dilation_rate=2, data_format="channels_first"), (2, 2, 7, 6)),
    ("SeparableConv1D", dict(filters=4, kernel_size=3, strides=2, depth_multiplier=2), (2, 9, 3)),
    ("SeparableConv2D", dict(filters=4, kernel_size=3, padding="same", activation="relu"), (2, 6, 5, 3)),
    ("SeparableConv2D", dict(filters=3, kernel_size=2, use_bias=False, data_format="channels_first"), (2, 3, 6, 5)),
]


@pytest.mark.parametrize("name,kwargs,shape", CONV_CASES)
def test_conv_layers_match_keras(name, kwargs, shape):
    k_layer, d_layer = getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs)
    d_out, _ = assert_same_layer(k_layer, d_layer, rand(*shape))
    assert tuple(d_layer.compute_output_shape((None,) + shape[1:])) == \
        tuple(k_layer.compute_output_shape((None,) + shape[1:]))
    assert d_out[0].shape[1:] == tuple(k_layer.compute_output_shape((None,) + shape[1:]))[1:]


# ------------------------------------------------------------------ gradients against Keras
def assert_same_gradients(k_layer, d_layer, x):
    """d(sum(out * r)) with respect to every weight and to the input, Keras (torch autograd) against deepgrad."""
    k_layer(x)
    d_layer(dg.Tensor(x))
    d_layer.set_weights(k_layer.get_weights())
    x_torch = torch.tensor(x, requires_grad=True)
    k_out = k_layer(x_torch)
    r = rand(*k_out.shape, seed=7)
    k_grads = torch.autograd.grad((k_out * torch.from_numpy(r)).sum(),
                                  [x_torch] + [w.value for w in k_layer.trainable_weights])
    x_dg = dg.Tensor(x, requires_grad=True)
    (d_layer(x_dg) * dg.Tensor(r)).sum().backward()
    assert len(d_layer.trainable_weights) == len(k_grads) - 1
    np.testing.assert_allclose(x_dg.grad, to_numpy(k_grads[0]), rtol=1e-4, atol=1e-5, err_msg="input")
    for d_w, k_w, k_g in zip(d_layer.trainable_weights, k_layer.trainable_weights, k_grads[1:]):
        np.testing.assert_allclose(d_w.grad, to_numpy(k_g), rtol=1e-4, atol=1e-5, err_msg=k_w.path)


GRADIENT_CASES = [case for case in CONV_CASES if case[0] not in ("Conv3D",)] + [
    ("Conv3D", dict(filters=2, kernel_size=2, groups=2, data_format="channels_first"), (1, 2, 3, 4, 3)),
    ("Conv2D", dict(filters=1, kernel_size=5, padding="same", activation="sigmoid"), (2, 6, 6, 4)),
]


@pytest.mark.parametrize("name,kwargs,shape", GRADIENT_CASES)
def test_conv_gradients_match_keras(name, kwargs, shape):
    assert_same_gradients(getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs), rand(*shape))


@pytest.mark.parametrize("name,kwargs", [case for case in ACTIVATION_CASES if case[0] != "ReLU"]
                         + [("ReLU", dict(max_value=1.0, negative_slope=0.2))])
def test_activation_gradients_match_keras(name, kwargs):
    x = rand(2, 3, 5) * 2
    x[np.abs(x) < 1e-2] += 0.05  # off the kinks
    assert_same_gradients(getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs), x)


# ------------------------------------------------------------------ save and load inside models
def test_sequential_save_load_round_trip(tmp_path):
    model = dg.Sequential([
        dg.layers.Input((6,)), dg.layers.Dense(3 * 3 * 4), dg.layers.Reshape((3, 3, 4)),
        dg.layers.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=1), dg.layers.LeakyReLU(0.1),
        dg.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), dg.layers.PReLU(shared_axes=[1, 2]),
        dg.layers.SeparableConv2D(4, 3, data_format="channels_first", padding="same"), dg.layers.ELU(0.5),
        dg.layers.Conv2D(4, 3, groups=2, padding="same"), dg.layers.ReLU(max_value=6.0),
        dg.layers.Reshape((24, 4)), dg.layers.Conv1DTranspose(2, 2, strides=2), dg.layers.Softmax(axis=1),
    ])
    x = rand(3, 6)
    for layer in model.layers:  # non-zero slopes, so the check sees them
        if isinstance(layer, dg.layers.PReLU):
            layer.set_weights([np.full(layer.alpha.shape, 0.25, np.float32)])
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = dg.models.load_model(tmp_path / "m.keras")
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)


def test_functional_save_load_round_trip(tmp_path):
    inputs = dg.layers.Input((5, 4, 3, 2))
    a = dg.layers.Conv3D(4, 2, padding="same", groups=2)(inputs)
    b = dg.layers.Conv3DTranspose(4, 2, padding="same")(inputs)
    out = dg.layers.Add()([a, b])
    out = dg.layers.Reshape((5 * 4, 3 * 4))(out)
    out = dg.layers.SeparableConv1D(3, 3, depth_multiplier=2)(out)
    out = dg.layers.DepthwiseConv1D(2)(out)
    model = dg.models.Model(inputs, out)
    x = rand(2, 5, 4, 3, 2)
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "f.deepgrad")
    loaded = dg.models.load_model(tmp_path / "f.deepgrad")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)


def test_keras_sequential_weights_run_in_deepgrad():
    """A Keras DCGAN generator's weights give the same images in deepgrad's copy of it."""
    def build(lib):
        return lib.Sequential([
            lib.layers.Input((8,)), lib.layers.Dense(4 * 4 * 6), lib.layers.Reshape((4, 4, 6)),
            lib.layers.Conv2DTranspose(6, 4, strides=2, padding="same"), lib.layers.LeakyReLU(),
            lib.layers.Conv2DTranspose(3, 4, strides=2, padding="same"), lib.layers.LeakyReLU(),
            lib.layers.Conv2D(1, 7, padding="same", activation="sigmoid"),
        ])

    k_model, d_model = build(keras), build(dg)
    d_model.set_weights(k_model.get_weights())
    z = rand(3, 8)
    np.testing.assert_allclose(d_model.predict(z, verbose=0), to_numpy(k_model(z)), rtol=1e-5, atol=1e-6)
