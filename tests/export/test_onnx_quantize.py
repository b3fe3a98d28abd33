"""int8 ONNX files through onnxruntime: dynamic (Dense, LSTM) and static with calibration (convolutions)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

import deepgrad as dg
from deepgrad import layers
from deepgrad.export.runtime import OnnxPredictor

from onnx_helpers import randomize


def _ops(path) -> set:
    return {n.op_type for n in onnx.load(str(path)).graph.node}


def test_dynamic_int8_is_smaller_and_close(tmp_path):
    model = dg.Sequential([layers.Input(shape=(784,)), layers.Dense(256, activation="relu"), layers.Dense(10)])
    randomize(model)
    f32, i8 = tmp_path / "f32.onnx", tmp_path / "i8.onnx"
    model.export(str(f32), format="onnx")
    model.export(str(i8), format="onnx", quantize="int8")
    onnx.checker.check_model(onnx.load(str(i8)), full_check=True)
    assert f32.stat().st_size / i8.stat().st_size >= 3.5
    assert "MatMulInteger" in _ops(i8) and "DynamicQuantizeLinear" in _ops(i8)
    x = np.random.default_rng(0).random((64, 784), dtype=np.float32)
    want, got = model.predict(x, verbose=0), OnnxPredictor(str(i8)).predict(x)
    # int8 weights and activations: about 1% of the output's scale
    assert np.abs(got - want).max() < 0.02 * np.abs(want).max()
    assert np.abs(got - want).max() > 0   # the file really computes in int8


def test_dynamic_int8_lstm(tmp_path):
    model = dg.Sequential([layers.Input(shape=(6, 5)), layers.LSTM(16), layers.Dense(3)])
    randomize(model, seed=3)
    path = tmp_path / "i8.onnx"
    model.export(str(path), format="onnx", quantize="int8")
    assert "DynamicQuantizeLSTM" in _ops(path)
    x = np.random.default_rng(1).normal(size=(8, 6, 5)).astype(np.float32)
    want, got = model.predict(x, verbose=0), OnnxPredictor(str(path)).predict(x)
    assert np.abs(got - want).max() < 0.05 * np.abs(want).max()


def test_quantize_arguments_are_checked(tmp_path):
    model = dg.Sequential([layers.Input(shape=(3,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="quantize must be None or 'int8'"):
        model.export(str(tmp_path / "m.onnx"), format="onnx", quantize="int4")
    with pytest.raises(ValueError, match="calibration_data is for quantize='int8'"):
        model.export(str(tmp_path / "m.onnx"), format="onnx", calibration_data=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="must hold 1 input array"):
        model.export(str(tmp_path / "m.onnx"), format="onnx", quantize="int8",
                     calibration_data=[np.zeros((2, 3)), np.zeros((2, 3))])


@pytest.mark.slow
def test_int8_accuracy_of_trained_mlp_and_cnn(tmp_path):
    """Trained on the UCI digits: the int8 files classify the test images as well as the float model
    (at most 1 point lower; the test set has 360 images) and agree with it on 97% of them."""
    (x, y), (xt, yt) = dg.datasets.digits.load_data()
    x, xt = (x.astype(np.float32) / 255.0)[..., None], (xt.astype(np.float32) / 255.0)[..., None]
    dg.utils.set_random_seed(0)
    mlp = dg.Sequential([layers.Input(shape=(8, 8, 1)), layers.Flatten(), layers.Dense(64, activation="relu"),
                         layers.Dense(10, activation="softmax")])
    cnn = dg.Sequential([layers.Input(shape=(8, 8, 1)), layers.Conv2D(16, 3, activation="relu"),
                         layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(10, activation="softmax")])
    for model, calibration in ((mlp, None), (cnn, x[:256])):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=32, epochs=15, verbose=0)
        path = tmp_path / f"{model.name}.onnx"
        model.export(str(path), format="onnx", quantize="int8", calibration_data=calibration)
        if calibration is not None:
            assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= _ops(path)
        want = np.argmax(model.predict(xt, verbose=0), axis=1)
        got = np.argmax(OnnxPredictor(str(path)).predict(xt), axis=1)
        acc_float, acc_int8 = np.mean(want == yt), np.mean(got == yt)
        assert acc_float > 0.9, (model.name, acc_float)
        assert acc_int8 >= acc_float - 0.01, (model.name, acc_float, acc_int8)
        assert np.mean(got == want) >= 0.97
