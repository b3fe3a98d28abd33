"""Floor 6: models as ONNX files, through a registry of per-layer converters.

``export_onnx(model, path, opset_version=18)`` (what ``Model.export(path, format="onnx")`` calls)
walks a Sequential or functional model; each layer's converter emits its ONNX nodes. A layer
without a converter stops the export with an error naming it; ``register_converter`` adds one.
``onnx`` and ``onnxruntime`` are the optional extra ``deepgrad[onnx]``.
"""
from __future__ import annotations

from . import attention, conv, core, normalization, preprocessing, quantized_layers, recurrent, traced   # noqa: F401  (they register the converters)
from .graph import Call, ExportError, GraphBuilder
from .onnx_export import DEFAULT_OPSET, build_onnx_model, export_onnx
from .registry import CONVERTERS, QUANTIZED_CONVERTERS, converter_for, register_converter

__all__ = ["CONVERTERS", "QUANTIZED_CONVERTERS", "Call", "DEFAULT_OPSET", "ExportError", "GraphBuilder", "build_onnx_model",
           "converter_for", "export_onnx", "register_converter"]
