"""Convolutional LSTMs: ``ConvLSTM1D``, ``ConvLSTM2D``, ``ConvLSTM3D``.

An LSTM whose input and recurrent transforms are convolutions (Shi et al., 2015), run over
``(batch, time, *spatial, channels)`` (or ``(batch, time, channels, *spatial)`` with
``channels_first``) by ``RNN``. Keras's weight layout: ``kernel`` (*k, in, 4 * filters),
``recurrent_kernel`` (*k, filters, 4 * filters), ``bias`` (4 * filters,), gates i, f, c, o:

    z = conv(x_t, kernel; strides, padding, dilation) + bias + conv(h_{t-1}, recurrent_kernel; "same")
    c_t = f * c_{t-1} + i * activation(z_c),   h_t = o * activation(c_t)

All four gates come from one convolution of the inputs and one of the state; with input or
recurrent dropout in training, each gate gets its own mask (and its own convolution), as in Keras.
"""
from __future__ import annotations

import numpy as np

from .. import activations, backend, regularizers
from .. import ops as dg_ops
from ..autograd import Tensor
from .arguments import weight_arguments_config
from .input_spec import InputSpec
from .rnn import RNN
from .rnn_cells import DropoutRNNCell, _activation_name, forget_bias_initializer


def _tuple(value, rank: int, name: str, layer: str) -> tuple:
    """``3`` -> ``(3,) * rank``; a sequence of ``rank`` positive ints stays."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * rank
    try:
        value = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{layer}: {name} must be an int or a tuple of {rank} ints, got {value!r}") from None
    if len(value) != rank or min(value) < 1:
        raise ValueError(f"{layer}: {name} must be a positive int or a tuple of {rank} positive ints, got {value}")
    return value


def conv_output_length(n, kernel: int, stride: int, padding: str, dilation: int):
    """Output length of one spatial axis: ``ceil(n / s)`` for "same", ``floor((n - d(k-1) - 1) / s) + 1`` for "valid"."""
    if n is None:
        return None
    if padding == "same":
        return -(-n // stride)
    return (n - dilation * (kernel - 1) - 1) // stride + 1


class ConvLSTMCell(DropoutRNNCell):
    """One ConvLSTM step on ``(batch, *spatial, channels)``; states ``[h, c]`` of the output's shape."""

    _dropout_mask_count = 4  # one mask per gate, as Keras's
    _seed_generator_first = True

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(filters, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                         dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        layer = type(self).__name__
        if rank not in (1, 2, 3):
            raise ValueError(f"{layer}: rank must be 1, 2 or 3, got {rank!r}")
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f"{layer}: padding must be 'valid' or 'same', got {padding!r}")
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"{layer}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
        self.rank = int(rank)
        self.filters = self.units
        self.kernel_size = _tuple(kernel_size, self.rank, "kernel_size", layer)
        self.strides = _tuple(strides, self.rank, "strides", layer)
        self.dilation_rate = _tuple(dilation_rate, self.rank, "dilation_rate", layer)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{layer}: strides > 1 cannot be combined with dilation_rate > 1, got "
                             f"strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.padding = padding.lower()
        self.data_format = data_format or backend.image_data_format()
        self.recurrent_activation = activations.get(recurrent_activation)
        self._activation_arguments["recurrent_activation"] = recurrent_activation
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.filters, self.filters]
        self.spatial_dims = None
        self.input_dim = None
        self.input_spec = InputSpec(ndim=self.rank + 2)  # one step: (batch, *spatial, channels)

    @property
    def _channel_axis(self) -> int:
        return 1 if self.data_format == "channels_first" else -1

    def build(self, input_shape) -> None:
        input_shape = tuple(input_shape)
        layer = f"{type(self).__name__} {self.name!r}"
        self._check_input_spec(input_shape)  # built directly by the ConvLSTM layer, not through a call
        spatial = input_shape[2:] if self.data_format == "channels_first" else input_shape[1:-1]
        if None in spatial or input_shape[self._channel_axis] is None:
            raise ValueError(f"{layer}: the spatial and channel axes must be known, got shape {input_shape}")
        self.spatial_dims, self.input_dim = tuple(int(s) for s in spatial), int(input_shape[self._channel_axis])
        self.input_spec = InputSpec(shape=(None,) + input_shape[1:])  # every step of the size built for
        width = 4 * self.filters
        self.kernel = self.add_weight("kernel", self.kernel_size + (self.input_dim, width), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", self.kernel_size + (self.filters, width),
                                                self.recurrent_initializer, regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", (width,), forget_bias_initializer(self.filters, self.bias_initializer)
                                        if self.unit_forget_bias else self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def output_spatial_shape(self, spatial) -> tuple:
        return tuple(conv_output_length(n, k, s, self.padding, d) for n, k, s, d in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate))

    def state_shape(self, batch_size) -> tuple:
        spatial = self.output_spatial_shape(self.spatial_dims)
        if self.data_format == "channels_first":
            return (batch_size, self.filters) + spatial
        return (batch_size,) + spatial + (self.filters,)

    def get_initial_state(self, batch_size=None):
        return [Tensor(np.zeros(self.state_shape(batch_size), self.dtype)) for _ in range(2)]

    # ----------------------------------------------------------------- one step
    def _bias_shaped(self, bias):
        """A (n,) bias to broadcast over the channel axis."""
        if self.data_format == "channels_first":
            return dg_ops.reshape(bias, (1, -1) + (1,) * self.rank)
        return bias

    def _gates(self, x, weights, which: str, rate: float, training, **conv):
        """The four gate pre-activations of ``conv(x, weights)``, one convolution for all of them, or
        four when a dropout mask per gate applies (Keras draws one per gate)."""
        if training and rate > 0:
            parts = dg_ops.split(weights, 4, axis=-1)
            return [dg_ops.conv(self._masked(x, f"{which}{g}", rate, training), w, data_format=self.data_format,
                                **conv) for g, w in enumerate(parts)]
        z = dg_ops.conv(x, weights, data_format=self.data_format, **conv)
        return dg_ops.split(z, 4, axis=self._channel_axis)

    def call(self, inputs, states, training=None):
        h, c = states[0], states[1]
        x = self._gates(inputs, self.kernel, "inputs", self.dropout, training, strides=self.strides,
                        padding=self.padding, dilation_rate=self.dilation_rate)
        r = self._gates(h, self.recurrent_kernel, "recurrent", self.recurrent_dropout, training, strides=1,
                        padding="same")
        if self.use_bias:
            x = [xg + self._bias_shaped(b) for xg, b in zip(x, dg_ops.split(self.bias, 4))]
        i, f, g, o = (xg + rg for xg, rg in zip(x, r))
        c = self.recurrent_activation(f) * c + self.recurrent_activation(i) * self.activation(g)
        h = self.recurrent_activation(o) * self.activation(c)
        return h, [h, c]

    def reset_dropout_mask(self) -> None:
        self._dropout_masks = {k: v for k, v in self._dropout_masks.items() if not k.startswith("inputs")}

    def reset_recurrent_dropout_mask(self) -> None:
        self._dropout_masks = {k: v for k, v in self._dropout_masks.items() if not k.startswith("recurrent")}

    def compute_output_shape(self, input_shape):
        spatial = input_shape[2:] if self.data_format == "channels_first" else input_shape[1:-1]
        spatial = self.output_spatial_shape(spatial)
        if self.data_format == "channels_first":
            return (input_shape[0], self.filters) + spatial
        return (input_shape[0],) + spatial + (self.filters,)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("units")
        config.update({"rank": self.rank, "filters": self.filters, "kernel_size": tuple(self.kernel_size),
                       "strides": tuple(self.strides), "padding": self.padding, "data_format": self.data_format,
                       "dilation_rate": tuple(self.dilation_rate), "unit_forget_bias": self.unit_forget_bias,
                       "recurrent_activation": _activation_name(self.recurrent_activation)
                       or self._activation_arguments["recurrent_activation"]})
        return config


_CELL_ARGUMENTS = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "activation",
                   "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer",
                   "bias_initializer", "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer",
                   "bias_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
                   "recurrent_dropout", "seed")


class ConvLSTM(RNN):
    """What ConvLSTM1D, 2D and 3D share: a ``ConvLSTMCell`` of their rank run by ``RNN``."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, **kwargs):
        # one constructor for the three ranks (Keras gives them the same signature)
        cell_kwargs = {k: v for k, v in locals().items() if k in _CELL_ARGUMENTS[2:]}
        cell = ConvLSTMCell(self.rank, filters, kernel_size, name="conv_lstm_cell", dtype=kwargs.get("dtype"),
                            **cell_kwargs)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, **kwargs)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.input_spec = InputSpec(ndim=self.rank + 3)  # (batch, time, *spatial, channels)

    def __getattr__(self, name):
        # the cell's arguments read through the layer (layer.filters, layer.kernel_size, ...), as in Keras
        if name in _CELL_ARGUMENTS and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _check_input(self, shape) -> None:
        self._check_input_spec(tuple(shape))  # built, or its output shape asked for, without a call

    def call(self, sequences, initial_state=None, mask=None, training=False):
        outputs = super().call(sequences, initial_state=initial_state, mask=mask, training=training)
        for output in (outputs if isinstance(outputs, list) else [outputs]):
            self._add_activity_loss(output)
        return outputs

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        self._check_input(sequences_shape)
        batch, steps = sequences_shape[0], sequences_shape[1]
        state = self.cell.compute_output_shape((batch,) + tuple(sequences_shape[2:]))
        output = (batch, steps) + state[1:] if self.return_sequences else state
        return [output, state, state] if self.return_state else output

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("cell")
        cell = self.cell.get_config()
        config.update({k: cell[k] for k in _CELL_ARGUMENTS})
        config.update(weight_arguments_config(self.cell, "kernel", "recurrent", "bias"))
        config["activity_regularizer"] = (None if self.activity_regularizer is None
                                          else regularizers.serialize(self.activity_regularizer))
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


class ConvLSTM1D(ConvLSTM):
    """ConvLSTM over ``(batch, time, steps, channels)``; kernel (k, in, 4 * filters)."""

    rank = 1


class ConvLSTM2D(ConvLSTM):
    """ConvLSTM over ``(batch, time, rows, cols, channels)``; kernel (kh, kw, in, 4 * filters)."""

    rank = 2


class ConvLSTM3D(ConvLSTM):
    """ConvLSTM over ``(batch, time, d1, d2, d3, channels)``; kernel (k1, k2, k3, in, 4 * filters)."""

    rank = 3


__all__ = ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]
