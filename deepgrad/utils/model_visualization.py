"""``model_to_dot`` and ``plot_model``: a model's layers and connections as a Graphviz
graph, through pydot (``pip install pydot``) and the Graphviz ``dot`` program
(``apt-get install graphviz``), both optional."""
from __future__ import annotations

import importlib
import os
import shutil


def _pydot(who: str):
    try:
        return importlib.import_module("pydot")
    except ImportError:
        raise ImportError(f"{who} needs the pydot package and the Graphviz programs: install them with "
                          "`pip install pydot` and `apt-get install graphviz` (or see "
                          "https://graphviz.gitlab.io/download/)") from None


def _label(layer, show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable, shape):
    class_name = type(layer).__name__
    parts = [f"{layer.name} ({class_name})" if show_layer_names else class_name]
    activation = getattr(layer, "activation", None)
    if show_layer_activations and activation is not None:
        parts.append(f"activation: {getattr(activation, '__name__', str(activation))}")
    if show_shapes:
        parts.append(f"output shape: {shape if shape is not None else '?'}")
    if show_dtype:
        parts.append(f"dtype: {getattr(layer, 'dtype', None)}")
    if show_trainable:
        parts.append(f"trainable: {getattr(layer, 'trainable', True)}")
    return "\n".join(parts)


def _edges(model) -> list[tuple]:
    """``(source layer, target layer)`` pairs: the functional graph's connections, or the
    chain of a Sequential model's layers."""
    nodes = getattr(model, "_nodes", None)
    if nodes is None:
        layers = list(model.layers)
        return list(zip(layers[:-1], layers[1:]))
    edges = []
    for node in nodes:
        for parent in node.parents:
            source = parent.layer if parent.layer is not None else getattr(parent, "input_layer", None)
            if source is not None:
                edges.append((source, node.layer))
    return edges


def _output_shapes(model) -> dict:
    shapes = {}
    rows = model.summary_rows() if hasattr(model, "summary_rows") else []
    for row in rows:
        if row.layer is not None:
            shapes[id(row.layer)] = row.output_shape
    return shapes


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB",
                 expand_nested=False, dpi=200, subgraph=False, show_layer_activations=False, show_trainable=False,
                 splines="ortho", **kwargs):
    """A ``pydot.Dot`` graph with one box per layer and one edge per connection."""
    pydot = _pydot("model_to_dot")
    dot = pydot.Cluster(style="dashed", graph_name=model.name) if subgraph else pydot.Dot()
    dot.set("rankdir", rankdir)
    dot.set("concentrate", True)
    dot.set("dpi", dpi)
    dot.set("splines", splines)
    dot.set_node_defaults(shape="record")
    layers = list(getattr(model, "_layers", None) or model.layers)
    shapes = _output_shapes(model)
    for source, target in _edges(model):
        for layer in (source, target):
            if layer not in layers:
                layers.append(layer)
    for layer in layers:
        label = _label(layer, show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable,
                       shapes.get(id(layer)))
        dot.add_node(pydot.Node(str(id(layer)), label=label))
    for source, target in _edges(model):
        dot.add_edge(pydot.Edge(str(id(source)), str(id(target))))
    return dot


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=False,
               rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False,
               splines="ortho", **kwargs):
    """Draw the model to ``to_file`` (the format from its extension, png by default)."""
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:  # a misspelt argument is an error, as in Keras 3
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                       rankdir=rankdir, expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations, show_trainable=show_trainable,
                       splines=splines)
    if shutil.which("dot") is None:
        raise ImportError("plot_model needs the Graphviz `dot` program: install it with `apt-get install graphviz` "
                          "(or see https://graphviz.gitlab.io/download/)")
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:] or "png"
    dot.write(to_file, format=extension)


__all__ = ["model_to_dot", "plot_model"]
