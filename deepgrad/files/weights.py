"""A model's weights as a dict of arrays, and back.

Keys are ``"{index}/{weight path}"`` in ``model.weights`` order, e.g. ``"0/dense/kernel"``,
``"1/dense/bias"``. Assigning matches by index (names may differ between two builds of the same
architecture, e.g. ``dense_1`` vs ``dense``) and checks every shape before assigning any.
"""
from __future__ import annotations

import io
import zipfile

import numpy as np

from .archive import check_zip
from .safetensors_format import UnsafeFileError


def weights_to_arrays(model) -> dict[str, np.ndarray]:
    return {f"{i}/{w.path}": np.asarray(w.data) for i, w in enumerate(model.weights)}


def _index(key: str, source: str) -> int:
    head = key.split("/", 1)[0]
    if not head.isdigit():
        raise UnsafeFileError(f"{source}: weight key {key!r} does not start with an index")
    return int(head)


def assign_arrays(model, arrays: dict[str, np.ndarray], source: str) -> None:
    """Set every weight of ``model`` from ``arrays`` (keys as above); all checks before any write."""
    weights = model.weights
    by_index = {}
    for key, value in arrays.items():
        by_index[_index(key, source)] = (key, value)
    if sorted(by_index) != list(range(len(by_index))) or len(by_index) != len(weights):
        raise ValueError(f"{source} holds {len(by_index)} weights but model {model.name!r} has {len(weights)}"
                         + ("" if weights else " (build the model first, e.g. by calling it on data)"))
    for i, w in enumerate(weights):
        key, value = by_index[i]
        if tuple(value.shape) != tuple(w.shape):
            raise ValueError(f"{source}: weight {key!r} has shape {tuple(value.shape)} but model "
                             f"{model.name!r} expects {tuple(w.shape)} for weight {i} ({w.path!r})")
    for i, w in enumerate(weights):
        w.assign(by_index[i][1].astype(w.dtype, copy=False))


def read_npz(data: bytes, source: str) -> dict[str, np.ndarray]:
    """An .npz's arrays without pickle; object arrays are refused."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            check_zip(zf, source)
    except zipfile.BadZipFile as e:
        raise UnsafeFileError(f"{source} is a truncated or corrupt .npz archive ({e})") from None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except ValueError as e:
        raise UnsafeFileError(f"{source} holds pickled (object) data, which deepgrad refuses to load ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise UnsafeFileError(f"{source} is a truncated or corrupt .npz archive ({e})") from None
