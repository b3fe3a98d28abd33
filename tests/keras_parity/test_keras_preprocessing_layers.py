"""Preprocessing layers against Keras 3.15.1 on the torch backend.

Keras runs Normalization, Discretization (given boundaries; its quantile functions are
called directly, since its ``adapt`` needs TensorFlow), CategoryEncoding, MelSpectrogram and
STFTSpectrogram without TensorFlow, so those are compared output for output. Hashing,
HashedCrossing, the lookups and TextVectorization need TensorFlow in Keras (absent here):
their signatures and configs are compared, their values are checked in
tests/layers/preprocessing against TensorFlow's bucket numbers and Keras's index rules.
"""
import inspect

import keras
import numpy as np
import pytest
import torch
from keras.src.layers.preprocessing import discretization as k_discretization

import deepgrad as dg
from conftest import to_numpy
from deepgrad import layers

NAMES = ["CategoryEncoding", "Discretization", "HashedCrossing", "Hashing", "IntegerLookup", "MelSpectrogram",
         "Normalization", "STFTSpectrogram", "StringLookup", "TextVectorization"]


@pytest.mark.parametrize("name", NAMES)
def test_signature_matches_keras(name):
    def params(cls):
        return [(p.name, p.default) for p in inspect.signature(cls).parameters.values()]
    assert params(getattr(layers, name)) == params(getattr(keras.layers, name))


@pytest.mark.parametrize("axis", [-1, None, (1,), (1, 2)])
def test_normalization_adapt_matches_keras(axis):
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, (10, 3, 4)).astype("float32")
    k, d = keras.layers.Normalization(axis=axis), layers.Normalization(axis=axis)
    k.adapt(x)
    d.adapt(x)
    assert [w.name for w in k.weights] == [w.name.split("/")[-1] for w in d.weights]
    assert [w.shape for w in d.get_weights()] == [tuple(w.shape) for w in k.get_weights()]
    assert [w.dtype for w in d.get_weights()] == [w.dtype for w in k.get_weights()]
    np.testing.assert_allclose(d(x).data, to_numpy(k(x)), rtol=1e-5, atol=1e-5)
    d2 = layers.Normalization(axis=axis)
    d2(x)
    d2.set_weights(k.get_weights())
    np.testing.assert_allclose(d2(x).data, to_numpy(k(x)), rtol=1e-5, atol=1e-5)


def test_normalization_given_stats_invert_and_gradient_match_keras():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3)).astype("float32")
    mean, var = [0.5, -1.0, 2.0], [4.0, 0.25, 1.0]
    for invert in (False, True):
        k = keras.layers.Normalization(mean=mean, variance=var, invert=invert)
        d = layers.Normalization(mean=mean, variance=var, invert=invert)
        np.testing.assert_allclose(d(x).data, to_numpy(k(x)), rtol=1e-6, atol=1e-6)
        xt = torch.tensor(x, requires_grad=True)
        k(xt).sum().backward()
        xd = dg.Tensor(x, requires_grad=True)
        dg.sum(d(xd)).backward()
        np.testing.assert_allclose(xd.grad, xt.grad.numpy(), rtol=1e-6)
    ints = np.array([[1, 2, 3]])
    assert layers.Normalization(mean=mean, variance=var)(ints).dtype == np.float32
    np.testing.assert_allclose(layers.Normalization(mean=mean, variance=var)(ints).data,
                               to_numpy(keras.layers.Normalization(mean=mean, variance=var)(ints)), rtol=1e-6)
    k = keras.layers.Normalization(mean=mean, variance=var)
    config = layers.Normalization(mean=mean, variance=var).get_config()
    assert {key: config[key] for key in ("mean", "variance", "invert")} == \
        {key: k.get_config()[key] for key in ("mean", "variance", "invert")}


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization_matches_keras(mode):
    x = np.array([[-1.5, 0.0, 0.3], [0.5, 2.0, 9.0]], "float32")
    col = x[:, :1] if mode == "one_hot" else x
    k = keras.layers.Discretization(bin_boundaries=[0.0, 0.4, 1.0], output_mode=mode)
    d = layers.Discretization(bin_boundaries=[0.0, 0.4, 1.0], output_mode=mode)
    ko, do = k(col), d(col)
    np.testing.assert_array_equal(do.data, to_numpy(ko))
    assert do.dtype == np.dtype(str(ko.dtype).replace("torch.", ""))
    assert {**d.get_config(), "name": None} == {**k.get_config(), "name": None}


def test_discretization_adapt_matches_keras_quantile_summaries():
    rng = np.random.default_rng(3)
    batches = [rng.exponential(2.0, (50, 2)).astype("float32") for _ in range(3)]
    for num_bins, epsilon in ((4, 0.01), (7, 0.05)):
        summary = np.array([[], []], dtype="float32")
        for b in batches:
            summary = k_discretization.merge_summaries(k_discretization.summarize(b, epsilon), summary, epsilon)
        expected = k_discretization.get_bin_boundaries(summary, num_bins).tolist()
        layer = layers.Discretization(num_bins=num_bins, epsilon=epsilon)
        layer.adapt(iter(batches))
        np.testing.assert_allclose(layer.bin_boundaries, expected, rtol=1e-6)


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_category_encoding_matches_keras(mode):
    ids = np.array([[0, 1, 1, 4], [3, 3, 2, 0]]) if mode != "one_hot" else np.array([[0], [4], [2]])
    k = keras.layers.CategoryEncoding(num_tokens=5, output_mode=mode)
    d = layers.CategoryEncoding(num_tokens=5, output_mode=mode)
    np.testing.assert_array_equal(d(ids).data, to_numpy(k(ids)))
    np.testing.assert_array_equal(d(ids[0]).data, to_numpy(k(ids[0])))
    assert d.compute_output_shape((None,) + ids.shape[1:]) == k.compute_output_shape((None,) + ids.shape[1:])
    if mode == "count":
        w = np.random.default_rng(0).random(ids.shape).astype("float32")
        np.testing.assert_allclose(d(ids, count_weights=w).data, to_numpy(k(ids, count_weights=w)), rtol=1e-6)


@pytest.mark.parametrize("kwargs", [
    {"fft_length": 256, "sequence_stride": 64, "num_mel_bins": 20},
    {"fft_length": 128, "sequence_stride": 32, "sequence_length": 100, "num_mel_bins": 16, "power_to_db": False,
     "mag_exp": 1.0, "sampling_rate": 8000, "min_freq": 60.0},
])
def test_mel_spectrogram_matches_keras(kwargs):
    x = np.random.default_rng(4).standard_normal((2, 2000)).astype("float32")
    k, d = keras.layers.MelSpectrogram(**kwargs), layers.MelSpectrogram(**kwargs)
    ko = to_numpy(k(x))
    np.testing.assert_allclose(d(x).data, ko, rtol=1e-4, atol=1e-4 * np.abs(ko).max())
    kc = k.get_config()
    dc = d.get_config()
    assert {key: dc[key] for key in kc if key not in ("dtype", "name")} == \
        {key: kc[key] for key in kc if key not in ("dtype", "name")}


@pytest.mark.parametrize("mode", ["log", "magnitude", "psd", "real", "imag", "angle", "stft"])
@pytest.mark.parametrize("data_format,expand_dims,padding", [("channels_last", False, "valid"),
                                                             ("channels_first", True, "same")])
def test_stft_spectrogram_matches_keras(mode, data_format, expand_dims, padding):
    rng = np.random.default_rng(5)
    shape = (2, 300, 2) if data_format == "channels_last" else (2, 2, 300)
    x = rng.standard_normal(shape).astype("float32")
    kwargs = dict(mode=mode, frame_length=48, frame_step=20, fft_length=64, data_format=data_format,
                  expand_dims=expand_dims, padding=padding)
    k, d = keras.layers.STFTSpectrogram(**kwargs), layers.STFTSpectrogram(**kwargs)
    ko = to_numpy(k(x))
    d(x)
    assert [w.name for w in k.weights] == [w.name.split("/")[-1] for w in d.weights]
    for kw, dw in zip(k.get_weights(), d.get_weights()):
        # the DFT angles are computed in float64 (initializers.STFT), Keras's in float32: up to 1e-6 apart
        np.testing.assert_allclose(dw, kw, rtol=1e-5, atol=2e-6)
    d.set_weights(k.get_weights())
    np.testing.assert_allclose(d(x).data, ko, rtol=1e-5, atol=1e-5)
    assert tuple(d.compute_output_shape((None,) + shape[1:])) == tuple(k.compute_output_shape((None,) + shape[1:]))
    # input gradients through torch autograd on the Keras layer
    if mode in ("magnitude", "real", "stft"):
        xt = torch.tensor(x, requires_grad=True)
        k(xt).sum().backward()
        xd = dg.Tensor(x, requires_grad=True)
        dg.sum(d(xd)).backward()
        np.testing.assert_allclose(xd.grad, xt.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_stft_spectrogram_config_matches_keras():
    k = keras.layers.STFTSpectrogram(mode="psd", frame_length=40, periodic=True, scaling="spectrum")
    d = layers.STFTSpectrogram(mode="psd", frame_length=40, periodic=True, scaling="spectrum")
    kc, dc = k.get_config(), d.get_config()
    assert {key: dc[key] for key in kc if key not in ("dtype", "name")} == \
        {key: kc[key] for key in kc if key not in ("dtype", "name")}


def _keras_get_config_source(name):
    """The source of every preprocessing ``get_config`` of a Keras layer class (it cannot be
    built here without TensorFlow): the keys it writes appear in it as string literals."""
    return "".join(inspect.getsource(c.__dict__["get_config"]) for c in getattr(keras.layers, name).__mro__
                   if "get_config" in c.__dict__ and c.__module__.startswith("keras.src.layers.preprocessing"))


@pytest.mark.parametrize("name,kwargs", [
    ("StringLookup", {"vocabulary": ["a", "b"]}),
    ("IntegerLookup", {"vocabulary": [3, 4]}),
    ("TextVectorization", {"vocabulary": ["a", "b"]}),
    ("Hashing", {"num_bins": 3}),
    ("HashedCrossing", {"num_bins": 3}),
])
def test_tensorflow_only_layers_have_keras_config_keys(name, kwargs):
    config = getattr(layers, name)(**kwargs).get_config()
    expected = {
        "StringLookup": {"invert", "max_tokens", "num_oov_indices", "oov_token", "mask_token", "output_mode",
                         "sparse", "pad_to_max_tokens", "idf_weights", "vocabulary", "vocabulary_size",
                         "oov_method", "salt", "encoding"},
        "IntegerLookup": {"invert", "max_tokens", "num_oov_indices", "oov_token", "mask_token", "output_mode",
                          "sparse", "pad_to_max_tokens", "vocabulary_dtype", "idf_weights", "vocabulary",
                          "vocabulary_size", "oov_method", "salt"},
        "TextVectorization": {"max_tokens", "standardize", "split", "ngrams", "output_mode",
                              "output_sequence_length", "pad_to_max_tokens", "sparse", "ragged", "vocabulary",
                              "idf_weights", "encoding", "vocabulary_size"},
        "Hashing": {"num_bins", "salt", "mask_value", "output_mode", "sparse"},
        "HashedCrossing": {"num_bins", "output_mode", "sparse"},
    }[name]
    assert expected <= set(config)
    source = _keras_get_config_source(name)
    for key in expected:  # every key is one Keras's own get_config writes
        assert f'"{key}"' in source, key
