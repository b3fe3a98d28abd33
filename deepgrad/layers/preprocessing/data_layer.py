"""What the preprocessing layers share: calls on NumPy data (strings included) outside the
gradient graph, and the categorical encodings (one_hot, multi_hot, count) of Keras."""
from __future__ import annotations

import numpy as np

from ...autograd import Tensor
from ...symbolic import KerasTensor, call_symbolic
from ..base import Layer


def to_numpy(x) -> np.ndarray:
    """Lists, NumPy arrays and Tensors as NumPy arrays; Python strings stay text (``<U``)."""
    if isinstance(x, Tensor):
        return x.data
    x = np.asarray(x)
    if x.dtype.kind == "S":
        x = np.char.decode(x, "utf-8")
    elif x.dtype.kind == "O":
        x = np.asarray([v.decode("utf-8") if isinstance(v, bytes) else v for v in x.ravel()]).reshape(x.shape)
    return x


class RaggedRows(list):
    """Rows of different lengths (a list of 1-D arrays): what a ragged tensor
    (``tf.ragged.constant``) holds, handed to the layers that take one."""


def ragged_rows(x):
    """The rows of ``x`` when it is ragged: an object with ``_ragged_rows`` (the TF-style ragged
    tensor of ``deepgrad.compat``), or a list / object array of sequences of different lengths.
    None otherwise."""
    rows = getattr(x, "_ragged_rows", None)
    if rows is not None:
        return RaggedRows(rows)
    if isinstance(x, np.ndarray) and x.dtype.kind == "O" and x.ndim == 1:
        items = list(x)
    elif isinstance(x, (list, tuple)):
        items = list(x)
    else:
        return None
    if not items or not all(isinstance(v, (list, tuple, np.ndarray)) for v in items):
        return None
    if len({len(v) for v in items}) < 2:
        return None
    return RaggedRows(to_numpy(list(v)).reshape(-1) for v in items)


def is_string(x: np.ndarray) -> bool:
    return x.dtype.kind in "UO"


class DataLayer(Layer):
    """A layer whose ``call`` takes NumPy arrays: its inputs are data (strings, integer ids),
    not points of a graph, so it runs without recording gradients, as Keras's do."""

    def __call__(self, inputs, *args, **kwargs):
        flat = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if any(isinstance(x, KerasTensor) for x in flat):
            return call_symbolic(self, inputs, *args, **kwargs)
        kwargs.pop("training", None), kwargs.pop("mask", None)
        if self._multiple_inputs:
            inputs = [to_numpy(x) for x in inputs]
            shapes = [x.shape for x in inputs]
        else:
            rows = ragged_rows(inputs) if self._takes_ragged else None
            if rows is not None:  # rows of different lengths: the layer reads them as they are
                inputs, shapes = rows, (len(rows), None)
            else:
                inputs = to_numpy(inputs)
                shapes = inputs.shape
        if not self.built:
            self._maybe_build(shapes)
        out = self.call(inputs, *args, **kwargs)
        return out if isinstance(out, Tensor) or (isinstance(out, np.ndarray) and is_string(out)) else Tensor(
            np.asarray(out), dtype=np.asarray(out).dtype)

    _multiple_inputs = False
    _takes_ragged = False  # whether ``call`` reads ``RaggedRows``


def encode_categorical(indices: np.ndarray, output_mode: str, depth: int, dtype, count_weights=None):
    """Keras's ``encode_categorical_inputs``: ids to ``int`` (cast), ``one_hot`` (a trailing
    axis of 1 replaced by ``depth``), ``multi_hot`` / ``count`` (axis 1 reduced for rank > 1).
    Ids outside [0, depth) encode as zeros, as ``one_hot`` does."""
    indices = np.asarray(indices)
    if output_mode == "int":
        return indices.astype(dtype)
    if indices.ndim == 0:
        indices = indices[None]
    if output_mode == "one_hot" and indices.ndim > 1 and indices.shape[-1] == 1:
        indices = indices[..., 0]
    ids = indices.astype(np.int64)
    hot = (ids[..., None] == np.arange(depth)).astype(dtype if count_weights is None else count_weights.dtype)
    if output_mode == "one_hot":
        return hot
    axis = 1 if ids.ndim > 1 else 0
    if output_mode == "multi_hot":
        return hot.max(axis=axis)
    if output_mode == "count":
        if count_weights is not None:
            hot = hot * np.asarray(count_weights)[..., None]
        return hot.sum(axis=axis)
    raise ValueError(f"Unknown output_mode {output_mode!r}")
