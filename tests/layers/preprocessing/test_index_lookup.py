"""StringLookup and IntegerLookup: Keras's index layout, adapt order, encodings, invert,
configs carrying the vocabulary, models saved and loaded."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # layer_test

import deepgrad as dg  # noqa: E402
from deepgrad import layers  # noqa: E402
from layer_test import run_layer_test  # noqa: E402

DATA = np.array([["a", "b", "c"], ["a", "b", "a"], ["d", "c", "e"]])


def test_adapt_orders_by_count_then_token_descending():
    layer = layers.StringLookup()
    layer.adapt(DATA)
    # a:3, b:2, c:2, d:1, e:1 -> ties broken high to low
    assert layer.get_vocabulary() == ["[UNK]", "a", "c", "b", "e", "d"]
    assert layer.vocabulary_size() == 6
    out = layer(np.array([["a", "zz"], ["e", "b"]]))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, [[1, 0], [4, 3]])
    capped = layers.StringLookup(max_tokens=3)
    capped.adapt(DATA)
    assert capped.get_vocabulary() == ["[UNK]", "a", "c"]


def test_adapt_from_batches_equals_adapt_from_array():
    whole, batched = layers.StringLookup(), layers.StringLookup()
    whole.adapt(DATA)
    batched.adapt(iter([DATA[:1], DATA[1:]]))
    assert whole.get_vocabulary() == batched.get_vocabulary()
    whole, batched = layers.StringLookup(output_mode="tf_idf"), layers.StringLookup(output_mode="tf_idf")
    whole.adapt(DATA)
    batched.adapt(iter([DATA[:2], DATA[2:]]))  # document counts merge across batches
    np.testing.assert_allclose(batched.idf_weights, whole.idf_weights, rtol=1e-6)


def test_mask_and_several_oov_indices():
    layer = layers.IntegerLookup(vocabulary=[12, 36, 1138, 42], num_oov_indices=2, mask_token=0)
    out = layer(np.array([[12, 1138, 42], [42, 1000, 0], [7, 36, 0]]))
    # 0 mask, 1-2 OOV (value mod 2), then the tokens
    np.testing.assert_array_equal(out.data, [[3, 5, 6], [6, 1, 0], [2, 4, 0]])
    assert layer.get_vocabulary() == [0, -1, -1, 12, 36, 1138, 42]
    strings = layers.StringLookup(vocabulary=["a", "b"], num_oov_indices=2)
    hashed = strings(np.array(["a", "omar", "stringer", "marlo"])).data
    # OOV strings go to Fingerprint64(s) % 2 (omar 0, stringer 0, marlo 1 as in Hashing)
    np.testing.assert_array_equal(hashed, [2, 0, 0, 1])


def test_encodings():
    vocab = ["a", "b", "c"]
    x = np.array([["a", "b", "a"], ["c", "z", "z"]])
    one = layers.StringLookup(vocabulary=vocab, output_mode="one_hot")(np.array([["a"], ["z"]]))
    np.testing.assert_array_equal(one.data, [[0, 1, 0, 0], [1, 0, 0, 0]])
    multi = layers.StringLookup(vocabulary=vocab, output_mode="multi_hot")(x)
    np.testing.assert_array_equal(multi.data, [[0, 1, 1, 0], [1, 0, 0, 1]])
    count = layers.StringLookup(vocabulary=vocab, output_mode="count")(x)
    np.testing.assert_array_equal(count.data, [[0, 2, 1, 0], [2, 0, 0, 1]])
    idf = [0.5, 0.25, 2.0]
    tfidf = layers.StringLookup(vocabulary=vocab, idf_weights=idf, output_mode="tf_idf")(x)
    # OOV takes the mean idf (0.9166...)
    np.testing.assert_allclose(tfidf.data, [[0, 1.0, 0.25, 0], [2 * np.mean(idf), 0, 0, 2.0]], rtol=1e-6)
    padded = layers.StringLookup(vocabulary=vocab, output_mode="count", max_tokens=6, pad_to_max_tokens=True)(x)
    assert padded.shape == (2, 6)
    masked = layers.StringLookup(vocabulary=vocab, mask_token="", output_mode="multi_hot")(np.array([["a", ""]]))
    np.testing.assert_array_equal(masked.data, [[0, 1, 0, 0]])


def test_tf_idf_adapt_weights():
    layer = layers.StringLookup(output_mode="tf_idf")
    layer.adapt(DATA)
    # idf = log(1 + documents / (1 + documents with the token)); 3 documents
    df = {"a": 2, "c": 2, "b": 2, "e": 1, "d": 1}
    expected = np.log(1 + 3 / (1 + np.array([df[t] for t in layer.get_vocabulary()[1:]])))
    np.testing.assert_allclose(layer.idf_weights[1:], expected, rtol=1e-6)
    np.testing.assert_allclose(layer.idf_weights[0], expected.mean(), rtol=1e-6)


def test_invert():
    inv = layers.StringLookup(vocabulary=["a", "b", "c"], invert=True)
    np.testing.assert_array_equal(inv(np.array([[1, 3], [0, 7]])), [["a", "c"], ["[UNK]", "[UNK]"]])
    inv_int = layers.IntegerLookup(vocabulary=[12, 36], invert=True, mask_token=0)
    np.testing.assert_array_equal(inv_int(np.array([2, 3, 0])).data, [12, 36, 0])
    with pytest.raises(ValueError, match="invert"):
        layers.StringLookup(invert=True, output_mode="count")


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="repeats"):
        layers.StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="mask"):
        layers.StringLookup(vocabulary=["a", ""], mask_token="")
    with pytest.raises(ValueError, match="num_oov_indices=0"):
        layers.StringLookup(vocabulary=["a"], num_oov_indices=0)(np.array(["b"]))
    with pytest.raises(ValueError, match="adapt"):
        layers.StringLookup(vocabulary=["a"]).adapt(DATA)


def test_run_layer_test_and_config_carries_adapted_vocabulary():
    run_layer_test(layers.StringLookup, {"vocabulary": ["a", "b", "c"]}, input_data=DATA,
                   expected_output_shape=(3, 3))
    run_layer_test(layers.IntegerLookup, {"vocabulary": [5, 7], "output_mode": "multi_hot"},
                   input_data=np.array([[5, 7], [9, 9]]), expected_output_shape=(2, 3))
    layer = layers.StringLookup(output_mode="tf_idf")
    layer.adapt(DATA)
    clone = layers.StringLookup.from_config(layer.get_config())
    assert clone.get_vocabulary() == layer.get_vocabulary()
    np.testing.assert_allclose(clone(DATA).data, layer(DATA).data, rtol=1e-6)


def test_model_with_lookup_saves_and_loads(tmp_path):
    lookup = layers.StringLookup()
    lookup.adapt(DATA)
    model = dg.Sequential([lookup, layers.Embedding(8, 3), layers.Flatten(), layers.Dense(1)])
    before = model.predict(DATA, verbose=0)
    path = str(tmp_path / "l.deepgrad")
    model.save(path)
    again = dg.models.load_model(path)
    assert again.layers[0].get_vocabulary() == lookup.get_vocabulary()
    np.testing.assert_allclose(again.predict(DATA, verbose=0), before, rtol=1e-6)


def test_functional_model_with_string_input_saves_and_loads(tmp_path):
    inputs = layers.Input(shape=(1,), dtype=str)
    encoded = layers.StringLookup(vocabulary=["a", "b", "c"], output_mode="multi_hot")(inputs)
    model = dg.Model(inputs, layers.Dense(2)(encoded))
    x = np.array([["a"], ["c"], ["unknown"]])
    before = model.predict(x, verbose=0)
    assert before.shape == (3, 2)
    path = str(tmp_path / "f.deepgrad")
    model.save(path)
    np.testing.assert_allclose(dg.models.load_model(path).predict(x, verbose=0), before, rtol=1e-6)
