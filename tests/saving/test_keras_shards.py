"""Keras 3's sharded weights (``save_weights("m.weights.json", max_shard_size=GB)``), both ways,
with Keras as the oracle: the same index and the same shards, and hostile indexes refused."""
import json
import os

import h5py
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers
from deepgrad.files import UnsafeFileError

keras = pytest.importorskip("keras")
K = keras.layers
# 12.3 KB shards: the models below (about 18 KB of float32) take three, and the first Dense straddles two
SHARD_GB = 12_300 / 1024 ** 3


def keras_model():
    # named layers: each group's "name" attribute is the layer's name, whatever the counters say
    return keras.Sequential([K.Input((6, 6, 2)), K.Conv2D(8, 3, name="c"), K.BatchNormalization(name="bn"),
                             K.Flatten(name="f"), K.Dense(24, activation="relu", name="d1"), K.Dense(48, name="d2"),
                             K.Dense(3, name="d3")], name="m")


def deepgrad_model():
    return dg.Sequential([layers.Input((6, 6, 2)), layers.Conv2D(8, 3, name="c"), layers.BatchNormalization(name="bn"),
                          layers.Flatten(name="f"), layers.Dense(24, activation="relu", name="d1"),
                          layers.Dense(48, name="d2"), layers.Dense(3, name="d3")], name="m")


def _random(model, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, 0.3, np.shape(w)).astype("float32") + (1.0 if "variance" in w.path else 0.0)
            for w in model.weights]


def _layout(index_path):
    """The index, and per shard its groups (with attributes) and datasets (with shapes)."""
    with open(index_path) as f:
        index = json.load(f)
    shards = {}
    for name in sorted(os.listdir(os.path.dirname(index_path))):
        if name.endswith(".weights.h5"):
            found = {}
            with h5py.File(os.path.join(os.path.dirname(index_path), name), "r") as h5:
                h5.visititems(lambda p, o, found=found: found.__setitem__(
                    p, dict(o.attrs) if isinstance(o, h5py.Group) else o.shape))
            shards[name] = found
    return index, shards


X = np.random.default_rng(0).normal(size=(4, 6, 6, 2)).astype("float32")


def test_keras_shards_load_and_predict_the_same(tmp_path):
    km = keras_model()
    km.set_weights(_random(km, 0))
    path = str(tmp_path / "m.weights.json")
    km.save_weights(path, max_shard_size=SHARD_GB)
    index, shards = _layout(path)
    assert len(shards) == 3 and any(isinstance(v, list) for v in index["weight_map"].values())
    dm = deepgrad_model()
    dm.load_weights(path)
    expected = keras.ops.convert_to_numpy(km(X, training=False))
    np.testing.assert_allclose(dm.predict(X, verbose=0), expected, rtol=1e-5, atol=1e-5)


def test_deepgrad_writes_kerass_index_and_shards(tmp_path):
    km = keras_model()
    weights = _random(km, 1)
    km.set_weights(weights)
    dm = deepgrad_model()
    dm.set_weights(weights)
    os.mkdir(tmp_path / "k")
    os.mkdir(tmp_path / "d")
    km.save_weights(str(tmp_path / "k" / "m.weights.json"), max_shard_size=SHARD_GB)
    dm.save_weights(str(tmp_path / "d" / "m.weights.json"), max_shard_size=SHARD_GB)
    k_index, k_shards = _layout(str(tmp_path / "k" / "m.weights.json"))
    d_index, d_shards = _layout(str(tmp_path / "d" / "m.weights.json"))
    assert d_index == k_index
    assert d_shards == k_shards
    fresh = keras_model()
    fresh.load_weights(str(tmp_path / "d" / "m.weights.json"))
    for a, b in zip(fresh.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


def test_compiled_model_shards_carry_the_optimizer(tmp_path):
    km = keras_model()
    km.set_weights(_random(km, 2))
    km.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="mse")
    y = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    km.fit(X, y, epochs=2, verbose=0)
    path = str(tmp_path / "m.weights.json")
    km.save_weights(path, max_shard_size=SHARD_GB)
    dm = deepgrad_model()
    dm.compile(optimizer=dg.optimizers.SGD(0.01, momentum=0.9), loss="mse")
    dm.load_weights(path)
    assert dm.optimizer.iterations == 2
    for a, b in zip(dm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), rtol=0, atol=0)
    dm.fit(X, y, epochs=1, verbose=0)
    km.fit(X, y, epochs=1, verbose=0)
    np.testing.assert_allclose(dm.predict(X, verbose=0), keras.ops.convert_to_numpy(km(X)), rtol=1e-4, atol=1e-5)


def test_sharding_arguments_follow_keras(tmp_path):
    dm = deepgrad_model()
    with pytest.raises(ValueError, match="must end in `.weights.json` when `max_shard_size`"):
        dm.save_weights(str(tmp_path / "m.safetensors"), max_shard_size=1)
    with pytest.raises(ValueError, match="exceeds the maximum shard size"):
        dm.save_weights(str(tmp_path / "m.weights.json"), max_shard_size=1000 / 1024 ** 3)
    with pytest.warns(UserWarning, match="renamed to"):
        dm.save_weights(str(tmp_path / "w.weights.h5"), max_shard_size=SHARD_GB)
    assert os.path.exists(tmp_path / "w.weights.json") and os.path.exists(tmp_path / "w_00000.weights.h5")
    other = deepgrad_model()
    other.load_weights(str(tmp_path / "w.weights.json"))
    for a, b in zip(other.get_weights(), dm.get_weights()):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- hostile indexes
@pytest.fixture
def sharded(tmp_path):
    dm = deepgrad_model()
    path = str(tmp_path / "m.weights.json")
    dm.save_weights(path, max_shard_size=SHARD_GB)
    with open(path) as f:
        return path, json.load(f)


def _rewrite(path, index):
    with open(path, "w") as f:
        json.dump(index, f)


@pytest.mark.parametrize("edit, message", [
    (lambda ix: ix["weight_map"].__setitem__("/layers/dense/vars", "../m_00001.weights.h5"), "is not a file name"),
    (lambda ix: ix["weight_map"].__setitem__("/layers/dense/vars", "/etc/passwd"), "is not a file name"),
    (lambda ix: ix["weight_map"].__setitem__("/layers/dense/vars", "m_00099.weights.h5"), "is missing"),
    (lambda ix: ix["metadata"].__setitem__("total_size", 10), "the index's total_size is 10"),
    (lambda ix: ix["metadata"].__setitem__("total_size", "big"), "must be a number of bytes"),
    (lambda ix: ix.pop("weight_map"), "'weight_map'"),
    (lambda ix: ix["weight_map"].__setitem__("layers/x", "m_00000.weights.h5"), "is not an h5 group path"),
])
def test_bad_indexes_are_refused(sharded, edit, message):
    path, index = sharded
    edit(index)
    _rewrite(path, index)
    with pytest.raises(UnsafeFileError, match=message):
        deepgrad_model().load_weights(path)


def test_a_variable_in_a_shard_the_map_does_not_name_is_refused(sharded):
    path, index = sharded
    group, names = next((g, n) for g, n in index["weight_map"].items() if isinstance(n, list) and len(n) == 2)
    index["weight_map"][group] = names[:1]  # the variables in the second shard are now unaccounted for
    _rewrite(path, index)
    with pytest.raises(UnsafeFileError, match="the weight_map does not name"):
        deepgrad_model().load_weights(path)


def test_a_shard_linking_out_of_the_folder_is_refused(sharded, tmp_path):
    path, index = sharded
    outside = tmp_path.parent / f"{tmp_path.name}_outside"
    outside.mkdir()
    target = tmp_path / "m_00001.weights.h5"
    os.replace(target, outside / "m_00001.weights.h5")
    os.symlink(outside / "m_00001.weights.h5", target)
    with pytest.raises(UnsafeFileError, match="links out of the index's folder"):
        deepgrad_model().load_weights(path)


def test_a_hostile_shard_is_refused_before_any_weight_is_set(sharded, tmp_path):
    path, _ = sharded
    model = deepgrad_model()
    before = model.get_weights()
    with h5py.File(tmp_path / "m_00001.weights.h5", "a") as f:
        f["evil"] = h5py.SoftLink("/layers")
    with pytest.raises(UnsafeFileError, match="soft link"):
        model.load_weights(path)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
