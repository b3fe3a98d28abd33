"""Layers that wrap another layer: ``Wrapper`` (their base), ``TimeDistributed`` (the layer on
every time step, time folded into the batch) and ``Bidirectional`` (a recurrent layer run
forwards and backwards)."""
from __future__ import annotations

from .. import ops
from ..serialization_lib import serialize_keras_object
from .base import Layer, builtin_class
from .rnn import RNN, flatten


def _layer_from_config(config, who: str):
    """A layer from ``{"class_name", "config"}`` among deepgrad's layer classes (a layer passes through)."""
    if not isinstance(config, dict):
        return config
    try:
        cls = builtin_class(config["class_name"])
    except (KeyError, ValueError):
        raise ValueError(f"{who}: unknown layer class {config.get('class_name')!r}") from None
    return cls.from_config(dict(config.get("config") or {}))


class Wrapper(Layer):
    """A layer that holds another one (``self.layer``) and adds behaviour around it; its config
    holds the wrapped layer's as Keras serializes it (``{"module", "class_name", "config", ...}``)."""

    def __init__(self, layer, **kwargs):
        layer = _layer_from_config(layer, type(self).__name__)
        if not isinstance(layer, Layer):
            raise ValueError(f"{type(self).__name__}: layer must be a Layer instance, got {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer._maybe_build(input_shape)
        self.built = True

    def get_config(self):
        return {**super().get_config(), "layer": serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = config.pop("layer")
        if isinstance(inner, dict) and custom_objects and inner.get("class_name") in custom_objects:
            inner = custom_objects[inner["class_name"]].from_config(dict(inner.get("config") or {}))
        return cls(_layer_from_config(inner, cls.__name__), **config)


class TimeDistributed(Wrapper):
    """``(batch, time, ...) -> (batch * time, ...) -> layer -> (batch, time, ...)``."""

    def __init__(self, layer, **kwargs):
        super().__init__(layer, **kwargs)
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



_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _cell_classes(cell) -> dict:
    """The classes of a cell and of the cells inside it by name, so a copy of an RNN rebuilds a user's cell."""
    found = {type(cell).__name__: type(cell)}
    for inner in getattr(cell, "cells", []):
        found.update(_cell_classes(inner))
    return found


def _copy(layer, **overrides):
    """A new layer of ``layer``'s class from its config with ``overrides``, sharing no state."""
    config = {**layer.get_config(), **overrides}
    if isinstance(layer, RNN) and "cell" in config:
        return type(layer).from_config(config, custom_objects=_cell_classes(layer.cell))
    return type(layer).from_config(config)


def _state_count(layer) -> int:
    return len(flatten(layer.state_size))


class Bidirectional(Layer):
    """Runs ``layer`` forwards and a ``go_backwards`` copy, and merges their outputs.

    The backward output sequence is reversed back to input order before merging, as Keras
    does; weights are the forward layer's, then the backward layer's. Not a ``Wrapper`` (as in
    Keras): ``layer`` is only a template, and the two copies are ``forward_layer`` and
    ``backward_layer``.
    """

    from_config = Wrapper.__dict__["from_config"]  # the inner layer's config is rebuilt the same way

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        layer = _layer_from_config(layer, "Bidirectional")  # a config dict when loaded from a file
        backward_layer = _layer_from_config(backward_layer, "Bidirectional")
        if not isinstance(layer, RNN):
            raise ValueError(f"Bidirectional needs a recurrent layer (SimpleRNN, LSTM, GRU, RNN, ConvLSTM...), "
                             f"got {layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {_MERGE_MODES}, got {merge_mode!r}")
        super().__init__(**kwargs)
        # the layer given is a template: only the two copies below run (and own weights)
        # fresh copies from the config, so no state of ``layer`` is shared; with return_sequences
        # masked steps output zeros in both directions, as Keras forces
        zero = {"zero_output_for_mask": layer.return_sequences}
        # named forward_<name> and backward_<name>, a prefix not doubled when a saved config is read back
        self.forward_layer = _copy(layer, **zero, name="forward_" + layer.name.removeprefix("forward_"))
        if backward_layer is None:
            self.backward_layer = _copy(layer, **zero, name="backward_" + layer.name.removeprefix("backward_"),
                                        go_backwards=True)
        else:
            for key in ("return_sequences", "return_state"):
                if getattr(backward_layer, key) != getattr(layer, key):
                    raise ValueError(f"Bidirectional: forward and backward layers must have the same {key}, got "
                                     f"{getattr(layer, key)} and {getattr(backward_layer, key)}")
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError("Bidirectional: the backward layer must have the opposite go_backwards "
                                 f"of the forward layer (both are {layer.go_backwards})")
            self.backward_layer = backward_layer
            backward_layer.zero_output_for_mask = backward_layer.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True
        self.input_spec = layer.input_spec  # the wrapped layer's checks, as Keras passes them on
        self._initial_weights = weights

    def build(self, input_shape) -> None:
        self.forward_layer._maybe_build(input_shape)
        self.backward_layer._maybe_build(input_shape)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, inputs, mask=None, training=None, initial_state=None):
        n = _state_count(self.forward_layer)
        fw_state = bw_state = None
        if initial_state is not None:
            if len(initial_state) != 2 * n:
                raise ValueError(f"Bidirectional {self.name!r} takes {2 * n} initial states (forward then "
                                 f"backward), got {len(initial_state)}")
            fw_state, bw_state = list(initial_state[:n]), list(initial_state[n:])
        forward = self.forward_layer(inputs, mask=mask, training=training, initial_state=fw_state)
        backward = self.backward_layer(inputs, mask=mask, training=training, initial_state=bw_state)
        states = []
        if self.return_state:
            states = list(forward[1:]) + list(backward[1:])
            forward, backward = forward[0], backward[0]
        if self.return_sequences:
            backward = backward[:, ::-1]
        if self.merge_mode is None:
            return [forward, backward] + states
        output = self._merge(forward, backward)
        return [output] + states if self.return_state else output

    def _merge(self, forward, backward):
        if self.merge_mode == "concat":
            return ops.concatenate([forward, backward], axis=-1)
        if self.merge_mode == "sum":
            return forward + backward
        if self.merge_mode == "mul":
            return forward * backward
        return (forward + backward) * 0.5

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            shape, states = shape[0], shape[1:]
            states = states + states
        if self.merge_mode is None:
            return [shape, shape] + states
        if self.merge_mode == "concat":
            shape = shape[:-1] + (2 * shape[-1],)
        return [shape] + states if self.return_state else shape

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def get_config(self) -> dict:
        config = Layer.get_config(self)
        # both layers, as Keras writes them: read back, the backward one is used as it is and
        # the forward one keeps its name
        config.update({"layer": serialize_keras_object(self.forward_layer), "merge_mode": self.merge_mode,
                       "backward_layer": serialize_keras_object(self.backward_layer)})
        return config


__all__ = ["Bidirectional", "TimeDistributed", "Wrapper"]
