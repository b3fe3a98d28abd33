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
  and never writes into ``grad``, nor into the saved arrays while ``self.last_use`` is
  False: a retained graph must give the same gradients on every backward. When
  ``last_use`` is True (the graph is not retained, so the saved arrays are released right
  after this backward) a backward may reuse its own saved buffers as workspace.
- An op that sets ``writes_input_grads`` takes ``backward(grad, into=None)``: ``into`` is None
  or one array or None per input, and a gradient it computes for an input with an array is
  written into that array (``out=``) and returned as it; arrays of another dtype may be ignored.

A forward may return a tuple of arrays; the op then has several outputs and ``backward``
receives a tuple of one gradient per output, ``None`` for an output no gradient reached (an
unused output); at least one is an array. A backward that needs them all takes
``self.filled(grads)`` (zeros for the Nones); ``graph_backward`` gets zeros Tensors there.

Inputs that are not tensors (arrays, lists, Python numbers) follow Keras's dtype rules. A
Python number takes the dtype of the op's tensors. Integer and bool data become floatx,
unless the op sets ``keeps_integers`` (``add``, ``sum``, ``reshape``, ... give integers on
integers, as Keras's do) and no input is a float. ``FloatMath`` ops (``exp``, ``mean``,
``divide``, ...) also turn integer tensors into floatx, as Keras computes them in floats.

An op may also define ``graph_backward(grad)``: the same gradients computed from Tensors with
recorded ops (reading its inputs as ``self.inputs``), so that ``grad(..., create_graph=True)``
gives gradients that can be differentiated again (see ``higher_order``).
"""
from __future__ import annotations

import itertools
import operator

import numpy as np

from .. import backend
from .grad_mode import _Recorder
from .grad_mode import _state as _grad_state
from .tensor import Tensor, as_tensor


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` down to ``shape``: the adjoint of NumPy broadcasting.

    Leading axes that broadcasting added are summed away, and so are axes where the
    input had size 1. Every broadcasting op reduces its gradients through here; a gradient
    that is a Tensor (a graph backward, for higher-order gradients) is summed by recorded ops.
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
    saved: tuple = ()
    released = False
    keeps_integers = False  # True: integer (and bool) inputs give an integer result, as Keras's op
    last_use = False  # set by the engine: True when this backward is the saved arrays' last use
    # True: ``backward(grad, into=...)`` also accepts, per input, an array (or None) that the
    # input's gradient may be computed straight into (then returned as that gradient); the engine
    # passes it when the caller keeps a leaf's gradient in an array of its own (``grad(out=)``)
    writes_input_grads = False
    # set by the engine when a gradient of this Function's output is captured (``grad``, a tape's
    # intermediate source): its consumers then send back that gradient itself
    output_watched = False

    def forward(self, *args, **kwargs):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - interface
        raise NotImplementedError

    def filled(self, grads: tuple) -> tuple:
        """A multi-output op's ``grads`` with zeros of each output's shape and dtype in place of
        the Nones (the outputs no gradient reached)."""
        if all(g is not None for g in grads):
            return grads
        return tuple([np.zeros(s, d) if g is None else g for g, (s, d) in zip(grads, self.output_meta)])

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
        # This runs for every op, so it is kept to the fewest Python steps: the per-input work
        # is done by C-level ``map``s, and the output Tensor is made here rather than by a call.
        if not all(map(isinstance, inputs, _TENSOR)):
            inputs = _as_tensors(inputs, cls.keeps_integers)
        fn = cls()
        needs = tuple(map(_requires_grad, inputs))
        record = False
        if True in needs:
            if getattr(_grad_state, "enabled", True):  # is_grad_enabled(), inlined
                record = True
            else:
                needs = (False,) * len(needs)  # under no_grad: forward keeps nothing for a backward that never runs
        fn.needs_input_grad = needs
        out = fn.forward(*map(_data, inputs), **attrs)
        if type(out) is tuple:
            if record:
                fn.inputs = inputs
                fn.multi_output = True  # backward then takes a tuple, even of one
                fn.n_outputs = len(out)
                fn.output_meta = tuple([(o.shape, o.dtype) for o in out])
            ctx = fn if record else None
            return tuple([Tensor._from_op(o, ctx, i) for i, o in enumerate(out)])
        t = _new(Tensor)  # Tensor._from_op(out, ctx, 0), inlined
        t.data = out
        t.grad = None
        t._index = 0
        t.name = None
        t._keras_mask = None
        t._keras_logits = None
        if record:
            fn.inputs = inputs
            fn.multi_output = False
            fn.n_outputs = 1
            t.requires_grad = True
            t._ctx = fn
        else:
            t.requires_grad = False
            t._ctx = None
        return t


_Recorder.apply_code = Function.apply.__func__.__code__  # where a recorder sees the op being recorded
_TENSOR = itertools.repeat(Tensor)  # isinstance(x, Tensor) for every x, through map
_requires_grad = operator.attrgetter("requires_grad")
_data = operator.attrgetter("data")
_new = object.__new__


def _as_tensors(inputs, keeps_integers: bool) -> tuple:
    """Tensors of ``inputs`` by Keras's rules (see the module docstring)."""
    floats = [t.data.dtype for t in inputs if isinstance(t, Tensor) and t.data.dtype.kind == "f"]
    if floats or not keeps_integers:
        dtype = floats[0] if floats else None  # Python numbers take the first float tensor's dtype
        return tuple([as_tensor(x, dtype=dtype) for x in inputs])
    # an integer op on integer data: arrays keep their dtype, lists take Keras's (int32, bool,
    # floatx), and a Python number takes the dtype of the op's first array (a float makes floats)
    arrays = [x if isinstance(x, Tensor) else _keras_array(x) for x in inputs]
    if any(a.dtype.kind == "f" for a in arrays if not isinstance(a, Tensor)):
        return _as_tensors(tuple(a if isinstance(a, Tensor) else Tensor(a) for a in arrays), False)
    peer = next((a.dtype for a, x in zip(arrays, inputs) if not isinstance(x, (int, bool))), None)
    return tuple([a if isinstance(a, Tensor) else
                  Tensor(a, dtype=peer if peer is not None and isinstance(x, (int, bool)) else a.dtype)
                  for a, x in zip(arrays, inputs)])


def _keras_array(x) -> np.ndarray:
    """``x`` as an array with Keras's dtype for Python data: int32 for ints, floatx for floats."""
    if isinstance(x, np.ndarray):
        return x
    a = backend.as_array(x)
    if a.dtype.kind == "i" and not isinstance(x, np.generic):
        return a.astype(np.int32)
    if a.dtype.kind == "f" and not isinstance(x, np.generic):
        return a.astype(backend.floatx())
    return a


def keeping_tensor(x) -> Tensor:
    """``x`` as a Tensor for an op that ``keeps_integers``: integer and bool data stay so."""
    if isinstance(x, Tensor):
        return x
    a = _keras_array(x)
    return Tensor(a, dtype=a.dtype) if a.dtype.kind in "iub" else Tensor(a)


class FloatMath(Function):
    """An op Keras computes in floats: integer and bool tensors are made floatx first."""

    @classmethod
    def apply(cls, *inputs, **attrs):
        for x in inputs:
            if isinstance(x, Tensor) and x.data.dtype.kind in "iub":
                inputs = tuple([Tensor(t.data) if isinstance(t, Tensor) and t.data.dtype.kind in "iub" else t
                                for t in inputs])
                break
        return super().apply(*inputs, **attrs)
