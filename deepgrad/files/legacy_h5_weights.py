"""Weights in legacy Keras 2 / tf.keras HDF5 files, matched to a model's layers.

Layout: the weights sit in the ``model_weights`` group of a whole-model file (at the root
of a weights-only file), whose ``layer_names`` attribute lists the layers in model order;
each layer is a group whose ``weight_names`` attribute lists its weights (trainable, then
non-trainable) as paths inside that group.

Matching follows tf.keras's ``load_weights``: by default the layers that have weights are
paired in order (the counts must agree); ``by_name=True`` pairs layers with the same
name; ``skip_mismatch=True`` (with ``by_name``) leaves a layer whose weight count or shapes
differ untouched, with a warning, instead of failing. Every shape is checked before any
weight is set.
"""
from __future__ import annotations

import warnings

import numpy as np

from .safetensors_format import UnsafeFileError


def is_legacy_tree(tree: dict) -> bool:
    return "model_weights" in tree["groups"] or "layer_names" in tree["groups"].get("", {})


def _names(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]


def _weights_root(tree: dict) -> str:
    if "model_weights" in tree["groups"]:
        return "model_weights"
    if "layer_names" in tree["groups"].get("", {}):
        return ""
    raise UnsafeFileError("the HDF5 file has neither a 'model_weights' group nor a 'layer_names' attribute; "
                          "it is not a Keras weights file")


def saved_layers(tree: dict, source: str) -> list[tuple[str, list[tuple[str, np.ndarray]]]]:
    """``(layer name, [(weight name, array), ...])`` for every layer the file lists."""
    root = _weights_root(tree)
    prefix = f"{root}/" if root else ""
    out = []
    for layer_name in _names(tree["groups"][root].get("layer_names")):
        group = f"{prefix}{layer_name}"
        if group not in tree["groups"]:
            raise UnsafeFileError(f"{source}: layer {layer_name!r} is listed but has no group")
        weights = []
        for weight_name in _names(tree["groups"][group].get("weight_names")):
            key = f"{group}/{weight_name}"
            if key not in tree["datasets"]:
                raise UnsafeFileError(f"{source}: weight {weight_name!r} of layer {layer_name!r} is missing")
            weights.append((weight_name, tree["datasets"][key]))
        out.append((layer_name, weights))
    return out


def _model_layers(model) -> list:
    """The model's layers that the file lists, in order (a nested model as one layer)."""
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def assign_legacy_weights(model, tree: dict, source: str, by_name: bool = False,
                          skip_mismatch: bool = False) -> None:
    """Set ``model``'s weights from a legacy tree, as tf.keras's ``load_weights`` matches them."""
    if skip_mismatch and not by_name:
        raise ValueError("load_weights: skip_mismatch=True needs by_name=True for legacy .h5 files, as in tf.keras")
    saved = saved_layers(tree, source)
    pairs = []
    if by_name:
        by_layer = {name: weights for name, weights in saved}
        pairs = [(layer, by_layer[layer.name]) for layer in _model_layers(model) if layer.name in by_layer]
    else:
        with_weights = [layer for layer in _model_layers(model) if layer.weights]
        saved = [(name, weights) for name, weights in saved if weights]
        if len(with_weights) != len(saved):
            raise ValueError(f"{source} holds weights for {len(saved)} layers ({[n for n, _ in saved]}) but model "
                             f"{model.name!r} has {len(with_weights)} layers with weights "
                             f"({[layer.name for layer in with_weights]})")
        pairs = list(zip(with_weights, [w for _, w in saved]))
    assignments = []
    for layer, weights in pairs:
        params = layer.weights
        problem = None
        if len(params) != len(weights):
            problem = (f"layer {layer.name!r} has {len(params)} weights but the file holds {len(weights)} "
                       f"({[n for n, _ in weights]})")
        else:
            for p, (name, array) in zip(params, weights):
                if tuple(array.shape) != tuple(p.shape):
                    problem = (f"layer {layer.name!r}: weight {p.path!r} has shape {tuple(p.shape)} but the file's "
                               f"{name!r} has shape {tuple(array.shape)}")
                    break
        if problem is None:
            assignments += [(p, array) for p, (_, array) in zip(params, weights)]
        elif skip_mismatch:
            warnings.warn(f"{source}: skipping {problem}", stacklevel=3)
        else:
            raise ValueError(f"{source}: {problem}")
    for p, array in assignments:
        p.assign(np.asarray(array).astype(p.dtype, copy=False))
