"""Fused recurrent ops: a whole LSTM, GRU or simple RNN sequence as one graph node.

Sequences are batch-major ``(batch, time, features)`` and weights use Keras's layouts
(LSTM gates i, f, c, o; GRU gates z, r, h), so Keras weights load as they are.

Each op's file starts with a plain reference cell (``lstm_cell``, ``gru_cell``,
``simple_rnn_cell``) written as the formulas read, from ordinary differentiable ops, and a
``*_reference`` that runs it step by step; the fused op beside it computes the same numbers
in preallocated buffers with a hand-written backward (BPTT), which is what makes recurrent
training fast on NumPy. The tests hold the two together.

Masks follow Keras: where ``mask[b, t]`` is False the state carries over unchanged and the
output of that step repeats the previous state. With ``go_backwards`` the sequence is read
from the last step to the first and the output sequence is in that (reversed) order.
"""
from .gru import GRU, gru, gru_cell, gru_reference
from .lstm import LSTM, lstm, lstm_cell, lstm_reference
from .simple_rnn import SIMPLE_RNN_ACTIVATIONS, SimpleRNN, simple_rnn, simple_rnn_cell, simple_rnn_reference

__all__ = ["gru", "lstm", "simple_rnn", "gru_cell", "lstm_cell", "simple_rnn_cell", "gru_reference",
           "lstm_reference", "simple_rnn_reference", "GRU", "LSTM", "SimpleRNN", "SIMPLE_RNN_ACTIVATIONS"]
