"""Recurrent layers: ``SimpleRNN``, ``LSTM`` and ``GRU`` (``Bidirectional`` is in ``wrappers``).

As in Keras 3, each is an ``RNN`` holding a cell (``SimpleRNNCell``, ``LSTMCell``,
``GRUCell``, named ``simple_rnn_cell``, ``lstm_cell``, ``gru_cell``) that owns the weights
``kernel``, ``recurrent_kernel`` and ``bias`` (paths ``lstm/lstm_cell/kernel``, ...); the
cell's arguments read through the layer (``layer.units``, ``layer.activation``, ...), and
``set_weights`` takes a Keras layer's ``get_weights()``.

With the default activations the layer runs the fused op of ``deepgrad.ops.recurrent`` on
the cell's weights (one graph node for the whole sequence). Other activations, and
``recurrent_dropout`` in training, run ``RNN``'s loop over the cell, step by step (slower,
same results). Input dropout (``dropout=``) uses the cell's mask, one per sequence, shared
by all time steps, as Keras does. ``stateful=True`` keeps each call's final states (without
their graph) as the next call's initial states; ``reset_state()`` zeroes them.
"""
from __future__ import annotations

import numpy as np

from .. import regularizers
from ..autograd import Tensor
from ..ops.recurrent import SIMPLE_RNN_ACTIVATIONS, gru, lstm, simple_rnn
from .arguments import weight_arguments_config
from .input_spec import InputSpec
from .rnn import RNN
from .rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, _activation_name, _mask_array


def _cell_property(name: str) -> property:
    """``layer.<name>`` reads ``layer.cell.<name>``, as Keras's recurrent layers forward them."""
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's ``{name}``.")


class _FusedRNN(RNN):
    """What SimpleRNN, LSTM and GRU share: a cell made from the layer's arguments, the fused
    op on its weights, the activity regularizer and Keras's config."""
    _float_inputs = True  # integer inputs are averaged/normalised as floats

    cell_name = ""

    def __init__(self, cell, *, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, activity_regularizer=None, **kwargs):
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.input_spec = InputSpec(ndim=3)  # (batch, time, features), as Keras's LSTM and GRU hold it

    @staticmethod
    def cell_options(kwargs: dict) -> dict:
        """The layer's dtype and trainable flag, which the cell shares (as Keras passes them)."""
        return {"dtype": kwargs.get("dtype"), "trainable": kwargs.get("trainable", True)}

    units = _cell_property("units")
    activation = _cell_property("activation")
    use_bias = _cell_property("use_bias")
    kernel_initializer = _cell_property("kernel_initializer")
    recurrent_initializer = _cell_property("recurrent_initializer")
    bias_initializer = _cell_property("bias_initializer")
    kernel_regularizer = _cell_property("kernel_regularizer")
    recurrent_regularizer = _cell_property("recurrent_regularizer")
    bias_regularizer = _cell_property("bias_regularizer")
    kernel_constraint = _cell_property("kernel_constraint")
    recurrent_constraint = _cell_property("recurrent_constraint")
    bias_constraint = _cell_property("bias_constraint")
    dropout = _cell_property("dropout")
    recurrent_dropout = _cell_property("recurrent_dropout")
    seed = _cell_property("seed")
    # the weights themselves, for reading (they belong to the cell)
    kernel = _cell_property("kernel")
    recurrent_kernel = _cell_property("recurrent_kernel")
    bias = _cell_property("bias")

    # ----------------------------------------------------------------- calling
    def fused(self) -> bool:
        """Whether the fused op computes this layer (it knows only the default activations)."""
        raise NotImplementedError

    def run_fused(self, inputs, states, mask):
        """``(sequence, *final_states)`` from the fused op; ``states`` entries may be None (zeros)."""
        raise NotImplementedError

    def _check_input(self, shape) -> None:
        """The input spec (for a build or an output shape asked for without a call), and known features."""
        self._check_input_spec(tuple(shape))
        if shape[-1] is None:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects inputs of shape (batch, time, features) "
                             f"with known features, got {tuple(shape)}")

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if self.fused() and not (training and self.cell.recurrent_dropout > 0):
            outputs = self._call_fused(sequences, initial_state, mask, training)
        else:  # the cell, step by step
            outputs = super().call(sequences, initial_state=initial_state, mask=mask, training=training)
        self._add_activity_loss(outputs[0] if self.return_state else outputs)
        return outputs

    def _call_fused(self, inputs, initial_state, mask, training):
        kind, cell = type(self).__name__, self.cell
        if inputs.shape[-1] != cell.kernel.shape[0]:
            raise ValueError(f"{kind} {self.name!r} was built for inputs of shape (batch, time, "
                             f"{cell.kernel.shape[0]}), got {tuple(inputs.shape)}")
        batch = inputs.shape[0]
        mask = _mask_array(mask)
        if mask is not None and mask.shape != tuple(inputs.shape[:2]):
            raise ValueError(f"{kind} {self.name!r}: mask has shape {mask.shape}, "
                             f"expected (batch, time) = {tuple(inputs.shape[:2])}")
        if initial_state is None and not self.stateful:
            states = [None] * len(self.state_size)  # zeros, which the fused ops need not read
        else:
            states = [s.astype(self.dtype) if s.dtype != self.dtype else s
                      for s in self._initial_states(initial_state, batch)]
            for s in states:
                if tuple(s.shape) != (batch, self.units):
                    raise ValueError(f"{kind} {self.name!r}: initial state has shape {tuple(s.shape)}, "
                                     f"expected {(batch, self.units)}")
        cell.reset_dropout_mask()
        cell.count_sequence_draws()
        if training and cell.dropout > 0:  # one input mask for every step of the sequence
            inputs = inputs * Tensor(cell.get_dropout_mask(inputs[:, 0])[:, None, :])
        sequence, *last = self.run_fused(inputs, states, mask)
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
        return [output, *last] if self.return_state else output

    # ----------------------------------------------------------------- config
    def cell_config(self) -> dict:
        """The cell's arguments in Keras's order for this layer's config."""
        raise NotImplementedError

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("cell")
        config.update(self.cell_config())
        return config

    def _activation_config(self, *names) -> dict:
        cell = self.cell
        return {n: _activation_name(getattr(cell, n)) or cell._activation_arguments[n] for n in names}

    def _weight_arguments(self, suffix: str) -> dict:
        prefixes = ("kernel", "recurrent", "bias")
        every = weight_arguments_config(self.cell, *prefixes)
        return {f"{p}_{suffix}": every[f"{p}_{suffix}"] for p in prefixes}

    def _activity_config(self) -> dict:
        regularizer = self.activity_regularizer
        return {"activity_regularizer": None if regularizer is None else regularizers.serialize(regularizer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


class SimpleRNN(_FusedRNN):
    """``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``."""

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, seed=None, **kwargs):
        cell = SimpleRNNCell(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                             recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                             kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                             bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                             recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                             dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
                             name="simple_rnn_cell", **self.cell_options(kwargs))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.input_spec = [InputSpec(ndim=3)]  # a list of one, as Keras's SimpleRNN holds it

    def fused(self) -> bool:
        return _activation_name(self.cell.activation) in SIMPLE_RNN_ACTIVATIONS

    def run_fused(self, inputs, states, mask):
        cell = self.cell
        return simple_rnn(inputs, cell.kernel, cell.recurrent_kernel, cell.bias, states[0], mask=mask,
                          go_backwards=self.go_backwards, activation=_activation_name(cell.activation))

    def cell_config(self) -> dict:
        # Keras's keys and order (its SimpleRNN config has no seed)
        return {"units": self.units, **self._activation_config("activation"), "use_bias": self.use_bias,
                **self._weight_arguments("initializer"), **self._weight_arguments("regularizer"),
                **self._activity_config(), **self._weight_arguments("constraint"),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout}


class _GatedRNN(_FusedRNN):
    """LSTM and GRU: a ``recurrent_activation`` for the gates; the fused ops need tanh and sigmoid."""

    recurrent_activation = _cell_property("recurrent_activation")

    def _check_cudnn(self, use_cudnn) -> None:
        if use_cudnn not in ("auto", True, False):
            raise ValueError(f"{type(self).__name__}: use_cudnn must be 'auto', True or False, got {use_cudnn!r}")
        self.use_cudnn = use_cudnn  # accepted for Keras compatibility: there is no GPU path

    def fused(self) -> bool:
        cell = self.cell
        return (_activation_name(cell.activation), _activation_name(cell.recurrent_activation)) == ("tanh", "sigmoid")


class LSTM(_GatedRNN):
    """Long short-term memory, gates i, f, c, o; states ``[h, c]``."""

    unit_forget_bias = _cell_property("unit_forget_bias")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, use_cudnn="auto", **kwargs):
        kwargs.pop("implementation", None)  # Keras's choice of kernel split; the numbers are the same
        cell = LSTMCell(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                        kernel_initializer=kernel_initializer, unit_forget_bias=unit_forget_bias,
                        recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                        kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                        bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                        recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                        dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, name="lstm_cell",
                        **self.cell_options(kwargs))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self._check_cudnn(use_cudnn)

    def run_fused(self, inputs, states, mask):
        cell = self.cell
        return lstm(inputs, cell.kernel, cell.recurrent_kernel, cell.bias, *states, mask=mask,
                    go_backwards=self.go_backwards)

    def cell_config(self) -> dict:
        return {"units": self.units, **self._activation_config("activation", "recurrent_activation"),
                "use_bias": self.use_bias, **self._weight_arguments("initializer"),
                "unit_forget_bias": self.unit_forget_bias, **self._weight_arguments("regularizer"),
                **self._activity_config(), **self._weight_arguments("constraint"),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed}


class GRU(_GatedRNN):
    """Gated recurrent unit, gates z, r, h; ``h = z * h_prev + (1 - z) * candidate``."""

    reset_after = _cell_property("reset_after")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 seed=None, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, reset_after=True, use_cudnn="auto", **kwargs):
        kwargs.pop("implementation", None)
        cell = GRUCell(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                       kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                       bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                       recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                       kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                       bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                       reset_after=reset_after, seed=seed, name="gru_cell", **self.cell_options(kwargs))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self._check_cudnn(use_cudnn)

    def run_fused(self, inputs, states, mask):
        cell = self.cell
        return gru(inputs, cell.kernel, cell.recurrent_kernel, cell.bias, states[0], mask=mask,
                   go_backwards=self.go_backwards, reset_after=cell.reset_after)

    def cell_config(self) -> dict:
        return {"units": self.units, **self._activation_config("activation", "recurrent_activation"),
                "use_bias": self.use_bias, **self._weight_arguments("initializer"),
                **self._weight_arguments("regularizer"), **self._activity_config(),
                **self._weight_arguments("constraint"), "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout, "reset_after": self.reset_after, "seed": self.seed}


__all__ = ["GRU", "LSTM", "SimpleRNN"]
