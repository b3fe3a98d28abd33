"""``TextVectorization``: strings to token ids or bag-of-words vectors.

Pipeline, as Keras runs it: standardize (ASCII lower-casing, removal of ASCII punctuation,
or a callable on a NumPy string array), split (whitespace, characters or a callable),
n-grams joined by spaces, then a ``StringLookup`` with ``""`` as the mask token (index 0)
and one OOV index (``"[UNK]"``, index 1).
"""
from __future__ import annotations

import string

import numpy as np

from ...autograd import Tensor
from .data_layer import DataLayer, to_numpy
from .index_lookup import StringLookup

_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_STRIP = str.maketrans("", "", string.punctuation)  # !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~


def _ngrams(tokens: list, widths) -> list:
    """Every n-gram of each width in ``widths``, width by width, joined with spaces."""
    out = []
    for n in widths:
        out += [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return out


class TextVectorization(DataLayer):
    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace", ngrams=None,
                 output_mode="int", output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None, **kwargs):
        if standardize not in (None, "lower_and_strip_punctuation", "lower", "strip_punctuation") and \
                not callable(standardize):
            raise ValueError(f"TextVectorization: invalid standardize {standardize!r}")
        if split not in (None, "whitespace", "character") and not callable(split):
            raise ValueError(f"TextVectorization: invalid split {split!r}")
        # Keras's deprecated spellings of two modes
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if output_mode not in ("int", "one_hot", "multi_hot", "count", "tf_idf"):
            raise ValueError(f"TextVectorization: invalid output_mode {output_mode!r}")
        if not (ngrams is None or isinstance(ngrams, int) or
                (isinstance(ngrams, tuple) and all(isinstance(i, int) for i in ngrams))):
            raise ValueError(f"TextVectorization: ngrams must be None, an int or a tuple of ints, got {ngrams!r}")
        if output_mode == "int" and not (output_sequence_length is None or isinstance(output_sequence_length, int)):
            raise ValueError(f"TextVectorization: output_sequence_length must be None or an int, "
                             f"got {output_sequence_length!r}")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError("TextVectorization: output_sequence_length is only used with output_mode='int'")
        if sparse or ragged:
            raise ValueError("TextVectorization: sparse and ragged outputs are not supported (dense only)")
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        self._max_tokens, self._standardize, self._split, self._ngrams_arg = max_tokens, standardize, split, ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._output_mode, self._output_sequence_length = output_mode, output_sequence_length
        self._ragged, self._encoding = ragged, encoding
        self._lookup_layer = StringLookup(max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
                                          pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
                                          sparse=sparse, encoding=encoding, vocabulary_size=vocabulary_size)

    # ----------------------------------------------------------------- text to tokens
    def _standardized(self, x: np.ndarray) -> np.ndarray:
        if self._standardize in ("lower", "lower_and_strip_punctuation"):
            x = np.char.translate(x, _LOWER)
        if self._standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            x = np.char.translate(x, _STRIP)
        if callable(self._standardize):
            x = to_numpy(self._standardize(x))
        return x

    def _preprocess(self, inputs):
        """Standardized text: a list of token lists (one per row) when splitting, else the array."""
        x = to_numpy(inputs)
        if x.dtype.kind not in "UO":
            raise ValueError(f"TextVectorization: expected string inputs, got dtype {x.dtype}")
        x = self._standardized(x.astype(str))
        if self._split is None:
            return x
        if x.ndim > 1:
            if x.shape[-1] != 1:
                raise ValueError(f"TextVectorization: inputs must have rank 1 or a last dimension of 1 to be "
                                 f"split, got shape {x.shape}")
            x = x[..., 0]
        x = np.atleast_1d(x)
        if self._split == "whitespace":
            docs = [s.split() for s in x.tolist()]
        elif self._split == "character":
            docs = [list(s) for s in x.tolist()]
        else:
            docs = [[str(t) for t in np.asarray(to_numpy(row)).reshape(-1)] for row in self._split(x)]
        if self._ngrams is not None:
            docs = [_ngrams(d, self._ngrams) for d in docs]
        return docs

    # ----------------------------------------------------------------- vocabulary
    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary (and IDF weights) from strings: an array, a list, or an
        iterable of batches."""
        if isinstance(data, (list, tuple, np.ndarray, Tensor)):
            data = to_numpy(data)
            batches = [data[:, None] if data.ndim == 1 else data]
        else:
            batches = data if steps is None else (b for i, b in zip(range(steps), data))
        lookup = self._lookup_layer
        if lookup._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer {self.name!r} after setting a vocabulary")
        lookup._reset_counts()
        for batch in batches:
            batch = batch[0] if isinstance(batch, tuple) else batch
            docs = self._preprocess(batch)
            if isinstance(docs, np.ndarray):
                docs = [np.atleast_1d(row) for row in np.atleast_2d(docs)]
            lookup._update_counts(docs)
        lookup._finalize_counts()

    def get_vocabulary(self, include_special_tokens=True):
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    # ----------------------------------------------------------------- call
    def call(self, inputs):
        docs = self._preprocess(inputs)
        lookup = self._lookup_layer
        if isinstance(docs, np.ndarray):
            return lookup.call(docs)
        if self._output_mode == "int":
            # ragged rows padded with 0 to the longest row (or cut / padded to output_sequence_length)
            width = self._output_sequence_length
            if width is None:
                width = max((len(d) for d in docs), default=0)
            out = np.asarray(lookup.call(self._pad(docs, width)), np.int64)
        else:
            # bag of words: pad with the mask token, which no encoding counts
            out = lookup.call(self._pad(docs, max(max((len(d) for d in docs), default=0), 1)))
        # one string (a dataset's unbatched element) gives one row, as Keras's split of a scalar does
        return out[0] if np.ndim(to_numpy(inputs)) == 0 else out

    @staticmethod
    def _pad(docs, width):
        """Token lists as a (len(docs), width) string array, cut at ``width``, padded with ""."""
        lengths = np.minimum([len(d) for d in docs], width).astype(np.int64)
        flat = [t for d, n in zip(docs, lengths.tolist()) for t in d[:n]]
        tokens = np.full((len(docs), width), "", dtype=object)
        rows = np.repeat(np.arange(len(docs)), lengths)
        cols = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        tokens[rows, cols] = flat
        return tokens.astype(str)

    def compute_output_shape(self, input_shape):
        if self._output_mode == "int":
            return (input_shape[0], self._output_sequence_length)
        shape = tuple(input_shape)
        if self._split is None:
            shape = shape + (1,) if len(shape) <= 1 else shape
        else:
            shape = shape + (None,)
        return self._lookup_layer.compute_output_shape(shape)

    def get_config(self):
        lookup = self._lookup_layer
        vocabulary = lookup.get_vocabulary(include_special_tokens=False) or None
        idf = None
        if lookup.idf_weights is not None and vocabulary is not None:
            start = lookup._token_start_index()
            idf = lookup.idf_weights[start:start + len(vocabulary)].tolist()
        if callable(self._standardize) or callable(self._split):
            raise ValueError(f"TextVectorization {self.name!r}: a callable standardize or split cannot be "
                             f"written to a config")
        config = super().get_config()
        config.pop("trainable", None)
        config.update({"max_tokens": lookup.max_tokens, "standardize": self._standardize, "split": self._split,
                       "ngrams": list(self._ngrams_arg) if isinstance(self._ngrams_arg, tuple) else self._ngrams_arg,
                       "output_mode": self._output_mode, "output_sequence_length": self._output_sequence_length,
                       "pad_to_max_tokens": lookup.pad_to_max_tokens, "sparse": lookup.sparse,
                       "ragged": self._ragged, "vocabulary": vocabulary, "idf_weights": idf,
                       "encoding": self._encoding, "vocabulary_size": self.vocabulary_size()})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return cls(**config)
