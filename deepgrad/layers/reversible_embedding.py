"""``ReversibleEmbedding``: an ``Embedding`` that also maps vectors back to logits over its ids.

``layer(ids)`` looks the ids up as ``Embedding`` does; ``layer(x, reverse=True)`` computes
``x @ embeddings.T`` (the tied table, as a language model's output layer reuses its input
table), or ``x @ reverse_embeddings`` with ``tie_weights=False`` (a separate table of shape
``(output_dim, input_dim)``). ``logit_soft_cap=c`` bounds the logits smoothly:
``c * tanh(logits / c)``; ``reverse_dtype`` is the dtype the reverse product is computed in.
"""
from __future__ import annotations

import numpy as np

from .. import ops as dg_ops
from .embedding import Embedding


class ReversibleEmbedding(Embedding):
    """Embedding lookup forwards; with ``reverse=True``, logits ``x @ embeddings.T``."""

    _quantization_modes = ()  # the reverse product has no int8 path: quantize() says so by mode

    def __init__(self, input_dim, output_dim, tie_weights=True, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False, reverse_dtype=None,
                 logit_soft_cap=None, **kwargs):
        super().__init__(input_dim, output_dim, embeddings_initializer=embeddings_initializer,
                         embeddings_regularizer=embeddings_regularizer, embeddings_constraint=embeddings_constraint,
                         mask_zero=mask_zero, **kwargs)
        if logit_soft_cap is not None and not logit_soft_cap > 0:
            raise ValueError(f"ReversibleEmbedding: logit_soft_cap must be a positive number or None, "
                             f"got {logit_soft_cap!r}")
        self.tie_weights = bool(tie_weights)
        self.reverse_dtype = None if reverse_dtype is None else str(np.dtype(reverse_dtype))
        self.logit_soft_cap = logit_soft_cap
        self._reversed_call = False

    def build(self, input_shape=None):
        super().build(input_shape)
        self.reverse_embeddings = None
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(name="reverse_embeddings", shape=(self.output_dim, self.input_dim),
                                                      initializer=self.embeddings_initializer)

    def __call__(self, inputs, *args, **kwargs):
        # which way this call goes, for compute_mask and for the shape of a symbolic call
        self._reversed_call = bool(kwargs.get("reverse", args[0] if args else False))
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, reverse=False):
        if not reverse:
            return super().call(inputs)
        if inputs.shape[-1] != self.output_dim:
            raise ValueError(f"ReversibleEmbedding {self.name!r}: reverse=True takes vectors of size "
                             f"{self.output_dim} on the last axis, got shape {tuple(inputs.shape)}")
        if self.tie_weights:
            kernel = dg_ops.transpose(self.effective_weight() if self.lora_enabled else self.embeddings)
        else:
            kernel = self.reverse_embeddings
        if self.reverse_dtype is not None:
            inputs, kernel = inputs.astype(self.reverse_dtype), kernel.astype(self.reverse_dtype)
        logits = dg_ops.matmul(inputs, kernel)
        if self.logit_soft_cap is not None:
            cap = self.logit_soft_cap
            logits = dg_ops.tanh(logits / cap) * cap
        return logits

    def compute_mask(self, inputs, mask=None):
        return None if self._reversed_call else super().compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape, reverse=None):
        if reverse is None:  # a symbolic call: the direction __call__ was given
            reverse = self._reversed_call
        if reverse:
            return tuple(input_shape[:-1]) + (self.input_dim,)
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        return {**super().get_config(), "tie_weights": self.tie_weights, "reverse_dtype": self.reverse_dtype,
                "logit_soft_cap": self.logit_soft_cap}


__all__ = ["ReversibleEmbedding"]
