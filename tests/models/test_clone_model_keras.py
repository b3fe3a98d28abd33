"""``clone_model`` with Keras's signature and behaviour (checked against Keras 3 on PyTorch):
new layers and fresh weights, the compile state copied, ``clone_function``, ``call_function``,
``input_tensors`` and ``recursive``; ``to_json``/``model_from_json`` with custom objects."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its PyTorch backend here", allow_module_level=True)

import deepgrad as dg  # noqa: E402

X = np.random.default_rng(0).random((4, 3)).astype("float32")


def _report(K):
    """What each clone looks like, as plain values, for Keras (``K = keras``) or deepgrad."""
    L = K.layers
    seq = K.Sequential([K.Input((3,), name="inp"), L.Dense(2, name="d1"), L.Dense(1, name="d2")], name="s")
    seq.compile(optimizer="adam", loss="mse", metrics=["mae"])
    inp = K.Input((3,), name="fin")
    func = K.Model(inp, L.Dense(2, name="fb")(L.Dense(4, name="fa")(inp)), name="f")
    out = {}
    c = K.models.clone_model(seq)
    out["seq"] = (c.name, [lay.name for lay in c.layers], type(c).__name__, c.compiled,
                  [t.name for t in c.inputs], c.get_compile_config()["loss"],
                  any(np.allclose(np.asarray(a), np.asarray(b)) for a, b in zip(c.get_weights()[:1],
                                                                                  seq.get_weights()[:1])))
    c = K.models.clone_model(seq, clone_function=lambda lay: L.Dense(5, name=lay.name + "_x"))
    out["clone_function"] = ([lay.name for lay in c.layers], tuple(c.outputs[0].shape))
    c = K.models.clone_model(func)
    out["functional"] = (c.name, [lay.name for lay in c.layers], type(c).__name__, c.compiled)

    def call_function(layer, *args, **kwargs):
        y = layer(*args, **kwargs)
        return L.Activation("relu", name=layer.name + "_relu")(y) if isinstance(layer, L.Dense) else y

    c = K.models.clone_model(func, call_function=call_function)
    out["call_function"] = [lay.name for lay in c.layers]
    c = K.models.clone_model(func, input_tensors=K.Input((3,), name="new_in"))
    out["input_tensors"] = ([lay.name for lay in c.layers], [t.name for t in c.inputs])
    nested = K.Sequential([K.Input((3,)), seq], name="outer")

    def widen(layer):
        return L.Dense(7, name=layer.name + "_y") if isinstance(layer, L.Dense) else \
            type(layer).from_config(layer.get_config())

    for recursive in (True, False):
        c = K.models.clone_model(nested, recursive=recursive, clone_function=widen)
        out[f"recursive={recursive}"] = ([lay.name for lay in c.layers], [lay.name for lay in c.layers[0].layers],
                                         tuple(c.outputs[0].shape))
    shared = L.Dense(3, name="shared")
    i2 = K.Input((3,))
    twice = K.Model(i2, shared(shared(i2)), name="twice")
    c = K.models.clone_model(twice)
    out["shared"] = (len(c.layers), len(c.weights))
    errors = []
    for call in (lambda: K.models.clone_model(seq, call_function=call_function),
                 lambda: K.models.clone_model(seq, foo=1)):
        try:
            call()
            errors.append(None)
        except ValueError as e:
            errors.append(str(e)[:40])
    out["errors"] = errors
    return out


def test_clone_model_matches_keras():
    want, got = _report(keras), _report(dg)
    for key in want:
        assert got[key] == want[key], key


def test_clone_has_fresh_weights_that_set_weights_copies():
    model = dg.Sequential([dg.Input((3,)), dg.layers.Dense(4), dg.layers.Dense(2)])
    clone = dg.models.clone_model(model)
    assert not np.allclose(clone.get_weights()[0], model.get_weights()[0])
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict(X, verbose=0), model.predict(X, verbose=0))


def test_subclassed_model_is_rebuilt_from_config_and_compiled():
    @dg.saving.register_keras_serializable(package="clone_test")
    class Tower(dg.Model):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.d = dg.layers.Dense(units)

        def call(self, x):
            return self.d(x)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    model = Tower(5)
    model(X)
    model.compile(optimizer="sgd", loss="mae")
    clone = dg.models.clone_model(model)
    assert type(clone) is Tower and clone.units == 5 and clone.compiled
    assert clone.get_compile_config()["loss"] == "mae"
    assert clone(X).shape == (4, 5)
    with pytest.raises(ValueError, match="only supported for Sequential models"):
        dg.models.clone_model(model, clone_function=lambda layer: layer)


def test_json_round_trip_with_custom_objects():
    class TimesFactorForJson(dg.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    inp = dg.Input((3,))
    model = dg.Model(inp, TimesFactorForJson(3.0, name="scale")(dg.layers.Dense(2)(inp)))
    text = model.to_json()
    with pytest.raises(ValueError, match="TimesFactorForJson"):
        dg.models.model_from_json(text)
    again = dg.models.model_from_json(text, custom_objects={"TimesFactorForJson": TimesFactorForJson})
    assert [type(layer).__name__ for layer in again.layers] == ["InputLayer", "Dense", "TimesFactorForJson"]
    assert again.get_layer("scale").factor == 3.0
    again.set_weights(model.get_weights())
    np.testing.assert_allclose(again.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)
    assert again.to_json() == text
