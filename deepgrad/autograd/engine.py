"""Reverse-mode differentiation: one routine sends gradients back through the graph.

``propagate`` walks the Functions reachable from the outputs in reverse topological
order (found iteratively, no recursion, so a chain of 100,000 ops is fine), sums the
gradient of every tensor over all its consumers before its producer's ``backward`` runs,
and hands back the total gradient of each leaf it reached. ``Tensor.backward`` adds those
into ``.grad``; ``grad()`` returns them, or sums them in arrays the caller gives (``out=``).
"""
from __future__ import annotations

import numpy as np


def _topological_order(roots) -> list:
    """Functions reachable from ``roots``, each after every Function that consumes its outputs."""
    order, visited = [], set()
    stack = [(fn, False) for fn in roots]
    pop, push, visit, emit = stack.pop, stack.append, visited.add, order.append
    while stack:
        fn, expanded = pop()
        if expanded:
            emit(fn)
            continue
        key = id(fn)
        if key in visited:
            continue
        visit(key)
        push((fn, True))
        for t in fn.inputs:
            parent = t._ctx
            if parent is not None and id(parent) not in visited:
                push((parent, False))
    order.reverse()  # consumers first
    return order


def leading_to(order: list, targets) -> set:
    """ids of the Functions in ``order`` (consumers first) from which some tensor of ``targets`` is reached."""
    return pruned(order, targets)[0]


def pruned(order: list, targets) -> tuple:
    """``(needed, masks)``: the ids of the Functions in ``order`` (consumers first) from which a
    tensor of ``targets`` is reached through inputs that need a gradient, and, for each of them
    some of whose gradient-needing inputs lead nowhere, ``{id(fn): needs_input_grad}`` with
    only the inputs that lead there (a training step's graph has few such Functions: the
    usual walk then costs one pass and no per-step tuples)."""
    wanted = {id(t) for t in targets}
    needed: set = set()
    masks: dict = {}
    for fn in reversed(order):  # producers first
        needs = fn.needs_input_grad
        flags = [need and (id(t) in wanted or (t._ctx is not None and id(t._ctx) in needed))
                 for t, need in zip(fn.inputs, needs)]
        if True in flags:
            needed.add(id(fn))
            if flags != list(needs):
                masks[id(fn)] = tuple(flags)
    return needed, masks


def _checked(grad, like, where: str) -> np.ndarray:
    """``grad`` as an ndarray of ``like``'s shape and dtype, or an error naming ``where``."""
    grad = np.asarray(grad)
    if grad.shape != like.shape:
        raise RuntimeError(f"{where} produced a gradient of shape {grad.shape} for a tensor of shape {like.shape}")
    return grad if grad.dtype == like.dtype else grad.astype(like.dtype)


def propagate(outputs, seeds, retain_graph: bool = False, capture=(), on_final=None,
              only_capture: bool = False, into=None) -> dict:
    """Send ``seeds`` (one array per output, of its shape) back through the graph.

    Returns ``{id(t): (t, total gradient)}`` for every leaf that requires grad and was
    reached, and for every tensor of ``capture`` that was reached (leaf or not). A returned
    array may be shared (with a seed, another entry, a broadcast view): callers that hand it
    out copy it first. Each Function releases its saved arrays once its backward has run,
    unless ``retain_graph``.

    ``on_final(t, g)``, when given, is called for each leaf ``t`` of ``capture`` as soon as
    its gradient ``g`` is complete: once every Function that consumes ``t`` has run (or was
    skipped), while backward goes on through the rest of the graph. A data-parallel run starts
    the all-reduce of early gradients there. ``g`` may be shared: the callee must not write it.

    With ``only_capture`` (``grad()``: only the gradients of ``capture`` are wanted) the walk runs
    only the Functions on a path to a tensor of ``capture``, and each of them computes only the
    input gradients that lead there, as ``torch.autograd.grad`` does: a GAN's discriminator step
    does not run the generator's backward. The Functions left out keep their saved arrays (another
    backward may still need them); the gradients that are computed are the same, bit for bit.

    ``into`` (``{id(leaf): array}``, arrays of the leaves' shapes and dtypes) accumulates those
    leaves' gradients in the caller's arrays, as PyTorch's DDP keeps gradients as views of its
    flat buckets: the first contribution is computed straight into the array by a Function that
    declares ``writes_input_grads`` (its backward is then given ``into=``, one array or None per
    input), else copied there; later ones are added in place. The entry returned, and the one
    given to ``on_final``, is then the caller's array itself. The sums are the ones made without
    ``into``, in the same order, so the gradients are the same bit for bit.
    """
    found: dict[int, tuple] = {}
    pending: dict[int, list] = {}  # id(fn) -> summed gradient of each of its outputs so far
    watched = {(id(t._ctx), t._index): t for t in capture if t._ctx is not None}
    for t in watched.values():  # the output's own gradient is wanted: no consumer may fold a step
        t._ctx.output_watched = True  # of its producer's backward into it (pool.MaxPool2D._relu_producer)

    def send(t, g) -> None:
        fn = t._ctx
        if fn is None:
            if t.requires_grad:
                if into and id(t) in into:
                    _accumulate(found, t, g, into[id(t)])
                    return
                had = found.get(id(t))
                found[id(t)] = (t, g if had is None else had[1] + g)
            return
        if fn.released:  # checked as soon as a gradient reaches it, from any graph
            raise RuntimeError(
                f"Trying to backward through {fn.name} a second time: its saved arrays were "
                "released by the first backward(). Pass retain_graph=True to the first call."
            )
        slot = pending.get(id(fn))
        if slot is None:
            slot = pending[id(fn)] = [None] * fn.n_outputs
        i = t._index
        slot[i] = g if slot[i] is None else slot[i] + g

    for out, g in zip(outputs, seeds):
        g = np.asarray(g)
        if g.shape != out.shape:
            raise RuntimeError(f"backward(): the gradient has shape {g.shape} but the tensor it is "
                               f"the gradient of has shape {out.shape}")
        send(out, g if g.dtype == out.dtype else g.astype(out.dtype))

    order = _topological_order([out._ctx for out in outputs if out._ctx is not None])
    # on_final: how many consumers of each watched leaf are still to run
    uses = _leaf_uses(order, capture) if on_final is not None else None
    if only_capture:
        needed, masks = pruned(order, capture)
    for fn in order:
        slot = pending.pop(id(fn), None)
        if slot is None:  # no gradient reached it (the outputs do not depend on it through a float path)
            if uses:
                _count_down(fn, uses, found, on_final)
            continue
        if watched:
            for i, g in enumerate(slot):
                t = watched.get((id(fn), i))
                if t is not None and g is not None:
                    found[id(t)] = (t, g)
        needs = fn.needs_input_grad
        if only_capture:
            if id(fn) not in needed:
                continue
            # an input gradient is wanted only for a captured tensor or one whose producer leads to one
            fn.needs_input_grad = masks.get(id(fn), needs)
        fn.last_use = not retain_graph
        if fn.multi_output:  # None for the outputs no gradient reached
            in_grads = fn.backward(tuple(slot))
        elif into and fn.writes_input_grads:
            in_grads = fn.backward(slot[0], into=_destinations(fn, into, found))
        else:
            in_grads = fn.backward(slot[0])
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        for t, need, g in zip(fn.inputs, fn.needs_input_grad, in_grads):
            if need and g is not None:
                data = t.data
                if type(g) is not np.ndarray or g.shape != data.shape or g.dtype != data.dtype:
                    g = _checked(g, data, f"{fn.name}.backward")
                # send(t, g), inlined: this runs once per edge of the graph
                parent = t._ctx
                if parent is None:
                    if t.requires_grad:
                        if into and id(t) in into:
                            _accumulate(found, t, g, into[id(t)])
                            continue
                        had = found.get(id(t))
                        found[id(t)] = (t, g if had is None else had[1] + g)
                    continue
                if parent.released:
                    send(t, g)  # raises, naming the op
                waiting = pending.get(id(parent))
                if waiting is None:
                    waiting = pending[id(parent)] = [None] * parent.n_outputs
                i = t._index
                waiting[i] = g if waiting[i] is None else waiting[i] + g
        if uses:  # before release, which drops fn.inputs
            _count_down(fn, uses, found, on_final)
        if not retain_graph:
            fn.release()
        else:
            fn.needs_input_grad = needs  # a retained graph's next backward may want every gradient
    if on_final is not None:  # leaves no Function consumes (an output that is itself a leaf)
        for t in capture:
            if id(t) in found and uses.get(id(t), -1) >= 0:
                uses[id(t)] = -1
                on_final(t, found[id(t)][1])
    return found


def _accumulate(found: dict, t, g: np.ndarray, out: np.ndarray) -> None:
    """Leaf ``t``'s gradient summed in ``out``: the first contribution written there (unless the
    Function computed it there already), the later ones added in place."""
    if id(t) in found:
        np.add(out, g, out=out)
    else:
        if g is not out:
            np.copyto(out, g)
        found[id(t)] = (t, out)


def _destinations(fn, into: dict, found: dict):
    """For a Function that ``writes_input_grads``: per input, the array its gradient may be
    computed into (a leaf of ``into`` that no gradient has reached yet), or None; None for all
    when an input appears twice (both gradients would be written into one array)."""
    inputs = fn.inputs
    if len(inputs) > 1 and len(set(map(id, inputs))) < len(inputs):
        return None
    return tuple([None if t._ctx is not None or id(t) in found else into.get(id(t)) for t in inputs])


def _leaf_uses(order, capture) -> dict:
    """{id(leaf): number of (Function, input) edges of ``order`` that may send it a gradient}."""
    uses = {id(t): 0 for t in capture if t._ctx is None and t.requires_grad}
    for fn in order:
        for t, need in zip(fn.inputs, fn.needs_input_grad):
            if need and id(t) in uses:
                uses[id(t)] += 1
    return uses


def _count_down(fn, uses: dict, found: dict, on_final) -> None:
    """``fn`` has run: a watched leaf none of whose consumers is left has its final gradient
    (its count then becomes -1: announced)."""
    for t, need in zip(fn.inputs, fn.needs_input_grad):
        if need and uses.get(id(t), 0) > 0:
            uses[id(t)] -= 1
            if uses[id(t)] == 0:
                uses[id(t)] = -1
                if id(t) in found:
                    on_final(t, found[id(t)][1])


def owned(g: np.ndarray, taken: set) -> np.ndarray:
    """``g`` if the caller may keep and write it, else a C-ordered copy.

    Copied: a read-only or non-contiguous array, a view of another array, or an array whose
    id is in ``taken`` (the seeds and what was already handed out); the result's id is added.
    """
    if id(g) in taken or g.base is not None or not g.flags.writeable or not g.flags.c_contiguous:
        g = np.array(g, order="C")
    taken.add(id(g))
    return g
