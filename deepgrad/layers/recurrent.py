"""Recurrent layers: ``SimpleRNN``, ``LSTM`` and ``GRU`` (``Bidirectional`` is in ``wrappers``).

Arguments, defaults, weight names and shapes follow Keras 3, so ``set_weights`` takes a Keras
layer's ``get_weights()``. With the default activations a layer runs the fused op of
``deepgrad.ops.recurrent`` (one graph node for the whole sequence); other activations run an
unfused cell built from deepgrad ops, step by step (slower, same results).

Input dropout (``dropout=``) uses one mask per sequence, shared by all time steps, as Keras
does; ``recurrent_dropout`` drops units of the previous state where it enters the recurrent
matrix products, one mask per sequence (shared by the gates), and runs the unfused cell.
``stateful=True`` keeps each call's final states (without their graph) as the next call's
initial states; ``reset_state()`` zeroes them.

Each layer's constructor shows Keras's documented signature and passes every argument by
name to ``BaseRNN`` (``forwarded_arguments(locals())``), which checks and stores them once.
"""
from __future__ import annotations

import numpy as np

from .. import activations, backend, regularizers
from .. import ops as dg_ops
from ..autograd import Tensor
from ..ops.recurrent import SIMPLE_RNN_ACTIVATIONS, gru, lstm, simple_rnn
from .base import Layer
from .arguments import (add_weight_from_arguments, forwarded_arguments, set_weight_arguments,
                        weight_arguments_config)


def _activation_name(fn) -> str | None:
    try:
        return activations.serialize(fn)
    except (ValueError, TypeError, AttributeError):
        return None


def _mask_array(mask):
    if mask is None:
        return None
    return np.asarray(mask.data if isinstance(mask, Tensor) else mask).astype(bool)


class BaseRNN(Layer):
    """What SimpleRNN, LSTM and GRU share: checks, dropout, states, masks and outputs."""
    _float_inputs = True  # integer inputs are averaged/normalised as floats

    gates = 1        # gate blocks in the kernel
    state_names = ("h",)

    def __init__(self, units, *, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"{kind}: units must be a positive integer, got {units!r}")
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) \
                    or not 0 <= rate < 1:
                raise ValueError(f"{kind}: {name} must be in [0, 1), got {rate!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        set_weight_arguments(self, "kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        set_weight_arguments(self, "recurrent", recurrent_initializer, recurrent_regularizer, recurrent_constraint)
        set_weight_arguments(self, "bias", bias_initializer, bias_regularizer, bias_constraint)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.states = None  # the kept final states of a stateful layer
        self.unroll = bool(unroll)  # accepted for Keras compatibility: the fused loop needs no unrolling
        # masked steps output zeros instead of repeating the last output (Bidirectional sets it)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self._activation_arguments = {"activation": activation}  # for a callable without a name

    # ----------------------------------------------------------------- weights
    def build(self, input_shape) -> None:
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects inputs of shape (batch, time, features) "
                             f"with known features, got {tuple(input_shape)}")
        features, width = int(input_shape[-1]), self.gates * self.units
        self.kernel = add_weight_from_arguments(self, "kernel", (features, width))
        self.recurrent_kernel = add_weight_from_arguments(self, "recurrent", (self.units, width),
                                                          name="recurrent_kernel")
        self.bias = None
        if self.use_bias:
            self.bias = add_weight_from_arguments(self, "bias", self.bias_shape(), initializer=self.bias_init())
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
        if initial_state is None and self.stateful:
            states = self._kept_states(batch)
        mask = _mask_array(mask)
        if mask is not None and mask.shape != tuple(inputs.shape[:2]):
            raise ValueError(f"{kind} {self.name!r}: mask has shape {mask.shape}, "
                             f"expected (batch, time) = {tuple(inputs.shape[:2])}")
        if training and self.recurrent_dropout > 0:
            sequence, *last = self.run_unfused(inputs, states, mask, self._recurrent_mask(batch, inputs.dtype))
        else:
            sequence, *last = self.run(inputs, states, mask)
        if self.stateful:  # plain values: the next batch does not backpropagate into this one
            self.states = [Tensor(s.data.copy()) for s in last]
        output = sequence if self.return_sequences else last[0]
        if mask is not None:
            order = mask[:, ::-1] if self.go_backwards else mask  # the outputs' own step order
            keep = None
            if self.zero_output_for_mask:  # masked steps output zeros
                keep = order
            elif any(s is not None for s in states):
                # Keras's loop outputs zeros until a sample's first kept step, where the fused ops
                # repeat the initial state: zero those outputs
                keep = np.logical_or.accumulate(order, axis=1)
            if keep is not None:
                keep = keep if self.return_sequences else keep[:, -1]
                output = output * Tensor(keep[..., None].astype(output.dtype))
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

    def _kept_states(self, batch):
        if self.states is None:
            self.states = [Tensor(np.zeros((batch, self.units), self.dtype)) for _ in self.state_names]
        if self.states[0].shape[0] != batch:
            raise ValueError(f"{type(self).__name__} {self.name!r} is stateful with batch size "
                             f"{self.states[0].shape[0]}; got inputs of batch size {batch}")
        return list(self.states)

    def reset_state(self) -> None:
        """Zero the kept states of a stateful layer."""
        if self.states is not None:
            self.states = [Tensor(np.zeros_like(s.data)) for s in self.states]

    def reset_states(self) -> None:
        self.reset_state()

    def _recurrent_mask(self, batch, dtype) -> Tensor:
        """One recurrent dropout mask for the sequence: kept units scaled by ``1 / (1 - rate)``."""
        if self.seed is not None and getattr(self, "_seed_rng", None) is None:
            self._seed_rng = np.random.default_rng(self.seed)
        rng = getattr(self, "_seed_rng", None) or backend.rng()
        rate = self.recurrent_dropout
        return Tensor(((rng.random((batch, self.units)) >= rate) / (1.0 - rate)).astype(dtype))

    def run_unfused(self, inputs, states, mask, recurrent_mask=None):
        """The step loop composed of deepgrad ops, for activations the fused ops do not have."""
        batch, steps, _ = inputs.shape
        projected = dg_ops.matmul(inputs, self.kernel)        # all steps with one GEMM
        states = [Tensor(np.zeros((batch, self.units), self.dtype)) if s is None else s for s in states]
        outputs = []
        for t in (range(steps - 1, -1, -1) if self.go_backwards else range(steps)):
            new = self.cell(projected[:, t], states, recurrent_mask)
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
            "activation": _activation_name(self.activation) or self._activation_arguments["activation"],
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
        config.update(weight_arguments_config(self, "kernel", "recurrent", "bias"))
        config["activity_regularizer"] = (None if self.activity_regularizer is None
                                          else regularizers.serialize(self.activity_regularizer))
        return config


class _GatedRNN(BaseRNN):
    """LSTM and GRU: a ``recurrent_activation`` for the gates; the fused ops need tanh and sigmoid."""

    def __init__(self, units, *, recurrent_activation="sigmoid", use_cudnn="auto", **kwargs):
        super().__init__(units, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_cudnn = use_cudnn  # accepted for Keras compatibility: there is no GPU path
        self._activation_arguments["recurrent_activation"] = recurrent_activation

    def _fused(self) -> bool:
        return (_activation_name(self.activation), _activation_name(self.recurrent_activation)) == ("tanh", "sigmoid")

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"recurrent_activation": _activation_name(self.recurrent_activation)
                       or self._activation_arguments["recurrent_activation"], "use_cudnn": self.use_cudnn})
        return config


class SimpleRNN(BaseRNN):
    """``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``."""

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, seed=None, **kwargs):
        super().__init__(**forwarded_arguments(locals()))

    def run(self, inputs, states, mask):
        name = _activation_name(self.activation)
        if name not in SIMPLE_RNN_ACTIVATIONS:
            return self.run_unfused(inputs, states, mask)
        return simple_rnn(inputs, self.kernel, self.recurrent_kernel, self.bias, states[0], mask=mask,
                          go_backwards=self.go_backwards, activation=name)

    def cell(self, x_t, states, recurrent_mask=None):
        h = states[0] if recurrent_mask is None else states[0] * recurrent_mask
        z = x_t + dg_ops.matmul(h, self.recurrent_kernel)
        return [self.activation(z + self.bias if self.use_bias else z)]


class LSTM(_GatedRNN):
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
        super().__init__(**forwarded_arguments(locals(), exclude=("unit_forget_bias",)))
        self.unit_forget_bias = bool(unit_forget_bias)

    def bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        U, init = self.units, self.bias_initializer

        def forget_bias_one(shape, dtype=None):  # the f slice starts at 1 (Jozefowicz et al., 2015)
            return np.concatenate([np.asarray(init((U,), dtype=dtype)), np.ones(U, dtype),
                                   np.asarray(init((2 * U,), dtype=dtype))])
        return forget_bias_one

    def run(self, inputs, states, mask):
        if not self._fused():
            return self.run_unfused(inputs, states, mask)
        return lstm(inputs, self.kernel, self.recurrent_kernel, self.bias, *states, mask=mask,
                    go_backwards=self.go_backwards)

    def cell(self, x_t, states, recurrent_mask=None):
        h, c = states
        U = self.units
        z = x_t + dg_ops.matmul(h if recurrent_mask is None else h * recurrent_mask, self.recurrent_kernel)
        z = z + self.bias if self.use_bias else z
        i, f = self.recurrent_activation(z[:, :U]), self.recurrent_activation(z[:, U:2 * U])
        c = f * c + i * self.activation(z[:, 2 * U:3 * U])
        h = self.recurrent_activation(z[:, 3 * U:]) * self.activation(c)
        return [h, c]

    def get_config(self) -> dict:
        config = super().get_config()
        config["unit_forget_bias"] = self.unit_forget_bias
        return config


class GRU(_GatedRNN):
    """Gated recurrent unit, gates z, r, h; ``h = z * h_prev + (1 - z) * candidate``."""

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 seed=None, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, reset_after=True, use_cudnn="auto", **kwargs):
        super().__init__(**forwarded_arguments(locals(), exclude=("reset_after",)))
        self.reset_after = bool(reset_after)

    def bias_shape(self) -> tuple:
        # reset_after keeps the recurrent bias apart: it sits inside r * (h @ R_h + b_rh)
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def run(self, inputs, states, mask):
        if not self._fused():
            return self.run_unfused(inputs, states, mask)
        return gru(inputs, self.kernel, self.recurrent_kernel, self.bias, states[0], mask=mask,
                   go_backwards=self.go_backwards, reset_after=self.reset_after)

    def cell(self, x_t, states, recurrent_mask=None):
        (h,) = states
        h_in = h if recurrent_mask is None else h * recurrent_mask  # the state where it meets R
        U, R = self.units, self.recurrent_kernel
        if self.use_bias:
            x_t = x_t + (self.bias[0] if self.reset_after else self.bias)
        if self.reset_after:
            rec = dg_ops.matmul(h_in, R)
            rec = rec + self.bias[1] if self.use_bias else rec
            z = self.recurrent_activation(x_t[:, :U] + rec[:, :U])
            r = self.recurrent_activation(x_t[:, U:2 * U] + rec[:, U:2 * U])
            candidate = self.activation(x_t[:, 2 * U:] + r * rec[:, 2 * U:])
        else:
            rec = dg_ops.matmul(h_in, R[:, :2 * U])
            z = self.recurrent_activation(x_t[:, :U] + rec[:, :U])
            r = self.recurrent_activation(x_t[:, U:2 * U] + rec[:, U:])
            candidate = self.activation(x_t[:, 2 * U:] + dg_ops.matmul(r * h_in, R[:, 2 * U:]))
        return [z * h + (1 - z) * candidate]

    def get_config(self) -> dict:
        config = super().get_config()
        config["reset_after"] = self.reset_after
        return config


__all__ = ["GRU", "LSTM", "SimpleRNN"]
