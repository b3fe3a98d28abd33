"""TextVectorization: standardize, split, n-grams, each output mode, adapt order, config,
a model whose first layer it is, saved and loaded."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # layer_test

import deepgrad as dg  # noqa: E402
from deepgrad import layers  # noqa: E402
from layer_test import run_layer_test  # noqa: E402

TEXTS = ["The cat sat.", "the dog, sat!", "A cat ran"]


def test_adapt_vocabulary_and_int_output():
    layer = layers.TextVectorization()
    layer.adapt(TEXTS)
    # the:2 sat:2 cat:2 (ties high to low), then ran, dog, a
    assert layer.get_vocabulary() == ["", "[UNK]", "the", "sat", "cat", "ran", "dog", "a"]
    out = layer(["the cat", "A dog sat on Mars"])
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, [[2, 4, 0, 0, 0], [7, 6, 3, 1, 1]])
    same = layers.TextVectorization()
    same.adapt(np.array(TEXTS)[:, None])
    assert same.get_vocabulary() == layer.get_vocabulary()


def test_output_sequence_length_pads_and_truncates():
    layer = layers.TextVectorization(vocabulary=["a", "b"], output_sequence_length=4)
    out = layer(np.array([["a b c"], ["b b b b b b"]]))
    np.testing.assert_array_equal(out.data, [[2, 3, 1, 0], [3, 3, 3, 3]])
    assert layer.compute_output_shape((None, 1)) == (None, 4)


@pytest.mark.parametrize("standardize,expected", [
    ("lower_and_strip_punctuation", ["hello", "world"]),
    ("lower", ["hello,", "world!"]),
    ("strip_punctuation", ["Hello", "WORLD"]),
    (None, ["Hello,", "WORLD!"]),
])
def test_standardize(standardize, expected):
    layer = layers.TextVectorization(standardize=standardize)
    layer.adapt(["Hello, WORLD!"])
    assert sorted(layer.get_vocabulary()[2:]) == sorted(expected)


def test_character_split_ngrams_and_callables():
    chars = layers.TextVectorization(split="character", standardize=None)
    chars.adapt(["abca"])
    assert chars.get_vocabulary() == ["", "[UNK]", "a", "c", "b"]
    grams = layers.TextVectorization(ngrams=2, output_mode="multi_hot")
    grams.adapt(["x y z"])
    assert set(grams.get_vocabulary()) == {"[UNK]", "x", "y", "z", "x y", "y z"}
    upper = layers.TextVectorization(standardize=lambda t: np.char.upper(t), split=lambda t: [s.split("-") for s in t])
    upper.adapt(["a-b-b"])
    assert upper.get_vocabulary() == ["", "[UNK]", "B", "A"]


def test_bag_of_words_modes():
    vocab = ["a", "b", "c"]
    x = ["a b a", "c zz"]
    multi = layers.TextVectorization(vocabulary=vocab, output_mode="multi_hot")(x)
    np.testing.assert_array_equal(multi.data, [[0, 1, 1, 0], [1, 0, 0, 1]])
    count = layers.TextVectorization(vocabulary=vocab, output_mode="count")(x)
    np.testing.assert_array_equal(count.data, [[0, 2, 1, 0], [1, 0, 0, 1]])
    idf = [1.0, 2.0, 3.0]
    tfidf = layers.TextVectorization(vocabulary=vocab, idf_weights=idf, output_mode="tf_idf")(x)
    np.testing.assert_allclose(tfidf.data, [[0, 2.0, 2.0, 0], [2.0, 0, 0, 3.0]])
    padded = layers.TextVectorization(vocabulary=vocab, output_mode="count", max_tokens=8, pad_to_max_tokens=True)
    assert padded(x).shape == (2, 8)


def test_tf_idf_adapt():
    layer = layers.TextVectorization(output_mode="tf_idf")
    layer.adapt(TEXTS)
    vocab = layer.get_vocabulary()
    df = {"the": 2, "sat": 2, "cat": 2, "ran": 1, "dog": 1, "a": 1}
    expected = np.log(1 + 3 / (1 + np.array([df[t] for t in vocab[1:]])))
    out = layer(["the the ran"]).data[0]
    np.testing.assert_allclose(out[vocab.index("the")], 2 * expected[vocab.index("the") - 1], rtol=1e-6)
    np.testing.assert_allclose(out[vocab.index("ran")], expected[vocab.index("ran") - 1], rtol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="standardize"):
        layers.TextVectorization(standardize="upper")
    with pytest.raises(ValueError, match="output_sequence_length"):
        layers.TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="last dimension"):
        layers.TextVectorization(vocabulary=["a"])(np.array([["a", "b"]]))


def test_run_layer_test_and_config_round_trip():
    x = np.array([["a b"], ["c a d"]])
    run_layer_test(layers.TextVectorization, {"vocabulary": ["a", "b", "c"], "output_sequence_length": 3},
                   input_data=x, expected_output_shape=(2, 3))
    layer = layers.TextVectorization(ngrams=(1, 2), output_mode="tf_idf")
    layer.adapt(TEXTS)
    config = layer.get_config()
    assert config["ngrams"] == [1, 2] and config["vocabulary"] == layer.get_vocabulary()[1:]
    clone = layers.TextVectorization.from_config(config)
    np.testing.assert_allclose(clone(TEXTS).data, layer(TEXTS).data, rtol=1e-6)


def test_sequential_first_layer_trains_saves_and_loads(tmp_path):
    vectorize = layers.TextVectorization(output_sequence_length=5)
    vectorize.adapt(TEXTS)
    model = dg.Sequential([vectorize, layers.Embedding(10, 4), layers.GlobalAveragePooling1D(),
                           layers.Dense(1, activation="sigmoid")])
    x, y = np.array(TEXTS), np.array([1.0, 0.0, 1.0], "float32")
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, y, epochs=3, batch_size=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    before = model.predict(x, verbose=0)
    path = str(tmp_path / "t.deepgrad")
    model.save(path)
    again = dg.models.load_model(path)
    assert again.layers[0].get_vocabulary() == vectorize.get_vocabulary()
    np.testing.assert_allclose(again.predict(x, verbose=0), before, rtol=1e-6)
