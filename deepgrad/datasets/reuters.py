"""Reuters newswires, 46 topics: 11,228 newswires as word indices.

Keras's ``reuters.npz`` (ragged object arrays, read by ``npz`` without general pickle) and
``reuters_word_index.json``, found in the data folders or downloaded with their checksums.
"""
from __future__ import annotations

import json

import numpy as np

from . import npz, text_sequences

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SHA256 = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
WORD_INDEX_MD5 = "4d44cc38712099c9e383dc6e5f11a921"
LABEL_NAMES = ("cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee",
               "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx",
               "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock",
               "retail", "ipi", "iron-steel", "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem",
               "dlr", "gas", "silver", "wpi", "hog", "lead")



def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2, seed=113, start_char=1,
              oov_char=2, index_from=3):
    """``(x_train, y_train), (x_test, y_test)`` as Keras gives them: object arrays of lists of
    word indices (1 = start, 2 = out of vocabulary) and topic labels 0-45, shuffled with
    ``seed`` and split with ``test_split`` of them for testing."""
    where = text_sequences.fetch_file(ORIGIN, "Reuters", path, SHA256)
    arrays = npz.load_npz(where, ("x", "y"))
    flat, lengths, labels = text_sequences.shuffled(arrays["x"], arrays["y"], np.random.RandomState(seed), where)
    flat, lengths = npz.shift(flat, lengths, start_char, index_from)
    flat, lengths, labels = text_sequences.keep_shorter(flat, lengths, labels, maxlen)
    flat, lengths = npz.limit_vocabulary(flat, lengths, num_words, skip_top, oov_char)
    xs = npz.split_sequences(flat, lengths)
    n_train = int(len(xs) * (1 - test_split))
    return (xs[:n_train], np.array(labels[:n_train])), (xs[n_train:], np.array(labels[n_train:]))


def get_word_index(path="reuters_word_index.json"):
    """Word -> index (before the ``index_from`` shift of ``load_data``)."""
    where = text_sequences.fetch_file(ORIGIN, "The Reuters word index", path, WORD_INDEX_MD5)
    with open(where, encoding="utf-8") as f:
        return json.load(f)


def get_label_names():
    """The 46 topic names, by label."""
    return LABEL_NAMES
