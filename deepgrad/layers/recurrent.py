"""Recurrent layers: ``SimpleRNN``, ``LSTM``, ``GRU`` and the ``Bidirectional`` wrapper.

Arguments, defaults, weight names and shapes follow Keras 3, so ``set_weights`` takes a Keras
layer's ``get_weights()``. With the default activations a layer runs the fused op of
``deepgrad.ops.recurrent`` (one graph node for the whole sequence); other activations run an
unfused cell built from deepgrad ops, step by step (slower, same results).

Input dropout (``dropout=``) uses one mask per sequence, shared by all time steps, as Keras
does. ``recurrent_dropout > 0`` and ``stateful=True`` are not supported and are rejected.
"""
from __future__ import annotations

import numpy as np

from .. import activations, constraints, initializers, regularizers
from .. import ops as dg_ops
from ..autograd import Tensor
from ..ops.recurrent import SIMPLE_RNN_ACTIVATIONS, gru, lstm, simple_rnn
from .base import Layer, builtin_class


def _serialize(module, value):
    """A config value as Keras writes it: names and objects alike become ``{"class_name", "config"}``."""
    if value is None:
        return None
    return module.serialize(module.get(value))


def _activation_name(fn) -> str | None:
    try:
        return activations.serialize(fn)
    except (ValueError, TypeError, AttributeError):
        return None


def _mask_array(mask):
    if mask is None:
        return None
    return np.asarray(mask.data if isinstance(mask, Tensor) else mask).astype(bool)


class _RNN(Layer):
    """What SimpleRNN, LSTM and GRU share: checks, dropout, states, masks and outputs."""

    gates = 1        # gate blocks in the kernel
    state_names = ("h",)

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **kwargs):
        zero_output_for_mask = kwargs.pop("zero_output_for_mask", False)
        super().__init__(**kwargs)
        kind = type(self).__name__
        if not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"{kind}: units must be a positive integer, got {units!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"{kind}: dropout must be in [0, 1), got {dropout}")
        if recurrent_dropout != 0:
            raise NotImplementedError(f"{kind}: recurrent_dropout is not supported (got {recurrent_dropout}); "
                                      "use dropout= for the inputs")
        if stateful:
            raise NotImplementedError(f"{kind}: stateful=True is not supported; pass initial_state= instead")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)  # accepted for Keras compatibility: the fused loop needs no unrolling
        # masked steps output zeros instead of repeating the last output (Bidirectional sets it)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self._config = {"activation": activation, "kernel_initializer": kernel_initializer,
                        "recurrent_initializer": recurrent_initializer, "bias_initializer": bias_initializer,
                        "kernel_regularizer": kernel_regularizer, "recurrent_regularizer": recurrent_regularizer,
                        "bias_regularizer": bias_regularizer, "activity_regularizer": activity_regularizer,
                        "kernel_constraint": kernel_constraint, "recurrent_constraint": recurrent_constraint,
                        "bias_constraint": bias_constraint}

    # ----------------------------------------------------------------- weights
    def build(self, input_shape) -> None:
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects inputs of shape (batch, time, features) "
                             f"with known features, got {tuple(input_shape)}")
        features, width = int(input_shape[-1]), self.gates * self.units
        self.kernel = self.add_weight(name="kernel", shape=(features, width), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(self.units, width), initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=self.bias_shape(), initializer=self.bias_init(),
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def bias_shape(self) -> tuple:
        return (self.gates * self.units,)

    def bias_init(self):
        return self.bias_initializer

    # ----------------------------------------------------------------- calling
    def call(self, inputs, mask=None, training=None, initial_state=None):
        kind = type(self).__name__
        if inputs.ndim != 3 or inputs.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"{kind} {self.name!r} was built for inputs of shape (batch, time, "
                             f"{self.kernel.shape[0]}), got {tuple(inputs.shape)}")
        batch = inputs.shape[0]
        if training and self.dropout > 0:
            inputs = dg_ops.dropout(inputs, self.dropout, training=True,
                                    noise_shape=(batch, 1, inputs.shape[2]))
        states = self._initial_states(initial_state, batch)
        mask = _mask_array(mask)
        if mask is not None and mask.shape != tuple(inputs.shape[:2]):
            raise ValueError(f"{kind} {self.name!r}: mask has shape {mask.shape}, "
                             f"expected (batch, time) = {tuple(inputs.shape[:2])}")
        sequence, *last = self.run(inputs, states, mask)
        if mask is not None and self.zero_output_for_mask and self.return_sequences:
            steps_mask = mask[:, ::-1] if self.go_backwards else mask  # the outputs' own step order
            sequence = sequence * Tensor(steps_mask[:, :, None].astype(sequence.dtype))
        output = sequence if self.return_sequences else last[0]
        self._add_activity_loss(output)
        return [output, *last] if self.return_state else output

    def _initial_states(self, initial_state, batch):
        if initial_state is None:
            return [None] * len(self.state_names)
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != len(self.state_names):
            raise ValueError(f"{type(self).__name__} {self.name!r} takes {len(self.state_names)} initial state(s) "
                             f"({', '.join(self.state_names)}), got {len(states)}")
        out = []
        for s in states:
            s = s if isinstance(s, Tensor) else Tensor(np.asarray(s, self.dtype))
            if tuple(s.shape) != (batch, self.units):
                raise ValueError(f"{type(self).__name__} {self.name!r}: initial state has shape "
                                 f"{tuple(s.shape)}, expected {(batch, self.units)}")
            out.append(s.astype(self.dtype) if s.dtype != self.dtype else s)
        return out

    def run_unfused(self, inputs, states, mask):
        """The step loop composed of deepgrad ops, for activations the fused ops do not have."""
        batch, steps, _ = inputs.shape
        projected = dg_ops.matmul(inputs, self.kernel)        # all steps with one GEMM
        states = [Tensor(np.zeros((batch, self.units), self.dtype)) if s is None else s for s in states]
        outputs = []
        for t in (range(steps - 1, -1, -1) if self.go_backwards else range(steps)):
            new = self.cell(projected[:, t], states)
            if mask is not None:  # a masked step keeps the state (and so repeats the output)
                keep = mask[:, t:t + 1]
                new = [dg_ops.where(keep, n, s) for n, s in zip(new, states)]
            states = new
            outputs.append(states[0])
        return (dg_ops.stack(outputs, axis=1), *states)

    def compute_output_shape(self, input_shape):
        batch, steps = input_shape[0], input_shape[1]
        output = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [output] + [(batch, self.units)] * len(self.state_names)
        return output

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": _activation_name(self.activation) or self._config["activation"],
            "use_bias": self.use_bias,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        })
        for key in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
            config[key] = _serialize(initializers, self._config[key])
        for key in ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer"):
            config[key] = _serialize(regularizers, self._config[key])
        for key in ("kernel_constraint", "recurrent_constraint", "bias_constraint"):
            config[key] = _serialize(constraints, self._config[key])
        return config


class SimpleRNN(_RNN):
    """``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``."""

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, seed=None, **kwargs):
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, recurrent_constraint, bias_constraint,
                         dropout, recurrent_dropout, seed, return_sequences, return_state, go_backwards,
                         stateful, unroll, **kwargs)

    def run(self, inputs, states, mask):
        name = _activation_name(self.activation)
        if name not in SIMPLE_RNN_ACTIVATIONS:
            return self.run_unfused(inputs, states, mask)
        return simple_rnn(inputs, self.kernel, self.recurrent_kernel, self.bias, states[0], mask=mask,
                          go_backwards=self.go_backwards, activation=name)

    def cell(self, x_t, states):
        z = x_t + dg_ops.matmul(states[0], self.recurrent_kernel)
        return [self.activation(z + self.bias if self.use_bias else z)]


class LSTM(_RNN):
    """Long short-term memory, gates i, f, c, o; states ``[h, c]``."""

    gates = 4
    state_names = ("h", "c")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, use_cudnn="auto", **kwargs):
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, recurrent_constraint, bias_constraint,
                         dropout, recurrent_dropout, seed, return_sequences, return_state, go_backwards,
                         stateful, unroll, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.use_cudnn = use_cudnn
        self._config["recurrent_activation"] = recurrent_activation

    def bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        U, init = self.units, self.bias_initializer

        def forget_bias_one(shape, dtype=None):  # the f slice starts at 1 (Jozefowicz et al., 2015)
            return np.concatenate([np.asarray(init((U,), dtype=dtype)), np.ones(U, dtype),
                                   np.asarray(init((2 * U,), dtype=dtype))])
        return forget_bias_one

    def run(self, inputs, states, mask):
        if (_activation_name(self.activation), _activation_name(self.recurrent_activation)) != ("tanh", "sigmoid"):
            return self.run_unfused(inputs, states, mask)
        return lstm(inputs, self.kernel, self.recurrent_kernel, self.bias, *states, mask=mask,
                    go_backwards=self.go_backwards)

    def cell(self, x_t, states):
        h, c = states
        U = self.units
        z = x_t + dg_ops.matmul(h, self.recurrent_kernel)
        z = z + self.bias if self.use_bias else z
        i, f = self.recurrent_activation(z[:, :U]), self.recurrent_activation(z[:, U:2 * U])
        c = f * c + i * self.activation(z[:, 2 * U:3 * U])
        h = self.recurrent_activation(z[:, 3 * U:]) * self.activation(c)
        return [h, c]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"recurrent_activation": _activation_name(self.recurrent_activation)
                       or self._config["recurrent_activation"],
                       "unit_forget_bias": self.unit_forget_bias, "use_cudnn": self.use_cudnn})
        return config


class GRU(_RNN):
    """Gated recurrent unit, gates z, r, h; ``h = z * h_prev + (1 - z) * candidate``."""

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 seed=None, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, reset_after=True, use_cudnn="auto", **kwargs):
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, recurrent_constraint, bias_constraint,
                         dropout, recurrent_dropout, seed, return_sequences, return_state, go_backwards,
                         stateful, unroll, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)
        self.use_cudnn = use_cudnn
        self._config["recurrent_activation"] = recurrent_activation

    def bias_shape(self) -> tuple:
        # reset_after keeps the recurrent bias apart: it sits inside r * (h @ R_h + b_rh)
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def run(self, inputs, states, mask):
        if (_activation_name(self.activation), _activation_name(self.recurrent_activation)) != ("tanh", "sigmoid"):
            return self.run_unfused(inputs, states, mask)
        return gru(inputs, self.kernel, self.recurrent_kernel, self.bias, states[0], mask=mask,
                   go_backwards=self.go_backwards, reset_after=self.reset_after)

    def cell(self, x_t, states):
        (h,) = states
        U, R = self.units, self.recurrent_kernel
        if self.use_bias:
            x_t = x_t + (self.bias[0] if self.reset_after else self.bias)
        if self.reset_after:
            rec = dg_ops.matmul(h, R)
            rec = rec + self.bias[1] if self.use_bias else rec
            z = self.recurrent_activation(x_t[:, :U] + rec[:, :U])
            r = self.recurrent_activation(x_t[:, U:2 * U] + rec[:, U:2 * U])
            candidate = self.activation(x_t[:, 2 * U:] + r * rec[:, 2 * U:])
        else:
            rec = dg_ops.matmul(h, R[:, :2 * U])
            z = self.recurrent_activation(x_t[:, :U] + rec[:, :U])
            r = self.recurrent_activation(x_t[:, U:2 * U] + rec[:, U:])
            candidate = self.activation(x_t[:, 2 * U:] + dg_ops.matmul(r * h, R[:, 2 * U:]))
        return [z * h + (1 - z) * candidate]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"recurrent_activation": _activation_name(self.recurrent_activation)
                       or self._config["recurrent_activation"],
                       "reset_after": self.reset_after, "use_cudnn": self.use_cudnn})
        return config


# --------------------------------------------------------------------------- Bidirectional
_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _layer_class(name: str):
    try:
        return builtin_class(name)
    except ValueError:
        raise ValueError(f"Bidirectional: unknown layer class {name!r}") from None


class Bidirectional(Layer):
    """Runs ``layer`` forwards and a ``go_backwards`` copy, and merges their outputs.

    The backward output sequence is reversed back to input order before merging, as Keras
    does; weights are the forward layer's, then the backward layer's.
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if isinstance(layer, dict):  # from a config
            layer = _layer_class(layer["class_name"]).from_config(layer["config"])
        if isinstance(backward_layer, dict):
            backward_layer = _layer_class(backward_layer["class_name"]).from_config(backward_layer["config"])
        super().__init__(**kwargs)
        if not isinstance(layer, _RNN):
            raise ValueError(f"Bidirectional needs a SimpleRNN, LSTM or GRU layer, got {layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {_MERGE_MODES}, got {merge_mode!r}")
        self._layer_config = {"class_name": type(layer).__name__, "config": layer.get_config()}
        self._backward_config = None
        # fresh copies from the config, so no state of ``layer`` is shared; with return_sequences
        # masked steps output zeros in both directions, as Keras forces
        config = {**layer.get_config(), "zero_output_for_mask": layer.return_sequences}
        self.forward_layer = type(layer).from_config({**config, "name": "forward_" + layer.name})
        if backward_layer is None:
            self.backward_layer = type(layer).from_config(
                {**config, "name": "backward_" + layer.name, "go_backwards": True})
        else:
            for key in ("return_sequences", "return_state"):
                if getattr(backward_layer, key) != getattr(layer, key):
                    raise ValueError(f"Bidirectional: forward and backward layers must have the same {key}, got "
                                     f"{getattr(layer, key)} and {getattr(backward_layer, key)}")
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError("Bidirectional: the backward layer must have the opposite go_backwards "
                                 f"of the forward layer (both are {layer.go_backwards})")
            self._backward_config = {"class_name": type(backward_layer).__name__,
                                     "config": backward_layer.get_config()}
            self.backward_layer = backward_layer
            backward_layer.zero_output_for_mask = backward_layer.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True
        self._initial_weights = weights

    def build(self, input_shape) -> None:
        self.forward_layer._maybe_build(input_shape)
        self.backward_layer._maybe_build(input_shape)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, inputs, mask=None, training=None, initial_state=None):
        n = len(self.forward_layer.state_names)
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
            return dg_ops.concatenate([forward, backward], axis=-1)
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
        config = super().get_config()
        config.update({"layer": self._layer_config, "merge_mode": self.merge_mode})
        if self._backward_config is not None:
            config["backward_layer"] = self._backward_config
        return config
