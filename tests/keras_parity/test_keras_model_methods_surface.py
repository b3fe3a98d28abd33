"""``Model.export``, ``Model.quantize`` and ``Model.save_weights`` take Keras 3's parameters, in
Keras's order, with Keras's defaults (``export``'s ONNX options are the keywords Keras passes
through ``**kwargs`` to its ONNX exporter)."""
import inspect

import keras
import pytest

import deepgrad as dg


def _params(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", ["quantize", "save_weights", "export"])
def test_model_method_parameters_match_keras(name):
    ours, theirs = _params(getattr(dg.Model, name)), _params(getattr(keras.Model, name))
    if theirs[-1][1] is inspect.Parameter.VAR_KEYWORD and ours[-1][1] is not inspect.Parameter.VAR_KEYWORD:
        theirs = theirs[:-1]  # named here, as keywords Keras accepts
        ours = ours[:len(theirs)]
    assert ours == theirs
