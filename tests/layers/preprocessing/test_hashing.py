"""Hashing and HashedCrossing: TensorFlow's bucket numbers (the values Keras's own tests
assert), the hash functions on their published vectors, configs and models."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # layer_test

import deepgrad as dg  # noqa: E402
from deepgrad import layers  # noqa: E402
from deepgrad.layers.preprocessing.hashing import fingerprint64, fingerprint_cat64, siphash24  # noqa: E402
from layer_test import run_layer_test  # noqa: E402

WORDS = np.array([["omar"], ["stringer"], ["marlo"], ["wire"], ["skywalker"]])
LETTERS = np.array([["A"], ["B"], ["C"], ["D"], ["E"]])


@pytest.mark.parametrize("text,expected", [
    (b"", 0x9AE16A3B2F90404F),  # FarmHash's constant k2
    (b"a", 0xB3454265B6DF75E3),
    (b"hi", 0x6A5D2FBA44F012F8),
    (b"Hello", 15404698994557526151),  # TensorFlow's frozen Fingerprint64 values
    (b"World", 18308117990299812472),
    (b"hello world", 0x588FB7478BD6B01B),
    (b"lee@lmmrtech.com", 0x61BEC68DB00FA2FF),
    (b"docklandsman@gmail.com", 0xB678CF3842309F40),  # 17-32 bytes
])
def test_fingerprint64_published_values(text, expected):
    assert fingerprint64(text) == expected


def test_fingerprint64_long_inputs():
    # every length branch (0-16, 17-32, 33-64, >64) gives a distinct 64-bit value
    values = {fingerprint64(bytes(range(n))) for n in (3, 5, 12, 20, 40, 65, 130, 200)}
    assert len(values) == 8 and all(0 <= v < 2 ** 64 for v in values)


def test_siphash24_reference_vector():
    # SipHash-2-4 paper, appendix A: key 00..0f, message 00..0e
    key0 = int.from_bytes(bytes(range(8)), "little")
    key1 = int.from_bytes(bytes(range(8, 16)), "little")
    assert siphash24(key0, key1, bytes(range(15))) == 0xA129CA6149BE45E5
    assert siphash24(key0, key1, b"") == 0x726FDB47DD0E0E31


def test_fingerprint_cat64_is_order_dependent():
    a, b = fingerprint64(b"a"), fingerprint64(b"b")
    assert fingerprint_cat64(a, b) != fingerprint_cat64(b, a)


@pytest.mark.parametrize("kwargs,data,expected", [
    ({"num_bins": 2}, WORDS, [0, 0, 1, 0, 0]),
    ({"num_bins": 3}, LETTERS, [1, 0, 1, 1, 2]),
    ({"num_bins": 3, "mask_value": ""}, np.array([["A"], ["B"], [""], ["C"], ["D"]]), [1, 1, 0, 2, 2]),
    ({"num_bins": 3}, np.array([[0], [1], [2], [3], [4]]), [1, 0, 1, 0, 2]),
    ({"num_bins": 2, "salt": [133, 137]}, WORDS, [0, 1, 0, 1, 0]),
    ({"num_bins": 2, "salt": [211, 137]}, WORDS, [1, 0, 1, 0, 1]),
    ({"num_bins": 3, "salt": [133, 137]}, LETTERS, [1, 2, 1, 0, 2]),
    ({"num_bins": 3, "salt": 133}, LETTERS, [0, 0, 2, 1, 0]),
    ({"num_bins": 3, "salt": [133, 137]}, np.array([[0], [1], [2], [3], [4]]), [1, 1, 2, 0, 1]),
])
def test_hashing_matches_tensorflow_buckets(kwargs, data, expected):
    out = layers.Hashing(**kwargs)(data)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, np.asarray(expected)[:, None])


def test_hashing_mask_value_and_lists():
    out = layers.Hashing(num_bins=3, mask_value="omar")(WORDS)
    assert out.data[0, 0] == 0 and (out.data[1:] > 0).all()
    np.testing.assert_array_equal(layers.Hashing(num_bins=2)(WORDS[:, 0].tolist()).data, [0, 0, 1, 0, 0])
    # floats hash as their integer part
    np.testing.assert_array_equal(layers.Hashing(num_bins=3)(np.array([[0.7], [1.2]])).data, [[1], [0]])


def test_hashing_run_layer_test_and_modes():
    run_layer_test(layers.Hashing, {"num_bins": 5}, input_data=WORDS, expected_output_shape=(5, 1))
    hot = layers.Hashing(num_bins=3, output_mode="one_hot")(LETTERS)
    np.testing.assert_array_equal(hot.data.argmax(-1), [1, 0, 1, 1, 2])
    multi = layers.Hashing(num_bins=3, output_mode="multi_hot")(np.array([["A", "B"], ["E", "E"]]))
    np.testing.assert_array_equal(multi.data, [[1, 1, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="num_bins"):
        layers.Hashing(num_bins=0)
    with pytest.raises(ValueError, match="salt"):
        layers.Hashing(num_bins=2, salt="x")


def test_hashed_crossing_formula_and_shapes():
    a, b = np.array([1, 2, 3]), np.array(["x", "y", "z"])
    out = layers.HashedCrossing(num_bins=7)([a, b])
    assert out.shape == (3,) and out.dtype == np.int64
    key = 0xDECAFCAFFE
    expected = [fingerprint_cat64(fingerprint_cat64(key, int(i)), fingerprint64(s.encode())) % 7 for i, s in zip(a, b)]
    np.testing.assert_array_equal(out.data, expected)
    col = layers.HashedCrossing(num_bins=7)([a[:, None], b[:, None]])
    np.testing.assert_array_equal(col.data[:, 0], expected)
    hot = layers.HashedCrossing(num_bins=7, output_mode="one_hot")([a, b])
    np.testing.assert_array_equal(hot.data.argmax(-1), expected)
    with pytest.raises(ValueError, match="two inputs"):
        layers.HashedCrossing(num_bins=3)([a])
    clone = layers.HashedCrossing.from_config(layers.HashedCrossing(num_bins=7).get_config())
    np.testing.assert_array_equal(clone([a, b]).data, expected)


def test_model_with_hashing_saves_and_loads(tmp_path):
    model = dg.Sequential([layers.Hashing(num_bins=10), layers.Embedding(10, 4), layers.Flatten(), layers.Dense(1)])
    x = np.array([["omar"], ["wire"], ["marlo"]])
    before = model.predict(x, verbose=0)
    path = str(tmp_path / "h.deepgrad")
    model.save(path)
    np.testing.assert_allclose(dg.models.load_model(path).predict(x, verbose=0), before, rtol=1e-6)


def test_functional_model_with_hashed_crossing():
    a, b = layers.Input(shape=(1,), dtype="int64"), layers.Input(shape=(1,), dtype=str)
    crossed = layers.HashedCrossing(num_bins=5, output_mode="one_hot")([a, b])
    model = dg.Model([a, b], layers.Dense(1)(crossed))
    xa, xb = np.array([[1], [2]]), np.array([["x"], ["y"]])
    out = model.predict([xa, xb], verbose=0)
    assert out.shape == (2, 1) and np.isfinite(out).all()
    hot = layers.HashedCrossing(num_bins=5, output_mode="one_hot")([xa, xb]).data
    np.testing.assert_allclose(out, hot @ model.layers[-1].get_weights()[0] + model.layers[-1].get_weights()[1],
                               rtol=1e-5)
