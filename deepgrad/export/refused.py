"""The public layer classes that have no ONNX converter, each with the reason; exporting one stops
with that reason (``registry.converter_for``). Every other public layer class of ``deepgrad.layers``
has a converter (a test walks them all)."""
from __future__ import annotations

_CELL = ("a recurrent cell is exported inside the layer that runs it (RNN over it, SimpleRNN, LSTM, GRU); "
         "called alone on (inputs, states) it has no converter")

REFUSED = {
    "Layer": "the base class: a layer of your own computes in Python; give it a converter with "
             "deepgrad.export.register_converter",
    "Wrapper": "the base class of wrappers: a wrapper of your own needs a converter (register_converter)",
    "InputLayer": "not a computation: a model's inputs are the ONNX graph's inputs",
    "SimpleRNNCell": _CELL, "LSTMCell": _CELL, "GRUCell": _CELL, "StackedRNNCells": _CELL,
    "StringLookup": "its inputs are strings, which deepgrad models do not take as arrays; look the tokens up "
                    "before the model and export from the integer ids on",
    "TextVectorization": "it splits and looks up strings in Python; vectorise the text before the model and "
                         "export from the integer ids on",
    "Hashing": "FarmHash fingerprints (and floormod of strings) have no ONNX operator",
    "HashedCrossing": "FarmHash fingerprints of feature crosses have no ONNX operator",
    "ContrastLimitedAdaptiveHistogramEqualization": "per-tile histograms with clipped, redistributed counts and "
                                                    "interpolated lookups: not exported; equalise before the model",
    "FlaxLayer": "it runs a Flax module through JAX, not deepgrad ops",
    "JaxLayer": "it runs a JAX function, not deepgrad ops",
    "TFSMLayer": "it runs a TensorFlow SavedModel; convert that with TensorFlow's tools (tf2onnx)",
    "TorchModuleWrapper": "it runs a PyTorch module; export that with torch.onnx.export",
}
