"""Higher-order gradients: the backward walk with gradients that are themselves in the graph.

``grad(outputs, inputs, create_graph=True)`` walks the same reverse topological order as
``engine.propagate``, but the gradients are Tensors and each Function's ``graph_backward``
computes its input gradients with recorded ops (``g * b`` for a product, a convolution's
transposed convolution, ...). The gradients can then be differentiated again: a gradient
penalty ``mean((|dD/dx| - 1)^2)`` is minimised by such a second backward.

A Function without ``graph_backward`` still gives the right first-order gradient; that
gradient refuses a second differentiation, with an error naming the op.
"""
from __future__ import annotations

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


def propagate_graph(outputs, seeds, capture) -> dict:
    """``propagate`` for higher-order gradients: ``{id(t): (t, gradient Tensor)}`` for every
    tensor of ``capture`` that was reached, each gradient a function of the graph's inputs.

    Only the Functions on a path to ``capture`` run (nothing else is needed), each through its
    ``graph_backward``; the graph is kept for the backward that differentiates the gradients.
    """
    found: dict[int, tuple] = {}
    pending: dict[int, list] = {}
    targets = {id(t): t for t in capture}

    def send(t, g) -> None:
        if id(t) in targets:
            had = found.get(id(t))
            found[id(t)] = (t, g if had is None else had[1] + g)
            if t._ctx is None:
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

    order = _topological_order([out._ctx for out in outputs if out._ctx is not None])
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
