"""Against Keras 3.15 (PyTorch backend): ``output_names`` of dict and list outputs (the layers'
names, a dict's in its sorted-key order), the names and order of what ``fit``/``evaluate`` log
for such models (a dict's keys, the per-output losses in the order of a dict of losses), and
``get_state_tree``/``set_state_tree`` on a model that is not compiled."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its PyTorch backend here", allow_module_level=True)

import deepgrad as dg  # noqa: E402

_X = np.random.default_rng(0).random((8, 3)).astype(np.float32)
_YA = np.random.default_rng(1).random((8, 2)).astype(np.float32)
_YB = np.random.default_rng(2).random((8, 1)).astype(np.float32)


def _dict_model(K, keys=("za", "b")):
    inp = K.Input((3,), name="inp")
    return K.Model(inp, {keys[0]: K.layers.Dense(2, name="dense_a")(inp),
                         keys[1]: K.layers.Dense(1, name="dense_b")(inp)}, name="m")


def _list_model(K):
    inp = K.Input((3,), name="inp")
    return K.Model(inp, [K.layers.Dense(2, name="dense_a")(inp), K.layers.Dense(1, name="dense_b")(inp)], name="m")


@pytest.mark.parametrize("keys", [("za", "b"), ("a", "b"), ("z_out", "a_out")])
def test_dict_output_names_are_the_layer_names_in_sorted_key_order(keys):
    assert _dict_model(dg, keys).output_names == _dict_model(keras, keys).output_names
    assert _dict_model(dg, ("za", "b")).output_names == ["dense_b", "dense_a"]   # keys sorted: b, za


def test_list_output_names_are_the_layer_names():
    assert _list_model(dg).output_names == _list_model(keras).output_names == ["dense_a", "dense_b"]


def _same_weights(ours, theirs):
    ours.set_weights(theirs.get_weights())


_COMPILES = {
    "dict losses and metrics": (_dict_model, {"za": "mse", "b": "mae"}, {"za": ["mse", "mae"], "b": ["mse"]},
                                {"za": _YA, "b": _YB}),
    "dict losses, other key order": (_dict_model, {"b": "mae", "za": "mse"}, {"b": ["mse"], "za": ["mae"]},
                                     {"za": _YA, "b": _YB}),
    "dict model, list of losses": (_dict_model, ["mse", "mae"], [["mae"], ["mse"]], [_YB, _YA]),  # b, za
    "dict model, targets as a list": (_dict_model, {"za": "mse", "b": "mae"}, None, [_YB, _YA]),
    "list model, list of losses": (_list_model, ["mse", "mae"], [["mae"], ["mse"]], [_YA, _YB]),
    "list model, losses by layer name": (_list_model, {"dense_a": "mse", "dense_b": "mae"},
                                         {"dense_a": ["mae"], "dense_b": "mse"}, {"dense_a": _YA, "dense_b": _YB}),
}


def _run(K, case):
    make, loss, metrics, y = _COMPILES[case]
    model = make(K)
    model.compile(optimizer="sgd", loss=loss, metrics=metrics)
    return model, y


@pytest.mark.parametrize("case", list(_COMPILES))
def test_logged_names_and_evaluate_order_follow_keras(case):
    (ours, y), (theirs, _) = _run(dg, case), _run(keras, case)
    _same_weights(ours, theirs)
    history = [sorted(m.fit(_X, y, epochs=1, verbose=0, batch_size=4, shuffle=False).history) for m in (ours, theirs)]
    assert history[0] == history[1]
    logs = [m.evaluate(_X, y, verbose=0, return_dict=True) for m in (ours, theirs)]
    assert sorted(logs[0]) == sorted(logs[1])
    for key in logs[1]:
        np.testing.assert_allclose(logs[0][key], logs[1][key], rtol=1e-4, atol=1e-6, err_msg=key)
    # the plain list: "loss", the per-output losses (in the order of a dict of losses), then the
    # rest sorted; each position holds the value Keras has there
    values = [m.evaluate(_X, y, verbose=0) for m in (ours, theirs)]
    np.testing.assert_allclose(values[0], values[1], rtol=1e-4, atol=1e-6)
    names = [min((k for k in logs[1] if abs(logs[1][k] - v) < 1e-6), default=None) for v in values[1]]
    assert names[0] == "loss" and all(n is not None for n in names)


def test_a_loss_dict_orders_the_per_output_losses():
    model = _dict_model(dg)
    model.compile(optimizer="sgd", loss={"b": "mae", "za": "mse"})
    assert [m.name for m in model.metrics][:3] == ["loss", "b_loss", "za_loss"]
    model.compile(optimizer="sgd", loss={"za": "mse", "b": "mae"})
    assert [m.name for m in model.metrics][:3] == ["loss", "za_loss", "b_loss"]
    model.compile(optimizer="sgd", loss=["mse", "mae"])   # a list follows the outputs: b, za
    assert [m.name for m in model.metrics][:3] == ["loss", "b_loss", "za_loss"]


@pytest.mark.parametrize("make", [lambda K: K.Model(*(lambda i: (i, K.layers.Dense(2)(i)))(K.Input((3,)))),
                                  lambda K: K.Sequential([K.Input((3,)), K.layers.Dense(2)])])
def test_state_tree_of_a_model_not_compiled_raises_as_keras(make):
    errors = []
    for K in (keras, dg):
        model = make(K)
        with pytest.raises(AttributeError) as info:
            model.get_state_tree()
        errors.append(str(info.value))
        with pytest.raises(ValueError, match="value_format"):   # checked first, with the weights
            model.get_state_tree("lists")
    assert errors[1].startswith(errors[0])   # "'Functional' object has no attribute 'optimizer'"


def test_set_state_tree_of_a_model_not_compiled_sets_the_weights_and_skips_the_rest():
    theirs, ours = (K.Sequential([K.Input((3,)), K.layers.Dense(2, name="d")], name="s") for K in (keras, dg))
    kernel = np.arange(6, dtype=np.float32).reshape(3, 2)
    tree = {"trainable_variables": {"s": {"d": {"kernel": kernel}}}, "optimizer_variables": {"sgd": {"iteration": 3}},
            "metrics_variables": {"loss": {"total": 1.0}}}
    for model in (theirs, ours):
        model.set_state_tree(tree)
        np.testing.assert_array_equal(np.asarray(model.layers[0].kernel.numpy()), kernel)
        with pytest.raises(ValueError, match="Unknown variable name"):
            model.set_state_tree({"weights": {}})
    ours.compile(optimizer="sgd", loss="mse")
    assert sorted(ours.get_state_tree()) == ["metrics_variables", "non_trainable_variables",
                                             "optimizer_variables", "trainable_variables"]
