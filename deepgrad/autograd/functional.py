"""``grad(outputs, inputs)``: gradients as return values, leaving every ``.grad`` untouched."""
from __future__ import annotations

import numpy as np

from .engine import owned, propagate
from .higher_order import propagate_graph
from .tensor import Tensor


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool = False, allow_unused: bool = True,
         create_graph: bool = False, on_final=None, prune: bool = True):
    """d(outputs)/d(inputs), like ``tf.GradientTape.gradient`` or ``torch.autograd.grad``.

    ``outputs`` is a Tensor or a list of them (non-scalars need ``grad_outputs``);
    ``inputs`` a Tensor or a list. Returns arrays in the same structure; an input that the
    outputs do not depend on gets ``None`` (or an error with ``allow_unused=False``).
    With ``create_graph=True`` the gradients are Tensors in the graph (and the graph is kept),
    so they can be differentiated again, as with PyTorch's ``create_graph=True``.
    ``on_final(t, g)`` is called for each leaf input as soon as its gradient is complete,
    before backward has finished (see ``engine.propagate``; not with ``create_graph``).
    ``prune`` runs only the backward of the Functions on a path to ``inputs``, as
    ``torch.autograd.grad`` does (a GAN's discriminator step skips the generator's backward);
    a caller whose ``inputs`` are every weight the outputs reach (a model's default training
    step) passes False and saves that walk: the gradients are the same either way.
    """
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs]
    seeds = []
    for out, g in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise RuntimeError("grad(): an output does not require grad, so nothing depends on the inputs")
        if g is None:
            if out.size != 1:
                raise RuntimeError(f"grad(): output of shape {out.shape} is not a scalar; pass grad_outputs")
            g = np.ones(out.shape, out.dtype)
        seeds.append(np.asarray(g.data if isinstance(g, Tensor) else g, dtype=out.dtype))
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("grad(): an input does not require grad; create it with requires_grad=True")
    if create_graph:
        if on_final is not None:
            raise ValueError("grad(): on_final needs create_graph=False (the gradients are then arrays)")
        found = propagate_graph(outputs, [Tensor(s, dtype=s.dtype) for s in seeds], inputs)
        result = []
        for t in inputs:
            hit = found.get(id(t))
            if hit is None and not allow_unused:
                raise RuntimeError("grad(): one of the inputs is not used to compute the outputs")
            result.append(None if hit is None else hit[1])
        return result[0] if single else result
    found = propagate(outputs, seeds, retain_graph, capture=inputs, on_final=on_final, only_capture=prune)
    # a returned gradient is the caller's own: never a seed passed in, a read-only broadcast,
    # a view of another array, or the same array as another returned gradient
    taken = {id(s) for s in seeds}
    result = []
    for t in inputs:
        hit = found.get(id(t))
        if hit is None and not allow_unused:
            raise RuntimeError("grad(): one of the inputs is not used to compute the outputs")
        result.append(None if hit is None else owned(hit[1], taken))
    return result[0] if single else result
