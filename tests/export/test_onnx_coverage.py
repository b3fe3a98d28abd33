"""Every public layer class of deepgrad.layers either has an ONNX converter or is on the refused
list with its reason, and exporting a refused layer fails with that reason."""
from __future__ import annotations

import inspect

import pytest

import deepgrad as dg
from deepgrad import layers
from deepgrad.export import CONVERTERS, ExportError
from deepgrad.export.refused import REFUSED


def _public_layer_classes() -> dict:
    return {name: cls for name, cls in vars(layers).items()
            if not name.startswith("_") and inspect.isclass(cls) and issubclass(cls, layers.Layer)}


def _has_converter(cls) -> bool:
    """As the registry finds one: the class or a base, unless a class in between writes its own call."""
    for base in cls.__mro__:
        if base in CONVERTERS:
            return True
        if "call" in base.__dict__:
            return False
    return False


def test_every_public_layer_is_converted_or_refused_with_a_reason():
    classes = _public_layer_classes()
    assert len(classes) > 150
    unaccounted = sorted(name for name, cls in classes.items() if not _has_converter(cls) and name not in REFUSED)
    assert unaccounted == []
    both = sorted(name for name, cls in classes.items() if _has_converter(cls) and name in REFUSED)
    assert both == []
    assert set(REFUSED) <= set(classes)
    assert all(len(reason) > 30 for reason in REFUSED.values())


@pytest.mark.parametrize("make,name,shape", [
    (lambda: layers.Hashing(8, name="hash"), "Hashing", (16,)),
    (lambda: layers.ContrastLimitedAdaptiveHistogramEqualization(name="hash"),
     "ContrastLimitedAdaptiveHistogramEqualization", (8, 8, 3)),
])
def test_refused_layer_names_itself_and_the_reason(make, name, shape, tmp_path):
    inputs = layers.Input(shape)
    model = dg.Model(inputs, make()(inputs))
    with pytest.raises(ExportError, match=rf"'hash' \({name}\) is not exported: {REFUSED[name][:20]}"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")
