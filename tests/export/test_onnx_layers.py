"""Each layer kind exported to ONNX computes what ``predict`` computes (onnxruntime, within 1e-5),
with a batch size other than the one the file was made from (the batch axis is dynamic)."""
from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers, ops

from deepgrad.export import CONVERTERS

from onnx_helpers import assert_exports, randomize


def seq(input_shape, *stack, dtype="float32"):
    return dg.Sequential([layers.Input(shape=input_shape, dtype=dtype), *stack])


def merging():
    x = layers.Input(shape=(6,))
    a, b = layers.Dense(6, activation="tanh")(x), layers.Dense(6)(x)
    merged = [layers.Add()([a, b, x]), layers.Subtract()([a, b]), layers.Multiply()([a, b]),
              layers.Average()([a, b]), layers.Maximum()([a, b, x]), layers.Minimum()([a, b]),
              layers.Dot(axes=1)([a, b]), layers.Dot(axes=1, normalize=True)([a, x])]
    return dg.Model(x, layers.Concatenate()(merged))


def attention():
    x = layers.Input(shape=(5, 8))
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3)(x, x)
    luong, scores = layers.Attention(use_scale=True)([x, mha], return_attention_scores=True)
    concat = layers.Attention(score_mode="concat", use_scale=True)([x, mha, luong], use_causal_mask=True)
    return dg.Model(x, [layers.AdditiveAttention()([concat, x]), scores])


def _image_layers():
    """Every image layer: the deterministic ones, and the random augmentations (the identity at inference)."""
    return seq((9, 7, 3), layers.Resizing(8, 6, interpolation="bicubic", antialias=True),
               layers.CenterCrop(6, 5), layers.Resizing(7, 7, crop_to_aspect_ratio=True),
               layers.AutoContrast(value_range=(-3, 3)),
               layers.AugMix(), layers.CutMix(), layers.Equalization(), layers.MaxNumBoundingBoxes(2), layers.MixUp(),
               layers.RandAugment(), layers.RandomBrightness(0.2), layers.RandomColorDegeneration(0.3),
               layers.RandomColorJitter(), layers.RandomContrast(0.2), layers.RandomCrop(4, 4),
               layers.RandomElasticTransform(), layers.RandomErasing(), layers.RandomFlip(),
               layers.RandomGaussianBlur(), layers.RandomGrayscale(), layers.RandomHue(0.1), layers.RandomInvert(),
               layers.RandomPerspective(), layers.RandomPosterization(4), layers.RandomRotation(0.2),
               layers.RandomSaturation(0.2), layers.RandomSharpness(0.2), layers.RandomShear(0.2),
               layers.RandomTranslation(0.1, 0.1), layers.RandomZoom(0.2), layers.Solarization())


def _numeric_preprocessing():
    normalization = layers.Normalization(mean=[0.5, -1.0, 0.0, 2.0], variance=[1.0, 4.0, 0.25, 2.0])
    return seq((4,), normalization, layers.Discretization(bin_boundaries=[-1.0, 0.0, 1.0]),
               layers.CategoryEncoding(4, output_mode="count"))


def _lookup():
    ids = layers.Input((4,), dtype="int64")
    index = layers.IntegerLookup(vocabulary=[7, 3, 10, 5], mask_token=0)(ids)
    hot = layers.IntegerLookup(vocabulary=[7, 3, 10, 5], num_oov_indices=2, output_mode="multi_hot")(ids)
    back = layers.IntegerLookup(vocabulary=[7, 3, 10, 5], invert=True)(index)
    return dg.Model(ids, [index, hot, back])


def _masked_sequences():
    ids = layers.Input((6,), dtype="int32")
    x = layers.Embedding(11, 4, mask_zero=True)(ids)
    y = layers.Bidirectional(layers.GRU(3, return_sequences=True))(x)
    y = layers.GroupedQueryAttention(2, 4, 2)(y, y)
    y = layers.MultiHeadAttention(2, 3, attention_axes=(1,))(y, y, use_causal_mask=True)
    return dg.Model(ids, layers.GlobalAveragePooling1D()(layers.LSTM(3, return_sequences=True)(y)))


def _reversible_embedding():
    ids = layers.Input((5,), dtype="int32")
    table = layers.ReversibleEmbedding(11, 4, logit_soft_cap=2.0)
    return dg.Model(ids, table(table(ids), reverse=True))


def _dots():
    a, b, c = layers.Input((4, 5)), layers.Input((3, 5)), layers.Input((5, 2))
    return dg.Model([a, b, c], [layers.Dot(axes=(2, 2), normalize=True)([a, b]), layers.Dot(axes=(2, 1))([a, c])])


def _lambda_and_ops():
    x = layers.Input((4, 6))
    y = layers.Lambda(lambda t: ops.softmax(t * 2.0, axis=1) + ops.mean(t, axis=-1, keepdims=True))(x)
    return dg.Model(x, ops.concatenate([y, x[:, :2]], axis=1))


CASES = {
    # core
    "dense": lambda: seq((7,), layers.Dense(5, activation="relu"), layers.Dense(3, use_bias=False)),
    "dense_3d": lambda: seq((4, 6), layers.Dense(5, activation="tanh")),
    "einsum_dense": lambda: seq((4, 6), layers.EinsumDense("abc,cd->abd", output_shape=(None, 5), bias_axes="d")),
    "activations": lambda: seq((9,), *[layers.Activation(a) for a in (
        "sigmoid", "elu", "selu", "softplus", "softsign", "silu", "gelu", "relu6", "leaky_relu", "hard_sigmoid",
        "hard_silu", "mish", "log_sigmoid", "celu", "hard_tanh", "tanh_shrink", "linear", "tanh", "softmax")]),
    "exponential_log_softmax": lambda: seq((9,), layers.Activation("exponential"), layers.Activation("log_softmax")),
    "shrink": lambda: seq((9,), layers.Activation("hard_shrink"), layers.Activation("soft_shrink")),
    "activation_layers": lambda: seq((9,), layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2),
                                     layers.ReLU(max_value=2.0), layers.LeakyReLU(0.3), layers.ELU(0.7),
                                     layers.PReLU(), layers.Softmax()),
    "merging": merging,
    "time_distributed": lambda: seq((4, 6, 5, 2), layers.TimeDistributed(layers.Conv2D(3, 2, activation="relu")),
                                    layers.TimeDistributed(layers.Flatten()), layers.TimeDistributed(layers.Dense(3))),
    "attention": attention,
    "dropouts_2d_3d": lambda: seq((3, 4, 2, 2), layers.SpatialDropout3D(0.5), layers.Reshape((12, 2, 2)),
                                  layers.SpatialDropout2D(0.5)),
    "dropouts": lambda: seq((6, 4), layers.Dropout(0.5), layers.SpatialDropout1D(0.3), layers.GaussianNoise(1.0),
                            layers.GaussianDropout(0.2), layers.AlphaDropout(0.1), layers.ActivityRegularization(),
                            layers.Identity()),
    "reshaping": lambda: seq((6, 4), layers.Permute((2, 1)), layers.Reshape((2, -1)), layers.Flatten(),
                             layers.RepeatVector(3), layers.Rescaling(0.5, offset=0.1)),
    "embedding": lambda: seq((5,), layers.Embedding(11, 4), layers.Flatten(), dtype="int32"),
    # convolutions
    "conv1d": lambda: seq((12, 3), layers.Conv1D(4, 3, strides=2, padding="same", activation="relu"),
                          layers.Conv1D(2, 2, padding="causal", dilation_rate=2), layers.Conv1D(3, 2)),
    "conv2d": lambda: seq((9, 8, 3), layers.Conv2D(4, (3, 2), strides=(2, 1), padding="same"),
                          layers.Conv2D(4, 3, dilation_rate=2, groups=2, activation="sigmoid"),
                          layers.Conv2D(2, 1, use_bias=False)),
    "conv3d": lambda: seq((5, 6, 4, 2), layers.Conv3D(3, 2, padding="same", strides=2), layers.Conv3D(2, 1)),
    "conv_transpose": lambda: seq((5, 4, 3), layers.Conv2DTranspose(4, 3, strides=2, padding="same"),
                                  layers.Conv2DTranspose(2, (2, 3), strides=(3, 1)),
                                  layers.Conv2DTranspose(2, 3, strides=2, output_padding=1)),
    "conv_transpose_1d_3d": lambda: seq((4, 3, 3, 2), layers.Conv3DTranspose(2, 2, strides=2),
                                        layers.Reshape((8, 72)), layers.Conv1DTranspose(3, 3, padding="same")),
    "depthwise_separable": lambda: seq((8, 8, 3), layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
                                       layers.SeparableConv2D(4, 3, strides=2, activation="relu"),
                                       layers.Reshape((12, 3)), layers.DepthwiseConv1D(2),
                                       layers.SeparableConv1D(3, 3, padding="same", depth_multiplier=2)),
    "channels_first": lambda: seq((3, 8, 7), layers.Conv2D(4, 3, data_format="channels_first", padding="same"),
                                  layers.MaxPooling2D(2, data_format="channels_first"),
                                  layers.GlobalAveragePooling2D(data_format="channels_first")),
    # pooling
    "pooling2d": lambda: seq((9, 7, 2), layers.MaxPooling2D(2), layers.AveragePooling2D(2, strides=1, padding="same"),
                             layers.MaxPooling2D(3, strides=2, padding="same"), layers.GlobalMaxPooling2D()),
    "pooling1d": lambda: seq((11, 3), layers.AveragePooling1D(3, padding="same"), layers.MaxPooling1D(2),
                             layers.GlobalAveragePooling1D()),
    "pooling3d": lambda: seq((4, 5, 6, 2), layers.MaxPooling3D(2), layers.AveragePooling3D(2, padding="same"),
                             layers.GlobalAveragePooling3D(keepdims=True), layers.GlobalMaxPooling3D()),
    "global_pooling": lambda: seq((6, 3), layers.GlobalMaxPooling1D(keepdims=True), layers.Flatten()),
    "spatial_reshaping": lambda: seq((5, 6, 2), layers.ZeroPadding2D(((1, 2), (0, 1))),
                                     layers.Cropping2D(((1, 0), (2, 1))),
                                     layers.UpSampling2D((2, 3)), layers.Reshape((-1, 2)), layers.ZeroPadding1D(2),
                                     layers.Cropping1D((1, 3)), layers.UpSampling1D(2)),
    "spatial_reshaping_3d": lambda: seq((3, 4, 2, 2), layers.ZeroPadding3D(1),
                                        layers.Cropping3D(((1, 0), (0, 1), (1, 1))),
                                        layers.UpSampling3D(2)),
    # normalisation
    "batch_norm": lambda: seq((5, 4, 3), layers.BatchNormalization(), layers.Reshape((20, 3)),
                              layers.BatchNormalization(axis=1, center=False)),
    "layer_norm": lambda: seq((5, 6), layers.LayerNormalization(), layers.LayerNormalization(axis=[1, 2]),
                              layers.LayerNormalization(rms_scaling=True)),
    "group_norm": lambda: seq((4, 5, 6), layers.GroupNormalization(groups=3), layers.GroupNormalization(groups=-1)),
    "rms_unit_norm": lambda: seq((5, 6), layers.RMSNormalization(), layers.UnitNormalization(axis=[1, 2])),
    # recurrent
    "simple_rnn": lambda: seq((7, 3), layers.SimpleRNN(4, return_sequences=True),
                              layers.SimpleRNN(5, activation="relu", go_backwards=True)),
    "lstm": lambda: seq((7, 3), layers.LSTM(4, return_sequences=True), layers.LSTM(5, go_backwards=True,
                                                                                 return_sequences=True),
                        layers.LSTM(3, recurrent_activation="hard_sigmoid", use_bias=False)),
    "gru": lambda: seq((7, 3), layers.GRU(4, return_sequences=True), layers.GRU(5, reset_after=False,
                                                                              go_backwards=True)),
    "bidirectional": lambda: seq((6, 3), layers.Bidirectional(layers.LSTM(4, return_sequences=True)),
                                 layers.Bidirectional(layers.GRU(3, return_sequences=True), merge_mode="sum"),
                                 layers.Bidirectional(layers.SimpleRNN(2), merge_mode="mul")),
    "bidirectional_ave": lambda: seq((6, 3), layers.Bidirectional(layers.GRU(3), merge_mode="ave")),
    "dots_rank3": _dots,
    "lambda_and_symbolic_ops": _lambda_and_ops,
    "reversible_embedding": _reversible_embedding,
    "spectral_normalization": lambda: seq((6,), layers.SpectralNormalization(layers.Dense(4))),
    "adaptive_pooling": lambda: seq((9, 7, 3), layers.AdaptiveAveragePooling2D((4, 3)), layers.AdaptiveMaxPooling2D(2),
                                    layers.Reshape((4, 3)), layers.AdaptiveMaxPooling1D(3), layers.Reshape((3, 1, 1, 3)),
                                    layers.AdaptiveAveragePooling3D((2, 1, 1))),
    "adaptive_pooling_others": lambda: seq((8, 3), layers.AdaptiveAveragePooling1D(3), layers.Reshape((3, 1, 1, 3)),
                                           layers.AdaptiveMaxPooling3D((2, 1, 1))),
    "pipeline": lambda: seq((9, 7, 3), layers.Pipeline([layers.RandomFlip(), layers.Resizing(5, 5)])),
    "conv_lstm": lambda: seq((3, 5, 4, 2), layers.ConvLSTM2D(2, 2, padding="same", return_sequences=True),
                             layers.Reshape((3, 20, 2)), layers.ConvLSTM1D(2, 3),
                             layers.Reshape((1, 18, 1, 1, 2)), layers.ConvLSTM3D(1, 1)),
    "stft": lambda: seq((40, 2), layers.STFTSpectrogram(frame_length=8, frame_step=4, fft_length=8)),
    "mel": lambda: seq((100,), layers.MelSpectrogram(fft_length=32, sequence_stride=8, num_mel_bins=8,
                                                     sampling_rate=8000)),
    "rnn_cells": lambda: seq((5, 3), layers.RNN([layers.LSTMCell(3), layers.GRUCell(2)])),
    "masking": lambda: seq((6, 3), layers.Masking(0.0), layers.SimpleRNN(4, return_sequences=True)),
    "masked_sequences": _masked_sequences,
    # preprocessing
    "image_layers": _image_layers,
    "numeric_preprocessing": _numeric_preprocessing,
    "lookup": _lookup,
    "bidirectional_two_kinds": lambda: seq((6, 3), layers.Bidirectional(
        layers.LSTM(3, return_sequences=True, go_backwards=True),
        backward_layer=layers.GRU(3, return_sequences=True))),
}


def _inputs(name, model, n=2) -> list:
    """One array per model input: ids in [0, 11) for an integer input (zeros among them: masked steps),
    else normal values; a few steps of a float sequence set to zeros (steps that Masking masks)."""
    rng = np.random.default_rng(len(name))
    arrays = []
    for t in model.inputs:
        shape, dtype = tuple(t.shape[1:]), np.dtype(t.dtype)
        if dtype.kind in "iu":
            arrays.append(rng.integers(0, 11, (n,) + shape).astype(dtype))
            continue
        x = rng.normal(size=(n,) + shape).astype("float32")
        if name == "masking":
            x[0, 1] = 0.0
        arrays.append(x)
    return arrays


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_exports(name, tmp_path):
    model = CASES[name]()
    randomize(model)
    xs = _inputs(name, model, 3)
    assert_exports(model, xs if len(xs) > 1 else xs[0], tmp_path / "m.onnx")


def _layer_classes(model) -> set:
    found = set()
    for layer in getattr(model, "operations", model.layers):
        found |= _layer_classes(layer) if hasattr(layer, "compile") else {type(layer)}
    return found


def test_one_model_with_every_exportable_layer(tmp_path):
    """Every case above as a nested model of one functional model with as many inputs and outputs;
    between them they hold every layer class that has a converter."""
    names = sorted(CASES)
    parts = [CASES[name]() for name in names]
    inputs, outputs = [], []
    for part in parts:
        xs = [layers.Input(shape=tuple(t.shape[1:]), dtype=t.dtype) for t in part.inputs]
        inputs += xs
        y = part(xs if len(xs) > 1 else xs[0])
        outputs += y if isinstance(y, list) else [y]
    model = dg.Model(inputs, outputs)
    randomize(model)
    missing = {cls.__name__ for cls in CONVERTERS} - {cls.__name__ for cls in _layer_classes(model)}
    assert not missing
    assert_exports(model, [x for n, p in zip(names, parts) for x in _inputs(n, p)], tmp_path / "m.onnx")
