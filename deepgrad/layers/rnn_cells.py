"""Recurrent cells: one time step of SimpleRNN, LSTM and GRU, and ``StackedRNNCells``.

A cell follows Keras's cell protocol, which ``RNN`` runs over a sequence: a ``state_size``
(an int, or a list with one entry per state), an ``output_size``,
``call(inputs, states, training=None) -> (output, new_states)`` on one step
``(batch, features)``, and ``get_initial_state(batch_size)``. Arguments, weight names
(``kernel``, ``recurrent_kernel``, ``bias``), shapes and gate orders are Keras's, so a cell
takes the weights of the Keras cell, or of the matching Keras layer.

Dropout: a cell draws one input mask and one recurrent mask per sequence and keeps them for
every step until ``RNN`` resets them (``reset_dropout_mask``), as Keras's cells do.
"""
from __future__ import annotations

import inspect

import numpy as np

from .. import activations, backend
from .. import ops as dg_ops
from ..autograd import Tensor
from ..seed_generator import SeedGenerator
from ..serialization_lib import serialize_keras_object
from .arguments import (add_weight_from_arguments, forwarded_arguments, set_weight_arguments,
                        weight_arguments_config)
from .base import Layer, builtin_class


def _activation_name(fn) -> str | None:
    """The registered name of an activation function, or None for a user's callable."""
    try:
        return activations.serialize(fn)
    except (ValueError, TypeError, AttributeError):
        return None


def _mask_array(mask):
    """A (batch, time) mask as a bool array (None stays None)."""
    if mask is None:
        return None
    return np.asarray(mask.data if isinstance(mask, Tensor) else mask).astype(bool)


def is_state_shape(size) -> bool:
    """Whether a ``state_size`` entry is one state's whole shape (a ``TensorShape``, which has
    ``as_list``, as tf.keras cells with matrix states give it) rather than a list of states."""
    return hasattr(size, "as_list")


def state_sizes(state_size) -> list:
    """A cell's ``state_size`` as a list with one entry per state."""
    if is_state_shape(state_size):
        return [state_size]
    return list(state_size) if isinstance(state_size, (list, tuple)) else [state_size]


def zero_states(state_size, batch_size, dtype) -> list:
    """Zeros of shape ``(batch, size)`` for each state (``(batch, *shape)`` for a state given by its
    shape); a nested entry (a stacked cell) gives a nested list."""
    out = []
    for size in state_sizes(state_size):
        if is_state_shape(size):
            out.append(Tensor(np.zeros((batch_size, *(int(d) for d in size.as_list())), dtype)))
        elif isinstance(size, (list, tuple)):
            out.append(zero_states(size, batch_size, dtype))
        else:
            out.append(Tensor(np.zeros((batch_size, int(size)), dtype)))
    return out


class DropoutRNNCell(Layer):
    """What the cells share: checked units and dropout rates, per-sequence dropout masks, the
    activation arguments and the weight-argument triples of ``kernel``, ``recurrent`` and ``bias``."""

    def __init__(self, units, *, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
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
        self.seed = seed
        # Keras's cells own one whatever their rates: its state is one of the cell's variables.
        # Made where Keras's cell makes it, before or after its initializers, so that unseeded
        # ones take the same default seeds from Python's ``random``
        if self._seed_generator_first:
            self.seed_generator = SeedGenerator(seed)
        set_weight_arguments(self, "kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        set_weight_arguments(self, "recurrent", recurrent_initializer, recurrent_regularizer, recurrent_constraint)
        set_weight_arguments(self, "bias", bias_initializer, bias_regularizer, bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self._seed_rng = np.random.default_rng(seed) if seed is not None else None
        if not self._seed_generator_first:
            self.seed_generator = SeedGenerator(seed)
        self._dropout_masks: dict = {}
        self._activation_arguments = {"activation": activation}  # for a callable without a name
        self.state_size = self.units
        self.output_size = self.units

    # ----------------------------------------------------------------- dropout masks
    def _masked(self, x, which: str, rate: float, training):
        """``x`` times this sequence's dropout mask for ``which`` ("inputs" or "recurrent"),
        drawn on first use: kept units scaled by ``1 / (1 - rate)``."""
        if not training or rate <= 0:
            return x
        mask = self._dropout_masks.get(which)
        if mask is None or mask.shape != tuple(x.shape):
            rng = self._seed_rng if self._seed_rng is not None else backend.rng()
            mask = ((rng.random(x.shape) >= rate) / (1.0 - rate)).astype(x.dtype)
            self._dropout_masks[which] = mask
        return x * Tensor(mask)

    def get_dropout_mask(self, step_input):
        """This sequence's input dropout mask for one step ``(batch, features)`` (drawn on first use):
        kept units are ``1 / (1 - dropout)``, dropped ones 0."""
        ones = Tensor(np.ones(tuple(step_input.shape), step_input.dtype))
        return self._masked(ones, "inputs", self.dropout, True).data

    _seed_generator_first = False

    # Keras's masks per nonzero rate: one, or one per gate (``dropout_mask_count``) in the cells
    # that split their kernel by gate
    _dropout_mask_count = 1

    def count_sequence_draws(self) -> None:
        """Move the seed state as Keras's ``RNN`` does: on every call, in training or not, it
        draws the sequence's masks before its loop, ``_dropout_mask_count`` per nonzero rate,
        and with a seed each draw advances the counter (its unseeded dropout draws from torch's
        global state, which leaves the counter)."""
        if self.seed is None:
            return
        for _ in range(self._dropout_mask_count * ((self.dropout > 0) + (self.recurrent_dropout > 0))):
            self.seed_generator.next()

    def reset_dropout_mask(self) -> None:
        self._dropout_masks.pop("inputs", None)

    def reset_recurrent_dropout_mask(self) -> None:
        self._dropout_masks.pop("recurrent", None)

    # ----------------------------------------------------------------- weights and states
    def _add_weights(self, input_shape, gates: int, bias_shape=None, bias_initializer=None) -> None:
        if input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the feature axis (last) must be known, "
                             f"got input shape {tuple(input_shape)}")
        width = gates * self.units
        self.kernel = add_weight_from_arguments(self, "kernel", (int(input_shape[-1]), width))
        self.recurrent_kernel = add_weight_from_arguments(self, "recurrent", (self.units, width),
                                                          name="recurrent_kernel")
        self.bias = None
        if self.use_bias:
            self.bias = add_weight_from_arguments(self, "bias", bias_shape or (width,), initializer=bias_initializer)
        self.built = True

    def get_initial_state(self, batch_size=None):
        return zero_states(self.state_size, batch_size, self.dtype)

    def _check_step(self, inputs) -> None:
        if inputs.ndim != 2 or inputs.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"{type(self).__name__} {self.name!r} takes one step of shape (batch, "
                             f"{self.kernel.shape[0]}), got {tuple(inputs.shape)}")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": _activation_name(self.activation) or self._activation_arguments["activation"],
            "use_bias": self.use_bias,
            **weight_arguments_config(self, "kernel", "recurrent", "bias"),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        })
        return config


def forget_bias_initializer(units: int, init):
    """The LSTM bias with gates i, f, c, o from ``init``, its f slice set to 1 (Jozefowicz et al., 2015)."""
    def forget_bias_one(shape, dtype=None):
        return np.concatenate([np.asarray(init((units,), dtype=dtype)), np.ones(units, dtype),
                               np.asarray(init((2 * units,), dtype=dtype))])
    return forget_bias_one


def _first_state(states):
    return states[0] if isinstance(states, (list, tuple)) else states


def _like(states, new: list):
    """New states in the form the old ones came in: a list for a list, a lone tensor for a tensor."""
    return new if isinstance(states, (list, tuple)) else new[0]


class SimpleRNNCell(DropoutRNNCell):
    """``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``; output ``h_t``."""

    _seed_generator_first = True

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**forwarded_arguments(locals()))

    def build(self, input_shape) -> None:
        self._add_weights(input_shape, gates=1)

    def call(self, inputs, states, training=None):
        self._check_step(inputs)
        h = _first_state(states)
        x = self._masked(inputs, "inputs", self.dropout, training)
        h = self._masked(h, "recurrent", self.recurrent_dropout, training)
        z = dg_ops.matmul(x, self.kernel)
        if self.use_bias:
            z = z + self.bias
        output = self.activation(z + dg_ops.matmul(h, self.recurrent_kernel))
        return output, _like(states, [output])


class LSTMCell(DropoutRNNCell):
    """One LSTM step, gates i, f, c, o; states ``[h, c]``:
    ``c_t = f * c_{t-1} + i * activation(z_c)``, ``h_t = o * activation(c_t)``."""

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        # Keras's choice of kernel split; the numbers are the same, only the count of masks differs
        implementation = kwargs.pop("implementation", 2)
        super().__init__(**forwarded_arguments(locals(), exclude=("recurrent_activation", "unit_forget_bias",
                                                                  "implementation")))
        if implementation == 1 or self.recurrent_dropout != 0:
            self._dropout_mask_count = 4
        self.recurrent_activation = activations.get(recurrent_activation)
        self._activation_arguments["recurrent_activation"] = recurrent_activation
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def build(self, input_shape) -> None:
        self._add_weights(input_shape, gates=4, bias_initializer=self._bias_initializer())

    def _bias_initializer(self):
        return forget_bias_initializer(self.units, self.bias_initializer) if self.unit_forget_bias \
            else self.bias_initializer

    def call(self, inputs, states, training=None):
        self._check_step(inputs)
        h, c = states[0], states[1]
        x = self._masked(inputs, "inputs", self.dropout, training)
        h = self._masked(h, "recurrent", self.recurrent_dropout, training)
        z = dg_ops.matmul(x, self.kernel) + dg_ops.matmul(h, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        U = self.units
        i = self.recurrent_activation(z[:, :U])
        f = self.recurrent_activation(z[:, U:2 * U])
        c = f * c + i * self.activation(z[:, 2 * U:3 * U])
        h = self.recurrent_activation(z[:, 3 * U:]) * self.activation(c)
        return h, [h, c]

    def get_config(self) -> dict:
        config = super().get_config()
        config["recurrent_activation"] = (_activation_name(self.recurrent_activation)
                                          or self._activation_arguments["recurrent_activation"])
        config["unit_forget_bias"] = self.unit_forget_bias
        return config


class GRUCell(DropoutRNNCell):
    """One GRU step, gates z, r, h: ``h_t = z * h_{t-1} + (1 - z) * candidate``; with ``reset_after``
    the reset gate multiplies ``h_{t-1} @ R_h + b_rh`` (bias of shape (2, 3 * units))."""

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 reset_after=True, seed=None, **kwargs):
        implementation = kwargs.pop("implementation", 2)
        super().__init__(**forwarded_arguments(locals(), exclude=("recurrent_activation", "reset_after",
                                                                  "implementation")))
        if implementation == 1 or self.recurrent_dropout != 0:
            self._dropout_mask_count = 3
        self.recurrent_activation = activations.get(recurrent_activation)
        self._activation_arguments["recurrent_activation"] = recurrent_activation
        self.reset_after = bool(reset_after)

    def build(self, input_shape) -> None:
        shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        self._add_weights(input_shape, gates=3, bias_shape=shape)

    def call(self, inputs, states, training=None):
        self._check_step(inputs)
        h = _first_state(states)
        x = self._masked(inputs, "inputs", self.dropout, training)
        h_in = self._masked(h, "recurrent", self.recurrent_dropout, training)
        U, R = self.units, self.recurrent_kernel
        x = dg_ops.matmul(x, self.kernel)
        if self.use_bias:
            x = x + (self.bias[0] if self.reset_after else self.bias)
        if self.reset_after:
            rec = dg_ops.matmul(h_in, R)
            if self.use_bias:
                rec = rec + self.bias[1]
            z = self.recurrent_activation(x[:, :U] + rec[:, :U])
            r = self.recurrent_activation(x[:, U:2 * U] + rec[:, U:2 * U])
            candidate = self.activation(x[:, 2 * U:] + r * rec[:, 2 * U:])
        else:
            rec = dg_ops.matmul(h_in, R[:, :2 * U])
            z = self.recurrent_activation(x[:, :U] + rec[:, :U])
            r = self.recurrent_activation(x[:, U:2 * U] + rec[:, U:])
            candidate = self.activation(x[:, 2 * U:] + dg_ops.matmul(r * h_in, R[:, 2 * U:]))
        h = z * h + (1 - z) * candidate
        return h, _like(states, [h])

    def get_config(self) -> dict:
        config = super().get_config()
        config["recurrent_activation"] = (_activation_name(self.recurrent_activation)
                                          or self._activation_arguments["recurrent_activation"])
        config["reset_after"] = self.reset_after
        return config


# --------------------------------------------------------------------------- cells by config
def call_cell(cell, inputs, states, training):
    """``cell(inputs, states)``, with ``training`` when the cell's ``call`` takes it."""
    if isinstance(cell, Layer):
        kwargs = {"training": training} if cell._call_takes_training else {}
        return cell(inputs, states, **kwargs)
    fn = cell.__call__ if callable(cell) else cell.call
    return fn(inputs, states)


def serialize_cell(cell) -> dict:
    """A cell as Keras serializes it, ``{"module", "class_name", "config", "registered_name"}``."""
    return serialize_keras_object(cell)


def deserialize_cell(config, custom_objects=None):
    """A cell from ``{"class_name", "config"}``: the caller's ``custom_objects`` first, then
    deepgrad's layer classes (a Keras config's ``module``/``registered_name`` keys are ignored)."""
    if not isinstance(config, dict):
        return config
    name = config.get("class_name")
    cls = (custom_objects or {}).get(name)
    if cls is None:
        try:
            cls = builtin_class(name)
        except ValueError:
            raise ValueError(f"Unknown RNN cell class {name!r}: pass it as custom_objects={{{name!r}: cls}}") from None
    inner = dict(config.get("config") or {})
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        return cls.from_config(inner, custom_objects=custom_objects)
    return cls.from_config(inner)


def _check_cell(cell, who: str) -> None:
    if "call" not in dir(cell):
        raise ValueError(f"{who}: a cell needs a call(inputs, states) method, got {cell!r}")
    if "state_size" not in dir(cell):
        raise ValueError(f"{who}: a cell needs a state_size attribute (an int, or one int per state), got {cell!r}")


def _output_size(cell):
    size = getattr(cell, "output_size", None)
    return size if size is not None else state_sizes(cell.state_size)[0]


class StackedRNNCells(Layer):
    """Cells on top of each other as one cell: each step's output feeds the next cell; the
    states are one entry per cell (that cell's own state or list of states)."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        for cell in cells:
            _check_cell(cell, "StackedRNNCells")
        self.cells = cells

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        return _output_size(self.cells[-1])

    def get_initial_state(self, batch_size=None):
        states = []
        for cell in self.cells:
            fn = getattr(cell, "get_initial_state", None)
            if fn:  # kept as the cell gives it (deepgrad's and Keras's cells give a list)
                states.append(fn(batch_size=batch_size))
            else:  # a lone tensor for an int state_size, as Keras nests them
                zeros = zero_states(cell.state_size, batch_size, self.dtype)
                states.append(zeros if isinstance(cell.state_size, (list, tuple)) else zeros[0])
        return states

    def build(self, input_shape) -> None:
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell.build(input_shape)
                cell.built = True
            input_shape = (input_shape[0], _output_size(cell))
        self.built = True

    def call(self, inputs, states, training=None):
        new_states = []
        for cell, state in zip(self.cells, states):
            was_list = isinstance(state, (list, tuple))
            inputs, state = call_cell(cell, inputs, list(state) if was_list else [state], training)
            state = list(state) if isinstance(state, (list, tuple)) else [state]
            new_states.append(state[0] if len(state) == 1 and not was_list else state)
        return inputs, new_states

    def get_dropout_mask(self, step_input):
        """This sequence's input dropout mask for one step ``(batch, features)`` (drawn on first use):
        kept units are ``1 / (1 - dropout)``, dropped ones 0."""
        ones = Tensor(np.ones(tuple(step_input.shape), step_input.dtype))
        return self._masked(ones, "inputs", self.dropout, True).data

    def count_sequence_draws(self) -> None:
        for cell in self.cells:
            if hasattr(cell, "count_sequence_draws"):
                cell.count_sequence_draws()

    def reset_dropout_mask(self) -> None:
        for cell in self.cells:
            if hasattr(cell, "reset_dropout_mask"):
                cell.reset_dropout_mask()

    def reset_recurrent_dropout_mask(self) -> None:
        for cell in self.cells:
            if hasattr(cell, "reset_recurrent_dropout_mask"):
                cell.reset_recurrent_dropout_mask()

    def get_config(self) -> dict:
        return {**super().get_config(), "cells": [serialize_cell(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cells = [deserialize_cell(c, custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)


__all__ = ["GRUCell", "LSTMCell", "SimpleRNNCell", "StackedRNNCells"]
