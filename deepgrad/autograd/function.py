"""The ``Function`` base: one node of the graph, its forward and its backward side by side.

The contract a subclass keeps:

- ``forward(*arrays, **attrs)`` computes on NumPy arrays. Before it runs, ``apply`` has
  decided whether the op is recorded (grad mode on and some input requires grad) and set
  ``needs_input_grad``: one bool per input, all False when nothing is recorded, so a
  forward may skip work that only backward would use.
- Every array backward needs is kept with ``save_for_backward`` (which keeps nothing when
  the op is not recorded) and read back as ``self.saved``; only non-array facts (shapes,
  axes, dtypes, flags) are plain attributes. Everything is released once backward has run,
  unless the graph is retained.
- ``backward(grad)`` returns one gradient per input (``None`` where an input needs none)
  and never writes into the saved arrays or into ``grad``: a retained graph must give
  the same gradients on every backward.

A forward may return a tuple of arrays; the op then has several outputs and ``backward``
receives one gradient per output (zeros where an output was not used).

An op may also define ``graph_backward(grad)``: the same gradients computed from Tensors with
recorded ops (reading its inputs as ``self.inputs``), so that ``grad(..., create_graph=True)``
gives gradients that can be differentiated again (see ``higher_order``).
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


def unbroadcast_graph(grad, shape: tuple):
    """``unbroadcast`` for a gradient that is a Tensor: the sums are recorded ops."""
    if grad.shape == tuple(shape):
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
    saved: tuple = ()
    released = False

    def forward(self, *args, **kwargs):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - interface
        raise NotImplementedError

    def save_for_backward(self, *arrays) -> None:
        """Keep ``arrays`` for backward (as ``self.saved``); nothing when the op is not recorded."""
        if True in self.needs_input_grad:
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
        needs = tuple([t.requires_grad for t in inputs])
        record = True in needs and is_grad_enabled()
        if not record and True in needs:
            needs = (False,) * len(needs)  # under no_grad: forward keeps nothing for a backward that never runs
        fn.needs_input_grad = needs
        out = fn.forward(*[t.data for t in inputs], **attrs)
        multi = type(out) is tuple
        ctx = fn if record else None
        if record:
            fn.inputs = inputs
            fn.multi_output = multi  # backward then takes a tuple, even of one
            fn.n_outputs = len(out) if multi else 1
            if multi:
                fn.output_meta = tuple([(o.shape, o.dtype) for o in out])
        if multi:
            return tuple([Tensor._from_op(o, ctx, i) for i, o in enumerate(out)])
        return Tensor._from_op(out, ctx, 0)


def _as_tensors(inputs) -> tuple:
    """Python numbers take the dtype of the op's first floating-point tensor."""
    dtype = next((t.data.dtype for t in inputs if isinstance(t, Tensor) and t.data.dtype.kind == "f"), None)
    return tuple([as_tensor(x, dtype=dtype) for x in inputs])
