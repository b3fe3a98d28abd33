"""Models quantized with ``model.quantize("int8")`` exported with their int8 weights, computing what
deepgrad's int8 runtime computes (inputs quantized per row or receptive field): onnxruntime equals
the quantized model's predict within 1e-5 at two batch sizes, and the file is about 4x smaller."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

import deepgrad as dg
from deepgrad import layers
from deepgrad.cli import build_model

from onnx_helpers import assert_exports, randomize

RNG = np.random.default_rng(0)


def seq(shape, *stack, dtype="float32"):
    return dg.Sequential([layers.Input(shape, dtype=dtype), *stack])


CASES = {
    "dense": (lambda: seq((3, 7), layers.Dense(16, activation="relu"), layers.Dense(5)), (3, 7)),
    "einsum_dense": (lambda: seq((4, 6), layers.EinsumDense("abc,cd->abd", output_shape=(None, 5), bias_axes="d"),
                                 layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="e")),
                     (4, 6)),
    "embedding_masked_lstm": (lambda: seq((5,), layers.Embedding(11, 4, mask_zero=True), layers.LSTM(3),
                                          dtype="int32"), (5,)),
    "conv2d": (lambda: seq((12, 11, 3), layers.Conv2D(4, 3, padding="same", strides=2, activation="relu"),
                           layers.Conv2D(2, (3, 2), dilation_rate=2)), (12, 11, 3)),
    "conv1d_causal": (lambda: seq((9, 3), layers.Conv1D(4, 3, padding="causal")), (9, 3)),
    "conv3d": (lambda: seq((4, 5, 4, 2), layers.Conv3D(3, 2, padding="same")), (4, 5, 4, 2)),
    "conv2d_channels_first": (lambda: seq((3, 8, 7), layers.Conv2D(4, 3, data_format="channels_first")),
                              (3, 8, 7)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_quantized_layers(name, tmp_path):
    make, shape = CASES[name]
    model = make()
    randomize(model)
    model.quantize("int8")
    if model.inputs[0].dtype.kind in "iu":
        x = RNG.integers(0, 11, (3,) + shape).astype("int32")
        x[0, 1] = 0
    else:
        x = RNG.normal(size=(3,) + shape).astype("float32")
    assert_exports(model, x, tmp_path / "m.onnx")


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_quantized_seed_models_keep_int8_weights(kind, tmp_path):
    model = build_model(kind, (28, 28, 1), 10)
    randomize(model)
    model.export(str(tmp_path / "float.onnx"), format="onnx")
    model.quantize("int8")
    assert_exports(model, RNG.normal(size=(4, 28, 28, 1)).astype("float32"), tmp_path / "int8.onnx")
    float_size = (tmp_path / "float.onnx").stat().st_size
    int8_size = (tmp_path / "int8.onnx").stat().st_size
    assert float_size / int8_size > 3.5, (float_size, int8_size)
    int8_weights = [t for t in onnx.load(str(tmp_path / "int8.onnx")).graph.initializer
                    if t.data_type == onnx.TensorProto.INT8]
    assert sum(np.prod(t.dims) for t in int8_weights) == sum(
        int(np.prod(w.shape)) for w in model.weights if np.asarray(w.data).dtype == np.int8)
