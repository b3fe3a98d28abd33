"""``Tensor``: an ndarray that remembers the op that made it, so gradients can flow back."""
from __future__ import annotations

import numpy as np

from .. import backend
from .engine import owned, propagate


class Tensor:
    """A NumPy array in the graph.

    ``Tensor(data, requires_grad=False, dtype=None)``: Python numbers, lists, integer and
    bool arrays become ``floatx`` (float32 by default); a floating-point array keeps its
    dtype. ``grad`` is a plain ndarray (or None) once ``backward`` has reached the tensor.
    """

    __array_priority__ = 100  # ndarray <op> Tensor defers to Tensor's reflected operators

    # _keras_mask: the boolean (batch, time) mask an Embedding(mask_zero=True) attaches;
    # _keras_logits: on a softmax or sigmoid output, the logits (and axis) it came from
    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_index", "name", "_keras_mask", "_keras_logits",
                 "__weakref__")

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        data = np.asarray(data, dtype=dtype) if dtype is not None else backend.to_floatx(data)
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(f"Only floating-point tensors can require gradients, got dtype {data.dtype}")
        self.data = data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self._index = 0
        self.name = name
        self._keras_mask = None
        self._keras_logits = None

    @classmethod
    def _from_op(cls, data: np.ndarray, ctx, index: int) -> "Tensor":
        t = cls.__new__(cls)
        t.data = data
        t.grad = None
        t.requires_grad = ctx is not None
        t._ctx = ctx
        t._index = index
        t.name = None
        t._keras_mask = None
        t._keras_logits = None
        return t

    # ----------------------------------------------------------------- array facts
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        return self.data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="Tensor(")
        extra = f", dtype={self.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn={self._ctx.name}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __hash__(self) -> int:
        return id(self)

    # ----------------------------------------------------------------- gradients
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``grad`` is the gradient of some scalar with respect to this tensor; it may be
        left out only when this tensor holds a single element.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: no input of the "
                "ops that made it had requires_grad=True (or it was made under no_grad())."
            )
        if grad is None:
            if self.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient works only on a single-element tensor; "
                    f"this one has shape {self.shape}. Pass grad= of that shape, or reduce it first."
                )
            grad = np.ones(self.shape, dtype=self.dtype)
        elif isinstance(grad, Tensor):
            grad = grad.data
        seed = np.asarray(grad, dtype=self.dtype)
        taken = {id(seed)}
        for leaf, g in propagate([self], [seed], retain_graph).values():
            if leaf.grad is None:
                leaf.grad = owned(g, taken)  # never aliased: optimisers update .grad in place
            else:
                leaf.grad += g


def as_tensor(x, dtype=None) -> Tensor:
    """``x`` as a Tensor; Python numbers take ``dtype`` (the dtype of the op's tensors)."""
    if isinstance(x, Tensor):
        return x
    if dtype is not None and isinstance(x, (int, float, bool)):
        return Tensor(np.asarray(x, dtype=dtype))
    return Tensor(x)
