"""Pooling, reshaping, regularization, merging and core shape layers against Keras 3 (torch backend):
outputs, input gradients, masks, configs and constructor signatures."""
import inspect

import keras
import numpy as np
import pytest
import torch

import deepgrad as dg
from conftest import to_numpy
from test_keras_config import normalise

RTOL, ATOL = 1e-5, 1e-5


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def assert_same_output_and_input_grad(k_layer, d_layer, inputs, **call_kwargs):
    """Same outputs and same d(sum(out * r))/d(inputs) as Keras (torch autograd on Keras's side)."""
    inputs = inputs if isinstance(inputs, list) else [inputs]
    k_in = [torch.tensor(x, requires_grad=True) for x in inputs]
    k_out = k_layer(k_in if len(k_in) > 1 else k_in[0], **call_kwargs)
    d_in = [dg.Tensor(x, requires_grad=True) for x in inputs]
    d_out = d_layer(d_in if len(d_in) > 1 else d_in[0], **call_kwargs)
    np.testing.assert_allclose(to_numpy(d_out), to_numpy(k_out), rtol=RTOL, atol=ATOL)
    r = rand(*tuple(k_out.shape), seed=3)
    k_grads = torch.autograd.grad((k_out * torch.from_numpy(r)).sum(), k_in)
    dg.sum(d_out * dg.Tensor(r)).backward()
    for d, k in zip(d_in, k_grads):
        np.testing.assert_allclose(d.grad, k.numpy(), rtol=1e-4, atol=1e-5)
    assert tuple(d_layer.compute_output_shape([(None,) + x.shape[1:] for x in inputs] if len(inputs) > 1
                                              else (None,) + inputs[0].shape[1:]))[1:] == tuple(k_out.shape)[1:]
    return d_out, k_out


# ----------------------------------------------------------------- pooling
POOL_CASES = [
    ("MaxPooling3D", dict(), (2, 4, 5, 6, 3)),
    ("MaxPooling3D", dict(pool_size=(2, 3, 2), strides=(1, 2, 2), padding="same"), (2, 5, 5, 4, 2)),
    ("AveragePooling3D", dict(pool_size=2), (2, 4, 5, 6, 3)),
    ("AveragePooling3D", dict(pool_size=(3, 2, 2), strides=1), (1, 5, 4, 4, 2)),
    ("MaxPooling3D", dict(pool_size=2, data_format="channels_first"), (2, 3, 4, 4, 6)),
    ("AveragePooling3D", dict(pool_size=2, strides=1, data_format="channels_first"), (2, 3, 4, 3, 5)),
    ("MaxPooling2D", dict(pool_size=(2, 3), data_format="channels_first"), (2, 3, 6, 7)),
    ("AveragePooling2D", dict(pool_size=2, strides=1, data_format="channels_first"), (2, 3, 5, 4)),
    ("MaxPooling1D", dict(pool_size=3, strides=2, data_format="channels_first"), (2, 3, 9)),
    ("AveragePooling1D", dict(pool_size=2, data_format="channels_first"), (2, 3, 8)),
    ("AdaptiveAveragePooling1D", dict(output_size=3), (2, 7, 3)),
    ("AdaptiveAveragePooling2D", dict(output_size=(3, 2)), (2, 7, 5, 3)),
    ("AdaptiveAveragePooling3D", dict(output_size=2), (1, 5, 4, 3, 2)),
    ("AdaptiveMaxPooling1D", dict(output_size=4), (2, 9, 3)),
    ("AdaptiveMaxPooling2D", dict(output_size=3), (2, 7, 8, 2)),
    ("AdaptiveMaxPooling3D", dict(output_size=(2, 3, 2)), (1, 5, 6, 4, 2)),
    ("AdaptiveAveragePooling2D", dict(output_size=2, data_format="channels_first"), (2, 3, 5, 7)),
    ("AdaptiveMaxPooling1D", dict(output_size=3, data_format="channels_first"), (2, 3, 8)),
    ("GlobalMaxPooling3D", dict(), (2, 3, 4, 2, 3)),
    ("GlobalAveragePooling3D", dict(keepdims=True), (2, 3, 4, 2, 3)),
    ("GlobalAveragePooling3D", dict(data_format="channels_first"), (2, 3, 4, 2, 3)),
    ("GlobalMaxPooling2D", dict(data_format="channels_first", keepdims=True), (2, 3, 4, 5)),
    ("GlobalAveragePooling1D", dict(data_format="channels_first"), (2, 3, 6)),
    ("GlobalMaxPooling1D", dict(data_format="channels_first", keepdims=True), (2, 3, 6)),
]


@pytest.mark.parametrize("name, kwargs, shape", POOL_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(POOL_CASES)])
def test_pooling(name, kwargs, shape):
    assert_same_output_and_input_grad(getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs),
                                      rand(*shape))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_average_pooling1d_mask(data_format, keepdims):
    x = rand(3, 5, 4)
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1], [0, 1, 0, 0, 0]], bool)
    if data_format == "channels_first":
        x = x.transpose(0, 2, 1).copy()
    k = keras.layers.GlobalAveragePooling1D(data_format=data_format, keepdims=keepdims)(x, mask=mask)
    d = dg.layers.GlobalAveragePooling1D(data_format=data_format, keepdims=keepdims)(dg.Tensor(x), mask=mask)
    np.testing.assert_allclose(to_numpy(d), to_numpy(k), rtol=RTOL, atol=ATOL)


# ----------------------------------------------------------------- reshaping
RESHAPE_CASES = [
    ("UpSampling1D", dict(), (2, 4, 3)),
    ("UpSampling1D", dict(size=3), (2, 4, 3)),
    ("UpSampling2D", dict(), (2, 3, 4, 2)),
    ("UpSampling2D", dict(size=(3, 2), data_format="channels_first"), (2, 2, 3, 4)),
    ("UpSampling2D", dict(size=(2, 3), interpolation="bilinear"), (2, 4, 5, 3)),
    ("UpSampling2D", dict(size=3, interpolation="bilinear", data_format="channels_first"), (1, 2, 3, 4)),
    ("UpSampling3D", dict(), (2, 2, 3, 2, 2)),
    ("UpSampling3D", dict(size=(1, 2, 3), data_format="channels_first"), (1, 2, 2, 3, 2)),
    ("ZeroPadding1D", dict(), (2, 4, 3)),
    ("ZeroPadding1D", dict(padding=(2, 0)), (2, 4, 3)),
    ("ZeroPadding2D", dict(), (2, 3, 4, 2)),
    ("ZeroPadding2D", dict(padding=(2, 1)), (2, 3, 4, 2)),
    ("ZeroPadding2D", dict(padding=((1, 2), (0, 3)), data_format="channels_first"), (2, 2, 3, 4)),
    ("ZeroPadding3D", dict(), (1, 2, 3, 2, 2)),
    ("ZeroPadding3D", dict(padding=(1, 0, 2), data_format="channels_first"), (1, 2, 2, 3, 2)),
    ("Cropping1D", dict(), (2, 5, 3)),
    ("Cropping1D", dict(cropping=(0, 2)), (2, 5, 3)),
    ("Cropping2D", dict(cropping=((1, 0), (2, 1))), (2, 5, 6, 2)),
    ("Cropping2D", dict(cropping=1, data_format="channels_first"), (2, 2, 5, 6)),
    ("Cropping3D", dict(), (1, 4, 5, 6, 2)),
    ("Cropping3D", dict(cropping=((0, 1), (2, 0), (1, 1)), data_format="channels_first"), (1, 2, 4, 5, 6)),
    ("Reshape", dict(target_shape=(3, -1)), (2, 4, 3)),
    ("Flatten", dict(), (2, 3, 4, 2)),
    ("Flatten", dict(data_format="channels_first"), (2, 3, 4, 2)),
    ("Permute", dict(dims=(3, 1, 2)), (2, 3, 4, 2)),
    ("RepeatVector", dict(n=3), (2, 4)),
]


@pytest.mark.parametrize("name, kwargs, shape", RESHAPE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(RESHAPE_CASES)])
def test_reshaping(name, kwargs, shape):
    assert_same_output_and_input_grad(getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs),
                                      rand(*shape))


# ----------------------------------------------------------------- regularization
@pytest.mark.parametrize("name, kwargs, shape", [
    ("GaussianNoise", dict(stddev=0.3), (3, 4)), ("GaussianDropout", dict(rate=0.3), (3, 4)),
    ("AlphaDropout", dict(rate=0.3), (3, 4)), ("SpatialDropout1D", dict(rate=0.3), (2, 3, 4)),
    ("SpatialDropout2D", dict(rate=0.3), (2, 3, 3, 4)), ("SpatialDropout3D", dict(rate=0.3), (2, 2, 2, 2, 3)),
    ("Dropout", dict(rate=0.3, noise_shape=(None, 1)), (3, 4)),
])
def test_regularization_is_identity_in_inference(name, kwargs, shape):
    x = rand(*shape)
    for training in (False, None):
        assert_same_output_and_input_grad(getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs),
                                          x, training=training)


@pytest.mark.parametrize("name, kwargs", [("GaussianNoise", dict(stddev=0.0)), ("GaussianDropout", dict(rate=0.0)),
                                          ("AlphaDropout", dict(rate=0.0)), ("SpatialDropout2D", dict(rate=0.0))])
def test_regularization_rate_zero_in_training(name, kwargs):
    x = rand(2, 3, 3, 4)
    assert_same_output_and_input_grad(getattr(keras.layers, name)(**kwargs), getattr(dg.layers, name)(**kwargs),
                                      x, training=True)


def test_activity_regularization_loss():
    x = rand(4, 5)
    k, d = keras.layers.ActivityRegularization(l1=0.01, l2=0.03), dg.layers.ActivityRegularization(l1=0.01, l2=0.03)
    assert_same_output_and_input_grad(k, d, x)
    k(x)
    d(dg.Tensor(x))
    assert len(d.losses) == len(k.losses) == 1
    np.testing.assert_allclose(to_numpy(d.losses[0]), to_numpy(k.losses[0]), rtol=1e-5)
    assert d.losses[0].item() > 0


# ----------------------------------------------------------------- merging
@pytest.mark.parametrize("axes, normalize, shapes", [
    (1, False, [(3, 4), (3, 4)]), (-1, True, [(3, 4), (3, 4)]), ((2, 2), False, [(2, 3, 4), (2, 5, 4)]),
    ((1, 2), True, [(2, 3, 4), (2, 5, 3)]), ((2, 1), False, [(2, 3, 4), (2, 4, 5)]), (1, False, [(2, 3), (2, 3, 5)]),
    (-1, False, [(2, 3, 4), (2, 4)]), ((1, 3), False, [(2, 3, 2, 4), (2, 2, 5, 3)]),
])
def test_dot(axes, normalize, shapes):
    xs = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    assert_same_output_and_input_grad(keras.layers.Dot(axes, normalize=normalize),
                                      dg.layers.Dot(axes, normalize=normalize), xs)


@pytest.mark.parametrize("name", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"])
def test_merge_values_and_gradients(name):
    xs = [rand(2, 3, 4, seed=1), rand(2, 3, 4, seed=2)]
    assert_same_output_and_input_grad(getattr(keras.layers, name)(), getattr(dg.layers, name)(), xs)


@pytest.mark.parametrize("name", ["Add", "Multiply", "Maximum", "Minimum"])
def test_merge_of_different_ranks(name):
    """A (batch, 4) input meets a (batch, 3, 4) one as (batch, 1, 4)."""
    xs = [rand(3, 4, seed=1), rand(3, 2, 4, seed=2)]
    assert_same_output_and_input_grad(getattr(keras.layers, name)(), getattr(dg.layers, name)(), xs)


def _masked_pair(k_emb, d_emb, ids_a, ids_b):
    """Two embedded sequences with their masks attached, in Keras and in deepgrad."""
    return [k_emb(ids_a), k_emb(ids_b)], [d_emb(ids_a), d_emb(ids_b)]


@pytest.mark.parametrize("name, kwargs", [("Add", {}), ("Subtract", {}), ("Multiply", {}), ("Average", {}),
                                          ("Maximum", {}), ("Minimum", {}), ("Concatenate", {}),
                                          ("Concatenate", dict(axis=1))])
def test_merge_masks(name, kwargs):
    ids_a = np.array([[1, 2, 0, 0], [3, 0, 2, 1]])
    ids_b = np.array([[2, 0, 1, 0], [0, 0, 3, 1]])
    k_emb = keras.layers.Embedding(5, 3, mask_zero=True)
    d_emb = dg.layers.Embedding(5, 3, mask_zero=True)
    k_emb.build((None, 4))
    d_emb.build((None, 4))
    d_emb.set_weights(k_emb.get_weights())
    k_in, d_in = _masked_pair(k_emb, d_emb, ids_a, ids_b)
    k_out = getattr(keras.layers, name)(**kwargs)(k_in)
    d_out = getattr(dg.layers, name)(**kwargs)(d_in)
    np.testing.assert_allclose(to_numpy(d_out), to_numpy(k_out), rtol=RTOL, atol=ATOL)
    k_mask = getattr(k_out, "_keras_mask", None)
    assert k_mask is not None
    np.testing.assert_array_equal(np.asarray(d_out._keras_mask), to_numpy(k_mask))


def test_merge_mask_needs_every_input_masked():
    emb = dg.layers.Embedding(5, 3, mask_zero=True)
    a = emb(np.array([[1, 0, 2]]))
    b = dg.Tensor(rand(1, 3, 3))
    assert dg.layers.Add()([a, b])._keras_mask is None


# ----------------------------------------------------------------- core
def test_identity_keeps_values_and_mask():
    emb = dg.layers.Embedding(5, 3, mask_zero=True)
    x = emb(np.array([[1, 0, 2]]))
    y = dg.layers.Identity()(x)
    np.testing.assert_array_equal(y.data, x.data)
    np.testing.assert_array_equal(y._keras_mask, [[True, False, True]])
    k = keras.layers.Identity()(rand(2, 3))
    np.testing.assert_array_equal(dg.layers.Identity()(dg.Tensor(rand(2, 3))).data, to_numpy(k))


@pytest.mark.parametrize("mask_value", [0.0, -1.0])
def test_masking_values_and_mask(mask_value):
    x = rand(3, 5, 2)
    x[0, 3:] = mask_value
    x[2, 1] = mask_value
    x[1, 2, 0] = mask_value  # one feature alone does not mask the step
    k_out = keras.layers.Masking(mask_value)(x)
    d_out = dg.layers.Masking(mask_value)(dg.Tensor(x))
    np.testing.assert_allclose(d_out.data, to_numpy(k_out), rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(d_out._keras_mask, to_numpy(k_out._keras_mask))
    assert d_out._keras_mask.sum() == 15 - 3


@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN"])
def test_masking_then_recurrent_matches_keras(name):
    """The mask of Masking reaches the recurrent layer, which skips those steps as Keras does."""
    x = rand(3, 6, 4)
    x[0, 4:] = 0.0
    x[1, 2] = 0.0
    k_model = keras.Sequential([keras.Input((6, 4)), keras.layers.Masking(), getattr(keras.layers, name)(3)])
    d_model = dg.Sequential([dg.layers.Input((6, 4)), dg.layers.Masking(), getattr(dg.layers, name)(3)])
    d_model.set_weights(k_model.get_weights())
    k_out, d_out = to_numpy(k_model(x)), d_model.predict(x, verbose=0)
    np.testing.assert_allclose(d_out, k_out, rtol=1e-5, atol=1e-5)
    unmasked = to_numpy(keras.Sequential([keras.Input((6, 4)), k_model.layers[-1]])(x))
    assert not np.allclose(unmasked[0], k_out[0])  # the mask changed the result


def test_embedding_float_ids_are_truncated_as_keras():
    ids = np.array([[1.0, 2.7, 0.2], [3.9, 0.0, 1.5]], dtype="float32")
    k = keras.layers.Embedding(5, 3)
    d = dg.layers.Embedding(5, 3)
    k_out = k(ids)
    d(ids)
    d.set_weights(k.get_weights())
    np.testing.assert_allclose(d(ids).data, to_numpy(k_out), rtol=RTOL)
    np.testing.assert_allclose(d(ids).data, d(ids.astype("int32")).data)


def test_embedding_initial_weights():
    table = rand(4, 2)
    np.testing.assert_array_equal(dg.layers.Embedding(4, 2, weights=table).get_weights()[0], table)
    k = keras.layers.Embedding(4, 2, weights=table)
    np.testing.assert_array_equal(dg.layers.Embedding(4, 2, weights=[table])(np.array([[3, 1]])).data,
                                  to_numpy(k(np.array([[3, 1]]))))


def test_input_batch_shape_keeps_batch_size():
    assert tuple(dg.layers.Input(batch_shape=(4, 3)).shape) == tuple(keras.Input(batch_shape=(4, 3)).shape) == (4, 3)
    assert tuple(dg.layers.Input(shape=(3,), batch_size=8).shape) == (8, 3)
    assert tuple(dg.layers.Input(shape=(3,)).shape) == (None, 3)
    x = dg.layers.Input(batch_shape=(2, 3))
    model = dg.Model(x, dg.layers.Dense(2)(x))
    assert model.predict(rand(2, 3), verbose=0).shape == (2, 2)
    config = x.input_layer.get_config()
    k_config = keras.layers.InputLayer(batch_shape=(2, 3)).get_config()
    assert set(config) == set(k_config)
    assert normalise(config["batch_shape"]) == normalise(k_config["batch_shape"])


def test_lambda_like_keras():
    def scale(x, factor=1.0, mask=None):
        return x * factor

    x = rand(2, 3)
    k = keras.layers.Lambda(scale, output_shape=(3,), arguments={"factor": 2.0})
    d = dg.layers.Lambda(scale, output_shape=(3,), arguments={"factor": 2.0})
    np.testing.assert_allclose(d(dg.Tensor(x)).data, to_numpy(k(x)))
    assert d.compute_output_shape((None, 3)) == k.compute_output_shape((None, 3)) == (None, 3)
    assert tuple(dg.layers.Lambda(scale, output_shape=(None, 3)).compute_output_shape((5, 3))) == \
        tuple(keras.layers.Lambda(scale, output_shape=(None, 3)).compute_output_shape((5, 3))) == (5, None, 3)
    fixed = np.array([True, False])
    assert (dg.layers.Lambda(scale, mask=fixed)(dg.Tensor(x))._keras_mask == fixed).all()
    config, k_config = d.get_config(), k.get_config()
    assert {"function", "output_shape", "arguments"} <= set(config) & set(k_config)
    assert config["arguments"] == k_config["arguments"] and list(config["output_shape"]) == [3]


# ----------------------------------------------------------------- configs and signatures
CONFIG_CASES = {
    "MaxPooling3D": (), "AveragePooling3D": (2,), "GlobalMaxPooling3D": (), "GlobalAveragePooling3D": (),
    "AdaptiveAveragePooling1D": (3,), "AdaptiveAveragePooling2D": (3,), "AdaptiveAveragePooling3D": ((2, 3, 4),),
    "AdaptiveMaxPooling1D": (3,), "AdaptiveMaxPooling2D": ((2, 3),), "AdaptiveMaxPooling3D": (2,),
    "UpSampling1D": (), "UpSampling2D": (), "UpSampling3D": (), "ZeroPadding1D": (), "ZeroPadding2D": (),
    "ZeroPadding3D": (), "Cropping1D": (), "Cropping2D": (), "Cropping3D": (), "GaussianNoise": (0.1,),
    "GaussianDropout": (0.1,), "AlphaDropout": (0.1,), "SpatialDropout1D": (0.1,), "SpatialDropout2D": (0.1,),
    "SpatialDropout3D": (0.1,), "ActivityRegularization": (), "Dot": (1,), "Identity": (), "Masking": (),
    "Dropout": (0.2,),
}


@pytest.mark.parametrize("name", sorted(CONFIG_CASES))
def test_config_matches_keras(name):
    k_config = getattr(keras.layers, name)(*CONFIG_CASES[name]).get_config()
    d_config = getattr(dg.layers, name)(*CONFIG_CASES[name]).get_config()
    assert set(k_config) - set(d_config) <= {"dtype"}, name
    for key in set(k_config) & set(d_config) - {"name", "dtype"}:
        assert normalise(d_config[key]) == normalise(k_config[key]), f"{name}.{key}"


SIGNATURE_NAMES = sorted(set(CONFIG_CASES) | {
    "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D",
    "GlobalMaxPooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Add", "Subtract", "Multiply", "Average",
    "Maximum", "Minimum", "Concatenate", "Lambda", "InputLayer", "InputSpec", "Reshape", "Flatten", "Permute",
    "RepeatVector", "MaxPool3D", "AvgPool3D", "GlobalMaxPool3D", "GlobalAvgPool3D"}) + [
    "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot", "Input"]


def _parameters(obj):
    return [(p.name, p.default) for p in inspect.signature(obj).parameters.values()
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


@pytest.mark.parametrize("name", SIGNATURE_NAMES)
def test_signature_matches_keras(name):
    """Same parameter names, in the same order, with the same defaults."""
    d, k = _parameters(getattr(dg.layers, name)), _parameters(getattr(keras.layers, name))
    assert [n for n, _ in d] == [n for n, _ in k]
    assert [normalise(v) for _, v in d] == [normalise(v) for _, v in k]


def test_aliases_are_the_same_classes():
    for alias, name in [("MaxPool3D", "MaxPooling3D"), ("AvgPool3D", "AveragePooling3D"),
                        ("GlobalMaxPool3D", "GlobalMaxPooling3D"), ("GlobalAvgPool3D", "GlobalAveragePooling3D")]:
        assert getattr(dg.layers, alias) is getattr(dg.layers, name)
        assert dg.layers.get(alias) is getattr(dg.layers, name)


def test_every_layer_of_this_family_exists():
    names = [n for n in dir(keras.layers) if any(t in n for t in ("Pool", "UpSampling", "ZeroPadding", "Cropping",
                                                                  "Dropout", "Noise"))]
    names += ["ActivityRegularization", "Dot", "dot", "Identity", "Masking", "InputSpec", "Lambda"]
    assert [n for n in names if not hasattr(dg.layers, n)] == []


def test_functional_model_merges_masks_into_an_lstm():
    """Embedding(mask_zero) -> Add of two branches -> LSTM: the merged mask makes the LSTM skip steps."""
    def build(lib):
        ids_a = lib.layers.Input(shape=(5,), dtype="int32")
        ids_b = lib.layers.Input(shape=(5,), dtype="int32")
        emb = lib.layers.Embedding(6, 3, mask_zero=True)
        merged = lib.layers.Add()([emb(ids_a), emb(ids_b)])
        return lib.Model([ids_a, ids_b], lib.layers.LSTM(2)(merged))

    k_model, d_model = build(keras), build(dg)
    d_model.set_weights(k_model.get_weights())
    a = np.array([[1, 2, 0, 0, 0], [3, 1, 4, 0, 0]], "int32")
    b = np.array([[2, 1, 0, 0, 0], [1, 0, 5, 0, 0]], "int32")
    k_out = to_numpy(k_model([a, b]))
    np.testing.assert_allclose(d_model.predict([a, b], verbose=0), k_out, rtol=1e-5, atol=1e-5)
