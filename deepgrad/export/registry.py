"""Layer class -> converter: ``converter(builder, call) -> output name or list of names``.

A converter is found for a layer's class or the nearest base class that has one, unless a
class in between writes its own ``call`` (then the layer computes something else and needs
a converter of its own).
"""
from __future__ import annotations

import numpy as np

from .graph import ExportError

CONVERTERS: dict[type, object] = {}
# converters of layers quantized with ``quantize("int8")``, by class (found before CONVERTERS' for them)
QUANTIZED_CONVERTERS: dict[type, object] = {}


def register_converter(*classes):
    """Decorator: ``@register_converter(layers.Dense)`` makes the function the ONNX converter of Dense."""
    def decorate(fn):
        for cls in classes:
            CONVERTERS[cls] = fn
        return fn
    return decorate


def register_quantized_converter(*classes):
    """Decorator: the converter of ``classes`` once quantized to int8."""
    def decorate(fn):
        for cls in classes:
            QUANTIZED_CONVERTERS[cls] = fn
        return fn
    return decorate


def _quantization_mode(layer):
    policy = getattr(layer, "dtype_policy", None)
    return getattr(layer, "quantization_mode", None) or getattr(policy, "quantization_mode", None)


def handles_masks(fn):
    """Marks a converter that reads its inputs' Keras masks (``call.masks``) and sets its outputs'
    (``call.output_masks``); a layer that reads masks gets refused when its converter is not marked."""
    fn.handles_masks = True
    return fn


def converter_for(layer):
    if _quantization_mode(layer) == "int8":
        for cls in type(layer).__mro__:
            if cls in QUANTIZED_CONVERTERS:
                return QUANTIZED_CONVERTERS[cls]
            if "call" in cls.__dict__:
                break
    for cls in type(layer).__mro__:
        if cls in CONVERTERS:
            return CONVERTERS[cls]
        if "call" in cls.__dict__:
            break
    from .refused import REFUSED
    reason = REFUSED.get(type(layer).__name__) if type(layer).__module__.startswith("deepgrad.") else None
    if reason:
        raise ExportError(f"ONNX export: layer {layer.name!r} ({type(layer).__name__}) is not exported: {reason}")
    raise ExportError(f"ONNX export: layer {layer.name!r} of class {type(layer).__name__} has no ONNX converter; "
                      "register one with deepgrad.export.register_converter")


def weight(w) -> np.ndarray:
    """A weight (Variable, Tensor or array) as a NumPy array."""
    return np.asarray(getattr(w, "data", w))


def main_weight(layer) -> np.ndarray:
    """The kernel (or embeddings) with a LoRA update folded in, as the layer computes it."""
    mode = _quantization_mode(layer)
    if mode:
        raise ExportError(f"ONNX export: layer {layer.name!r} ({type(layer).__name__}) holds {mode} weights; "
                          "export the float model with export(..., quantize='int8') for an int8 ONNX file")
    if getattr(layer, "lora_enabled", False):
        return weight(layer.effective_weight())
    return weight(getattr(layer, getattr(layer, "lora_target", "kernel")))
