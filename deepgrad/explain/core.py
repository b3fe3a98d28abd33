"""What every explanation shares: the input batch, the class each sample is explained for,
and the gradient of that class's output with respect to the input, in bounded batches.

Explanations run the model in inference mode (``training=False``: no dropout, batch
normalisation on its moving statistics), as ``predict`` does.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Tensor, enable_grad, grad, no_grad

# rows (perturbed or interpolated copies of the samples) sent through the model at once: the
# memory an explanation needs is bounded by this, never by ``steps`` or ``samples``
BATCH_SIZE = 128


def _declared_input_shape(model):
    """The model's one input shape (batch axis first, None there), or None if not declared."""
    try:
        inputs = model.inputs
    except AttributeError:
        return None
    return tuple(inputs[0].shape) if inputs and len(inputs) == 1 else None


def input_array(method: str, x, model=None) -> np.ndarray:
    """``x`` as a floating-point batch (samples first); integers and lists become floatx."""
    x = np.asarray(x.data if isinstance(x, Tensor) else x)
    if x.dtype.kind != "f":
        x = x.astype(backend.floatx())
    declared = _declared_input_shape(model)
    if x.ndim < 2 or len(x) == 0 or (declared is not None and x.ndim == len(declared) - 1):
        raise ValueError(f"{method}(): x must be a non-empty batch, samples first (e.g. (n, 28, 28, 1)), "
                         f"got shape {x.shape}; add the batch axis with x[None] for one sample")
    return x


def check_batch_size(method: str, batch_size) -> int:
    if batch_size is None:
        return BATCH_SIZE
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"{method}(): batch_size must be a whole number >= 1, got {batch_size!r}")
    return int(batch_size)


def check_count(method: str, name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{method}(): {name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def _output_tensor(method: str, out) -> Tensor:
    if not isinstance(out, Tensor):
        raise ValueError(f"{method}(): the model must return one tensor of class scores, got "
                         f"{type(out).__name__}; explain one output with a functional sub-model")
    if out.ndim != 2:
        raise ValueError(f"{method}(): the model's output has shape {out.shape}; explanations need "
                         "(samples, classes) scores")
    return out


def forward(method: str, model, x: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """The model's (samples, classes) output for ``x``, batch by batch, building no graph."""
    outs = []
    with no_grad():
        for start in range(0, len(x), batch_size):
            out = model(Tensor(x[start:start + batch_size], dtype=x.dtype), training=False)
            outs.append(_output_tensor(method, out).data)
    return np.concatenate(outs)


def _num_outputs(method: str, model, x: np.ndarray) -> int:
    """The number of classes: from the symbolic output when the model has one, else one forward pass."""
    try:
        outputs = model.outputs
    except AttributeError:
        outputs = None
    if outputs and len(outputs) == 1 and len(outputs[0].shape) == 2 and outputs[0].shape[-1] is not None:
        return int(outputs[0].shape[-1])
    if outputs and len(outputs) > 1:
        raise ValueError(f"{method}(): model {model.name!r} has {len(outputs)} outputs; explain one "
                         "of them with a functional sub-model Model(model.inputs, model.outputs[k])")
    return forward(method, model, x[:1]).shape[1]


def resolve_targets(method: str, model, x: np.ndarray, target, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """One class index per sample: ``target`` an int (for every sample), a sequence (one per
    sample), or None (each sample's predicted class)."""
    if target is None:
        return forward(method, model, x, batch_size).argmax(axis=1)
    classes = _num_outputs(method, model, x)
    t = np.asarray(target)
    if t.dtype.kind == "f" and np.all(np.isfinite(t)) and np.all(t == np.round(t)):
        t = t.astype(np.int64)
    if t.dtype.kind not in "iu":
        raise ValueError(f"{method}(): target must be a class index (an int, or one per sample), got {target!r}")
    if t.ndim == 0:
        t = np.full(len(x), int(t), np.int64)
    elif t.shape != (len(x),):
        raise ValueError(f"{method}(): target has shape {t.shape}; give one class index, or one per "
                         f"sample ({len(x)},)")
    bad = t[(t < 0) | (t >= classes)]
    if bad.size:
        raise ValueError(f"{method}(): target {int(bad[0])} is out of range: the model has {classes} "
                         f"outputs (classes 0 to {classes - 1})")
    return t.astype(np.int64)


def per_sample(method: str, name: str, value, x: np.ndarray) -> np.ndarray:
    """A baseline as an array that broadcasts against ``x``: a number, one array of a sample's
    shape for all samples, or one per sample (x's shape)."""
    b = np.asarray(value.data if isinstance(value, Tensor) else value)
    if b.ndim == 0:
        return b.astype(x.dtype).reshape((1,) * x.ndim)
    if b.shape == x.shape:
        return b.astype(x.dtype, copy=False)
    if b.shape == x.shape[1:]:
        return b.astype(x.dtype, copy=False)[None]
    raise ValueError(f"{method}(): {name} of shape {b.shape} does not match x of shape {x.shape}: give a "
                     f"number, one {name} for every sample {x.shape[1:]}, or one per sample {x.shape}")


def target_gradients(method: str, model, rows: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d output[i, targets[i]] / d rows[i] for each row, and the outputs output[i, targets[i]].

    One backward pass for the whole batch: the seed is one-hot at each row's target, and rows
    do not interact in inference mode, so row i's gradient is that of its own output.
    """
    with enable_grad():
        t = Tensor(rows, requires_grad=True, dtype=rows.dtype)
        out = _output_tensor(method, model(t, training=False))
        picked = np.arange(len(rows))
        seed = np.zeros(out.shape, out.dtype)
        seed[picked, targets] = 1
        if not out.requires_grad:
            raise ValueError(f"{method}(): the model's output does not depend on its input through "
                             "differentiable operations (integer inputs, as an Embedding takes, have no gradient)")
        g = grad(out, t, grad_outputs=seed)
    if g is None:
        raise ValueError(f"{method}(): the model's output does not depend on its input through "
                         "differentiable operations (integer inputs, as an Embedding takes, have no gradient)")
    return g.astype(rows.dtype, copy=False), out.data[picked, targets]


def chunks(total: int, size: int):
    """Consecutive slices of ``range(total)``, each at most ``size`` long."""
    for start in range(0, total, size):
        yield slice(start, min(start + size, total))


def sample_and_repeat_chunks(samples: int, repeats: int, batch_size: int):
    """Cover (repeats x samples) rows in blocks of at most ``batch_size`` rows (at least one
    row per block): (repeat slice, sample slice) pairs."""
    per_block = min(samples, batch_size)
    repeat_block = max(1, batch_size // per_block)
    for s in chunks(samples, per_block):
        for r in chunks(repeats, repeat_block):
            yield r, s
