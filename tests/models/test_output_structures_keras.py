"""``Model(inp, [out])``, ``Model(inp, {"a": out})`` and ``Model([inp], out)`` against Keras 3
(PyTorch backend): what a call, ``predict`` and ``evaluate`` return, ``model.output(s)``/
``input(s)``, and which loss and metric structures ``compile`` accepts for one output."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its PyTorch backend here", allow_module_level=True)

import deepgrad as dg  # noqa: E402

# Keras warns when a call's input structure differs from the model's ([x] for x): not ours to test
pytestmark = pytest.mark.filterwarnings("ignore:The structure of `inputs`:UserWarning")

X = np.random.default_rng(0).random((8, 4)).astype("float32")
Y = np.random.default_rng(1).random((8, 2)).astype("float32")
KINDS = ["list_out", "dict_out", "list_in", "lists"]


def _model(K, kind, weights=None):
    inp = K.Input((4,))
    out = K.layers.Dense(2)(inp)
    ins = [inp] if kind in ("list_in", "lists") else inp
    outs = [out] if kind in ("list_out", "lists") else {"a": out} if kind == "dict_out" else out
    model = K.Model(ins, outs)
    if weights is not None:
        model.set_weights(weights)
    return model


def _kind_of(value):
    if isinstance(value, dict):
        return ("dict", sorted(value))
    if isinstance(value, (list, tuple)):
        return ("list", len(value))
    return ("tensor", tuple(np.shape(value)))


def _np(value):
    if isinstance(value, dict):
        return {k: _np(v) for k, v in value.items()}
    return value.data if isinstance(value, dg.Tensor) else keras.ops.convert_to_numpy(value)


@pytest.fixture(scope="module")
def pairs():
    out = {}
    for kind in KINDS:
        k = _model(keras, kind)
        out[kind] = (k, _model(dg, kind, [np.asarray(w) for w in k.get_weights()]))
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_call_predict_and_attributes_have_keras_structures(pairs, kind):
    k, d = pairs[kind]
    for attr in ("output", "outputs", "input", "inputs"):
        assert _kind_of(getattr(d, attr))[0] == _kind_of(getattr(k, attr))[0], attr
    got, want = d(X), k(X)
    assert _kind_of(got) == _kind_of(want)
    want_np = _np(want)
    got_np = _np(got)
    if isinstance(want_np, dict):
        for key in want_np:
            np.testing.assert_allclose(got_np[key], want_np[key], rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(got_np, want_np, rtol=1e-5, atol=1e-6)
    got, want = d.predict(X, verbose=0), k.predict(X, verbose=0)
    assert _kind_of(got) == _kind_of(want)
    assert _kind_of(d.predict([X], verbose=0)) == _kind_of(k.predict([X], verbose=0))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("loss", ["mse", ["mse"], {"dense": "mse"}, {"a": "mse"}])
def test_compile_accepts_the_loss_structures_keras_accepts(kind, loss):
    outcomes = []
    for K in (keras, dg):
        inp = K.Input((4,))
        out = K.layers.Dense(2, name="dense")(inp)
        ins = [inp] if kind in ("list_in", "lists") else inp
        outs = [out] if kind in ("list_out", "lists") else {"a": out} if kind == "dict_out" else out
        model = K.Model(ins, outs)
        model.set_weights([np.full((4, 2), 0.1, "float32"), np.zeros(2, "float32")])
        try:
            model.compile(optimizer="sgd", loss=loss, metrics=["mae"])
            targets = [Y] if kind in ("list_out", "lists") else {"a": Y} if kind == "dict_out" else Y
            outcomes.append((np.asarray(model.evaluate(X, Y, verbose=0)),
                             np.asarray(model.evaluate(X, targets, verbose=0))))
        except (ValueError, KeyError):
            outcomes.append(None)
    assert (outcomes[1] is None) == (outcomes[0] is None), outcomes
    if outcomes[0] is not None:
        for got, want in zip(outcomes[1], outcomes[0]):
            np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("metrics", [["mae"], [["mae"]], {"a": "mae"}, {"dense": ["mae", "mse"]}])
def test_one_output_takes_every_metric_given_as_keras(metrics):
    histories = []
    for K in (keras, dg):
        inp = K.Input((4,))
        model = K.Model(inp, [K.layers.Dense(2, name="dense")(inp)])
        model.set_weights([np.full((4, 2), 0.1, "float32"), np.zeros(2, "float32")])
        model.compile(optimizer="sgd", loss="mse", metrics=metrics)
        histories.append(model.fit(X, Y, epochs=1, batch_size=8, verbose=0, shuffle=False).history)
    assert sorted(histories[1]) == sorted(histories[0])
    for key in histories[0]:
        np.testing.assert_allclose(histories[1][key], histories[0][key], rtol=1e-5)


def _structure(value):
    if isinstance(value, dict):
        return {k: _structure(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_structure(v) for v in value]
    return tuple(value.shape)


def _dict_layer(K):
    class Two(K.layers.Layer):
        def call(self, x):
            return {"z": x * 2.0, "a": x + 1.0}
    return Two()


@pytest.mark.parametrize("case", ["dict_model", "nested_model", "dict_layer"])
def test_symbolic_calls_return_the_output_structure(case):
    """A model with dict (or nested) outputs, or a layer returning a dict, called on symbolic
    tensors gives back that structure (key order included), as Keras's symbolic call does; a
    functional model built on the parts replays as Keras's."""
    results = {}
    for K in (keras, dg):
        a, b = K.Input((3,), name="a"), K.Input((2,), name="b")
        h = K.layers.Concatenate()([K.layers.Dense(4, name="da")(a), b])
        if case == "dict_layer":
            inner_out = _dict_layer(K)(h)
            inner = None
        else:
            outs = ({"sum": K.layers.Dense(1, name="s")(h), "feat": h} if case == "dict_model"
                    else [h, [K.layers.Dense(1, name="s")(h), a]])
            inner = K.Model({"a": a, "b": b}, outs)
            inner_out = inner({"a": K.Input((3,)), "b": K.Input((2,))})
        results[K] = (_structure(inner_out), list(inner_out) if isinstance(inner_out, dict) else None)
        if inner is not None:
            ia, ib = K.Input((3,)), K.Input((2,))
            o = inner({"a": ia, "b": ib})
            picked = o["sum"] if case == "dict_model" else o[1][0]
            outer = K.Model([ia, ib], K.layers.Dense(2, name="head")(picked))
            results[K] += (outer,)
    assert results[dg][:2] == results[keras][:2]
    if case != "dict_layer":
        k_outer, d_outer = results[keras][2], results[dg][2]
        d_outer.set_weights(k_outer.get_weights())
        x = [np.random.default_rng(2).random((4, 3)).astype("float32"),
             np.random.default_rng(3).random((4, 2)).astype("float32")]
        np.testing.assert_allclose(d_outer.predict(x, verbose=0), k_outer.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
