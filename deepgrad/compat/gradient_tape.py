"""``GradientTape``: TensorFlow's custom-training-loop idiom on the define-by-run engine.

deepgrad records every op on Tensors that require grad, so the tape does not record
anything itself: it marks watched inputs as requiring grad and asks ``deepgrad.grad`` for
the gradients of the target with respect to the sources.

    with dg.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))

Tapes nest as in TensorFlow: a ``gradient`` taken while an outer tape is still open is
itself recorded, so the outer tape can differentiate it (a gradient penalty). Such a
gradient is a Tensor in the graph; any other gradient is a NumPy array.
"""
from __future__ import annotations

import numpy as np

import threading

from .. import tree
from ..autograd import Tensor, grad, no_grad

_open = threading.local()  # the tapes whose ``with`` block is running, innermost last


def _open_tapes() -> list:
    if not hasattr(_open, "tapes"):
        _open.tapes = []
    return _open.tapes


class GradientTape:
    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._watched: list[Tensor] = []
        self._used = False

    def __enter__(self) -> "GradientTape":
        _open_tapes().append(self)
        return self

    def __exit__(self, *exc) -> None:
        tapes = _open_tapes()
        if self in tapes:
            tapes.remove(self)
        return None

    def watch(self, tensor) -> None:
        """Differentiate with respect to ``tensor`` (a Tensor, or a list of them) from now on."""
        for t in tensor if isinstance(tensor, (list, tuple)) else [tensor]:
            if not isinstance(t, Tensor):
                raise TypeError(f"GradientTape.watch: expected a Tensor, got {type(t).__name__}; "
                                "wrap arrays with deepgrad.Tensor(...) before computing with them")
            if not t.requires_grad:
                if not t.is_leaf:
                    raise ValueError("GradientTape.watch: a computed Tensor cannot be watched after the fact; "
                                     "watch the input before computing with it")
                t.requires_grad = True
            self._watched.append(t)

    def watched_variables(self) -> list[Tensor]:
        return list(self._watched)

    def stop_recording(self):
        """Ops inside ``with tape.stop_recording():`` are not differentiated."""
        return no_grad()

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """d(sum of target)/d(sources) as tensors (TF's ``tape.gradient`` gives ``tf.Tensor``s), in the
        structure of ``sources``, nested lists, tuples and dicts alike (None for a source the target does not depend on, or zeros with
        ``unconnected_gradients="zero"``)."""
        if self._used and not self.persistent:
            raise RuntimeError("GradientTape.gradient can only be called once on a non-persistent tape; "
                               "use GradientTape(persistent=True) to call it several times")
        self._used = True
        targets = tree.flatten(target)
        flat = tree.flatten(sources)  # any nesting, as TF's ``nest``: [[layer vars], [], {...}]
        seeds = output_gradients if isinstance(output_gradients, (list, tuple)) else (
            [output_gradients] * len(targets))
        seeds = [np.ones(t.shape, t.dtype) if g is None else g for t, g in zip(targets, seeds)]
        live = [t for t in targets if t.requires_grad]
        wanted = [i for i, s in enumerate(flat) if isinstance(s, Tensor) and s.requires_grad]
        result = [None] * len(flat)
        # taken inside another tape's block: the outer tape differentiates this gradient again
        nested = any(tape is not self for tape in _open_tapes())
        if live and wanted:
            grads = grad(live, [flat[i] for i in wanted],
                         grad_outputs=[s for t, s in zip(targets, seeds) if t.requires_grad],
                         retain_graph=self.persistent, create_graph=nested)
            for i, g in zip(wanted, grads):
                result[i] = g if g is None or isinstance(g, Tensor) else Tensor(g, dtype=g.dtype)
        if unconnected_gradients == "zero":
            result = [Tensor(np.zeros(s.shape, s.dtype), dtype=s.dtype) if g is None else g for s, g in zip(flat, result)]
        return tree.pack_sequence_as(sources, result)
