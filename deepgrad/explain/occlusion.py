"""Occlusion (Zeiler & Fergus 2014): how much the class score drops when a patch is hidden.

A window slides over each sample (Captum's rule: ``ceil((size - window) / stride) + 1``
positions per axis, starting at multiples of the stride, the last one cut at the edge). Every
element of a window gets ``f_t(x) - f_t(x with the window set to the baseline)``; an element
covered by several windows gets the mean of theirs.
"""
from __future__ import annotations

import itertools

import numpy as np

from .core import check_batch_size, forward, input_array, per_sample, resolve_targets, sample_and_repeat_chunks


def _per_axis(name: str, value, sample_shape: tuple, channels_default: int) -> tuple:
    """``value`` (an int, or one per axis of a sample, or one per axis but the channel axis)
    as one positive int per axis of a sample."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = (int(value),) * len(sample_shape)
        if len(sample_shape) >= 2:   # a number means a square patch over every channel
            values = values[:-1] + (channels_default,)
        return values
    values = tuple(value)
    if len(values) == len(sample_shape) - 1:   # (h, w) for (h, w, c) samples: every channel at once
        values = values + (channels_default,)
    if len(values) != len(sample_shape) or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in values):
        raise ValueError(f"occlusion(): {name} must be positive whole numbers, one per axis of a sample "
                         f"{sample_shape} (or per axis but the channels), got {value!r}")
    return tuple(int(v) for v in values)


def occlusion(model, x, target=None, window=3, stride=None, baseline=0, batch_size=None) -> np.ndarray:
    """Occlusion attributions of class ``target``, an array of x's shape.

    ``window``/``stride``: one int per axis of a sample, or per spatial axis (the window then
    spans every channel); an int is a square patch over every channel. ``stride`` defaults
    to ``window``. ``baseline``: the value hidden patches take (a number, an array of one
    sample's shape, or one per sample).
    """
    x = input_array("occlusion", x, model)
    batch_size = check_batch_size("occlusion", batch_size)
    shape = x.shape[1:]
    window = _per_axis("window", window, shape, shape[-1])
    stride = window if stride is None else _per_axis("stride", stride, shape, shape[-1])
    for axis, (size, w, s) in enumerate(zip(shape, window, stride)):
        if w > size:
            raise ValueError(f"occlusion(): window {window} is larger than a sample {shape} on axis {axis + 1}")
        if s > w and size != w:   # a gap between windows would leave elements never occluded
            raise ValueError(f"occlusion(): stride {stride} is larger than window {window} on axis {axis + 1}")
    base = per_sample("occlusion", "baseline", baseline, x)
    targets = resolve_targets("occlusion", model, x, target, batch_size)
    counts = [-(-(size - w) // s) + 1 for size, w, s in zip(shape, window, stride)]
    # axis_masks[d][i]: which elements of axis d the i-th window position covers
    axis_masks = [np.array([(np.arange(size) >= i * s) & (np.arange(size) < i * s + w) for i in range(c)], x.dtype)
                  for size, w, s, c in zip(shape, window, stride, counts)]
    positions = np.array(list(itertools.product(*[range(c) for c in counts])), np.intp)
    full = forward("occlusion", model, x, batch_size)[np.arange(len(x)), targets]
    total = np.zeros_like(x)
    covered = np.zeros(shape, x.dtype)
    for r, s in sample_and_repeat_chunks(len(x), len(positions), batch_size):
        # mask[p] = outer product over axes of axis_masks[d][positions[p, d]]
        mask = np.ones((r.stop - r.start,) + (1,) * len(shape), x.dtype)
        for d, m in enumerate(axis_masks):
            mask = mask * m[positions[r, d]].reshape((-1,) + (1,) * d + (shape[d],) + (1,) * (len(shape) - d - 1))
        if s.start == 0:
            covered += mask.sum(axis=0)
        b = base if len(base) == 1 else base[s][None]
        hidden = x[s][None] * (1 - mask[:, None]) + b * mask[:, None]
        scores = forward("occlusion", model, hidden.reshape((-1,) + shape), batch_size)
        drop = full[s][None] - scores[np.arange(scores.shape[0]), np.tile(targets[s], len(mask))].reshape(len(mask), -1)
        total[s] += np.tensordot(drop, mask, axes=([0], [0]))
    return total / covered
