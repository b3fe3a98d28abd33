"""The ``Function`` base: one node of the graph, its forward and its backward side by side.

A subclass implements ``forward(*arrays, **attrs)`` on NumPy arrays and
``backward(grad)`` returning one gradient per input (``None`` where an input needs none).
Arrays needed by backward are kept with ``save_for_backward`` and released as soon as
backward has run (unless the graph is retained).

A forward may return a tuple of arrays; the op then has several outputs and ``backward``
receives one gradient per output (zeros where an output was not used).
"""
from __future__ import annotations

import numpy as np

from .grad_mode import is_grad_enabled
from .tensor import Tensor, as_tensor


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` down to ``shape``: the adjoint of NumPy broadcasting.

    Leading axes that broadcasting added are summed away, and so are axes where the
    input had size 1. Every broadcasting op reduces its gradients through here.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


class Function:
    """A differentiable operation. Use ``MyOp.apply(*inputs, **attrs)``."""

    # Set on the instance by ``apply``.
    inputs: tuple = ()
    needs_input_grad: tuple = ()
    released = False

    def forward(self, *args, **kwargs):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - interface
        raise NotImplementedError

    def save_for_backward(self, *arrays) -> None:
        self.saved = arrays

    def release(self) -> None:
        """Drop everything only backward needed, so memory is returned early."""
        self.__dict__.clear()
        self.released = True

    @property
    def name(self) -> str:
        return type(self).__name__

    @classmethod
    def apply(cls, *inputs, **attrs):
        # this runs for every op: kept to the fewest Python steps
        for x in inputs:
            if not isinstance(x, Tensor):
                inputs = _as_tensors(inputs)
                break
        fn = cls()
        needs = fn.needs_input_grad = tuple([t.requires_grad for t in inputs])
        out = fn.forward(*[t.data for t in inputs], **attrs)
        ctx = fn if True in needs and is_grad_enabled() else None
        if ctx is not None:
            fn.inputs = inputs
        fn.multi_output = multi = type(out) is tuple  # backward then takes a tuple, even of one
        fn.n_outputs = len(out) if multi else 1
        if ctx is not None:
            fn.output_meta = tuple([(o.shape, o.dtype) for o in out]) if multi else ((out.shape, out.dtype),)
        if multi:
            return tuple([Tensor._from_op(o, ctx, i) for i, o in enumerate(out)])
        return Tensor._from_op(out, ctx, 0)


def _as_tensors(inputs) -> tuple:
    """Python numbers take the dtype of the op's first floating-point tensor."""
    dtype = next((t.data.dtype for t in inputs if isinstance(t, Tensor) and t.data.dtype.kind == "f"), None)
    return tuple([as_tensor(x, dtype=dtype) for x in inputs])
