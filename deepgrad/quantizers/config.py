"""Quantization configs of ``keras.quantizers``: which quantizers a mode uses for the weights
and the activations, serialized as Keras serializes them, and the check of ``quantize``'s
``mode``/``config`` pair (``validate_and_resolve_config``)."""
from __future__ import annotations

from .. import dtype_policies
from ..registry import Configurable
from .quantizers import QUANTIZERS, AbsMaxQuantizer, Quantizer


def _serialize(obj):
    return None if obj is None else {"class_name": type(obj).__name__, "config": obj.get_config()}


def _deserialize(config):
    if config is None or isinstance(config, Quantizer):
        return config
    return QUANTIZERS.deserialize(config)


class QuantizationConfig(Configurable):
    """Base class: a ``weight_quantizer`` and an ``activation_quantizer``; subclasses name the ``mode``."""

    def __init__(self, weight_quantizer=None, activation_quantizer=None):
        self.weight_quantizer = weight_quantizer
        self.activation_quantizer = activation_quantizer

    @property
    def mode(self):
        raise NotImplementedError("QuantizationConfig: subclasses name the mode; use Int8QuantizationConfig, "
                                  "Int4QuantizationConfig or Float8QuantizationConfig")

    def get_config(self):
        return {"weight_quantizer": _serialize(self.weight_quantizer),
                "activation_quantizer": _serialize(self.activation_quantizer)}

    @classmethod
    def from_config(cls, config):
        return cls(weight_quantizer=_deserialize(config.get("weight_quantizer")),
                   activation_quantizer=_deserialize(config.get("activation_quantizer")))

    @staticmethod
    def weight_quantizer_or_default(config, default):
        if config is not None and config.weight_quantizer is not None:
            return config.weight_quantizer
        return default

    @staticmethod
    def activation_quantizer_or_default(config, default):
        return config.activation_quantizer if config is not None else default


class Int8QuantizationConfig(QuantizationConfig):
    """int8 weights and (by default) int8 inputs quantized per row by ``AbsMaxQuantizer()``."""

    def __init__(self, weight_quantizer=None, activation_quantizer="default"):
        if isinstance(activation_quantizer, str) and activation_quantizer == "default":
            activation_quantizer = AbsMaxQuantizer()
        super().__init__(weight_quantizer, activation_quantizer)
        if weight_quantizer is not None and weight_quantizer.output_dtype != "int8":
            raise ValueError("Int8QuantizationConfig: the weight_quantizer must have output_dtype='int8', got "
                             f"{weight_quantizer.output_dtype!r}")

    @property
    def mode(self):
        return "int8"


class Int4QuantizationConfig(QuantizationConfig):
    """int4 weights (packed two per byte), per channel (``block_size`` None or -1) or in groups of
    ``block_size`` input rows; no activation quantizer by default."""

    def __init__(self, weight_quantizer=None, activation_quantizer="default", block_size=128):
        if isinstance(activation_quantizer, str) and activation_quantizer == "default":
            activation_quantizer = None
        super().__init__(weight_quantizer, activation_quantizer)
        if block_size is not None and block_size != -1 and block_size <= 0:
            raise ValueError(f"Int4QuantizationConfig: block_size must be None, -1 or a positive integer, "
                             f"got {block_size!r}")
        self.block_size = block_size
        if block_size is not None and block_size > 0 and (weight_quantizer is not None
                                                          or activation_quantizer is not None):
            raise ValueError("Int4QuantizationConfig: sub-channel quantization (block_size > 0) takes no custom "
                             f"quantizers; set block_size=None or -1 to use them (got block_size={block_size})")
        if weight_quantizer is not None and tuple(weight_quantizer.value_range) != (-8, 7):
            raise ValueError("Int4QuantizationConfig: the weight_quantizer must have value_range=(-8, 7), got "
                             f"{weight_quantizer.value_range}")

    @property
    def mode(self):
        return "int4"

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size}

    @classmethod
    def from_config(cls, config):
        return cls(weight_quantizer=_deserialize(config.get("weight_quantizer")),
                   activation_quantizer=_deserialize(config.get("activation_quantizer")),
                   block_size=config.get("block_size"))


class Float8QuantizationConfig(QuantizationConfig):
    """float8 mixed-precision training (no user quantizers)."""

    def __init__(self):
        super().__init__(None, None)

    @property
    def mode(self):
        return "float8"

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls()


class _CalibratedConfig(QuantizationConfig):
    """What GPTQ and AWQ configs share: a calibration dataset and tokenizer, and the bits and
    group size that name their dtype policy (``"<mode>/<bits>/<group_size>"``)."""

    _mode = ""

    @property
    def mode(self):
        return self._mode

    def dtype_policy_string(self):
        return f"{self._mode}/{self.weight_bits}/{self.group_size}"

    def get_config(self):
        return dict(self._arguments)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class GPTQConfig(_CalibratedConfig):
    """The arguments of GPTQ quantization (Frantar et al., 2022), as Keras takes them."""

    _mode = "gptq"

    def __init__(self, dataset, tokenizer, *, weight_bits: int = 4, num_samples: int = 128, per_channel: bool = True,
                 sequence_length: int = 512, hessian_damping: float = 0.01, group_size: int = 128,
                 symmetric: bool = False, activation_order: bool = False, quantization_layer_structure: dict = None):
        super().__init__(None, None)
        self._arguments = dict(dataset=dataset, tokenizer=tokenizer, weight_bits=weight_bits, num_samples=num_samples,
                               per_channel=per_channel, sequence_length=sequence_length,
                               hessian_damping=hessian_damping, group_size=group_size, symmetric=symmetric,
                               activation_order=activation_order,
                               quantization_layer_structure=quantization_layer_structure)
        self.__dict__.update(self._arguments)


class AWQConfig(_CalibratedConfig):
    """The arguments of AWQ quantization (Lin et al., 2023), as Keras takes them."""

    _mode = "awq"

    def __init__(self, dataset, tokenizer, *, weight_bits: int = 4, num_samples: int = 128,
                 sequence_length: int = 512, group_size: int = 128, num_grid_points: int = 20,
                 quantization_layer_structure: dict = None):
        super().__init__(None, None)
        self._arguments = dict(dataset=dataset, tokenizer=tokenizer, weight_bits=weight_bits, num_samples=num_samples,
                               sequence_length=sequence_length, group_size=group_size,
                               num_grid_points=num_grid_points,
                               quantization_layer_structure=quantization_layer_structure)
        self.__dict__.update(self._arguments)


def validate_and_resolve_config(mode, config):
    """The config ``quantize(mode, config=...)`` runs with: a default one for a mode given alone,
    the given one checked to agree with ``mode``."""
    if isinstance(config, str):
        mode, config = config, None
    modes = dtype_policies.QUANTIZATION_MODES
    if mode is not None and mode not in modes:
        raise ValueError(f"quantize: invalid quantization mode {mode!r}; expected one of {modes}")
    if config is None:
        if mode is None:
            raise ValueError("quantize: give a mode (e.g. 'int8') or a config")
        if mode in ("gptq", "awq"):
            raise ValueError(f"quantize: mode {mode!r} needs a {'GPTQConfig' if mode == 'gptq' else 'AWQConfig'} "
                             "passed as config")
        return {"int8": Int8QuantizationConfig, "int4": Int4QuantizationConfig,
                "float8": Float8QuantizationConfig}[mode]()
    if not isinstance(config, QuantizationConfig):
        raise ValueError(f"quantize: config must be a QuantizationConfig, got {config!r} of type {type(config)}")
    if mode is not None and config.mode != mode:
        raise ValueError(f"quantize: contradictory arguments mode={mode!r} and config.mode={config.mode!r}")
    return config


__all__ = ["AWQConfig", "Float8QuantizationConfig", "GPTQConfig", "Int4QuantizationConfig", "Int8QuantizationConfig",
           "QuantizationConfig", "validate_and_resolve_config"]
