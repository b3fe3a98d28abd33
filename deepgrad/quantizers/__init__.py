"""``keras.quantizers``: the quantizers, the quantization configs of ``Model.quantize`` and
their ``get``/``serialize``/``deserialize``."""
from __future__ import annotations

from ..registry import Registry
from .config import (AWQConfig, Float8QuantizationConfig, GPTQConfig, Int4QuantizationConfig, Int8QuantizationConfig,
                     QuantizationConfig, validate_and_resolve_config)
from .quantizers import (AbsMaxQuantizer, Quantizer, abs_max_quantize, abs_max_quantize_grouped_with_zero_point,
                         compute_float8_amax_history, compute_float8_scale, fake_quant_with_min_max_vars, pack_int4,
                         quantize_and_dequantize, unpack_int4)

_REGISTRY = Registry("quantizer", [Quantizer, AbsMaxQuantizer, QuantizationConfig, Int8QuantizationConfig,
                                   Int4QuantizationConfig, Float8QuantizationConfig, AWQConfig])


def serialize(initializer):
    """``{"class_name", "config"}`` of a quantizer or quantization config."""
    return _REGISTRY.serialize(initializer)


def deserialize(config, custom_objects=None):
    """A quantizer or quantization config from its ``{"class_name", "config"}``."""
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier, **kwargs):
    """None -> None; a config dict -> the object; a name -> an instance made with ``kwargs``
    (a class called with ``kwargs`` as one argument, as Keras does); an object -> itself."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    obj = _REGISTRY.by_name.get(identifier) if isinstance(identifier, str) else identifier
    if not callable(obj):
        raise ValueError(f"Could not interpret quantizer identifier: {identifier!r}")
    return obj(kwargs) if isinstance(obj, type) else obj


__all__ = ["AWQConfig", "AbsMaxQuantizer", "Float8QuantizationConfig", "GPTQConfig", "Int4QuantizationConfig",
           "Int8QuantizationConfig", "QuantizationConfig", "Quantizer", "abs_max_quantize",
           "abs_max_quantize_grouped_with_zero_point", "compute_float8_amax_history", "compute_float8_scale",
           "deserialize", "fake_quant_with_min_max_vars", "get", "pack_int4", "quantize_and_dequantize", "serialize",
           "unpack_int4", "validate_and_resolve_config"]
