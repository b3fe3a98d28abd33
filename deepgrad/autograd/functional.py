"""``grad(outputs, inputs)``: gradients as return values, leaving every ``.grad`` untouched."""
from __future__ import annotations

import itertools
import operator

import numpy as np

from .engine import owned, propagate
from .higher_order import propagate_graph
from .tensor import Tensor


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool = False, allow_unused: bool = True,
         create_graph: bool = False, on_final=None, prune: bool = True, out=None):
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
    ``out``, a list with one array (of the input's shape and dtype) or None per input, has each
    such input's gradient written into its array, which is what is returned for it (and handed
    to ``on_final``): a data-parallel step keeps its gradients as views of one flat buffer, so
    backward leaves them packed for the all-reduce (see ``engine.propagate``). An input that the
    outputs do not depend on still gets None, and its array is left as it was.
    """
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs]
    seeds = []
    for y, g in zip(outputs, grad_outputs):
        if not y.requires_grad:
            raise RuntimeError("grad(): an output does not require grad, so nothing depends on the inputs")
        if g is None:
            if y.size != 1:
                raise RuntimeError(f"grad(): output of shape {y.shape} is not a scalar; pass grad_outputs")
            g = np.ones(y.shape, y.dtype)
        seeds.append(np.asarray(g.data if isinstance(g, Tensor) else g, dtype=y.dtype))
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("grad(): an input does not require grad; create it with requires_grad=True")
    if out is not None:
        out = [out] if isinstance(out, np.ndarray) else list(out)
        into = _destinations(inputs, out)
    else:
        into = None
    if create_graph:
        if on_final is not None:
            raise ValueError("grad(): on_final needs create_graph=False (the gradients are then arrays)")
        if out is not None:
            raise ValueError("grad(): out needs create_graph=False (the gradients are then Tensors)")
        found = propagate_graph(outputs, [Tensor(s, dtype=s.dtype) for s in seeds], inputs)
        result = []
        for t in inputs:
            hit = found.get(id(t))
            if hit is None and not allow_unused:
                raise RuntimeError("grad(): one of the inputs is not used to compute the outputs")
            result.append(None if hit is None else hit[1])
        return result[0] if single else result
    found = propagate(outputs, seeds, retain_graph, capture=inputs, on_final=on_final, only_capture=prune,
                      into=into)
    # a returned gradient is the caller's own: never a seed passed in, a read-only broadcast,
    # a view of another array, or the same array as another returned gradient
    taken = {id(s) for s in seeds}
    result = []
    if out is None:
        for t in inputs:
            hit = found.get(id(t))
            if hit is None and not allow_unused:
                raise RuntimeError("grad(): one of the inputs is not used to compute the outputs")
            result.append(None if hit is None else owned(hit[1], taken))
        return result[0] if single else result
    for t, dest in zip(inputs, out):
        hit = found.get(id(t))
        if hit is None:
            if not allow_unused:
                raise RuntimeError("grad(): one of the inputs is not used to compute the outputs")
            result.append(None)
        elif dest is None:
            result.append(owned(hit[1], taken))
        else:
            if hit[1] is not dest:   # a captured tensor that is not a leaf: its gradient is copied in
                np.copyto(dest, hit[1])
            result.append(dest)
    return result[0] if single else result


_NDARRAY = itertools.repeat(np.ndarray)
_meta = operator.attrgetter("shape", "dtype")
_data = operator.attrgetter("data")
_writeable = operator.attrgetter("flags.writeable")
_ctx = operator.attrgetter("_ctx")


def _destinations(inputs: list, out: list) -> dict:
    """{id(leaf input): its array of ``out``}, once each array is checked against its input."""
    if len(out) != len(inputs):
        raise ValueError(f"grad(): out has {len(out)} entries for {len(inputs)} inputs")
    # the usual call (a training step's weights, each with its array): checked by C-level maps
    if (all(map(isinstance, out, _NDARRAY)) and list(map(_meta, out)) == list(map(_meta, map(_data, inputs)))
            and all(map(_writeable, out)) and not any(map(_ctx, inputs))):
        return dict(zip(map(id, inputs), out))
    into = {}
    for i, (t, o) in enumerate(zip(inputs, out)):
        if o is None:
            continue
        data = t.data
        if type(o) is not np.ndarray or o.shape != data.shape or o.dtype != data.dtype or not o.flags.writeable:
            raise ValueError(f"grad(): out[{i}] must be a writeable array of the input's shape {data.shape} and "
                             f"dtype {data.dtype}, got {_describe(o)}")
        if t._ctx is None:
            into[id(t)] = o
    return into


def _describe(o) -> str:
    if not isinstance(o, np.ndarray):
        return type(o).__name__
    return f"shape {o.shape}, dtype {o.dtype}{'' if o.flags.writeable else ', read-only'}"
