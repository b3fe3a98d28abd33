"""Symbolic tensors for the functional API: ``x = Input((784,)); y = Dense(10)(x)``.

They sit below ``layers``: a layer called on a ``KerasTensor`` records a ``Node`` here, and
``models`` reads the recorded graph back, so neither floor imports the other's way.

A ``KerasTensor`` holds a shape (batch dimension ``None``) and the layer call that made
it, so ``Model(inputs, outputs)`` can walk back from the outputs to the inputs. Every
symbolic call is one ``Node``; the tensors it made point to it (``tensor.node``) and know
their position among its outputs (``tensor.index``).
"""
from __future__ import annotations

import numpy as np

from . import backend


class KerasTensor:
    def __init__(self, shape, dtype=None, layer=None, inputs=None, args=(), kwargs=None, index=None, name=None,
                 node=None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype or backend.floatx())
        self.layer = layer            # the layer whose call made this tensor (None for inputs)
        self.inputs = inputs          # what that call was given (KerasTensor or list of them)
        self.args = args
        self.kwargs = kwargs or {}
        self.index = index            # position among the layer's outputs, when it has several
        self.name = name
        self.node = node              # the Node of that call (None for inputs)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        src = self.layer.name if self.layer is not None else "input"
        return f"<KerasTensor shape={self.shape} dtype={self.dtype} from={src}>"


class Node:
    """One call of a layer on symbolic tensors: ``outputs = layer(inputs, *args, **kwargs)``."""

    def __init__(self, layer, inputs, args, kwargs):
        self.layer = layer
        self.inputs = inputs
        self.args = args
        self.kwargs = kwargs
        self.outputs: list[KerasTensor] = []

    @property
    def parents(self) -> list[KerasTensor]:
        """Every KerasTensor the call reads, wherever it sits (inputs, args or kwargs)."""
        return flatten((self.inputs, self.args, self.kwargs))


def flatten(structure) -> list:
    """The leaves of nested lists, tuples and dicts (dicts in key order), left to right."""
    out, stack = [], [structure]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            stack.extend(item[k] for k in reversed(list(item)))
        elif isinstance(item, KerasTensor):
            out.append(item)
    return out


def map_structure(fn, structure):
    """``structure`` with every KerasTensor ``t`` replaced by ``fn(t)``."""
    if isinstance(structure, KerasTensor):
        return fn(structure)
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    return structure


def _shapes(inputs):
    if isinstance(inputs, dict):
        return {k: v.shape for k, v in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return [x.shape for x in inputs]
    return inputs.shape


def call_symbolic(layer, inputs, *args, **kwargs):
    """Record ``layer(inputs)`` on symbolic tensors: build the layer, infer the output shape."""
    shapes = _shapes(inputs)
    layer._maybe_build(shapes)
    out_shape = layer.compute_output_shape(shapes)
    node = Node(layer, inputs, args, kwargs)
    if isinstance(out_shape, list):
        node.outputs = [KerasTensor(s, layer.dtype, layer, inputs, args, kwargs, index=i, node=node)
                        for i, s in enumerate(out_shape)]
        return list(node.outputs)
    out = KerasTensor(out_shape, layer.dtype, layer, inputs, args, kwargs, node=node)
    node.outputs = [out]
    return out
