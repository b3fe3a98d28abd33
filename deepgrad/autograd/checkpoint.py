"""Gradient checkpointing (rematerialization): a function whose intermediates are not kept.

``checkpoint(f, *args, **kwargs)`` runs ``f`` and gives its results, but the graph ``f``
recorded is dropped at once: only one node stays, a ``Checkpoint`` whose inputs are the tensors
``f`` read that need a gradient (its tensor arguments, and the variables and outer tensors it
used) and whose outputs are ``f``'s. Its backward runs ``f`` again, recording, from the same
inputs and with the same random draws, and sends the gradients back through that second graph,
which is released as soon as it has been used. Memory: the activations inside ``f`` live only
while its forward runs, and again while its own backward runs, instead of from the forward to
the backward of the whole step. Time: ``f``'s forward runs twice.

This is ``torch.utils.checkpoint.checkpoint(f, *args, use_reentrant=False)``, which Keras's
``keras.remat`` calls on the torch backend: the gradients of every input and of every variable
used inside are those of the plain call (the same operations on the same values, so the same
bits, unless a variable used both inside and outside gets its sums in another order).

The tensors ``f`` used are found from the Functions it recorded (``recording_functions``):
an input of one of them that none of them produced is an input of the checkpoint. The random
state: deepgrad's global generator is saved before the forward and set back for the
recomputation (``preserve_rng_state``), and every variable or noted attribute the forward wrote
(a ``SeedGenerator``'s state, a seeded ``Dropout``'s call count, ``BatchNormalization``'s moving
statistics) holds its forward-time value during the recomputation and its later value again
after, so the recomputation draws the same masks and changes no state.

A penalty added inside (``add_loss``, an activity regularizer) is an output of the node too:
the layer keeps the node's stand-in, so the penalty's graph is recomputed with the rest instead
of keeping the function's intermediates alive until the backward.

The arguments are the recomputation's inputs, so one changed in place between the forward and
the backward would give other gradients: as PyTorch's version counters do, the backward checks
that each array argument is the same array with the same contents (a CRC-32 of its bytes, taken
after the forward) and raises a RuntimeError naming it otherwise.
"""
from __future__ import annotations

import zlib

import numpy as np

from .. import backend
from .grad_mode import is_grad_enabled, note_recorded, recording_functions
from .function import Function
from .higher_order import Alias, propagate_graph
from .engine import propagate
from .scopes import current_values, restore, watching_writes
from .tensor import Tensor


def checkpoint(function, *args, preserve_rng_state: bool = True, **kwargs):
    """``function(*args, **kwargs)``, its intermediates recomputed in the backward pass instead
    of kept. Under ``no_grad`` (or when nothing it reads needs a gradient) it is a plain call."""
    if not callable(function):
        raise TypeError(f"checkpoint: the first argument must be a callable, got {type(function).__name__}")
    if not is_grad_enabled():
        return function(*args, **kwargs)
    return Checkpoint.run(function, args, kwargs, preserve_rng_state)


def _flatten(x, out: list) -> list:
    """The leaves of nested lists, tuples and dicts, in order (dicts in their own order)."""
    if isinstance(x, (list, tuple)):
        for item in x:
            _flatten(item, out)
    elif isinstance(x, dict):
        for item in x.values():
            _flatten(item, out)
    else:
        out.append(x)
    return out


def _map(func, x):
    """``x`` with every leaf replaced by ``func(leaf)``, nesting and container types kept."""
    if isinstance(x, (list, tuple)):
        items = [_map(func, item) for item in x]
        if isinstance(x, list):
            return items
        return type(x)(*items) if hasattr(type(x), "_fields") else type(x)(items)
    if isinstance(x, dict):
        return type(x)((k, _map(func, v)) for k, v in x.items())
    return func(x)


def _leaves(args, kwargs) -> list:
    return _flatten((args, kwargs), [])


def _with_leaves(args, kwargs, leaves):
    items = iter(leaves)
    return _map(lambda _: next(items), (args, kwargs))


def _produced(out, inner: set) -> list:
    """The tensors of ``out`` (and the logits a softmax or sigmoid output carries, so a fused
    cross-entropy still finds them) that a Function of ``inner`` made: the checkpoint's outputs."""
    found, seen = [], set()
    for x in _flatten(out, []):
        if not isinstance(x, Tensor):
            continue
        logits = x._keras_logits
        for t in (x, getattr(logits, "tensor", None)):
            if isinstance(t, Tensor) and t._ctx is not None and id(t._ctx) in inner and id(t) not in seen:
                seen.add(id(t))
                found.append(t)
    return found


def _penalties(writes: list, inner: set) -> list:
    """The losses the function added (``add_loss`` appends to a layer's ``_activity_losses``, a
    write noted in ``writes``) that Functions of ``inner`` made, in the order they were added."""
    found = []
    for target, key, before in writes:
        if key != "_activity_losses" or not isinstance(before, list):
            continue
        for loss in getattr(target, key, [])[len(before):]:
            if isinstance(loss, Tensor) and loss._ctx is not None and id(loss._ctx) in inner:
                found.append(loss)
    return found


def _fingerprint(array) -> int:
    """CRC-32 of an array's bytes (C order)."""
    return zlib.crc32(np.ascontiguousarray(array).view(np.uint8).reshape(-1))


def _argument_fingerprints(leaves: list) -> list:
    """``(position, tensor or array, the array, its CRC-32)`` for each array argument."""
    out = []
    for i, x in enumerate(leaves):
        array = x.data if isinstance(x, Tensor) else x if isinstance(x, np.ndarray) else None
        if isinstance(array, np.ndarray) and array.dtype.kind in "biuf":
            out.append((i, x, array, _fingerprint(array)))
    return out


class Checkpoint(Function):
    """The one node a checkpointed call leaves in the graph (see the module docstring)."""

    @classmethod
    def run(cls, function, args, kwargs, preserve_rng_state: bool):
        leaves = _leaves(args, kwargs)
        # each argument that needs a gradient is read through an alias, so the tensors the
        # arguments stand for are told apart from the ones ``function`` reads by itself
        arg_slots = [i for i, x in enumerate(leaves) if isinstance(x, Tensor) and x.requires_grad]
        aliased = list(leaves)
        for i in arg_slots:
            aliased[i] = _alias(leaves[i])
        rng_state = backend.get_rng_state() if preserve_rng_state else None
        with watching_writes() as writes, recording_functions() as functions:
            call_args, call_kwargs = _with_leaves(args, kwargs, aliased)
            out = function(*call_args, **call_kwargs)
        inner = set(map(id, functions))
        produced = _produced(out, inner)
        penalties = [t for t in _penalties(writes, inner) if all(t is not p for p in produced)]
        produced += penalties
        if not produced:  # no output needs a gradient: nothing to recompute
            return _unaliased(out, {id(aliased[i]): leaves[i] for i in arg_slots})
        position = {id(aliased[i]): n for n, i in enumerate(arg_slots)}
        inputs = [leaves[i] for i in arg_slots]
        closure: dict = {}  # id(tensor read by ``function`` itself) -> its index in the inputs
        for fn in functions:
            for t, need in zip(fn.inputs, fn.needs_input_grad):
                if need and (t._ctx is None or id(t._ctx) not in inner) and id(t) not in position \
                        and id(t) not in closure:
                    closure[id(t)] = len(inputs)
                    inputs.append(t)
        node = cls()
        node.inputs = tuple(inputs)
        node.needs_input_grad = (True,) * len(inputs)
        node.multi_output = True
        node.n_outputs = len(produced)
        node.output_meta = tuple([(t.shape, t.dtype) for t in produced])
        node.function, node.args, node.kwargs = function, args, kwargs
        node.arg_slots, node.closure = arg_slots, closure
        node.rng_state, node.writes = rng_state, writes
        node.n_penalties = len(penalties)
        node.fingerprints = _argument_fingerprints(leaves)
        note_recorded(node)  # an enclosing checkpoint lists this node among its own
        # the checkpoint's outputs: same arrays, this node as their producer
        replaced = {id(aliased[i]): leaves[i] for i in arg_slots}
        for n, t in enumerate(produced):
            new = Tensor._from_op(t.data, node, n)
            new._keras_mask = t._keras_mask
            new.name = t.name
            replaced[id(t)] = new
        for t in produced:
            logits = t._keras_logits
            if logits is not None and id(getattr(logits, "tensor", None)) in replaced:
                replaced[id(t)]._keras_logits = logits._replace(tensor=replaced[id(logits.tensor)])
        if penalties:  # the layers keep the node's stand-ins, so the penalties' graphs are let go
            for target, key, _ in writes:
                if key == "_activity_losses":
                    held = getattr(target, key)
                    held[:] = [replaced.get(id(t), t) if isinstance(t, Tensor) else t for t in held]
        return _unaliased(out, replaced)

    @property
    def name(self) -> str:
        return f"Checkpoint({getattr(self.function, '__qualname__', type(self.function).__name__)})" \
            if "function" in self.__dict__ else "Checkpoint"

    def forward(self, *arrays):  # pragma: no cover - ``run`` makes the node, never ``apply``
        raise RuntimeError("Checkpoint is made by checkpoint(function, *args), not applied")

    # ----------------------------------------------------------------- the recomputation
    def _rerun(self, arg_tensors) -> tuple:
        """``function`` again, recording, on ``arg_tensors`` (one per argument that needs a
        gradient), with the forward's random state and written values: ``(its outputs that the
        forward's node stands for, the Functions it recorded)``. The state is as it was, after."""
        self._check_arguments_unchanged()
        leaves = _leaves(self.args, self.kwargs)
        for i, t in zip(self.arg_slots, arg_tensors):
            leaves[i] = t
        args, kwargs = _with_leaves(self.args, self.kwargs, leaves)
        rng_now = backend.get_rng_state() if self.rng_state is not None else None
        values_now = current_values(self.writes)
        restore(self.writes)
        try:
            if self.rng_state is not None:
                backend.set_rng_state(self.rng_state)
            with watching_writes() as rewritten:
                try:
                    with recording_functions() as functions:
                        out = self.function(*args, **kwargs)
                    inner = set(map(id, functions))
                    penalties = _penalties(rewritten, inner) if self.n_penalties else []
                finally:
                    restore(rewritten)
        finally:
            restore(values_now)
            if rng_now is not None:
                backend.set_rng_state(rng_now)
        produced = _produced(out, inner)
        produced += [t for t in penalties if all(t is not p for p in produced)]
        if len(produced) != self.n_outputs or any(t.shape != s for t, (s, _) in zip(produced, self.output_meta)):
            raise RuntimeError(f"{self.name}: the recomputation in the backward pass gave {len(produced)} "
                               f"output(s) of shapes {[t.shape for t in produced]}, the forward gave "
                               f"{[s for s, _ in self.output_meta]}: the function must compute the same "
                               "thing when it is run again")
        return produced, functions, inner

    def _check_arguments_unchanged(self) -> None:
        """The error PyTorch's version counters give, for an argument changed in place (or given
        a new array) between the forward and this backward."""
        for position, x, array, crc in self.fingerprints:
            now = x.data if isinstance(x, Tensor) else x
            if now is not array or now.shape != array.shape or _fingerprint(now) != crc:
                what = f"{type(x).__name__} {getattr(x, 'path', None) or getattr(x, 'name', None) or ''}".rstrip()
                raise RuntimeError(
                    f"{self.name}: argument {position} ({what} of shape {tuple(array.shape)}, {array.dtype}) "
                    "was modified in place after the forward pass, and the backward pass recomputes the function "
                    "from it: its gradients would not be those of the forward's values. Change a copy instead "
                    "(x = x + 1 rather than x.data += 1 or x.assign(...)), or run the backward first.")

    def backward(self, grads):
        n_args = len(self.arg_slots)
        stand_ins = []  # one leaf per input of the node, sharing its array
        for t in self.inputs:
            leaf = Tensor._from_op(t.data, None, 0)
            leaf.requires_grad = True
            leaf._keras_mask = t._keras_mask
            stand_ins.append(leaf)
        produced, functions, inner = self._rerun(stand_ins[:n_args])
        # cut the recomputed graph at its inputs: each tensor it read from outside (a variable, an
        # outer tensor) is replaced, in the Functions that read it, by its leaf, so the backward
        # below stops there with that tensor's gradient (the outer graph is neither walked nor
        # touched: the backward that is running sends the gradient on from this node)
        args = set(map(id, stand_ins[:n_args]))
        for fn in functions:
            ins = fn.inputs
            new = [self._stand_in(t, stand_ins) if need and id(t) not in args and
                   (t._ctx is None or id(t._ctx) not in inner) else t
                   for t, need in zip(ins, fn.needs_input_grad)]
            if any(a is not b for a, b in zip(new, ins)):
                fn.inputs = tuple(new)
        pairs = [(o, g) for o, g in zip(produced, grads) if g is not None and o.requires_grad]
        if not pairs:
            return (None,) * len(self.inputs)
        found = propagate([o for o, _ in pairs], [g for _, g in pairs], capture=stand_ins, only_capture=True)
        return tuple([None if found.get(id(t)) is None else found[id(t)][1] for t in stand_ins])

    def _stand_in(self, t, stand_ins: list):
        """The leaf that stands for the outer tensor ``t`` in the recomputed graph."""
        index = self.closure.get(id(t))
        if index is None:
            raise RuntimeError(f"{self.name}: the recomputation in the backward pass read a tensor that needs a "
                               f"gradient (shape {t.shape}) which the forward did not read: the function must "
                               "compute the same thing when it is run again")
        return stand_ins[index]

    def graph_backward(self, grads):
        """The same gradients as Tensors in the graph (``grad(create_graph=True)``): the function is
        rerun, recording, on the checkpoint's own inputs, and differentiated down to them."""
        produced, _, _ = self._rerun(list(self.inputs[:len(self.arg_slots)]))
        pairs = [(o, g) for o, g in zip(produced, grads) if o.requires_grad]
        found = propagate_graph([o for o, _ in pairs], [g for _, g in pairs], list(self.inputs),
                                stop_at_capture=True) if pairs else {}
        out_grads, given = [], set()
        for t in self.inputs:  # a tensor that is both an argument and read inside gets its gradient once
            hit = found.get(id(t))
            out_grads.append(None if hit is None or id(t) in given else hit[1])
            given.add(id(t))
        return tuple(out_grads)


def _alias(t: Tensor) -> Tensor:
    out = Alias.apply(t)
    out._keras_mask = t._keras_mask
    return out


def _unaliased(out, replaced: dict):
    """``out`` with each tensor of ``replaced`` swapped for its replacement."""
    return _map(lambda x: replaced.get(id(x), x) if isinstance(x, Tensor) else x, out)


backend._checkpoint = checkpoint  # what ``backend.remat`` (``keras.remat``) runs
