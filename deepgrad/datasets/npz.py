"""Keras's dataset ``.npz`` files: numeric arrays without pickle; the ragged word-index
sequences of IMDB and Reuters (object arrays, stored as pickles) through the restricted
unpickler of ``cifar``, which rebuilds NumPy arrays and plain data and nothing else."""
from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np

from .cifar import RestrictedUnpickler
from .sources import DatasetFormatError


def _read_member(data: bytes, source: str) -> np.ndarray:
    stream = io.BytesIO(data)
    try:
        return np.lib.format.read_array(stream, allow_pickle=False)
    except ValueError:
        pass  # an object array: its data is a pickle after the header
    stream.seek(0)
    version = np.lib.format.read_magic(stream)
    if version[0] == 1:
        np.lib.format.read_array_header_1_0(stream)
    elif version[0] in (2, 3):
        np.lib.format.read_array_header_2_0(stream)
    else:
        raise DatasetFormatError(f"{source}: unsupported .npy version {version}")
    try:
        array = RestrictedUnpickler(stream, source).load()
    except pickle.UnpicklingError as e:
        raise DatasetFormatError(str(e) if str(e).startswith(source) else f"{source}: corrupt pickle ({e})") from e
    except Exception as e:  # truncated or garbled pickles raise many kinds of error
        raise DatasetFormatError(f"{source}: corrupt or truncated array ({type(e).__name__}: {e})") from e
    if not isinstance(array, np.ndarray):
        raise DatasetFormatError(f"{source}: expected an array, found {type(array).__name__}")
    return array


def load_npz(path: str, names) -> dict:
    """The arrays ``names`` of the ``.npz`` at ``path``; a clear DatasetFormatError when one is
    missing or the file is not an ``.npz``."""
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            members = set(archive.namelist())
            missing = [n for n in names if n + ".npy" not in members]
            if missing:
                raise DatasetFormatError(f"{path}: missing arrays {missing} (has {sorted(members)})")
            for name in names:
                arrays[name] = _read_member(archive.read(name + ".npy"), f"{path}:{name}")
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise DatasetFormatError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from e
    return arrays


def flat_sequences(sequences, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Ragged integer sequences as one flat int64 array and the lengths."""
    try:
        parts = [np.asarray(s, dtype=np.int64).reshape(-1) for s in sequences]
    except (TypeError, ValueError) as e:
        raise DatasetFormatError(f"{source}: the sequences must hold integers ({e})") from e
    lengths = np.array([len(p) for p in parts], dtype=np.int64)
    return (np.concatenate(parts) if parts else np.zeros(0, np.int64)), lengths


def split_sequences(flat: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A 1-D object array of lists of ints, one list per sequence."""
    out = np.empty(len(lengths), dtype=object)
    out[:] = [part.tolist() for part in np.split(flat, np.cumsum(lengths)[:-1])] if len(lengths) else []
    return out


def shift(flat, lengths, start_char, index_from) -> tuple[np.ndarray, np.ndarray]:
    """Keras's word indices: shifted by ``index_from`` and, unless ``start_char`` is None,
    with ``start_char`` in front of every sequence."""
    if start_char is not None or index_from:
        flat = flat + index_from
    if start_char is not None:
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        flat = np.insert(flat, starts, start_char)
        lengths = lengths + 1
    return flat, lengths


def limit_vocabulary(flat, lengths, num_words, skip_top, oov_char) -> tuple[np.ndarray, np.ndarray]:
    """Indices outside [skip_top, num_words) become ``oov_char``, or are dropped when it is
    None; ``num_words`` None (or 0): the largest index, as Keras has it."""
    if not num_words:
        num_words = int(flat.max()) if flat.size else 0
    keep = (flat >= skip_top) & (flat < num_words)
    if oov_char is not None:
        return np.where(keep, flat, oov_char), lengths
    owner = np.repeat(np.arange(len(lengths)), lengths)
    return flat[keep], np.bincount(owner[keep], minlength=len(lengths)).astype(np.int64)


def select(flat, lengths, keep) -> tuple[np.ndarray, np.ndarray]:
    """The sequences where ``keep`` is True."""
    owner = np.repeat(np.arange(len(lengths)), lengths)
    return flat[keep[owner]], lengths[keep]


def reorder(flat, lengths, order) -> tuple[np.ndarray, np.ndarray]:
    """The sequences in the order ``order`` (a permutation of their indices)."""
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    new_lengths = lengths[order]
    # position j of new sequence i comes from starts[order[i]] + j
    owner = np.repeat(np.arange(len(order)), new_lengths)
    within = np.arange(int(new_lengths.sum())) - np.repeat(np.cumsum(new_lengths) - new_lengths, new_lengths)
    return flat[starts[order][owner] + within], new_lengths
