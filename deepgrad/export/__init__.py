"""Floor 6: models as ONNX files, through a registry of per-layer converters; ``ExportArchive``
(Keras's serving endpoints) as a directory of ONNX endpoints (archive.py).

``export_onnx(model, path, opset_version=18)`` (what ``Model.export(path, format="onnx")`` calls)
walks a Sequential or functional model; each layer's converter emits its ONNX nodes. Keras masks
travel with the tensors (``Embedding(mask_zero)``, ``Masking``) into the layers that read them;
``deepgrad.ops`` calls on symbolic tensors and ``Lambda`` functions are traced and converted op by
op (``op_converters``); int8-quantized layers keep their int8 weights (``quantized_layers``). A
layer without a converter stops the export with an error naming it (and, for the layers on
``refused.REFUSED``, why); ``register_converter`` adds one. ``onnx`` and ``onnxruntime`` are the
optional extra ``deepgrad[onnx]``.
"""
from __future__ import annotations

# the converter modules register themselves on import
from . import attention, conv, core, normalization, preprocessing, quantized_layers, recurrent, traced  # noqa: F401
from .archive import ExportArchive, LoadedArchive, load_archive
from .graph import Call, ExportError, GraphBuilder
from .onnx_export import DEFAULT_OPSET, build_onnx_model, export_onnx
from .registry import CONVERTERS, QUANTIZED_CONVERTERS, converter_for, register_converter

__all__ = ["CONVERTERS", "QUANTIZED_CONVERTERS", "Call", "DEFAULT_OPSET", "ExportArchive", "ExportError", "GraphBuilder",
           "LoadedArchive", "build_onnx_model", "converter_for", "export_onnx", "load_archive", "register_converter"]
