"""pad_sequences against hand-computed expectations (Keras's documented semantics)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deepgrad.preprocessing.sequence import pad_sequences
from deepgrad.utils import pad_sequences as reexported

SEQS = [[1], [2, 3], [4, 5, 6]]


def test_defaults_pad_and_truncate_at_the_start():
    out = pad_sequences(SEQS)
    np.testing.assert_array_equal(out, [[0, 0, 1], [0, 2, 3], [4, 5, 6]])
    assert out.dtype == np.int32 and reexported is pad_sequences


def test_post_padding_and_value():
    np.testing.assert_array_equal(pad_sequences(SEQS, padding="post", value=-1),
                                  [[1, -1, -1], [2, 3, -1], [4, 5, 6]])


@pytest.mark.parametrize("truncating,expected", [("pre", [[0, 1], [2, 3], [5, 6]]), ("post", [[0, 1], [2, 3], [4, 5]])])
def test_truncation(truncating, expected):
    np.testing.assert_array_equal(pad_sequences(SEQS, maxlen=2, truncating=truncating), expected)


def test_post_truncation_with_post_padding():
    out = pad_sequences([[1, 2, 3, 4], [5]], maxlen=3, padding="post", truncating="post")
    np.testing.assert_array_equal(out, [[1, 2, 3], [5, 0, 0]])


def test_float_dtype_keeps_fractions_and_empty_sequences():
    out = pad_sequences([[0.5, 1.5], []], maxlen=3, dtype="float32", value=9.0)
    np.testing.assert_array_equal(out, [[9.0, 0.5, 1.5], [9.0, 9.0, 9.0]])
    assert out.dtype == np.float32
    assert pad_sequences([[1, 2]], maxlen=0).shape == (1, 0)
    assert pad_sequences([]).shape == (0, 0)


def test_sequences_of_feature_vectors():
    seqs = [np.ones((1, 2)), np.arange(6).reshape(3, 2)]
    out = pad_sequences(seqs, maxlen=2)
    assert out.shape == (2, 2, 2)
    np.testing.assert_array_equal(out[0], [[0, 0], [1, 1]])
    np.testing.assert_array_equal(out[1], [[2, 3], [4, 5]])
    with pytest.raises(ValueError, match=r"sequence 1 has elements of shape \(3,\), the others \(2,\)"):
        pad_sequences([np.ones((1, 2)), np.ones((2, 3))])


def test_string_sequences():
    out = pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>")
    assert out.tolist() == [["a", "b"], ["<pad>", "c"]]
    with pytest.raises(ValueError, match="cannot hold the padding value '<pad>'"):
        pad_sequences([["a"]], value="<pad>")


def test_bad_arguments():
    with pytest.raises(ValueError, match="padding must be 'pre' or 'post', got 'middle'"):
        pad_sequences(SEQS, padding="middle")
    with pytest.raises(ValueError, match="truncating must be 'pre' or 'post'"):
        pad_sequences(SEQS, truncating="both")
    with pytest.raises(ValueError, match="sequence 1 is not a sequence: 5"):
        pad_sequences([[1], 5])
    with pytest.raises(ValueError, match="maxlen must be >= 0"):
        pad_sequences(SEQS, maxlen=-1)


@given(st.lists(st.lists(st.integers(1, 99), max_size=6), min_size=1, max_size=5), st.integers(0, 7),
       st.sampled_from(["pre", "post"]), st.sampled_from(["pre", "post"]))
def test_matches_a_plain_python_reference(seqs, maxlen, padding, truncating):
    expected = []
    for s in seqs:
        kept = s[len(s) - maxlen:] if truncating == "pre" and len(s) > maxlen else s[:maxlen]
        fill = [0] * (maxlen - len(kept))
        expected.append(fill + kept if padding == "pre" else kept + fill)
    out = pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating)
    assert out.shape == (len(seqs), maxlen)
    assert out.tolist() == expected


# ------------------------------------------------------------ skipgrams, make_sampling_table
# TF-Keras's word2vec helpers (keras.src.legacy.preprocessing.sequence in Keras 3) are the oracle.
def _legacy_sequence():
    from keras.src.legacy.preprocessing import sequence as legacy
    return legacy


@pytest.mark.parametrize("window", [1, 2, 4])
def test_skipgrams_positive_pairs_match_tf_keras_in_order(window):
    from deepgrad.preprocessing.sequence import skipgrams
    seq = [3, 0, 5, 7, 7, 2, 0, 9, 1]  # zeros are not words: never paired
    ours = skipgrams(seq, vocabulary_size=10, window_size=window, negative_samples=0, shuffle=False)
    theirs = _legacy_sequence().skipgrams(seq, vocabulary_size=10, window_size=window, negative_samples=0,
                                          shuffle=False)
    assert ours == theirs
    assert len(ours[0]) == {1: 8, 2: 16, 4: 30}[window]  # pairs of nonzero words at most `window` apart, both ways
    cat = skipgrams(seq, 10, window_size=window, negative_samples=0, shuffle=False, categorical=True)
    assert cat == _legacy_sequence().skipgrams(seq, 10, window_size=window, negative_samples=0, shuffle=False,
                                               categorical=True)


def test_skipgrams_negatives_and_shuffle():
    import random
    from deepgrad.preprocessing.sequence import skipgrams
    seq = list(range(1, 9))
    random.seed(3)
    couples, labels = skipgrams(seq, vocabulary_size=20, window_size=2, negative_samples=1.5, shuffle=True, seed=7)
    positives = [c for c, y in zip(couples, labels) if y == 1]
    negatives = [c for c, y in zip(couples, labels) if y == 0]
    assert len(positives) == 26 and len(negatives) == int(26 * 1.5)
    # a negative pair: a word of the sequence, then a uniform word in [1, vocabulary_size)
    assert all(c[0] in seq and 1 <= c[1] < 20 for c in negatives)
    ordered = skipgrams(seq, 20, window_size=2, negative_samples=0, shuffle=False)[0]
    assert sorted(positives) == sorted(ordered)
    # the same seed gives the same permutation of couples and labels together
    random.seed(3)
    assert skipgrams(seq, 20, window_size=2, negative_samples=1.5, shuffle=True, seed=7) == (couples, labels)


def test_skipgrams_sampling_table_keeps_words_by_probability():
    from deepgrad.preprocessing.sequence import skipgrams
    seq = [1, 2, 3, 4]
    every = skipgrams(seq, 5, window_size=1, negative_samples=0, shuffle=False, sampling_table=np.ones(5))
    assert every == skipgrams(seq, 5, window_size=1, negative_samples=0, shuffle=False)
    # a probability of 0 drops words 2 and 3 as the first word of a pair (they stay as contexts)
    table = np.array([1.0, 1.0, 0.0, 0.0, 1.0])
    couples, _ = skipgrams(seq, 5, window_size=1, negative_samples=0, shuffle=False, sampling_table=table)
    assert couples == [[1, 2], [4, 3]]


def test_make_sampling_table_matches_tf_keras():
    from deepgrad.preprocessing.sequence import make_sampling_table
    for size, factor in [(10, 1e-5), (1000, 1e-3)]:
        np.testing.assert_allclose(make_sampling_table(size, factor),
                                   _legacy_sequence().make_sampling_table(size, factor), rtol=1e-12)
