"""Variable names, paths and the seed generators' states, against Keras 3 (PyTorch backend):
``Variable.name`` is the bare name given to ``add_weight`` (two Dense layers both have a
``kernel``), ``Variable.path`` says where it sits, optimizer slots are named from the path, and
a layer that draws random numbers lists its ``SeedGenerator``'s state among its variables (not
its weights, nor its weight files)."""
import os
import re

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its PyTorch backend here", allow_module_level=True)

import deepgrad as dg  # noqa: E402


def _numbers_out(path: str) -> str:
    """A path with the session counters removed (``seed_generator_12`` -> ``seed_generator``)."""
    return re.sub(r"_\d+(?=[/_]|$)", "", path)


def _described(variables) -> list:
    return [(v.name, _numbers_out(v.path), str(np.dtype(getattr(v.dtype, "name", v.dtype)) if not isinstance(
        v.dtype, str) else v.dtype), bool(v.trainable), tuple(int(s) for s in v.shape)) for v in variables]


def _stacks(K):
    """Models built the same way in Keras (``K = keras``) or deepgrad."""
    L = K.layers
    seq = K.Sequential([K.Input((6, 4)), L.LSTM(3, return_sequences=True), L.Dropout(0.3),
                        L.GRU(2), L.Dense(2), L.Dense(1)], name="stack")
    inp = K.Input((6, 4))
    h = L.Bidirectional(L.SimpleRNN(3))(inp)
    h = L.GaussianNoise(0.1)(h)
    h = L.BatchNormalization()(h)
    out = L.Dense(2)(L.AlphaDropout(0.2)(h))
    functional = K.Model(inp, out, name="graph")
    img = K.Sequential([K.Input((8, 8, 3)), L.RandomFlip(), L.RandomRotation(0.1), L.Conv2D(2, 3),
                        L.SpatialDropout2D(0.2), L.GaussianDropout(0.1)], name="aug")
    return {"seq": seq, "functional": functional, "img": img}


@pytest.fixture(scope="module")
def both():
    return _stacks(keras), _stacks(dg)


@pytest.mark.parametrize("key", ["seq", "functional", "img"])
def test_variable_lists_match_keras(both, key):
    k, d = both[0][key], both[1][key]
    for attr in ("variables", "weights", "trainable_variables", "trainable_weights", "non_trainable_variables",
                 "non_trainable_weights"):
        assert _described(getattr(d, attr)) == _described(getattr(k, attr)), attr
    assert d.count_params() == k.count_params()
    assert [w.shape for w in d.get_weights()] == [w.shape for w in k.get_weights()]
    for dl, kl in zip(d.layers, k.layers):
        for attr in ("variables", "non_trainable_variables", "weights", "non_trainable_weights"):
            assert _described(getattr(dl, attr)) == _described(getattr(kl, attr)), (kl.name, attr)


def test_frozen_layer_lists_its_seed_state_as_non_trainable():
    for K in (keras, dg):
        layer = K.layers.LSTM(2, seed=4)
        layer(np.ones((1, 3, 2), "float32"))
        layer.trainable = False
        described = _described(layer.non_trainable_variables)
        assert [d[0] for d in described] == ["kernel", "recurrent_kernel", "bias", "seed_generator_state"]
        assert layer.trainable_variables == []


def test_two_dense_layers_both_have_a_kernel():
    model = dg.Sequential([dg.Input((3,)), dg.layers.Dense(2), dg.layers.Dense(2)])
    assert [v.name for v in model.weights] == ["kernel", "bias", "kernel", "bias"]
    assert len({v.path for v in model.weights}) == 4


def test_seed_generator_state_counts_seeded_dropout_calls_as_keras():
    for K in (keras, dg):
        layer = K.layers.Dropout(0.5, seed=11)
        state = layer.seed_generator.state
        assert np.asarray(keras.ops.convert_to_numpy(state.value) if K is keras else state.data).tolist() == [11, 0]
        for _ in range(3):
            layer(np.ones((2, 4), "float32"), training=True)
        layer(np.ones((2, 4), "float32"), training=False)
        value = keras.ops.convert_to_numpy(state.value) if K is keras else state.data
        assert np.asarray(value).tolist() == [11, 3]
    assert not hasattr(dg.layers.Dropout(0.0), "seed_generator")   # as Keras: none when nothing is drawn
    assert not hasattr(keras.layers.Dropout(0.0), "seed_generator")


def test_seeded_dropout_still_repeats_and_differs_per_call():
    a, b = dg.layers.Dropout(0.5, seed=3), dg.layers.Dropout(0.5, seed=3)
    x = np.ones((4, 8), "float32")
    first = [a(x, training=True).data for _ in range(2)]
    second = [b(x, training=True).data for _ in range(2)]
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], first[1])


def test_optimizer_slots_are_named_from_the_path_as_keras(both):
    x = np.random.default_rng(0).random((4, 6, 4)).astype("float32")
    y = np.random.default_rng(1).random((4, 1)).astype("float32")
    names = []
    for model in (both[0]["seq"], both[1]["seq"]):
        model.compile(optimizer="adam", loss="mse")
        model.train_on_batch(x, y)
        names.append([_numbers_out(v.path) for v in model.optimizer.variables])
    assert names[1] == names[0]
    assert "adam/stack_dense_kernel_momentum" in names[1][:12] or any(
        n.endswith("dense_kernel_momentum") for n in names[1])


def test_state_tree_holds_seed_states_as_keras(both):
    for model in (both[0]["img"], both[1]["img"]):
        model.compile(optimizer="sgd", loss="mse")   # Keras's state tree needs an optimizer
    trees = [m.get_state_tree()["non_trainable_variables"] for m in (both[0]["img"], both[1]["img"])]

    def keys(tree, prefix=""):
        out = []
        for k, v in tree.items():
            out += keys(v, f"{prefix}{k}/") if isinstance(v, dict) else [_numbers_out(prefix + k)]
        return sorted(out)

    assert keys(trees[1]) == keys(trees[0])
    assert any(k.endswith("seed_generator_state") for k in keys(trees[1]))


@pytest.mark.parametrize("writer", ["keras", "deepgrad"])
def test_weight_files_with_seeded_layers_load_both_ways(tmp_path, writer):
    """The seed states are in no weight file, so a Keras file loads into deepgrad and back."""
    x = np.random.default_rng(2).random((3, 6, 4)).astype("float32")
    models = {"keras": _stacks(keras)["seq"], "deepgrad": _stacks(dg)["seq"]}
    source = models[writer]
    target = models["deepgrad" if writer == "keras" else "keras"]
    for path in (tmp_path / "m.weights.h5", tmp_path / "m.keras"):
        if path.suffix == ".keras":
            source.save(path)
            loaded = (dg.models.load_model(path) if writer == "keras" else keras.models.load_model(path))
            weights = loaded.get_weights()
        else:
            source.save_weights(path)
            target.load_weights(path)
            weights = target.get_weights()
        for got, want in zip(weights, source.get_weights()):
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    np.testing.assert_allclose(np.asarray(target.predict(x, verbose=0)), np.asarray(source.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-5)


def test_deepgrad_files_keep_working_with_bare_names(tmp_path):
    model = _stacks(dg)["functional"]
    x = np.random.default_rng(3).random((2, 6, 4)).astype("float32")
    model.save(tmp_path / "m.deepgrad")
    model.save_weights(tmp_path / "w.weights.h5")
    again = dg.models.load_model(tmp_path / "m.deepgrad")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    fresh = _stacks(dg)["functional"]
    fresh.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("make", [
    lambda K: K.layers.MultiHeadAttention(2, 2, dropout=0.3, seed=5),
    lambda K: K.layers.MultiHeadAttention(2, 2),
    lambda K: K.layers.GroupQueryAttention(2, 2, 1, dropout=0.2, seed=1),
    lambda K: K.layers.Attention(dropout=0.3, seed=2),
], ids=["mha_dropout", "mha", "gqa_dropout", "attention_dropout"])
def test_attention_layers_hold_their_dropout_state_as_keras(make):
    """The multi-head layers' dropout sublayer (made in build, after the value projection) and
    Attention's own generator: paths, order, and the counter after one training call."""
    q = np.random.default_rng(4).random((1, 3, 4)).astype("float32")
    described, states = [], []
    for K in (keras, dg):
        layer = make(K)
        single = isinstance(layer, K.layers.Attention)
        layer([q, q]) if single else layer(q, q)
        layer([q, q], training=True) if single else layer(q, q, training=True)
        described.append(_described(layer.variables))
        states.append([np.asarray(keras.ops.convert_to_numpy(v.value) if K is keras else v.data).tolist()
                       for v in layer.variables if v.name == "seed_generator_state"])
    assert described[1] == described[0]
    assert states[1] == states[0]
