"""IMDB movie reviews, sentiment: 25,000 training and 25,000 test reviews as word indices.

Keras's ``imdb.npz`` (ragged object arrays, read by ``npz`` without general pickle) and
``imdb_word_index.json``, found in the data folders or downloaded with their checksums.
"""
from __future__ import annotations

import json

import numpy as np

from . import npz, text_sequences

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"



def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3, **kwargs):
    """``(x_train, y_train), (x_test, y_test)`` as Keras gives them: each x an object array of
    lists of word indices (1 = start, 2 = out of vocabulary, words from ``index_from``), each
    y 0/1 labels. ``num_words`` keeps the most frequent words, ``skip_top`` drops the most
    frequent, ``maxlen`` drops longer reviews; shuffled with ``seed``."""
    if kwargs:
        raise TypeError(f"imdb.load_data: unexpected keyword argument(s) {sorted(kwargs)}")
    where = text_sequences.fetch_file(ORIGIN, "IMDB", path, SHA256)
    arrays = npz.load_npz(where, ("x_train", "y_train", "x_test", "y_test"))
    rng = np.random.RandomState(seed)
    parts = []
    for x, y in (("x_train", "y_train"), ("x_test", "y_test")):
        flat, lengths, labels = text_sequences.shuffled(arrays[x], arrays[y], rng, f"{where}:{x}")
        flat, lengths = npz.shift(flat, lengths, start_char, index_from)
        parts.append(text_sequences.keep_shorter(flat, lengths, labels, maxlen))
    if maxlen and (len(parts[0][1]) == 0 or len(parts[1][1]) == 0):
        raise ValueError(f"imdb.load_data: no review is shorter than maxlen={maxlen}; increase maxlen")
    flat, lengths = npz.limit_vocabulary(np.concatenate([parts[0][0], parts[1][0]]),
                                         np.concatenate([parts[0][1], parts[1][1]]), num_words, skip_top, oov_char)
    xs = npz.split_sequences(flat, lengths)
    n_train = len(parts[0][1])
    return (xs[:n_train], parts[0][2]), (xs[n_train:], parts[1][2])


def get_word_index(path="imdb_word_index.json"):
    """Word -> index (before the ``index_from`` shift of ``load_data``)."""
    where = text_sequences.fetch_file(ORIGIN, "The IMDB word index", path, WORD_INDEX_MD5)
    with open(where, encoding="utf-8") as f:
        return json.load(f)
