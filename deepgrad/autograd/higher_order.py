"""Higher-order gradients: the backward walk with gradients that are themselves in the graph.

``grad(outputs, inputs, create_graph=True)`` walks the same reverse topological order as
``engine.propagate``, but the gradients are Tensors and each Function's ``graph_backward``
computes its input gradients with recorded ops (``g * b`` for a product, a convolution's
transposed convolution, ...). The gradients can then be differentiated again: a gradient
penalty ``mean((|dD/dx| - 1)^2)`` is minimised by such a second backward.

A Function without ``graph_backward`` still gives the right first-order gradient; that
gradient refuses a second differentiation, with an error naming the op.

Two helpers let an op with a fast NumPy backward also give a differentiable one, without
writing its backward twice:

- ``linear_backward``: when the gradient is a fixed linear map of ``g`` (pooling, indexing,
  running sums: ``dx = A g`` with ``A`` set by the forward), the NumPy backward itself is
  recorded as a ``LinearMap`` node whose own gradient is the adjoint ``A^T`` (the forward
  read again), and whose gradient is ``A`` again: every order closes.
- ``recomputed_backward``: the op's forward is recomputed from recorded ops (the fused
  recurrent kernels' reference cells, attention's matmuls and softmax, ...), and its
  gradient taken through them with ``graph_backward``: the chain rule through that
  composite is the differentiable backward.
"""
from __future__ import annotations

import copy

import numpy as np

from .engine import _topological_order, leading_to
from .function import Function
from .grad_mode import enable_grad
from .tensor import Tensor


class FirstOrderOnly(Function):
    """A gradient computed by an op's NumPy ``backward``: its value is right, but it cannot be
    differentiated again, so a second backward through it raises, naming the op."""

    refuses_backward = True  # by design: the table of ops that must differentiate twice skips it

    def forward(self, g, *inputs, value=None, op_name=""):
        self.op_name = op_name
        return value

    def backward(self, grad):
        raise RuntimeError(f"{self.op_name} has no second derivative here: its gradient was computed for "
                           "a first-order backward only, so a gradient of this gradient (create_graph=True, "
                           "a nested GradientTape) cannot pass through it")


def first_order_backward(fn, g):
    """``fn``'s NumPy backward on ``g``, each gradient tied to ``g`` and ``fn``'s inputs by a
    ``FirstOrderOnly`` node (so a second backward that reaches it says which op stops it)."""
    data = tuple([t.data for t in g]) if isinstance(g, tuple) else g.data
    grads = fn.backward(data)
    if type(grads) is not tuple:
        grads = (grads,)
    sources = (*g, *fn.inputs) if isinstance(g, tuple) else (g, *fn.inputs)
    out = []
    for grad in grads:
        if grad is None:
            out.append(None)
        else:
            out.append(FirstOrderOnly.apply(*sources, value=np.array(grad), op_name=fn.name))
    return tuple(out)


class LinearMap(Function):
    """``y = A g`` for a linear map ``A`` given as a NumPy function, with its adjoint ``A^T``:
    backward is ``A^T u`` and the graph backward is this op again with the two swapped."""

    def forward(self, g, apply=None, adjoint=None, op_name=""):
        self.maps, self.op_name = (apply, adjoint), op_name
        return np.asarray(apply(g))

    def backward(self, u):
        return np.asarray(self.maps[1](u))

    def graph_backward(self, u):
        return LinearMap.apply(u, apply=self.maps[1], adjoint=self.maps[0], op_name=self.op_name)

    @property
    def name(self) -> str:
        return f"LinearMap({self.op_name})" if self.op_name else "LinearMap"


class Alias(Function):
    """The identity: a fresh tensor standing for an op's input while its forward is recomputed,
    so that the recomputation's gradients stop there (see ``recomputed_backward``)."""

    keeps_integers = True

    def forward(self, a):
        return a

    def backward(self, g):
        return g

    def graph_backward(self, g):
        return g


def frozen(fn):
    """A shallow copy of ``fn`` that keeps its saved arrays and attributes after ``fn`` itself is
    released by a later backward (a ``LinearMap`` may run long after), never reusing them as
    workspace."""
    twin = copy.copy(fn)
    twin.last_use = False
    return twin


def linear_backward(fn, g, adjoint, index: int = 0):
    """``graph_backward`` of an op whose gradient for input ``index`` is a fixed linear map of
    ``g``: its own NumPy ``backward``, recorded with the ``adjoint`` (a NumPy function from
    the input's shape to the output's) for the next order."""
    twin = frozen(fn)

    def apply(u):
        grads = twin.backward(u)
        return grads[index] if type(grads) is tuple else grads

    return LinearMap.apply(g, apply=apply, adjoint=adjoint, op_name=fn.name)


def recomputed_backward(fn, grads, composite) -> tuple:
    """``graph_backward`` of ``fn`` from ``composite(*inputs)``: its forward written with
    recorded ops (a Tensor, or a tuple for an op with several outputs).

    Each input that needs a gradient is aliased, the composite is run on the aliases and
    differentiated by ``propagate_graph`` down to them (never further), with ``grads`` as
    the seeds. The gradients are then functions of the inputs and of ``grads`` in the graph.
    """
    aliases = [Alias.apply(t) if need else t for t, need in zip(fn.inputs, fn.needs_input_grad)]
    with enable_grad():
        out = composite(*aliases)
    outs = out if type(out) is tuple else (out,)
    seeds = grads if type(grads) is tuple else (grads,)
    pairs = [(o, s) for o, s in zip(outs, seeds) if o.requires_grad]
    found = propagate_graph([o for o, _ in pairs], [s for _, s in pairs],
                            [a for a, need in zip(aliases, fn.needs_input_grad) if need], stop_at_capture=True)
    return tuple([found[id(a)][1] if need and id(a) in found else None
                  for a, need in zip(aliases, fn.needs_input_grad)])


def _order_within(roots, boundary: set) -> list:
    """``_topological_order`` that does not go past the tensors whose ids are in ``boundary``."""
    order, visited = [], set()
    stack = [(fn, False) for fn in roots]
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            order.append(fn)
            continue
        if id(fn) in visited:
            continue
        visited.add(id(fn))
        stack.append((fn, True))
        for t in fn.inputs:
            parent = t._ctx
            if parent is not None and id(t) not in boundary and id(parent) not in visited:
                stack.append((parent, False))
    order.reverse()  # consumers first
    return order


def propagate_graph(outputs, seeds, capture, stop_at_capture: bool = False) -> dict:
    """``propagate`` for higher-order gradients: ``{id(t): (t, gradient Tensor)}`` for every
    tensor of ``capture`` that was reached, each gradient a function of the graph's inputs.

    Only the Functions on a path to ``capture`` run (nothing else is needed), each through its
    ``graph_backward``; the graph is kept for the backward that differentiates the gradients.
    With ``stop_at_capture`` the walk ends at the captured tensors (the graph above them is
    neither visited nor differentiated).
    """
    found: dict[int, tuple] = {}
    pending: dict[int, list] = {}
    targets = {id(t): t for t in capture}

    def send(t, g) -> None:
        if id(t) in targets:
            had = found.get(id(t))
            found[id(t)] = (t, g if had is None else had[1] + g)
            if t._ctx is None or stop_at_capture:
                return
        fn = t._ctx
        if fn is None or id(fn) not in needed:
            return
        if fn.released:
            raise RuntimeError(f"grad(create_graph=True): the graph through {fn.name} was already released "
                               "by a backward(); compute the higher-order gradient first")
        slot = pending.get(id(fn))
        if slot is None:
            slot = pending[id(fn)] = [None] * fn.n_outputs
        i = t._index
        slot[i] = g if slot[i] is None else slot[i] + g

    roots = [out._ctx for out in outputs if out._ctx is not None]
    order = _order_within(roots, set(targets)) if stop_at_capture else _topological_order(roots)
    needed = leading_to(order, capture)
    with enable_grad():
        for out, g in zip(outputs, seeds):
            if g.shape != out.shape:
                raise RuntimeError(f"grad(): the gradient has shape {g.shape} but the tensor it is "
                                   f"the gradient of has shape {out.shape}")
            send(out, g)
        for fn in order:
            slot = pending.pop(id(fn), None)
            if slot is None:
                continue
            graph_backward = getattr(fn, "graph_backward", None)
            if fn.multi_output:
                slot = tuple([g if g is not None else _zeros_tensor(s, d) for g, (s, d) in zip(slot, fn.output_meta)])
                in_grads = graph_backward(slot) if graph_backward else first_order_backward(fn, slot)
            else:
                in_grads = graph_backward(slot[0]) if graph_backward else first_order_backward(fn, slot[0])
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            for t, need, g in zip(fn.inputs, fn.needs_input_grad, in_grads):
                if need and g is not None:
                    if g.shape != t.shape:
                        raise RuntimeError(f"{fn.name}.graph_backward produced a gradient of shape {g.shape} "
                                           f"for a tensor of shape {t.shape}")
                    send(t, g if g.dtype == t.dtype else g.astype(t.dtype))
    return found


def _zeros_tensor(shape, dtype) -> Tensor:
    return Tensor(np.zeros(shape, dtype), dtype=dtype)
