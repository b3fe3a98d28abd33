"""Preprocessing layers exported as they compute at inference: onnxruntime equals predict within 1e-5
at two batch sizes (every resize interpolation, the crop and pad to the aspect ratio, the encodings
and lookups with their options)."""
from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers

from onnx_helpers import assert_exports

_RNG = np.random.default_rng(0)
IMAGES = _RNG.uniform(0, 255, (3, 9, 7, 3)).astype("float32")


def seq(shape, *stack, dtype="float32"):
    return dg.Sequential([layers.Input(shape=shape, dtype=dtype), *stack])


@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic", "lanczos3", "lanczos5", "area"])
def test_resizing_every_interpolation(interpolation, antialias, tmp_path):
    model = seq((9, 7, 3), layers.Resizing(5, 11, interpolation=interpolation, antialias=antialias))
    assert_exports(model, IMAGES, tmp_path / "m.onnx")


@pytest.mark.parametrize("make", [
    lambda: layers.Resizing(4, 6, crop_to_aspect_ratio=True),
    lambda: layers.Resizing(4, 6, pad_to_aspect_ratio=True, fill_value=3.0),
    lambda: layers.CenterCrop(5, 4),
    lambda: layers.CenterCrop(12, 4),          # larger than the image: crop to the aspect ratio, resize
    lambda: layers.AutoContrast(),
    lambda: layers.AutoContrast(value_range=(0, 1)),
], ids=["crop_to_aspect", "pad_to_aspect", "center_crop", "center_crop_upscale", "auto_contrast",
        "auto_contrast_unit"])
def test_image_layers(make, tmp_path):
    assert_exports(seq((9, 7, 3), make()), IMAGES, tmp_path / "m.onnx")


def test_channels_first_resizing(tmp_path):
    model = seq((3, 9, 7), layers.Resizing(4, 5, data_format="channels_first"),
                layers.CenterCrop(3, 3, data_format="channels_first"))
    assert_exports(model, np.moveaxis(IMAGES, -1, 1).copy(), tmp_path / "m.onnx")


def test_normalization_adapted_inverted_and_integer_input(tmp_path):
    adapted = layers.Normalization()
    adapted.adapt(_RNG.normal(2, 3, (50, 4)).astype("float32"))
    model = seq((4,), adapted, layers.Normalization(mean=1.0, variance=4.0, invert=True))
    assert_exports(model, _RNG.normal(size=(3, 4)).astype("float32"), tmp_path / "m.onnx")
    ints = seq((4,), layers.Normalization(axis=None, mean=1.0, variance=2.0), dtype="int32")
    assert_exports(ints, _RNG.integers(0, 9, (3, 4)).astype("int32"), tmp_path / "i.onnx")


@pytest.mark.parametrize("width", [5, 1])
@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization(mode, width, tmp_path):
    model = seq((width,), layers.Discretization(bin_boundaries=[-1.0, 0.0, 0.5], output_mode=mode))
    assert_exports(model, _RNG.normal(size=(3, width)).astype("float32"), tmp_path / "m.onnx")


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_category_encoding(mode, tmp_path):
    model = seq((4,), layers.CategoryEncoding(6, output_mode=mode), dtype="int32")
    assert_exports(model, _RNG.integers(0, 7, (3, 4)).astype("int32"), tmp_path / "m.onnx")


@pytest.mark.parametrize("options", [
    {}, {"mask_token": 0}, {"num_oov_indices": 3}, {"output_mode": "multi_hot"},
    {"output_mode": "count", "mask_token": 0}, {"output_mode": "one_hot"},
    {"output_mode": "tf_idf", "idf_weights": [0.5, 1.0, 2.0, 3.0]}, {"invert": True},
    {"invert": True, "mask_token": 0}], ids=str)
def test_integer_lookup(options, tmp_path):
    layer = layers.IntegerLookup(vocabulary=[7, 3, 12, 5], **options)
    low, high = (-1, 7) if options.get("invert") else (-2, 14)
    x = _RNG.integers(low, high, (3, 4)).astype("int64")
    assert_exports(seq((4,), layer, dtype="int64"), x, tmp_path / "m.onnx")


@pytest.mark.parametrize("layout", ["channels_last", "channels_first", "channels_last_expanded",
                                    "channels_first_expanded"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("mode", ["log", "magnitude", "psd", "real", "imag", "stft"])
def test_stft_spectrogram(mode, padding, layout, tmp_path):
    data_format = layout.replace("_expanded", "")
    shape = (40, 2) if data_format == "channels_last" else (2, 40)
    layer = layers.STFTSpectrogram(mode=mode, frame_length=8, frame_step=3, fft_length=16, padding=padding,
                                   data_format=data_format, expand_dims=layout.endswith("expanded"))
    assert_exports(seq(shape, layer), _RNG.normal(size=(3,) + shape).astype("float32"), tmp_path / "m.onnx")


@pytest.mark.parametrize("options", [
    {"fft_length": 32, "sequence_stride": 8, "sampling_rate": 8000, "num_mel_bins": 10},
    {"fft_length": 32, "sequence_stride": 8, "sequence_length": 20, "window": "hamming", "power_to_db": False,
     "num_mel_bins": 6, "sampling_rate": 8000, "mag_exp": 1.0},
    {"fft_length": 64, "sequence_stride": 16, "num_mel_bins": 16, "top_db": 20.0, "ref_power": 2.0}], ids=str)
def test_mel_spectrogram(options, tmp_path):
    model = seq((200,), layers.MelSpectrogram(**options))
    assert_exports(model, _RNG.normal(size=(3, 200)).astype("float32"), tmp_path / "m.onnx")
