"""The whole ``keras.layers`` surface: every public name of Keras 3's ``keras.layers`` exists in
``deepgrad.layers``, is a class where Keras's is a class, and has Keras's ``inspect.signature``:
the same parameter names in the same order, of the same kinds (positional, keyword, ``*args``,
``**kwargs``), with the same defaults. Names Keras gives one object (``Conv2D`` and
``Convolution2D``) are one object in deepgrad too."""
import inspect

import keras
import pytest

import deepgrad.layers as dg_layers

# Image augmentation layers that are being added alongside this listing; this set is emptied
# once they are in.

KERAS_NAMES = sorted(n for n in dir(keras.layers) if not n.startswith("_"))
CHECKED = KERAS_NAMES


def test_the_listing_is_keras_3_layers():
    assert len(KERAS_NAMES) >= 170 and {"Dense", "LSTM", "Wrapper", "TorchModuleWrapper", "Input"} <= set(KERAS_NAMES)


def test_every_public_keras_name_exists():
    missing = [n for n in KERAS_NAMES if not hasattr(dg_layers, n)]
    assert not missing, f"missing from deepgrad.layers: {missing}"


def _same_default(a, b) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # defaults that do not compare (arrays): compare their text
        return repr(a) == repr(b)


@pytest.mark.parametrize("name", CHECKED)
def test_signature_is_keras_signature(name):
    theirs, ours = getattr(keras.layers, name), getattr(dg_layers, name)
    assert inspect.isclass(ours) == inspect.isclass(theirs), f"{name}: class in one, function in the other"
    if not callable(theirs):
        return
    k_params = list(inspect.signature(theirs).parameters.values())
    d_params = list(inspect.signature(ours).parameters.values())
    assert [p.name for p in d_params] == [p.name for p in k_params], name
    assert [p.kind for p in d_params] == [p.kind for p in k_params], name
    wrong = {k.name: (d.default, k.default) for k, d in zip(k_params, d_params) if not _same_default(d.default,
                                                                                                     k.default)}
    assert not wrong, f"{name}: (deepgrad, Keras) defaults differ: {wrong}"


def test_keras_aliases_are_aliases():
    """Two Keras names for one object (Conv2D / Convolution2D) are one object in deepgrad."""
    by_object: dict = {}
    for name in CHECKED:
        by_object.setdefault(id(getattr(keras.layers, name)), []).append(name)
    groups = [names for names in by_object.values() if len(names) > 1]
    assert len(groups) >= 10
    for names in groups:
        assert len({id(getattr(dg_layers, n)) for n in names}) == 1, names


@pytest.mark.parametrize("name", [n for n in CHECKED if inspect.isclass(getattr(keras.layers, n))
                                  and issubclass(getattr(keras.layers, n), keras.layers.Layer)])
def test_layer_classes_are_layers_with_keras_bases(name):
    """Every layer class is a deepgrad Layer; Keras's recurrent, wrapper and embedding families
    keep their bases (``LSTM`` is an ``RNN``, ``TimeDistributed`` a ``Wrapper``, ...)."""
    ours = getattr(dg_layers, name)
    assert issubclass(ours, dg_layers.Layer)
    theirs = getattr(keras.layers, name)
    for base in ("RNN", "Wrapper", "Embedding", "Dense", "EinsumDense", "JaxLayer"):
        assert issubclass(ours, getattr(dg_layers, base)) == issubclass(theirs, getattr(keras.layers, base)), \
            f"{name}: subclass of {base} in one library only"
