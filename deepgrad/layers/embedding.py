"""``Embedding``: integer ids to dense vectors, ``(batch, ...) -> (batch, ..., output_dim)``."""
from __future__ import annotations

import numpy as np

from .. import regularizers
from ..ops import matmul
from ..ops.nn import embedding
from ..ops.quantized import quantized_embedding
from .base import Layer
from .core import _positive_int
from .lora import LoRAMixin
from .quantized import QuantizableMixin
from .arguments import (add_weight_from_arguments, serialize_argument, set_weight_arguments,
                               weight_arguments_config)


class Embedding(QuantizableMixin, LoRAMixin, Layer):
    """A trainable table ``embeddings`` of shape ``(input_dim, output_dim)``, indexed by the inputs.

    With ``mask_zero=True`` id 0 is padding: the layer's mask (``inputs != 0``) goes on to
    the next layer (an LSTM skips those steps), and ``input_dim`` must count the 0. With
    ``lora_rank`` (or ``enable_lora(rank)``) the table is frozen and a low-rank update of it
    trains instead (see ``layers.lora``). ``quantize("int8")`` stores the table as int8 with one
    scale per row, ``embeddings_scale`` (see ``layers.quantized``).
    """

    lora_target = quantize_target = "embeddings"

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, **kwargs):
        input_length = kwargs.pop("input_length", None)  # a Keras 2 argument; shapes come from the data
        activity_regularizer = kwargs.pop("activity_regularizer", None)
        super().__init__(**kwargs)
        self.quantization_config = self._resolve_quantization_config(quantization_config)
        self._init_lora(lora_rank, lora_alpha)
        self.input_dim = _positive_int(input_dim, "input_dim", "Embedding")
        self.output_dim = _positive_int(output_dim, "output_dim", "Embedding")
        set_weight_arguments(self, "embeddings", embeddings_initializer, embeddings_regularizer,
                             embeddings_constraint)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.mask_zero = bool(mask_zero)
        self.input_length = input_length  # accepted for Keras 2 programs; shapes come from the data
        self.supports_masking = self.mask_zero
        if weights is not None:  # Keras's initial table: one array, or a list holding it
            self.build()
            self.set_weights(weights if isinstance(weights, (list, tuple)) else [weights])

    def _scale_shape(self, weight_shape: tuple) -> tuple:
        return (weight_shape[0],)  # one scale per row: input_dim is usually the larger axis

    def _weight_axes(self, ndim: int) -> tuple:
        return (ndim - 1,)

    def build(self, input_shape=None):
        if self.quantization_mode == "int8":
            self._int8_build((self.input_dim, self.output_dim), self.quantization_config)
        else:
            self.embeddings = add_weight_from_arguments(self, "embeddings", (self.input_dim, self.output_dim))
        self.built = True
        self._build_lora()

    def call(self, inputs):
        ids = inputs.data if hasattr(inputs, "data") else np.asarray(inputs)
        if ids.dtype.kind not in "iu":
            ids = ids.astype(np.int32)  # float ids are cast (truncated toward zero), as Keras casts to int32
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            raise IndexError(f"Embedding {self.name!r}: ids must lie in [0, {self.input_dim}), "
                             f"got values from {ids.min()} to {ids.max()}")
        if self.quantization_mode == "int8":
            outputs = quantized_embedding(ids, self.embeddings, self.embeddings_scale, self.compute_dtype)
        else:
            outputs = embedding(ids, self.embeddings)
        if self.lora_enabled:  # rows of A times B: the update for these ids only
            a, b = self.lora_factors()
            outputs = outputs + matmul(embedding(ids, a), b) * (self.lora_alpha / self.lora_rank)
        self._add_activity_loss(outputs)
        return outputs

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        ids = inputs.data if hasattr(inputs, "data") else np.asarray(inputs)
        return ids != 0

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                **weight_arguments_config(self, "embeddings"),
                "activity_regularizer": serialize_argument(regularizers, self.activity_regularizer),
                "mask_zero": self.mask_zero, "quantization_config": self._quantized_config(), **self.lora_config(),
                **({"input_length": self.input_length} if self.input_length is not None else {})}


__all__ = ["Embedding"]
