"""TF-Keras's text preprocessing (``keras.preprocessing.text``, which Keras 3 keeps under
``keras._tf_keras``): ``Tokenizer`` and its helpers, for the programs written before
``TextVectorization``. Words are numbered from 1 by falling count (ties in first-seen order);
index 0 is never given to a word, so that ``pad_sequences`` can pad with it."""
from __future__ import annotations

import collections
import hashlib
import json
import warnings

import numpy as np

FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(input_text, filters=FILTERS, lower=True, split=" ") -> list[str]:
    """The words of ``input_text``: lower-cased, each character of ``filters`` made a separator,
    split on ``split``, empty pieces dropped."""
    if lower:
        input_text = input_text.lower()
    input_text = input_text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in input_text.split(split) if w]


def hashing_trick(text, n, hash_function=None, filters=FILTERS, lower=True, split=" ", analyzer=None) -> list[int]:
    """Each word hashed into ``1 .. n-1``: ``hash(w) % (n - 1) + 1`` (0 stays free for padding).
    ``hash_function`` is Python's ``hash`` by default (salted per process unless PYTHONHASHSEED
    is set), ``"md5"`` for a stable one, or any function of a string."""
    if hash_function is None:
        hash_function = hash
    elif hash_function == "md5":
        def hash_function(word):
            return int(hashlib.md5(word.encode()).hexdigest(), 16)
    words = analyzer(text) if analyzer is not None else text_to_word_sequence(text, filters, lower, split)
    return [hash_function(w) % (n - 1) + 1 for w in words]


def one_hot(input_text, n, filters=FILTERS, lower=True, split=" ", analyzer=None) -> list[int]:
    """``hashing_trick`` with Python's ``hash``: word indices in ``1 .. n-1`` (not one-hot vectors,
    despite the name)."""
    return hashing_trick(input_text, n, hash_function=hash, filters=filters, lower=lower, split=split,
                         analyzer=analyzer)


class Tokenizer:
    """Words to indices from a fitted vocabulary (TF-Keras's ``Tokenizer``).

    ``num_words`` keeps the ``num_words - 1`` most frequent words when converting (the vocabulary
    itself keeps every word); ``oov_token`` takes index 1 and stands for any other word, which is
    otherwise dropped. ``char_level`` numbers characters; a text given as a list is taken as its
    tokens already."""

    def __init__(self, num_words=None, filters=FILTERS, lower=True, split=" ", char_level=False, oov_token=None,
                 analyzer=None, **kwargs):
        if "nb_words" in kwargs:
            warnings.warn("The `nb_words` argument in `Tokenizer` has been renamed `num_words`.")
            num_words = kwargs.pop("nb_words")
        document_count = kwargs.pop("document_count", 0)
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments: {kwargs}")
        self.num_words, self.filters, self.lower, self.split = num_words, filters, lower, split
        self.char_level, self.oov_token, self.analyzer = char_level, oov_token, analyzer
        self.document_count = document_count
        self.word_counts = collections.OrderedDict()      # word -> occurrences
        self.word_docs = collections.defaultdict(int)     # word -> documents it is in
        self.index_docs = collections.defaultdict(int)    # index -> documents it is in
        self.word_index, self.index_word = {}, {}

    def _tokens(self, text) -> list:
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
            return text
        if self.analyzer is not None:
            return self.analyzer(text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts) -> None:
        """Count the words of ``texts`` (adding to earlier fits) and renumber the vocabulary."""
        for text in texts:
            self.document_count += 1
            tokens = self._tokens(text)
            for w in tokens:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(tokens):
                self.word_docs[w] += 1
        # a stable sort: equal counts keep the order the words were first seen in
        ranked = sorted(self.word_counts.items(), key=lambda item: item[1], reverse=True)
        vocabulary = ([] if self.oov_token is None else [self.oov_token]) + [w for w, _ in ranked]
        self.word_index = {w: i for i, w in enumerate(vocabulary, start=1)}
        self.index_word = {i: w for w, i in self.word_index.items()}
        for w, n in self.word_docs.items():
            self.index_docs[self.word_index[w]] = n

    def fit_on_sequences(self, sequences) -> None:
        """Document counts per index from sequences of indices (for ``sequences_to_matrix(mode="tfidf")``)."""
        self.document_count += len(sequences)
        for seq in sequences:
            for i in set(seq):
                self.index_docs[i] += 1

    def texts_to_sequences_generator(self, texts):
        oov = self.word_index.get(self.oov_token)
        for text in texts:
            seq = []
            for w in self._tokens(text):
                i = self.word_index.get(w)
                if i is not None and not (self.num_words and i >= self.num_words):
                    seq.append(i)
                elif self.oov_token is not None:
                    # a rare word past num_words, or an unknown one: the oov index, when there is one
                    seq.append(oov)
            yield seq

    def texts_to_sequences(self, texts) -> list[list[int]]:
        """Each text as its list of word indices."""
        return list(self.texts_to_sequences_generator(texts))

    def sequences_to_texts_generator(self, sequences):
        oov = self.word_index.get(self.oov_token)
        for seq in sequences:
            words = []
            for i in seq:
                word = self.index_word.get(i)
                if word is not None and not (self.num_words and i >= self.num_words):
                    words.append(word)
                elif self.oov_token is not None:
                    words.append(self.index_word[oov])
            yield " ".join(words)

    def sequences_to_texts(self, sequences) -> list[str]:
        """Each sequence of indices as its words joined by spaces."""
        return list(self.sequences_to_texts_generator(sequences))

    def texts_to_matrix(self, texts, mode="binary") -> np.ndarray:
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences, mode="binary") -> np.ndarray:
        """One row per sequence, one column per index below ``num_words`` (or the vocabulary size
        + 1): ``"binary"`` presence, ``"count"``, ``"freq"`` (count / length), ``"tfidf"``
        ((1 + ln count) * ln(1 + documents / (1 + documents with the index))). float64, as TF-Keras."""
        if self.num_words:
            width = self.num_words
        elif self.word_index:
            width = len(self.word_index) + 1
        else:
            raise ValueError("Specify a dimension (`num_words` argument), or fit on some text data first.")
        if mode not in ("binary", "count", "freq", "tfidf"):
            raise ValueError(f"Unknown vectorization mode: {mode}")
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Fit the Tokenizer on some data before using tfidf mode.")
        x = np.zeros((len(sequences), width))
        for row, seq in enumerate(sequences):
            if not len(seq):
                continue
            counts = collections.Counter(j for j in seq if j < width)
            for j, c in counts.items():
                if mode == "count":
                    x[row, j] = c
                elif mode == "freq":
                    x[row, j] = c / len(seq)
                elif mode == "binary":
                    x[row, j] = 1
                else:
                    x[row, j] = (1 + np.log(c)) * np.log(1 + self.document_count / (1 + self.index_docs.get(j, 0)))
        return x

    def get_config(self) -> dict:
        """The settings and the fitted tables (the tables as JSON strings, as TF-Keras writes them)."""
        return {"num_words": self.num_words, "filters": self.filters, "lower": self.lower, "split": self.split,
                "char_level": self.char_level, "oov_token": self.oov_token, "document_count": self.document_count,
                "word_counts": json.dumps(self.word_counts), "word_docs": json.dumps(self.word_docs),
                "index_docs": json.dumps(self.index_docs), "index_word": json.dumps(self.index_word),
                "word_index": json.dumps(self.word_index)}

    def to_json(self, **kwargs) -> str:
        """``{"class_name": "Tokenizer", "config": get_config()}`` as JSON (``kwargs`` go to ``json.dumps``)."""
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()}, **kwargs)


def tokenizer_from_json(json_string) -> Tokenizer:
    """The ``Tokenizer`` that ``to_json`` wrote (index keys back to integers)."""
    config = dict(json.loads(json_string).get("config"))
    tables = {k: json.loads(config.pop(k)) for k in ("word_counts", "word_docs", "index_docs", "index_word",
                                                     "word_index")}
    tokenizer = Tokenizer(**config)
    tokenizer.word_counts, tokenizer.word_docs = tables["word_counts"], tables["word_docs"]
    tokenizer.index_docs = {int(k): v for k, v in tables["index_docs"].items()}
    tokenizer.index_word = {int(k): v for k, v in tables["index_word"].items()}
    tokenizer.word_index = tables["word_index"]
    return tokenizer


__all__ = ["Tokenizer", "hashing_trick", "one_hot", "text_to_word_sequence", "tokenizer_from_json"]
