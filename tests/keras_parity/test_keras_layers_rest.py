"""Against Keras 3 itself: the recurrent layers as RNN + cell (weight paths, config keys, numbers),
LoRA (Dense, EinsumDense, Embedding), ReversibleEmbedding, batch renormalisation, UpSampling2D's
bicubic kernel, the automatic config of a user's layer and a string Input's config."""
import keras
import numpy as np
import pytest
import torch

import deepgrad as dg
from conftest import to_numpy

RNG = np.random.default_rng(0)


def rand(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype("float32")


def keras_grads(k_layer, k_out, r, inputs=None):
    """d sum(out * r) / d (trainable weights [, inputs]) by torch autograd on the Keras layer."""
    loss = (k_out * torch.from_numpy(r)).sum()
    targets = [w.value for w in k_layer.trainable_weights] + ([inputs] if inputs is not None else [])
    grads = torch.autograd.grad(loss, targets, allow_unused=True)
    return [np.zeros(tuple(t.shape), "float32") if g is None else to_numpy(g) for t, g in zip(targets, grads)]


def paths(weights, attr="path") -> list:
    """Weight paths below the layer's own name (the two frameworks number unnamed layers apart)."""
    return [getattr(w, attr).split("/", 1)[1] for w in weights]


def deepgrad_grads(d_layer, d_out, r, inputs=None):
    (d_out * dg.Tensor(r)).sum().backward()
    grads = [np.zeros(w.shape, w.dtype) if w.grad is None else w.grad for w in d_layer.trainable_weights]
    return grads + ([inputs.grad] if inputs is not None else [])


# --------------------------------------------------------------------------- recurrent layers
@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN"])
def test_recurrent_config_keys_weight_paths_and_properties_are_keras(name):
    kwargs = dict(units=3, dropout=0.1, recurrent_dropout=0.2, return_sequences=True, name=name.lower())
    k_layer, d_layer = getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs)
    k_layer.build((None, 4, 5))
    d_layer(rand(2, 4, 5))
    k_config, d_config = k_layer.get_config(), d_layer.get_config()
    assert [k for k in d_config if k != "dtype"] == [k for k in k_config if k != "dtype"]
    for key in ("units", "dropout", "recurrent_dropout", "return_sequences", "activation", "use_bias"):
        assert d_config[key] == k_config[key], key
    assert [w.path for w in d_layer.weights] == [w.path for w in k_layer.weights]
    assert [w.name for w in d_layer.weights] == [w.name for w in k_layer.weights]
    assert isinstance(d_layer, dg.layers.RNN) and isinstance(k_layer, keras.layers.RNN)
    assert type(d_layer.cell).__name__ == type(k_layer.cell).__name__
    assert d_layer.cell.name == k_layer.cell.name
    for attr in ("units", "dropout", "recurrent_dropout", "use_bias"):
        assert getattr(d_layer, attr) == getattr(k_layer, attr)


@pytest.mark.parametrize("name, extra", [("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False})])
@pytest.mark.parametrize("options", [dict(return_sequences=True, return_state=True),
                                     dict(go_backwards=True), dict(return_sequences=True, go_backwards=True)])
def test_lstm_gru_outputs_and_gradients_match_keras(name, extra, options):
    kwargs = dict(units=4, **extra, **options)
    k_layer, d_layer = getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs)
    x = rand(3, 6, 5)
    mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [0, 1, 1, 0, 1, 1]], bool)
    k_layer.build(x.shape)
    d_layer(x)
    k_layer.set_weights([rand(*w.shape, scale=0.5) for w in k_layer.get_weights()])
    d_layer.set_weights(k_layer.get_weights())
    x_t = torch.tensor(x, requires_grad=True)
    k_out = k_layer(x_t, mask=torch.tensor(mask))
    x_d = dg.Tensor(x, requires_grad=True)
    d_out = d_layer(x_d, mask=mask)
    k_first = k_out[0] if isinstance(k_out, (list, tuple)) else k_out
    d_first = d_out[0] if isinstance(d_out, list) else d_out
    for k, d in zip(k_out if isinstance(k_out, (list, tuple)) else [k_out], d_out if isinstance(d_out, list)
                    else [d_out]):
        np.testing.assert_allclose(d.data, to_numpy(k), rtol=1e-5, atol=1e-5)
    r = rand(*k_first.shape)
    for d, k in zip(deepgrad_grads(d_layer, d_first, r, x_d), keras_grads(k_layer, k_first, r, x_t)):
        np.testing.assert_allclose(d, k, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- LoRA
LORA = [
    ("Dense", dict(units=3, lora_rank=2), (4, 5)),
    ("EinsumDense", dict(equation="abc,cd->abd", output_shape=(None, 3), bias_axes="d", lora_rank=2, lora_alpha=4),
     (2, 4, 5)),
    ("Embedding", dict(input_dim=7, output_dim=3, lora_rank=2), None),
]


@pytest.mark.parametrize("name, kwargs, shape", LORA, ids=[c[0] for c in LORA])
def test_lora_weights_outputs_and_gradients_match_keras(name, kwargs, shape):
    k_layer, d_layer = getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs)
    x = RNG.integers(0, 7, (3, 4)) if shape is None else rand(*shape)
    k_layer(x)
    d_layer(x)
    assert paths(d_layer.weights) == paths(k_layer.weights, "path")
    assert paths(d_layer.trainable_weights) == paths(k_layer.trainable_weights, "path")
    d_config = d_layer.get_config()
    # (deepgrad writes an unset activity_regularizer as None; Keras leaves it out)
    assert set(d_config) - {"dtype", "activity_regularizer"} == set(k_layer.get_config()) - {
        "dtype", "activity_regularizer"}
    assert (d_config["lora_rank"], d_config["lora_alpha"]) == (k_layer.lora_rank, k_layer.lora_alpha)
    k_layer.set_weights([rand(*w.shape, scale=0.5) for w in k_layer.get_weights()])  # B no longer zero
    d_layer.set_weights(k_layer.get_weights())
    k_out = k_layer(x)
    d_out = d_layer(x if shape is None else dg.Tensor(x))
    np.testing.assert_allclose(d_out.data, to_numpy(k_out), rtol=1e-5, atol=1e-5)
    r = rand(*k_out.shape)
    for d, k in zip(deepgrad_grads(d_layer, d_out, r), keras_grads(k_layer, k_out, r)):
        np.testing.assert_allclose(d, k, rtol=1e-4, atol=1e-5)


def test_enable_lora_after_build_matches_keras():
    k_layer, d_layer = keras.layers.Dense(3), dg.layers.Dense(3)
    x = rand(4, 5)
    k_layer(x)
    d_layer(x)
    d_layer.set_weights(k_layer.get_weights())
    k_layer.enable_lora(2, lora_alpha=6)
    d_layer.enable_lora(2, lora_alpha=6)
    assert paths(d_layer.weights) == paths(k_layer.weights, "path")
    k_layer.set_weights([rand(*w.shape) for w in k_layer.get_weights()])
    d_layer.set_weights(k_layer.get_weights())
    np.testing.assert_allclose(d_layer(x).data, to_numpy(k_layer(x)), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- ReversibleEmbedding
@pytest.mark.parametrize("kwargs", [dict(), dict(tie_weights=False), dict(logit_soft_cap=2.0),
                                    dict(tie_weights=False, mask_zero=True, logit_soft_cap=0.7)])
def test_reversible_embedding_matches_keras(kwargs):
    k_layer = keras.layers.ReversibleEmbedding(9, 4, **kwargs)
    d_layer = dg.layers.ReversibleEmbedding(9, 4, **kwargs)
    ids = RNG.integers(0, 9, (3, 5))
    k_layer(ids)
    d_layer(ids)
    assert [w.name.split("/")[-1] for w in d_layer.weights] == [w.name for w in k_layer.weights]
    assert set(d_layer.get_config()) - {"dtype"} == set(k_layer.get_config()) - {"dtype"}
    k_layer.set_weights([rand(*w.shape) for w in k_layer.get_weights()])
    d_layer.set_weights(k_layer.get_weights())
    np.testing.assert_allclose(d_layer(ids).data, to_numpy(k_layer(ids)), rtol=1e-6)
    v = rand(3, 5, 4)
    k_logits, d_logits = k_layer(v, reverse=True), d_layer(dg.Tensor(v), reverse=True)
    np.testing.assert_allclose(d_logits.data, to_numpy(k_logits), rtol=1e-5, atol=1e-6)
    r = rand(3, 5, 9)
    for d, k in zip(deepgrad_grads(d_layer, d_logits, r), keras_grads(k_layer, k_logits, r)):
        np.testing.assert_allclose(d, k, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- batch renormalisation
@pytest.mark.parametrize("clipping", [None, {"rmax": 1.2, "rmin": 0.9, "dmax": 0.1}])
def test_batch_renormalization_matches_keras(clipping):
    kwargs = dict(renorm=True, renorm_clipping=clipping, momentum=0.9, renorm_momentum=0.8)
    k_layer, d_layer = keras.layers.BatchNormalization(**kwargs), dg.layers.BatchNormalization(**kwargs)
    x = rand(8, 5, 3, scale=2.0) + 1
    k_layer.build(x.shape)
    d_layer.build(x.shape)
    assert paths(d_layer.weights) == paths(k_layer.weights, "path")
    assert set(d_layer.get_config()) - {"dtype"} == set(k_layer.get_config()) - {"dtype"}
    k_layer.set_weights([RNG.random(w.shape).astype("float32") + 0.5 for w in k_layer.get_weights()])
    d_layer.set_weights(k_layer.get_weights())
    for _ in range(3):  # training steps move all five statistics as Keras moves them
        k_out, d_out = k_layer(x, training=True), d_layer(dg.Tensor(x), training=True)
        np.testing.assert_allclose(d_out.data, to_numpy(k_out), rtol=1e-5, atol=1e-5)
        for d, k in zip(d_layer.get_weights(), k_layer.get_weights()):
            np.testing.assert_allclose(d, k, rtol=1e-5, atol=1e-6)
    r = rand(*x.shape)
    for d, k in zip(deepgrad_grads(d_layer, d_out, r), keras_grads(k_layer, k_out, r)):
        np.testing.assert_allclose(d, k, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(d_layer(dg.Tensor(x)).data, to_numpy(k_layer(x)), rtol=1e-5, atol=1e-5)


def test_renorm_clipping_errors_as_keras():
    for bad in ({"rmax": 1.0, "rmin": 2.0}, {"dmax": -1.0}, {"bogus": 1}):
        with pytest.raises(ValueError):
            keras.layers.BatchNormalization(renorm=True, renorm_clipping=bad)
        with pytest.raises(ValueError, match="renorm_clipping"):
            dg.layers.BatchNormalization(renorm=True, renorm_clipping=bad)


# --------------------------------------------------------------------------- UpSampling2D
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_upsampling2d_bicubic_matches_keras(data_format):
    kwargs = dict(size=(2, 3), data_format=data_format, interpolation="bicubic")
    k_layer, d_layer = keras.layers.UpSampling2D(**kwargs), dg.layers.UpSampling2D(**kwargs)
    x = rand(2, 3, 4, 2)
    x_t, x_d = torch.tensor(x, requires_grad=True), dg.Tensor(x, requires_grad=True)
    k_out, d_out = k_layer(x_t), d_layer(x_d)
    np.testing.assert_allclose(d_out.data, to_numpy(k_out), rtol=1e-5, atol=1e-6)
    r = rand(*k_out.shape)
    (d_out * dg.Tensor(r)).sum().backward()
    (k_out * torch.from_numpy(r)).sum().backward()
    np.testing.assert_allclose(x_d.grad, x_t.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert d_layer.get_config()["interpolation"] == k_layer.get_config()["interpolation"] == "bicubic"


@pytest.mark.parametrize("interpolation", ["lanczos3", "lanczos5", "area"])
def test_upsampling2d_other_kernels_are_ops_image_resize(interpolation):
    """Keras's PyTorch backend lacks these kernels; the layer is ops.image.resize to the scaled size
    (JAX's kernels), which keeps a constant image constant."""
    x = rand(2, 3, 4, 2)
    out = dg.layers.UpSampling2D((2, 3), interpolation=interpolation)(x)
    np.testing.assert_allclose(out.data, dg.ops.image.resize(x, (6, 12), interpolation=interpolation).data,
                               rtol=1e-6)
    flat = dg.layers.UpSampling2D((2, 2), interpolation=interpolation)(np.full((1, 4, 4, 1), 0.3, "float32"))
    np.testing.assert_allclose(flat.data, 0.3, rtol=1e-5)
    with pytest.raises(ValueError, match="interpolation"):
        dg.layers.UpSampling2D(interpolation="gaussian")


# --------------------------------------------------------------------------- configs
def _custom_layer(base):
    class Scale(base):
        def __init__(self, factor=2.0, offsets=(1, 2), mode="add", **kwargs):
            super().__init__(**kwargs)
            self.factor, self.offsets, self.mode = factor, offsets, mode

        def call(self, x):
            return x * self.factor
    return Scale


def test_automatic_config_is_keras_config():
    k_layer = _custom_layer(keras.layers.Layer)(3.0, offsets=[4, 5], name="scale", trainable=False)
    d_layer = _custom_layer(dg.layers.Layer)(3.0, offsets=[4, 5], name="scale", trainable=False)
    assert d_layer.get_config() == k_layer.get_config()


def test_string_input_config_is_keras():
    k_config = keras.layers.InputLayer(shape=(1,), dtype="string").get_config()
    d_config = dg.layers.InputLayer(shape=(1,), dtype="string").get_config()
    assert d_config["dtype"] == k_config["dtype"] == "string"
    assert d_config["batch_shape"] == k_config["batch_shape"] == (None, 1)
