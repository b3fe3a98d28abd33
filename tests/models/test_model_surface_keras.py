"""Small parts of the ``Model`` surface, word for word against Keras 3 (PyTorch backend):
``get_layer`` by name or index and its errors, the reserved ``layers`` attribute, and how
``model.weights`` prints."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its PyTorch backend here", allow_module_level=True)

import deepgrad as dg  # noqa: E402


def _models(K):
    inp = K.Input((3,), name="i")
    functional = K.Model(inp, K.layers.Dense(2, name="b")(K.layers.Dense(4, name="a")(inp)), name="f")
    seq = K.Sequential([K.Input((3,)), K.layers.Dense(2, name="sd")], name="sq")
    return functional, seq


def _outcome(fn):
    try:
        value = fn()
    except (ValueError, AttributeError) as e:
        return type(e).__name__, str(e)
    return "ok", getattr(value, "name", value)


CALLS = {
    "by index": lambda f, s: f.get_layer(index=1),
    "negative index": lambda f, s: f.get_layer(index=-1),
    "by name": lambda f, s: f.get_layer("b"),
    "both": lambda f, s: f.get_layer("a", index=1),
    "neither": lambda f, s: f.get_layer(),
    "unknown name": lambda f, s: f.get_layer("zz"),
    "index too large": lambda f, s: f.get_layer(index=9),
    "set functional layers": lambda f, s: setattr(f, "layers", []),
    "set sequential layers": lambda f, s: setattr(s, "layers", []),
}


@pytest.mark.parametrize("case", list(CALLS))
def test_get_layer_and_reserved_layers_match_keras(case):
    want = _outcome(lambda: CALLS[case](*_models(keras)))
    got = _outcome(lambda: CALLS[case](*_models(dg)))
    assert got == want


def test_setting_layers_tracks_nothing():
    functional, _ = _models(dg)
    before = [layer.name for layer in functional.layers]
    with pytest.raises(AttributeError):
        functional.layers = [dg.layers.Dense(9)]
    assert [layer.name for layer in functional.layers] == before and len(functional.weights) == 4


def test_weights_print_as_keras():
    k, d = _models(keras)[0], _models(dg)[0]
    d.set_weights([np.asarray(w) for w in k.get_weights()])
    assert [repr(w) for w in d.weights] == [repr(w) for w in k.weights]
