"""Recurrent layers exported as an ONNX Scan in Keras's loop formulas: ConvLSTM1D/2D/3D, RNN over
the built-in cells (stacked too), masked RNN; stateful layers refused with the way to export them.
onnxruntime equals predict within 1e-5 at two batch sizes."""
from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers
from deepgrad.export import ExportError

from onnx_helpers import assert_exports, randomize

RNG = np.random.default_rng(0)


def seq(shape, *stack):
    return dg.Sequential([layers.Input(shape), *stack])


def _conv_lstm_states():
    x = layers.Input((4, 6, 5, 2))
    y, h, c = layers.ConvLSTM2D(3, 3, padding="same", return_state=True)(x)
    return dg.Model(x, [y, h, c])


CASES = {
    "conv_lstm2d": (lambda: seq((4, 6, 5, 2), layers.ConvLSTM2D(3, 3, padding="same", return_sequences=True),
                                layers.ConvLSTM2D(2, 2, strides=2)), (4, 6, 5, 2)),
    "conv_lstm1d_backwards_dilated": (lambda: seq((4, 7, 2), layers.ConvLSTM1D(3, 2, go_backwards=True,
                                                                                return_sequences=True,
                                                                                dilation_rate=2)), (4, 7, 2)),
    "conv_lstm3d": (lambda: seq((3, 4, 4, 3, 2), layers.ConvLSTM3D(2, 2, padding="same")), (3, 4, 4, 3, 2)),
    "conv_lstm2d_channels_first": (lambda: seq((4, 2, 6, 5), layers.ConvLSTM2D(
        3, 3, data_format="channels_first", return_sequences=True)), (4, 2, 6, 5)),
    "conv_lstm2d_states": (_conv_lstm_states, (4, 6, 5, 2)),
    "rnn_stacked_cells": (lambda: seq((5, 3), layers.RNN([layers.LSTMCell(4), layers.GRUCell(3),
                                                          layers.SimpleRNNCell(2)], return_sequences=True),
                                      layers.RNN(layers.GRUCell(3, reset_after=False), go_backwards=True)), (5, 3)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_scan_loops(name, tmp_path):
    make, shape = CASES[name]
    model = make()
    randomize(model)
    assert_exports(model, RNG.normal(size=(3,) + shape).astype("float32"), tmp_path / "m.onnx")


def test_masked_rnn_over_a_cell(tmp_path):
    ids = layers.Input((6,), dtype="int32")
    x = layers.Embedding(5, 3, mask_zero=True)(ids)
    model = dg.Model(ids, layers.RNN(layers.LSTMCell(3), return_sequences=True, zero_output_for_mask=True)(x))
    randomize(model)
    x = RNG.integers(1, 5, (3, 6)).astype("int32")
    x[0, 2] = 0
    x[1, 4:] = 0
    assert_exports(model, x, tmp_path / "m.onnx")


def test_stateful_layer_is_refused_with_the_stateless_route(tmp_path):
    model = dg.Sequential([layers.Input((4, 3), batch_size=2), layers.LSTM(3, stateful=True, name="memory")])
    with pytest.raises(ExportError, match="'memory'.*stateful=True.*initial states as model inputs"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")


def test_stateless_step_with_states_as_inputs_and_outputs(tmp_path):
    """The documented route for a stateful network: the states are inputs and outputs of the file."""
    x, h, c = layers.Input((1, 3)), layers.Input((4,)), layers.Input((4,))
    y, h2, c2 = layers.LSTM(4, return_state=True)(x, initial_state=[h, c])
    model = dg.Model([x, h, c], [y, h2, c2])
    randomize(model)
    xs = [RNG.normal(size=(3, 1, 3)).astype("float32"), RNG.normal(size=(3, 4)).astype("float32"),
          RNG.normal(size=(3, 4)).astype("float32")]
    assert_exports(model, xs, tmp_path / "m.onnx")
