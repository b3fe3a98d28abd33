"""Vocabulary lookups: ``StringLookup`` and ``IntegerLookup`` map tokens to indices (or
back, with ``invert``), the Keras way.

Index layout: ``[mask (output_mode "int" only)] [num_oov_indices OOV buckets] [tokens]``.
``adapt`` orders tokens by count, high to low, ties by token, high to low (Keras's
``lexsort((tokens, counts))[::-1]``). The vocabulary (adapted or given) and the IDF weights
are kept in the config, so a saved model carries them.
"""
from __future__ import annotations

import itertools

import numpy as np

from ... import backend
from ...autograd import Tensor
from ...symbolic import is_tracing
from .data_layer import DataLayer, RaggedRows, encode_categorical, ragged_rows, to_numpy
from .hashing import hash_bucket


def _first_array(batch):
    return batch[0] if isinstance(batch, tuple) else batch


class IndexLookup(DataLayer):
    """What both lookups share; ``vocabulary_dtype`` is ``"string"`` or ``"int64"``."""

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary_dtype, vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", sparse=False, pad_to_max_tokens=False,
                 oov_method="floormod", name=None, salt=None, **kwargs):
        cls = type(self).__name__
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"{cls}: max_tokens must be > 1 if set, got max_tokens={max_tokens}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{cls}: pad_to_max_tokens=True needs max_tokens")
        if num_oov_indices < 0:
            raise ValueError(f"{cls}: num_oov_indices must be >= 0, got {num_oov_indices}")
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(f"{cls}: oov_method must be 'floormod' or 'farmhash', got {oov_method!r}")
        if salt is not None:
            if vocabulary_dtype != "string" and oov_method != "farmhash":
                raise ValueError(f"{cls}: `salt` needs oov_method='farmhash', got oov_method={oov_method!r}")
            if isinstance(salt, (tuple, list)) and len(salt) == 2:
                salt = list(salt)
            elif isinstance(salt, int):
                salt = [salt, salt]
            else:
                raise ValueError(f"{cls}: `salt` must be an int or a pair of ints, got salt={salt!r}")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if output_mode not in ("int", "one_hot", "multi_hot", "count", "tf_idf"):
            raise ValueError(f"{cls}: invalid output_mode {output_mode!r}")
        if invert and output_mode != "int":
            raise ValueError(f"{cls}: invert=True needs output_mode='int', got {output_mode!r}")
        if sparse:
            raise ValueError(f"{cls}: sparse=True is not supported (dense outputs only)")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"{cls}: idf_weights is only used with output_mode='tf_idf'")
        frozen = kwargs.pop("vocabulary_size", None)
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        self.invert, self.max_tokens, self.num_oov_indices = invert, max_tokens, num_oov_indices
        self.mask_token, self.oov_token, self.output_mode = mask_token, oov_token, output_mode
        self.sparse, self.pad_to_max_tokens, self.oov_method, self.salt = sparse, pad_to_max_tokens, oov_method, salt
        self.vocabulary_dtype = vocabulary_dtype
        self._frozen_vocab_size = frozen
        self.input_vocabulary = vocabulary
        self.input_idf_weights = idf_weights
        self._has_input_vocabulary = has_input_vocabulary
        self._tokens = self._as_tokens([])
        self.idf_weights = None
        if output_mode == "tf_idf" and has_input_vocabulary and idf_weights is None:
            raise ValueError(f"{cls}: output_mode='tf_idf' with a `vocabulary` needs `idf_weights`")
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # ----------------------------------------------------------------- index layout
    def _oov_start_index(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self):
        return self._oov_start_index() + self.num_oov_indices

    def _as_tokens(self, values):
        values = to_numpy(values) if not isinstance(values, np.ndarray) else values
        if self.vocabulary_dtype == "string":
            return np.asarray(values, dtype=str).reshape(-1) if np.size(values) else np.array([], dtype=str)
        return np.asarray(values, dtype=np.int64).reshape(-1)

    def vocabulary_size(self):
        return int(self._tokens.size) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens=True):
        special = [self.oov_token] * self.num_oov_indices
        if self._oov_start_index():
            special = [self.mask_token] + special
        tokens = self._tokens.tolist()
        return special + tokens if include_special_tokens else tokens

    def set_vocabulary(self, vocabulary, idf_weights=None):
        cls = type(self).__name__
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError(f"{cls}: idf_weights must be set if output_mode is 'tf_idf'")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(f"{cls}: idf_weights is only used with output_mode='tf_idf'")
        if isinstance(vocabulary, str):
            raise ValueError(f"{cls}: vocabulary files are not read (pass the tokens as a list)")
        vocabulary = self._as_tokens(vocabulary)
        if vocabulary.size == 0:
            raise ValueError(f"{cls}: cannot set an empty vocabulary")
        start = self._token_start_index()
        special = self._as_tokens([self.mask_token] * self._oov_start_index() + [self.oov_token] * self.num_oov_indices)
        found_special = vocabulary.size >= start and np.array_equal(special, vocabulary[:start])
        tokens = vocabulary[start:] if found_special else vocabulary
        uniq, counts = np.unique(tokens, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"{cls}: the vocabulary repeats the terms {uniq[counts > 1].tolist()}")
        # the mask token may not sit among the tokens; the OOV token neither when inverting
        for what, token, checked in (("mask", self.mask_token, True), ("OOV", self.oov_token, self.invert)):
            if checked and token is not None and (tokens == self._as_tokens([token])[0]).any():
                raise ValueError(f"{cls}: found the reserved {what} token {token!r} inside the vocabulary; put "
                                 f"special tokens only at its start, in the order {special.tolist()}")
        if self.max_tokens is not None and start + tokens.size > self.max_tokens:
            raise ValueError(f"{cls}: vocabulary size {start + tokens.size} exceeds max_tokens={self.max_tokens}")
        self._tokens = tokens
        self._record_vocabulary_size()
        if self.output_mode == "tf_idf":
            idf = np.asarray(idf_weights, np.float64).reshape(-1)
            if idf.size != vocabulary.size:
                raise ValueError(f"{cls}: idf_weights has length {idf.size}, vocabulary {vocabulary.size}")
            # the special indices take the mean IDF unless the given vocabulary included them
            front = (0, 0.0) if found_special else (start, float(np.average(idf)))
            back = self.max_tokens - front[0] - idf.size if self.pad_to_max_tokens else 0
            self.idf_weights = np.concatenate([np.full(front[0], front[1]), idf, np.zeros(back)]).astype(
                backend.floatx())

    def _record_vocabulary_size(self):
        self._frozen_vocab_size = self.vocabulary_size()

    # ----------------------------------------------------------------- adapt
    def adapt(self, data, steps=None):
        """Count the tokens of ``data`` (an array or list, or an iterable of batches) and
        keep the most frequent ``max_tokens`` minus the special indices."""
        if self._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer {self.name!r} after setting a vocabulary")
        rows = ragged_rows(data)
        if rows is not None:  # documents of different lengths (a ragged tensor, lists of labels)
            batches = [rows]
        elif isinstance(data, (list, tuple, np.ndarray, Tensor)):
            data = to_numpy(data)
            batches = [data[:, None] if data.ndim == 1 else data]
        else:
            batches = itertools.islice(data, steps) if steps is not None else data
        self._reset_counts()
        for batch in batches:
            self._update_counts(self._batch_tokens(batch))
        self._finalize_counts()

    def _reset_counts(self):
        # per batch: (distinct tokens, their counts) and (distinct tokens, documents holding them)
        self._counts, self._doc_counts, self._num_docs = [], [], 0

    def _update_counts(self, documents):
        """Record the token counts (and, for tf_idf, document counts) of a list of documents."""
        documents = [self._as_tokens(d) for d in documents]
        if not documents:
            return
        flat = np.concatenate(documents)
        uniq, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
        self._counts.append((uniq, counts))
        if self.output_mode == "tf_idf":
            # distinct (document, token) pairs, then how many documents each token is in
            doc_ids = np.repeat(np.arange(len(documents)), [d.size for d in documents])
            pairs = np.unique(doc_ids * max(uniq.size, 1) + inverse.reshape(-1))
            self._doc_counts.append((uniq, np.bincount(pairs % max(uniq.size, 1), minlength=uniq.size)))
            self._num_docs += len(documents)

    @staticmethod
    def _merge(parts, empty):
        """Sum the counts of the same token across batches."""
        if not parts:
            return empty, np.zeros(0, np.int64)
        tokens = np.concatenate([t for t, _ in parts])
        uniq, inverse = np.unique(tokens, return_inverse=True)
        return uniq, np.bincount(inverse.reshape(-1), weights=np.concatenate([c for _, c in parts]),
                                 minlength=uniq.size).astype(np.int64)

    def _finalize_counts(self):
        tokens, freq = self._merge(self._counts, self._as_tokens([]))
        special = [t for t in (self.mask_token, self.oov_token) if t is not None]
        keep = ~np.isin(tokens, self._as_tokens(special)) if special else np.ones(tokens.size, bool)
        tokens, freq = tokens[keep], freq[keep]
        # by count, high to low; ties by token, high to low
        order = np.lexsort((tokens, freq))[::-1]
        if self.max_tokens:
            order = order[:self.max_tokens - self._token_start_index()]
        self._tokens = tokens[order]
        if self.output_mode == "tf_idf":
            doc_tokens, doc_freq = self._merge(self._doc_counts, self._as_tokens([]))
            df = doc_freq[np.searchsorted(doc_tokens, self._tokens)].astype(np.float64) if self._tokens.size else \
                np.zeros(0)
            # idf = log(1 + documents / (1 + documents containing the token))
            idf = np.log(1 + self._num_docs / (1 + df)).astype(backend.floatx())
            idf = np.concatenate([np.full(self._token_start_index(), idf.mean() if idf.size else 0.0), idf])
            if self.pad_to_max_tokens and self.max_tokens is not None:
                idf = np.concatenate([idf, np.zeros(self.max_tokens - idf.size)])
            self.idf_weights = idf.astype(backend.floatx())
        self._reset_counts()
        self._record_vocabulary_size()

    def _batch_tokens(self, batch):
        """A batch as a list of documents (rows) of tokens."""
        batch = to_numpy(_first_array(batch)) if not isinstance(batch, list) else batch
        if isinstance(batch, np.ndarray):
            if batch.ndim == 0:
                batch = batch[None]
            if batch.ndim == 1:
                batch = batch[None]
            return [self._as_tokens(row) for row in batch]
        return [self._as_tokens(row) for row in batch]

    # ----------------------------------------------------------------- call
    def _lookup(self, inputs):
        """Index of each token (-1 when absent) by binary search in the sorted vocabulary."""
        order = np.argsort(self._tokens, kind="stable")
        sorted_tokens = self._tokens[order]
        flat = inputs.reshape(-1)
        if sorted_tokens.size == 0:
            return np.full(inputs.shape, -1, np.int64)
        pos = np.clip(np.searchsorted(sorted_tokens, flat), 0, sorted_tokens.size - 1)
        found = sorted_tokens[pos] == flat
        out = np.where(found, order[pos] + self._token_start_index(), -1)
        return out.astype(np.int64).reshape(inputs.shape)

    _takes_ragged = True

    def call(self, inputs):
        if isinstance(inputs, RaggedRows):
            return self._call_ragged(inputs)
        inputs = np.asarray(inputs)
        if self.invert:
            return self._invert(inputs)
        lookups = self._ids(inputs)
        if self.output_mode == "int":
            return lookups
        return self._encode(lookups)

    def _ids(self, inputs):
        """Each input's index: the vocabulary's, an OOV index, 0 for the mask token (-1 outside the
        ``int`` mode: no column of the encodings)."""
        keys = inputs.astype(str) if self.vocabulary_dtype == "string" else inputs.astype(np.int64)
        if self.output_mode != "int" and not self.pad_to_max_tokens and self._frozen_vocab_size is None:
            raise RuntimeError(f"{type(self).__name__}: set a vocabulary (or adapt) before output_mode="
                               f"{self.output_mode!r}")
        lookups = self._lookup(keys)
        oov = lookups == -1
        if self.num_oov_indices == 1:
            lookups = np.where(oov, self._oov_start_index(), lookups)
        elif self.num_oov_indices > 1:
            if self.vocabulary_dtype != "string" and self.oov_method != "farmhash":
                buckets = np.mod(keys, self.num_oov_indices)
            else:
                buckets = hash_bucket(keys, self.num_oov_indices, self.salt)
            lookups = np.where(oov, buckets + self._oov_start_index(), lookups)
        elif oov.any() and is_tracing():  # placeholder text of an output-shape trace: any index will do
            lookups = np.where(oov, 0, lookups)
        elif oov.any():
            raise ValueError(f"{type(self).__name__}: with num_oov_indices=0 every input must be in the "
                             f"vocabulary; found {np.unique(keys[oov]).tolist()[:10]}")
        if self.mask_token is not None:
            mask_value = 0 if self.output_mode == "int" else -1  # -1: no column in the encodings
            lookups = np.where(keys == self._as_tokens([self.mask_token])[0], mask_value, lookups)
        return lookups

    def _encode(self, lookups):
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        out = encode_categorical(lookups, mode, depth, np.int64).astype(backend.floatx())
        if self.output_mode == "tf_idf":
            out = out * self.idf_weights
        return out

    def _call_ragged(self, rows):
        """Rows of different lengths: each row's bag of tokens in the ``multi_hot``, ``count`` and
        ``tf_idf`` modes (Keras's encoding of a ragged tensor). ``int`` and ``one_hot`` outputs of
        such rows would be ragged, which deepgrad's tensors are not."""
        if self.output_mode in ("int", "one_hot") or self.invert:
            raise ValueError(f"{type(self).__name__}: rows of different lengths (a ragged input) give a ragged "
                             f"output with output_mode={self.output_mode!r}; pad them to one length first "
                             "(or use output_mode='multi_hot', 'count' or 'tf_idf')")
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        flat = [np.asarray(r).reshape(-1) for r in rows]
        ids = self._ids(np.concatenate(flat) if flat else self._as_tokens([]))
        # padded with -1, which encodes to no column
        padded = np.full((len(rows), max(int(lengths.max(initial=0)), 1)), -1, dtype=np.int64)
        padded[np.arange(padded.shape[1]) < lengths[:, None]] = ids
        return self._encode(padded)

    def _invert(self, inputs):
        vocab = self._as_tokens(self.get_vocabulary())
        ids = inputs.astype(np.int64)
        valid = (ids >= 0) & (ids < vocab.size)
        out = np.where(valid, vocab[np.clip(ids, 0, max(vocab.size - 1, 0))], self._as_tokens([self.oov_token])[0])
        if self.mask_token is not None:
            out = np.where(ids == 0, self._as_tokens([self.mask_token])[0], out)
        return out

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        input_shape = tuple(input_shape)
        if self.output_mode == "one_hot" and not (len(input_shape) > 1 and input_shape[-1] == 1):
            return input_shape + (depth,)
        return input_shape[:-1] + (depth,)

    def get_config(self):
        # the vocabulary is in the config even when adapted, so the model file carries it
        vocabulary = self.get_vocabulary(include_special_tokens=False) if self._tokens.size else None
        idf = self.idf_weights
        if idf is not None and vocabulary is not None:
            idf = idf[self._token_start_index():self._token_start_index() + len(vocabulary)].tolist()
        config = super().get_config()
        config.update({"invert": self.invert, "max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
                       "oov_token": self.oov_token, "mask_token": self.mask_token, "output_mode": self.output_mode,
                       "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
                       "vocabulary_dtype": self.vocabulary_dtype, "idf_weights": idf, "vocabulary": vocabulary,
                       "vocabulary_size": self._frozen_vocab_size, "oov_method": self.oov_method, "salt": self.salt})
        config.pop("trainable", None)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)
        size = config.pop("vocabulary_size", None)
        layer = cls(**config)
        if config.get("vocabulary") is None:
            layer._frozen_vocab_size = size
        return layer


class StringLookup(IndexLookup):
    """Strings to indices (int64), or back with ``invert=True``."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", name=None, salt=None, **kwargs):
        self.encoding = encoding
        kwargs.pop("vocabulary_dtype", None)
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name,
                         salt=salt, vocabulary_dtype="string", **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["vocabulary_dtype"]
        config["encoding"] = self.encoding
        return config


class IntegerLookup(IndexLookup):
    """Integers to indices (int64), or back with ``invert=True``."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, oov_method="floormod", salt=None, name=None, **kwargs):
        if vocabulary_dtype != "int64":
            raise ValueError(f"IntegerLookup: only vocabulary_dtype='int64' is supported, got {vocabulary_dtype!r}")
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name,
                         salt=salt, oov_method=oov_method, vocabulary_dtype="int64", **kwargs)

    def get_config(self):
        config = super().get_config()
        for key in ("oov_token", "mask_token"):
            if config[key] is not None:
                config[key] = int(config[key])
        return config
