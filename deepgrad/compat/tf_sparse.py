"""``tf.SparseTensor``, ``tf.sparse``, ``tf.scan`` and TF 1's ``nn.ctc_loss``: what the CTC
training code of Keras's OCR examples calls (a dense label batch turned into a sparse one, the
loss of time-major log-probabilities against it, decoded paths turned back to dense).

A ``SparseTensor`` holds ``indices`` (n, rank) int64, ``values`` (n,) and ``dense_shape``; the
ops that take one read those three, as TF's do.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .. import ops
from ..autograd import Tensor


def _data(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class SparseTensor:
    """TF's sparse tensor: ``values[i]`` sits at ``indices[i]`` of a ``dense_shape`` array."""

    def __init__(self, indices, values, dense_shape):
        self.indices = Tensor(np.asarray(_data(indices), np.int64).reshape(-1, len(np.ravel(_data(dense_shape)))),
                              dtype=np.int64)
        # strings (a parsed VarLenFeature of bytes) stay an array: Tensors hold numbers
        text = isinstance(values, np.ndarray) and values.dtype.kind in "OUS"
        self.values = values if isinstance(values, Tensor) or text else ops.convert_to_tensor(values)
        self.dense_shape = Tensor(np.asarray(_data(dense_shape), np.int64).reshape(-1), dtype=np.int64)
        if self.values.shape[0] != self.indices.shape[0]:
            raise ValueError(f"tf.SparseTensor: {self.indices.shape[0]} indices but {self.values.shape[0]} values")

    @property
    def shape(self) -> tuple:
        return tuple(int(d) for d in self.dense_shape.data)

    @property
    def dtype(self):
        return self.values.dtype

    def with_values(self, new_values) -> "SparseTensor":
        """The same positions holding ``new_values`` (how ``cast`` and element-wise maps apply)."""
        return SparseTensor(self.indices, new_values, self.dense_shape)

    def __repr__(self) -> str:
        return f"SparseTensor(indices={self.indices.shape}, values={self.values.shape}, dense_shape={self.shape})"


def to_dense(sp_input, default_value=None, validate_indices=True, name=None):
    """The dense array of ``sp_input``, ``default_value`` (0) where it holds no value."""
    if not isinstance(sp_input, SparseTensor):
        raise TypeError(f"tf.sparse.to_dense: input must be a SparseTensor, got {type(sp_input).__name__}")
    values = sp_input.values.data if isinstance(sp_input.values, Tensor) else sp_input.values
    if values.dtype.kind in "OUS":  # strings: b"" (or default_value) where there is none, as an array
        out = np.full(sp_input.shape, b"" if default_value is None else default_value, dtype=object)
        out[tuple(sp_input.indices.data.T)] = values
        return out
    out = np.full(sp_input.shape, 0 if default_value is None else default_value, dtype=values.dtype)
    out[tuple(sp_input.indices.data.T)] = values
    return Tensor(out, dtype=out.dtype)


def from_dense(tensor, name=None):
    """The non-zero entries of ``tensor`` as a SparseTensor (in row-major order, as TF lists them)."""
    dense = _data(tensor)
    indices = np.argwhere(dense != 0)
    return SparseTensor(indices, Tensor(dense[tuple(indices.T)], dtype=dense.dtype), dense.shape)


sparse = SimpleNamespace(SparseTensor=SparseTensor, to_dense=to_dense, from_dense=from_dense)


def scan(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False,
         infer_shape=True, reverse=False, name=None):
    """TF's scan: ``acc = fn(acc, x)`` over the leading axis of ``elems``, every ``acc`` stacked.
    Without ``initializer`` the first element starts the accumulation (and is the first output)."""
    xs = ops.convert_to_tensor(elems)
    steps = range(xs.shape[0] - 1, -1, -1) if reverse else range(xs.shape[0])
    outputs = []
    acc = initializer
    for i in steps:
        if acc is None:
            acc = xs[i]
        else:
            acc = fn(acc, xs[i])
        outputs.append(ops.convert_to_tensor(acc))
    if reverse:
        outputs.reverse()
    return ops.stack(outputs, axis=0)


def ctc_loss_v1(labels, inputs=None, sequence_length=None, preprocess_collapse_repeated=False,
                ctc_merge_repeated=True, ignore_longer_outputs_than_inputs=False, time_major=True,
                logits=None, name=None):
    """TF 1's ``nn.ctc_loss``: the negative log-likelihood per sample of sparse ``labels`` under
    ``inputs`` (``(time, batch, classes)`` logits when ``time_major``); the blank is the last class,
    and a row's labels end at its first id ``>= num_classes - 1``. Differentiable in ``inputs``."""
    inputs = logits if inputs is None else inputs
    if not isinstance(labels, SparseTensor):
        raise TypeError("tf.compat.v1.nn.ctc_loss: labels must be a SparseTensor (tf.sparse.from_dense of the ids)")
    if preprocess_collapse_repeated or not ctc_merge_repeated:
        raise NotImplementedError("tf.compat.v1.nn.ctc_loss: only the defaults preprocess_collapse_repeated=False, "
                                  "ctc_merge_repeated=True are supported")
    x = inputs if isinstance(inputs, Tensor) else ops.convert_to_tensor(inputs)
    if time_major:
        x = ops.transpose(x, (1, 0, 2))
    batch = x.shape[0]
    rows = labels.indices.data[:, 0]
    lengths = np.bincount(rows, minlength=batch).astype(np.int64)
    dense = np.zeros((batch, max(int(lengths.max(initial=0)), 1)), np.int64)
    # the k-th value of a row goes to column k, in the order the indices list them
    order = np.argsort(rows, kind="stable")
    columns = np.arange(rows.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    dense[rows[order], columns] = labels.values.data[order]
    blank = x.shape[-1] - 1
    lengths = _lengths_before_null_labels(dense, lengths, blank)
    return ops.ctc_loss(dense, x, lengths, _data(sequence_length).astype(np.int64), mask_index=blank)


def _lengths_before_null_labels(dense, lengths, blank):
    """TF's reading of a label row: an id ``>= blank`` (the last class, or any larger id used as
    padding) ends the row's labels, so a row padded with such ids keeps only the labels before
    them; a real label after one is an error, as in TF."""
    columns = np.arange(dense.shape[1])[None, :]
    null = (dense >= blank) & (columns < lengths[:, None])
    ends = np.where(null.any(axis=1), null.argmax(axis=1), lengths)
    late = (~null) & (columns >= ends[:, None]) & (columns < lengths[:, None])
    if late.any():
        row = int(np.argwhere(late)[0, 0])
        raise ValueError(f"tf.compat.v1.nn.ctc_loss: saw a real label after a null label (index >= num_classes - 1 "
                         f"= {blank}) in batch row {row}: labels {dense[row, :lengths[row]].tolist()}")
    return ends
