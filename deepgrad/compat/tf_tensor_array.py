"""``tf.TensorArray`` as TensorFlow runs it eagerly, and the ``tf.errors`` it raises.

A list of tensors of one dtype, written and read by index: ``write(i, value)``, ``read(i)``,
``stack()`` (one tensor, a new first axis), ``unstack(value)``, ``gather``/``scatter``,
``concat``, ``size()``. ``write``/``unstack``/``scatter`` change the array and return it, as
TF's eager array does, so both ``ta = ta.write(i, x)`` and ``ta.write(i, x)`` work. Values
written as deepgrad Tensors keep their graph, so ``stack()`` of values computed under a
``GradientTape`` has gradients.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .. import backend, ops
from ..autograd import Tensor


class OpError(Exception):
    """TF's base class of the errors its ops raise."""

    def __init__(self, node_def=None, op=None, message="", *args):
        super().__init__(message)
        self.node_def, self.op, self.message = node_def, op, message


class InvalidArgumentError(OpError):
    pass


class OutOfRangeError(OpError):
    pass


class NotFoundError(OpError):
    pass


class UnimplementedError(OpError):
    pass


errors = SimpleNamespace(OpError=OpError, InvalidArgumentError=InvalidArgumentError, OutOfRangeError=OutOfRangeError,
                         NotFoundError=NotFoundError, UnimplementedError=UnimplementedError)


def _index(value) -> int:
    return int(np.asarray(value.data if isinstance(value, Tensor) else value))


def _rows(value) -> list:
    """The slices along the first axis: Tensors (differentiable) or, for other values, arrays."""
    if isinstance(value, Tensor):
        return ops.unstack(value, axis=0)
    return list(np.asarray(value))


class TensorArray:
    """TF's signature; ``size`` the initial length, ``dynamic_size`` lets writes past the end grow it,
    ``element_shape`` checked on every write (and learnt from the first one when ``infer_shape``)."""

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None, tensor_array_name=None,
                 handle=None, flow=None, infer_shape=True, element_shape=None, colocate_with_first_write_call=True,
                 name=None):
        self._dtype = np.dtype(backend.standardize_dtype(dtype))
        self._dynamic_size = bool(dynamic_size)
        self._infer_shape = infer_shape
        self._element_shape = None if element_shape is None else tuple(
            None if d is None else int(d) for d in element_shape)
        self._values = [None] * (0 if size is None else _index(size))

    @property
    def dtype(self):
        return self._dtype

    @property
    def dynamic_size(self) -> bool:
        return self._dynamic_size

    @property
    def element_shape(self):
        return self._element_shape

    def size(self, name=None) -> Tensor:
        return Tensor(np.array(len(self._values), np.int32), dtype=np.int32)

    # ------------------------------------------------------------- writing
    def _value(self, value) -> Tensor:
        if not isinstance(value, Tensor):  # Python values and arrays take the array's dtype, as in TF
            raw = np.asarray(value)
            if raw.dtype.kind == "f" and self._dtype.kind in "iub":
                raise InvalidArgumentError(None, None, f"TensorArray dtype is {self._dtype.name} but Op is trying "
                                                       f"to write dtype {raw.dtype.name}")
            value = Tensor(raw.astype(self._dtype), dtype=self._dtype)
        if np.dtype(value.dtype) != self._dtype:
            if np.issubdtype(np.asarray(value.data).dtype, np.floating) != np.issubdtype(self._dtype, np.floating):
                raise InvalidArgumentError(None, None, f"TensorArray dtype is {self._dtype.name} but Op is trying to "
                                                       f"write dtype {np.dtype(value.dtype).name}")
            value = ops.cast(value, self._dtype)
        shape = tuple(value.shape)
        known = self._element_shape
        if known is not None and (len(known) != len(shape)
                                  or any(k is not None and k != s for k, s in zip(known, shape))):
            raise ValueError(f"Incompatible shape for value ({shape}), expected ({known})")
        if self._infer_shape and (known is None or None in known):
            self._element_shape = shape
        return value

    def write(self, index, value, name=None) -> "TensorArray":
        i = _index(index)
        if i < 0:
            raise OutOfRangeError(None, None, f"Writing to negative indices (index {i}) is not allowed.")
        if i >= len(self._values):
            if not self._dynamic_size:
                raise OutOfRangeError(None, None, f"Tried to write to index {i} but array is not resizeable and "
                                                  f"size is: {len(self._values)}")
            self._values.extend([None] * (i + 1 - len(self._values)))
        self._values[i] = self._value(value)
        return self

    def unstack(self, value, name=None) -> "TensorArray":
        rows = _rows(value)
        return self.scatter(range(len(rows)), rows)

    def scatter(self, indices, value, name=None) -> "TensorArray":
        indices = np.asarray(indices.data if isinstance(indices, Tensor) else indices).reshape(-1)
        rows = _rows(value)
        if len(rows) != len(indices):
            raise ValueError(f"TensorArray.scatter: {len(indices)} indices for {len(rows)} rows")
        for i, row in zip(indices, rows):
            self.write(int(i), row)
        return self

    def split(self, value, lengths, name=None) -> "TensorArray":
        lengths = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths).reshape(-1)
        value = value if isinstance(value, Tensor) else np.asarray(value)
        starts = np.concatenate([[0], np.cumsum(lengths)])
        for i, (a, b) in enumerate(zip(starts[:-1], starts[1:])):
            self.write(i, value[int(a):int(b)])
        return self

    # ------------------------------------------------------------- reading
    def read(self, index, name=None) -> Tensor:
        i = _index(index)
        if not 0 <= i < len(self._values):
            raise InvalidArgumentError(None, None, f"Tried to read from index {i} but array size is: "
                                                   f"{len(self._values)}")
        value = self._values[i]
        if value is None:
            return self._zeros(i)
        return value

    def _zeros(self, i) -> Tensor:
        # TF's eager array gives zeros for an element never written when the element shape is known
        shape = self._element_shape
        if shape is None or None in shape:
            raise InvalidArgumentError(None, None, f"Could not read from TensorArray index {i}.  Furthermore, the "
                                                   "element shape is not fully defined")
        return Tensor(np.zeros(shape, self._dtype), dtype=self._dtype)

    def stack(self, name=None) -> Tensor:
        if not self._values:
            shape = self._element_shape if self._element_shape and None not in self._element_shape else ()
            return Tensor(np.zeros((0,) + tuple(shape), self._dtype), dtype=self._dtype)
        return ops.stack([self.read(i) for i in range(len(self._values))], axis=0)

    def gather(self, indices, name=None) -> Tensor:
        indices = np.asarray(indices.data if isinstance(indices, Tensor) else indices).reshape(-1)
        return ops.stack([self.read(int(i)) for i in indices], axis=0)

    def concat(self, name=None) -> Tensor:
        return ops.concatenate([self.read(i) for i in range(len(self._values))], axis=0)

    def identity(self) -> "TensorArray":
        return self

    def close(self, name=None) -> None:
        self._values = []

    def __repr__(self) -> str:
        return f"<TensorArray size={len(self._values)} dtype={self._dtype.name}>"
