"""``TimeDistributed``: apply a layer to every time step by folding time into the batch."""
from __future__ import annotations

from .. import ops
from .base import Layer, builtin_class


class TimeDistributed(Layer):
    """``(batch, time, ...) -> (batch * time, ...) -> layer -> (batch, time, ...)``."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: layer must be a Layer instance, got {layer!r}")
        self.layer = layer
        self.supports_masking = True

    def _inner_shape(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed {self.name!r}: inputs need a time axis, shape (batch, time, ...), "
                             f"got {tuple(input_shape)}")
        return (None,) + tuple(input_shape[2:])

    def build(self, input_shape):
        self.layer._maybe_build(self._inner_shape(input_shape))
        self.built = True

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape(self._inner_shape(input_shape))
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])

    def call(self, inputs, training=None):
        self._inner_shape(inputs.shape)
        batch, steps = inputs.shape[:2]
        folded = ops.reshape(inputs, (batch * steps,) + tuple(inputs.shape[2:]))
        kwargs = {"training": training} if self.layer._call_takes_training else {}
        outputs = self.layer(folded, **kwargs)
        return ops.reshape(outputs, (batch, steps) + tuple(outputs.shape[1:]))

    def get_config(self):
        inner = {"class_name": type(self.layer).__name__, "config": self.layer.get_config()}
        return {**super().get_config(), "layer": inner}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        inner = config.pop("layer")
        return cls(builtin_class(inner["class_name"]).from_config(dict(inner.get("config") or {})), **config)


__all__ = ["TimeDistributed"]
