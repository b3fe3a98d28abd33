"""``grad(outputs, inputs)``: gradients as return values, leaving every ``.grad`` untouched."""
from __future__ import annotations

import numpy as np

from .engine import run_backward
from .tensor import Tensor


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool = False, allow_unused: bool = True):
    """d(outputs)/d(inputs), like ``tf.GradientTape.gradient`` or ``torch.autograd.grad``.

    ``outputs`` is a Tensor or a list of them (non-scalars need ``grad_outputs``);
    ``inputs`` a Tensor or a list. Returns arrays in the same structure; an input that the
    outputs do not depend on gets ``None`` (or an error with ``allow_unused=False``).
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
    result = run_backward(outputs, seeds, retain_graph=retain_graph, inputs=inputs)
    if not allow_unused and any(r is None for r in result):
        raise RuntimeError("grad(): one of the inputs is not used to compute the outputs")
    return result[0] if single else result
