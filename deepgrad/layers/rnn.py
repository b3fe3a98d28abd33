"""``RNN``: any cell with Keras's cell protocol, run over a sequence one step at a time.

The cell may be a deepgrad cell (``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``,
``StackedRNNCells``), a list of cells (stacked), or a user's class with ``state_size`` and
``call(inputs, states) -> (output, new_states)`` written with deepgrad ops, as in Keras's
guide. Each step is a call of the cell on ``(batch, features...)``; gradients flow through
the ops the cell uses.

Masks follow Keras's loop: where ``mask[b, t]`` is False the states carry over unchanged and
the step's output repeats the previous step's output (zeros before the first kept step), or
is zero with ``zero_output_for_mask``. With ``go_backwards`` the steps run from last to first
and the output sequence comes in that order.

``stateful=True`` keeps the final states of each call (without their graph) as the next
call's initial states, sample ``i`` to sample ``i``; ``reset_state()`` zeroes them.
"""
from __future__ import annotations

import numpy as np

from .. import ops as dg_ops
from ..autograd import Tensor
from .base import Layer
from .rnn_cells import StackedRNNCells, _check_cell, _mask_array, _output_size, call_cell, deserialize_cell, \
    serialize_cell, state_sizes, zero_states


def flatten(structure) -> list:
    """The tensors of a nested list of states, in order."""
    if isinstance(structure, (list, tuple)):
        return [t for item in structure for t in flatten(item)]
    return [structure]


def pack_like(structure, flat: list):
    """``flat`` in the nesting of ``structure`` (the inverse of ``flatten``)."""
    flat = iter(flat)

    def pack(s):
        return [pack(item) for item in s] if isinstance(s, (list, tuple)) else next(flat)
    return pack(structure)


def _step_mask(keep: np.ndarray, like: Tensor) -> np.ndarray:
    """A (batch,) keep-mask shaped to broadcast over a state or output of any rank."""
    return keep.reshape((-1,) + (1,) * (like.ndim - 1))


class RNN(Layer):
    """Runs ``cell`` over the time axis of ``(batch, time, features...)`` inputs."""

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        _check_cell(cell, type(self).__name__)
        super().__init__(**kwargs)
        sizes = cell.state_size
        if not isinstance(sizes, (int, np.integer, list, tuple)):
            raise ValueError(f"{type(self).__name__}: the cell's state_size must be an int or a list of ints "
                             f"(one per state), got {sizes!r}")
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)  # accepted for Keras compatibility: the loop is a Python loop either way
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self.states = None

    @property
    def state_size(self) -> list:
        return state_sizes(self.cell.state_size)

    @property
    def single_state(self) -> bool:
        """True when the cell carries one state (an int ``state_size``), as Keras records it."""
        return isinstance(self.cell.state_size, (int, np.integer))

    # ----------------------------------------------------------------- building and states
    def _check_input(self, shape) -> None:
        if len(shape) < 3:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects inputs of shape (batch, time, "
                             f"features...), got {tuple(shape)}")

    def build(self, sequences_shape, initial_state_shape=None) -> None:
        self._check_input(sequences_shape)
        step_shape = (sequences_shape[0],) + tuple(sequences_shape[2:])
        if isinstance(self.cell, Layer) and not self.cell.built:
            with self._open_name_scope():  # Keras's paths: "sequential/lstm/lstm_cell/kernel"
                self.cell.build(step_shape)
            self.cell.built = True
        self.built = True

    def get_initial_state(self, batch_size):
        fn = getattr(self.cell, "get_initial_state", None)
        if fn is None:
            return zero_states(self.state_size, batch_size, self.dtype)
        states = fn(batch_size=batch_size)
        return list(states) if isinstance(states, (list, tuple)) else [states]

    def reset_state(self) -> None:
        """Zero the kept states of a stateful layer."""
        if self.states is not None:
            self.states = pack_like(self.states, [Tensor(np.zeros_like(s.data)) for s in flatten(self.states)])

    def reset_states(self) -> None:
        self.reset_state()

    def _initial_states(self, initial_state, batch: int) -> list:
        kind = f"{type(self).__name__} {self.name!r}"
        if initial_state is None:
            if not self.stateful:
                return self.get_initial_state(batch)
            if self.states is None:
                self.states = self.get_initial_state(batch)
            kept = flatten(self.states)[0].shape[0]
            if kept != batch:
                raise ValueError(f"{kind} is stateful with batch size {kept}; got inputs of batch size {batch}. "
                                 "Feed batches of one size, or call reset_state() after changing it")
            return self.states
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != len(self.state_size):
            raise ValueError(f"{kind} takes {len(self.state_size)} initial state(s) (the cell's state_size is "
                             f"{self.cell.state_size}), got {len(states)}")

        def as_tensor(s):
            s = s if isinstance(s, Tensor) else Tensor(np.asarray(s, self.dtype))
            if s.shape[0] != batch:
                raise ValueError(f"{kind}: an initial state has shape {tuple(s.shape)}, expected batch size {batch}")
            return s.astype(self.dtype) if s.dtype != self.dtype else s
        return pack_like(states, [as_tensor(s) for s in flatten(states)])

    # ----------------------------------------------------------------- the loop
    def call(self, sequences, initial_state=None, mask=None, training=False):
        self._check_input(sequences.shape)
        batch, steps = sequences.shape[:2]
        mask = _mask_array(mask)
        if mask is not None and mask.shape != (batch, steps):
            raise ValueError(f"{type(self).__name__} {self.name!r}: mask has shape {mask.shape}, "
                             f"expected (batch, time) = {(batch, steps)}")
        states = self._initial_states(initial_state, batch)
        for reset in ("reset_dropout_mask", "reset_recurrent_dropout_mask"):
            if hasattr(self.cell, reset):  # one dropout mask per sequence: drawn afresh for this call
                getattr(self.cell, reset)()
        if hasattr(self.cell, "count_sequence_draws"):
            self.cell.count_sequence_draws()

        outputs, output = [], None
        for t in (range(steps - 1, -1, -1) if self.go_backwards else range(steps)):
            step_output, new_states = call_cell(self.cell, sequences[:, t], states, training)
            if not isinstance(new_states, (list, tuple)):
                new_states = [new_states]
            if mask is not None:
                keep = mask[:, t]
                flat = [dg_ops.where(_step_mask(keep, n), n, s) for n, s in zip(flatten(new_states), flatten(states))]
                new_states = pack_like(new_states, flat)
                # a masked step repeats the previous output; zeros before the first kept step
                previous = output if output is not None and not self.zero_output_for_mask else 0.0
                step_output = dg_ops.where(_step_mask(keep, step_output), step_output, previous)
            states, output = list(new_states), step_output
            if self.return_sequences:
                outputs.append(step_output)

        if self.stateful:  # kept as plain values: the next batch does not backpropagate into this one
            self.states = pack_like(states, [Tensor(s.data.copy()) for s in flatten(states)])
        result = dg_ops.stack(outputs, axis=1) if self.return_sequences else output
        return [result, *states] if self.return_state else result

    # ----------------------------------------------------------------- shapes, masks, config
    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, steps = sequences_shape[0], sequences_shape[1]
        size = _output_size(self.cell)
        output = (batch, steps, size) if self.return_sequences else (batch, size)
        if not self.return_state:
            return output

        def shape(s):
            return [shape(x) for x in s] if isinstance(s, (list, tuple)) else (batch, s)
        return [output] + [shape(s) for s in self.state_size]

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"return_sequences": self.return_sequences, "return_state": self.return_state,
                       "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
                       "zero_output_for_mask": self.zero_output_for_mask, "cell": serialize_cell(self.cell)})
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cell = deserialize_cell(config.pop("cell"), custom_objects)
        return cls(cell, **config)


__all__ = ["RNN"]
