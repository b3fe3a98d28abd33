"""``InputSpec``: what a layer expects of an input (rank, dtype, sizes of some axes), as Keras spells it.

``spec.check(shape, dtype, layer_name)`` raises a ValueError naming the layer and the shape
when an input does not fit, in Keras's words; ``None`` in a shape matches any size.
``assert_input_compatibility(specs, shapes, layer_name)`` matches a layer's spec (or list of
specs) to the shapes of a call's first argument (one shape, a list, or a dict by input name).
"""
from __future__ import annotations

import numpy as np


class InputSpec:
    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = str(np.dtype(dtype)) if dtype is not None else None
        if shape is not None:
            self.shape = tuple(None if s is None else int(s) for s in shape)
            self.ndim = len(self.shape)
        else:
            self.shape, self.ndim = None, ndim
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.name, self.optional = name, optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        try:
            self.axes = {int(k): v for k, v in (axes or {}).items()}
        except (ValueError, TypeError, AttributeError):
            raise TypeError(f"InputSpec: axes must be a dict with integer keys, got {axes!r}") from None
        top = self.ndim if self.ndim is not None else self.max_ndim
        if self.axes and top is not None and max(self.axes) > top - 1:
            raise ValueError(f"InputSpec: axis {max(self.axes)} is greater than the largest allowed, {top - 1}")

    def check(self, shape, dtype=None, layer_name: str = "layer", index: int = 0) -> None:
        """Raise if input number ``index`` of ``shape`` (and ``dtype``) does not meet the spec, in
        Keras's words: "Input 0 with name 'x' of layer 'dense' is incompatible with the layer: ..."."""
        shape = tuple(shape)
        rank = len(shape)

        def fail(what):
            raise ValueError(f"Input {index} with name '{self.name}' of layer '{layer_name}' is incompatible with "
                             f"the layer: {what}")

        if self.ndim is not None and not self.allow_last_axis_squeeze and rank != self.ndim:
            fail(f"expected ndim={self.ndim}, found ndim={rank}. Full shape received: {shape}")
        if self.ndim is not None and self.allow_last_axis_squeeze:
            squeezed = shape[:-1] if shape and shape[-1] == 1 else shape
            if len(squeezed) not in (self.ndim, self.ndim - 1) and rank != self.ndim:
                fail(f"expected ndim={self.ndim}, found ndim={rank}. Full shape received: {shape}")
        if self.max_ndim is not None and rank > self.max_ndim:
            fail(f"expected max_ndim={self.max_ndim}, found ndim={rank}")
        if self.min_ndim is not None and rank < self.min_ndim:
            fail(f"expected min_ndim={self.min_ndim}, found ndim={rank}. Full shape received: {shape}")
        if self.dtype is not None and dtype is not None and str(np.dtype(dtype)) != self.dtype:
            fail(f"expected dtype={self.dtype}, found dtype={np.dtype(dtype)}")
        for axis, value in self.axes.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            size = shape[axis] if -rank <= axis < rank else None
            if size is not None and value is not None and size not in values:
                fail(f"expected axis {axis} of input shape to have value {value}, but received input with "
                     f"shape {shape}")
        if self.shape is not None and rank == len(self.shape):
            for got, want in zip(shape, self.shape):
                if want is not None and got is not None and got != want:
                    fail(f"expected shape={self.shape}, found shape={shape}")

    def get_config(self):
        return {"dtype": self.dtype, "shape": None if self.shape is None else list(self.shape), "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        parts = [f"{k}={v}" for k, v in (("dtype", self.dtype), ("shape", self.shape), ("ndim", self.ndim),
                                          ("max_ndim", self.max_ndim), ("min_ndim", self.min_ndim),
                                          ("axes", self.axes)) if v]
        return f"InputSpec({', '.join(parts)})"


def assert_input_compatibility(input_spec, shapes, layer_name: str, dtypes=None) -> None:
    """Raise, in Keras's words, when the shapes (and dtypes) of a call's first argument do not meet
    ``input_spec``: one spec or a list of them, one per input, matched to a shape, a list of
    shapes, or a dict of shapes (by the specs' names when every spec has one, else by sorted key)."""
    specs = list(input_spec) if isinstance(input_spec, (list, tuple)) else [input_spec]
    if not specs:
        return
    if isinstance(shapes, dict):
        names = [getattr(s, "name", None) for s in specs]
        if all(names):
            missing = [n for n in names if n not in shapes]
            if missing:
                raise ValueError(f'Missing data for input "{missing[0]}". You passed a data dictionary with keys '
                                 f"{list(shapes)}. Expected the following keys: {names}")
            shapes, dtypes = _by_keys(shapes, dtypes, names)
        else:
            shapes, dtypes = _by_keys(shapes, dtypes, sorted(shapes))
    elif not isinstance(shapes, list):
        shapes, dtypes = [shapes], [dtypes]
    dtypes = dtypes if dtypes is not None else [None] * len(shapes)
    if len(shapes) != len(specs):
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it received {len(shapes)} '
                         f"input tensors. Shapes received: {shapes}")
    for index, (spec, shape, dtype) in enumerate(zip(specs, shapes, dtypes)):
        if spec is None or (shape is None and spec.optional):
            continue
        spec.check(shape, dtype, layer_name, index)


def _by_keys(shapes: dict, dtypes, keys: list):
    return [shapes[k] for k in keys], None if dtypes is None else [dtypes[k] for k in keys]


__all__ = ["InputSpec", "assert_input_compatibility"]
