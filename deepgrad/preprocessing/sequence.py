"""Sequence preprocessing: ``pad_sequences`` with Keras's arguments and semantics, and the
word2vec helpers of TF-Keras's ``keras.preprocessing.sequence`` (``skipgrams``,
``make_sampling_table``) and its ``TimeseriesGenerator``, which Keras programs written for
``tf.keras`` still call."""
from __future__ import annotations

import random

import numpy as np

from .dataset_utils import PyDataset


def pad_sequences(sequences, maxlen: int | None = None, dtype="int32", padding: str = "pre",
                  truncating: str = "pre", value=0.0) -> np.ndarray:
    """Pad (or cut) a list of sequences to one length: returns ``(num_samples, maxlen, ...)``.

    ``maxlen`` defaults to the longest sequence. Sequences longer than ``maxlen`` lose values
    at the start (``truncating="pre"``) or the end (``"post"``); shorter ones are filled with
    ``value`` before (``padding="pre"``) or after (``"post"``). Elements may themselves be
    arrays (e.g. feature vectors): their shape must agree across sequences.
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("pad_sequences: `sequences` must be a list of sequences")
    if padding not in ("pre", "post"):
        raise ValueError(f"pad_sequences: padding must be 'pre' or 'post', got {padding!r}")
    if truncating not in ("pre", "post"):
        raise ValueError(f"pad_sequences: truncating must be 'pre' or 'post', got {truncating!r}")
    lengths, sample_shape = [], None
    for i, s in enumerate(sequences):
        if not hasattr(s, "__len__"):
            raise ValueError(f"pad_sequences: sequence {i} is not a sequence: {s!r}")
        lengths.append(len(s))
        if sample_shape is None and len(s):
            sample_shape = np.asarray(s).shape[1:]
    sample_shape = sample_shape or ()
    if maxlen is None:
        maxlen = max(lengths, default=0)
    elif maxlen < 0:
        raise ValueError(f"pad_sequences: maxlen must be >= 0, got {maxlen}")

    is_text = np.issubdtype(np.dtype(dtype), np.str_) or np.issubdtype(np.dtype(dtype), np.object_)
    if isinstance(value, str) and not is_text:
        raise ValueError(f"pad_sequences: dtype {dtype!r} cannot hold the padding value {value!r}; "
                         f"use dtype=object or a string dtype")

    out = np.full((len(lengths), maxlen) + tuple(sample_shape), value, dtype=dtype)
    for i, s in enumerate(sequences):
        if not len(s) or maxlen == 0:
            continue
        kept = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if kept.shape[1:] != tuple(sample_shape):
            raise ValueError(f"pad_sequences: sequence {i} has elements of shape {kept.shape[1:]}, "
                             f"the others {tuple(sample_shape)}")
        if padding == "post":
            out[i, : len(kept)] = kept
        else:
            out[i, maxlen - len(kept):] = kept
    return out


def make_sampling_table(size: int, sampling_factor: float = 1e-5) -> np.ndarray:
    """word2vec's subsampling probabilities for the words of rank ``0 .. size - 1``:
    ``p = min(1, sqrt(f / s) / (f / s))`` with the frequency of rank r approximated by Zipf's law,
    ``1 / f(r) ~ r (ln r + gamma) + 1/2 - 1 / (12 r)`` (rank 0 counted as rank 1)."""
    gamma = 0.577
    rank = np.maximum(np.arange(int(size)), 1).astype(np.float64)
    inv_frequency = rank * (np.log(rank) + gamma) + 0.5 - 1.0 / (12.0 * rank)
    scaled = sampling_factor * inv_frequency
    return np.minimum(1.0, scaled / np.sqrt(scaled))


def skipgrams(sequence, vocabulary_size: int, window_size: int = 4, negative_samples: float = 1.0,
              shuffle: bool = True, categorical: bool = False, sampling_table=None, seed=None):
    """Skip-gram pairs of a sequence of word indices: ``(couples, labels)``, Python lists.

    Each kept word ``w_i`` (index 0 is not a word; with a ``sampling_table`` a word is kept with
    probability ``sampling_table[w_i]``) pairs with every nonzero word within ``window_size`` of
    it, label 1, in order of ``i`` then ``j``. Then ``int(positives * negative_samples)`` pairs of a
    shuffled positive first word and a uniform random word in ``[1, vocabulary_size)``, label 0.
    ``categorical`` labels are ``[0, 1]`` / ``[1, 0]``. ``shuffle`` permutes couples and labels together
    (with ``seed``, repeatably). Random draws use Python's ``random``, as TF-Keras's does."""
    words = np.asarray(sequence, dtype=np.int64).reshape(-1)
    n, window_size = len(words), int(window_size)
    if n == 0:
        return [], []
    keep = words != 0
    if sampling_table is not None:
        table = np.asarray(sampling_table, dtype=np.float64)
        draws = np.array([random.random() for _ in range(n)])
        keep &= ~(table[np.where(keep, words, 0)] < draws)
    # one row per position i, one column per offset j - i in [-window, window]: row-major order
    # is TF-Keras's (i, then j ascending)
    offsets = np.arange(-window_size, window_size + 1)
    j = np.arange(n)[:, None] + offsets[None, :]
    valid = (offsets[None, :] != 0) & (j >= 0) & (j < n) & keep[:, None]
    valid &= words[np.clip(j, 0, n - 1)] != 0
    i_idx, col = np.nonzero(valid)
    couples = np.stack([words[i_idx], words[j[i_idx, col]]], axis=1).tolist()
    labels = [[0, 1]] * len(couples) if categorical else [1] * len(couples)
    if negative_samples > 0 and couples:
        count = int(len(labels) * negative_samples)
        firsts = [c[0] for c in couples]
        random.shuffle(firsts)
        couples += [[firsts[k % len(firsts)], random.randint(1, vocabulary_size - 1)] for k in range(count)]
        labels += [[1, 0]] * count if categorical else [0] * count
    if shuffle:
        seed = random.randint(0, 10 ** 7) if seed is None else seed
        order = list(range(len(couples)))
        random.Random(seed).shuffle(order)
        couples = [couples[k] for k in order]
        labels = [labels[k] for k in order]
    return couples, labels


class TimeseriesGenerator(PyDataset):
    """TF-Keras's ``keras.preprocessing.sequence.TimeseriesGenerator``: batches of windows over
    ``data`` with the target that follows each window.

    Sample ``row`` (a position in ``[start_index + length, end_index]``) is
    ``data[row - length:row:sampling_rate]`` and its target ``targets[row]``; consecutive samples
    are ``stride`` rows apart, ``batch_size`` of them a batch, the last batch shorter. With
    ``shuffle`` each batch draws its ``batch_size`` rows at random (with repeats) from the whole
    range; ``reverse`` gives each window in reverse time order. A ``keras.utils.PyDataset``, so
    ``fit``, ``evaluate`` and ``predict`` take it."""

    def __init__(self, data, targets, length: int, sampling_rate: int = 1, stride: int = 1,
                 start_index: int = 0, end_index: int | None = None, shuffle: bool = False,
                 reverse: bool = False, batch_size: int = 128):
        super().__init__()
        if len(data) != len(targets):
            raise ValueError(f"Data and targets have to be of same length. Data length is {len(data)} "
                             f"while target length is {len(targets)}")
        self.data, self.targets = data, targets
        self.length, self.sampling_rate, self.stride = length, sampling_rate, stride
        self.start_index = start_index + length
        self.end_index = len(data) - 1 if end_index is None else end_index
        self.shuffle, self.reverse, self.batch_size = shuffle, reverse, batch_size
        if self.start_index > self.end_index:
            raise ValueError(f"`start_index+length={self.start_index} > end_index={self.end_index}` is "
                             f"disallowed, as no part of the sequence would be left to be used as current step.")

    def __len__(self) -> int:
        step = self.batch_size * self.stride
        return (self.end_index - self.start_index + step) // step

    def __getitem__(self, index):
        if self.shuffle:
            rows = np.random.randint(self.start_index, self.end_index + 1, size=self.batch_size)
        else:
            first = self.start_index + self.batch_size * self.stride * index
            rows = np.arange(first, min(first + self.batch_size * self.stride, self.end_index + 1), self.stride)
        samples = np.array([self.data[row - self.length:row:self.sampling_rate] for row in rows])
        targets = np.array([self.targets[row] for row in rows])
        if self.reverse:
            return samples[:, ::-1, ...], targets
        return samples, targets

    def get_config(self) -> dict:
        return {"length": self.length, "sampling_rate": self.sampling_rate, "stride": self.stride,
                "start_index": self.start_index - self.length, "end_index": self.end_index,
                "shuffle": self.shuffle, "reverse": self.reverse, "batch_size": self.batch_size}
