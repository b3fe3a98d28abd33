"""Symbolic tensors for the functional API: ``x = Input((784,)); y = Dense(10)(x)``.

A ``KerasTensor`` holds a shape (batch dimension ``None``) and the layer call that made
it, so ``Model(inputs, outputs)`` can walk back from the outputs to the inputs.
"""
from __future__ import annotations

import numpy as np

from .. import backend


class KerasTensor:
    def __init__(self, shape, dtype=None, layer=None, inputs=None, args=(), kwargs=None, index=None, name=None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype or backend.floatx())
        self.layer = layer            # the layer whose call made this tensor (None for inputs)
        self.inputs = inputs          # what that call was given (KerasTensor or list of them)
        self.args = args
        self.kwargs = kwargs or {}
        self.index = index            # position among the layer's outputs, when it has several
        self.name = name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        src = self.layer.name if self.layer is not None else "input"
        return f"<KerasTensor shape={self.shape} dtype={self.dtype} from={src}>"


def call_symbolic(layer, inputs, *args, **kwargs):
    """Record ``layer(inputs)`` on symbolic tensors: build the layer, infer the output shape."""
    shapes = [x.shape for x in inputs] if isinstance(inputs, (list, tuple)) else inputs.shape
    layer._maybe_build(shapes)
    out_shape = layer.compute_output_shape(shapes)
    if isinstance(out_shape, list):
        return [KerasTensor(s, layer.dtype, layer, inputs, args, kwargs, index=i) for i, s in enumerate(out_shape)]
    return KerasTensor(out_shape, layer.dtype, layer, inputs, args, kwargs)
