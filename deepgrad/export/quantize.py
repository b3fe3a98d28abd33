"""int8 ONNX files through onnxruntime's quantisation tools.

Without calibration data: dynamic quantisation. Weights of MatMul (Dense), LSTM and GRU become
int8 with their scales; activations are quantised per batch at run time (as Keras's int8 Dense
quantises its inputs), so no data is needed. With ``calibration_data``: static quantisation in
QDQ form, per output channel for the weights, activation ranges measured on the data; this is
what makes convolutions int8 (dynamic quantisation leaves them slow).
"""
from __future__ import annotations

import os
import tempfile

import numpy as np


def _require():
    try:
        from onnxruntime import quantization
    except ImportError as e:
        raise ImportError("int8 ONNX export needs onnxruntime: pip install deepgrad[onnx]") from e
    return quantization


def _batches(calibration_data, input_names: list, batch_size: int = 32):
    """The calibration inputs as onnxruntime's data reader: one feed dict per batch."""
    arrays = list(calibration_data) if isinstance(calibration_data, (list, tuple)) else [calibration_data]
    if len(arrays) != len(input_names):
        raise ValueError(f"export: calibration_data must hold {len(input_names)} input array(s), got {len(arrays)}")
    arrays = [np.asarray(a) for a in arrays]
    arrays = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in arrays]
    n = len(arrays[0])
    if n == 0:
        raise ValueError("export: calibration_data is empty")
    return [{name: a[i:i + batch_size] for name, a in zip(input_names, arrays)} for i in range(0, n, batch_size)]


def quantize_int8(model_bytes: bytes, calibration_data, input_names: list) -> bytes:
    """The int8 form of a float ONNX model given as bytes."""
    q = _require()
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "float.onnx"), os.path.join(tmp, "int8.onnx")
        with open(src, "wb") as f:
            f.write(model_bytes)
        # onnxruntime's recommended first step: shapes inferred and the graph simplified (the
        # layout transposes around convolutions folded), so that more of it is quantised
        from onnxruntime.quantization.shape_inference import quant_pre_process
        prepared = os.path.join(tmp, "prepared.onnx")
        quant_pre_process(src, prepared)
        src = prepared
        if calibration_data is None:
            q.quantize_dynamic(src, dst, weight_type=q.QuantType.QInt8, per_channel=False,
                               op_types_to_quantize=["MatMul", "Gemm", "LSTM", "GRU"])
        else:
            feeds = iter(_batches(calibration_data, input_names))

            class Reader(q.CalibrationDataReader):
                def get_next(self):
                    return next(feeds, None)

            q.quantize_static(src, dst, Reader(), quant_format=q.QuantFormat.QDQ, per_channel=True,
                              activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8,
                              calibrate_method=q.CalibrationMethod.MinMax)
        with open(dst, "rb") as f:
            return f.read()
