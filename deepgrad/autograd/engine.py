"""Reverse-mode differentiation: walk the graph of Functions in reverse topological order.

The order is found iteratively (no recursion), so a chain of 100,000 ops is fine.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def _topological_order(roots) -> list:
    """Functions reachable from ``roots``, each after every Function that consumes its outputs."""
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
            if parent is not None and id(parent) not in visited:
                stack.append((parent, False))
    order.reverse()  # consumers first
    return order


def _check_grad(grad, shape, dtype, where: str) -> np.ndarray:
    grad = np.asarray(grad)
    if grad.shape != shape:
        raise RuntimeError(f"{where} produced a gradient of shape {grad.shape} for a tensor of shape {shape}")
    if grad.dtype != dtype:
        grad = grad.astype(dtype)
    return grad


def run_backward(outputs: Sequence, grads: Sequence, retain_graph: bool = False, inputs: Sequence | None = None):
    """Propagate ``grads`` from ``outputs`` back through the graph.

    With ``inputs=None`` gradients accumulate into the ``.grad`` of every leaf that requires
    grad. Otherwise the gradients of ``inputs`` are returned (``None`` where an input is not
    reached) and no ``.grad`` is touched.
    """
    pending: dict[int, list] = {}  # id(fn) -> summed gradient per output
    roots = []
    leaf_grads: dict[int, np.ndarray] = {}
    wanted = {id(t): t for t in inputs} if inputs is not None else None
    captured: dict[int, np.ndarray] = {}

    def accumulate(tensor, g):
        fn = tensor._ctx
        key = id(tensor)
        if wanted is not None and key in wanted and fn is not None:
            captured[key] = g if key not in captured else captured[key] + g
        if fn is None:
            if not tensor.requires_grad:
                return
            if wanted is None:
                if tensor.grad is None:
                    tensor.grad = np.array(g, order="C")  # owned, writable, never aliased
                else:
                    tensor.grad += g
            elif key in wanted:
                leaf_grads[key] = g if key not in leaf_grads else leaf_grads[key] + g
            return
        if fn.released:  # checked as soon as a gradient reaches it, from any graph
            raise RuntimeError(
                f"Trying to backward through {fn.name} a second time: its saved arrays were "
                "released by the first backward(). Pass retain_graph=True to the first call."
            )
        slot = pending.setdefault(id(fn), [None] * fn.n_outputs)
        i = tensor._index
        slot[i] = g if slot[i] is None else slot[i] + g

    for out, g in zip(outputs, grads):
        g = np.asarray(g)
        if g.shape != out.shape:
            raise RuntimeError(f"backward(): the gradient has shape {g.shape} but the tensor it is "
                               f"the gradient of has shape {out.shape}")
        accumulate(out, _check_grad(g, out.shape, out.dtype, "backward()"))
        if out._ctx is not None:
            roots.append(out._ctx)

    for fn in _topological_order(roots):
        slot = pending.pop(id(fn), None)
        if slot is None:
            continue
        if fn.multi_output:  # zeros for the outputs no gradient reached
            in_grads = fn.backward(tuple([np.zeros(s, d) if g is None else g
                                          for g, (s, d) in zip(slot, fn.output_meta)]))
        else:
            in_grads = fn.backward(slot[0])
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        for t, need, g in zip(fn.inputs, fn.needs_input_grad, in_grads):
            if need and g is not None:
                data = t.data
                if type(g) is not np.ndarray or g.shape != data.shape or g.dtype != data.dtype:
                    g = _check_grad(g, data.shape, data.dtype, f"{fn.name}.backward")
                accumulate(t, g)
        if not retain_graph:
            fn.release()

    if inputs is None:
        return None
    # a returned gradient is the caller's own: never a read-only broadcast, a view of another
    # array, a seed passed in, or the same array as another returned gradient; those are copied
    found = [captured.get(id(t), leaf_grads.get(id(t))) for t in inputs]
    foreign = {id(g) for g in grads}
    result = []
    for g in found:
        if g is not None and (id(g) in foreign or g.base is not None or not g.flags.writeable
                              or not g.flags.c_contiguous):
            g = np.array(g, order="C")
        if g is not None:
            foreign.add(id(g))
        result.append(g)
    return result
