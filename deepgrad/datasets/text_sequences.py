"""What the IMDB and Reuters loaders share: Keras's shuffling, word-index encoding and
``maxlen`` filter, on flat arrays (see ``npz``)."""
from __future__ import annotations

import numpy as np

from . import npz, sources
from .sources import Download, Layout


def fetch_file(origin: str, title: str, path: str, file_hash: str) -> str:
    """The file ``path`` from the data folders, else downloaded from ``origin`` + its name with its checksum."""
    layout = Layout("file", (path,))
    url = origin + path.rsplit("/", 1)[-1]
    return sources.fetch(title, [layout], Download(layout, ((path, [url], file_hash),)))[1][0]


def shuffled(sequences, labels, rng: np.random.RandomState, source: str):
    """Flat sequences, lengths and labels in the order of ``rng.shuffle`` of the indices (Keras's)."""
    flat, lengths = npz.flat_sequences(sequences, source)
    labels = np.asarray(labels)
    if len(labels) != len(lengths):
        raise npz.DatasetFormatError(f"{source}: {len(lengths)} sequences but {len(labels)} labels")
    order = np.arange(len(lengths))
    rng.shuffle(order)
    flat, lengths = npz.reorder(flat, lengths, order)
    return flat, lengths, labels[order]


def keep_shorter(flat, lengths, labels, maxlen):
    """The sequences strictly shorter than ``maxlen`` (Keras's filter), with their labels."""
    if not maxlen:
        return flat, lengths, labels
    keep = lengths < maxlen
    flat, lengths = npz.select(flat, lengths, keep)
    return flat, lengths, labels[keep]
