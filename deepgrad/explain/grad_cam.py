"""Grad-CAM (Selvaraju et al. 2017): where in a layer's feature map the evidence for a class lies.

For a layer output ``A`` of shape (samples, *spatial, channels) (channels last):
``alpha_k = mean_spatial d f_t / d A_k`` and ``map = sum_k alpha_k A_k``, then ReLU, then
resized (bilinear, half-pixel centres as PyTorch's ``F.interpolate``) to the input's size.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ..autograd import Tensor, enable_grad, grad
from ..layers.base import Layer
from ..ops import image as image_ops
from .core import check_batch_size, chunks, input_array, resolve_targets


def _all_layers(model) -> list:
    """The model's layers, those of nested models after them, depth first."""
    out, stack = [], list(reversed(getattr(model, "layers", [])))
    while stack:
        layer = stack.pop()
        out.append(layer)
        stack.extend(reversed(getattr(layer, "layers", []) if layer is not model else []))
    return out


def _rank(layer) -> int | None:
    """The rank of the layer's symbolic output (batch axis included), None if unknown."""
    nodes = layer.__dict__.get("_inbound_nodes") or []
    if not nodes or len(nodes[0].output_tensors) != 1:
        return None
    return len(nodes[0].output_tensors[0].shape)


def spatial_layers(model) -> list[str]:
    """Names of the layers whose output has spatial axes (rank >= 3), for error messages and defaults."""
    return [layer.name for layer in _all_layers(model) if (_rank(layer) or 0) >= 3]


def find_layer(model, layer) -> Layer:
    """``layer`` (a name or a layer) as one of the model's layers, nested models included."""
    found = _all_layers(model)
    if isinstance(layer, str):
        for candidate in found:
            if candidate.name == layer:
                return candidate
        raise ValueError(f"grad_cam(): model {model.name!r} has no layer named {layer!r}; layers with "
                         f"a spatial output: {spatial_layers(model) or 'none'}")
    if isinstance(layer, Layer):
        if any(candidate is layer for candidate in found):
            return layer
        raise ValueError(f"grad_cam(): layer {layer.name!r} is not a layer of model {model.name!r}")
    raise TypeError(f"grad_cam(): layer must be a layer name or a Layer, got {type(layer).__name__}")


def default_layer(model) -> Layer:
    """The last convolutional layer (or else the last layer with a spatial output)."""
    layers = [layer for layer in _all_layers(model) if (_rank(layer) or 0) >= 3]
    convs = [layer for layer in layers if "Conv" in type(layer).__name__]
    if not layers:
        raise ValueError(f"grad_cam(): model {model.name!r} has no layer with a spatial output "
                         "(rank >= 3); Grad-CAM needs a convolutional or sequence layer")
    return (convs or layers)[-1]


def _symbolic_submodel(model, layer):
    """``Model(model.inputs, [layer.output, model.output])`` when the layer's output is part of
    the model's own graph; None otherwise (a subclassed model, a shared or nested layer)."""
    from ..models import Model

    try:
        inputs, outputs = model.inputs, model.outputs
    except AttributeError:
        return None
    nodes = layer.__dict__.get("_inbound_nodes") or []
    if not inputs or not outputs or len(outputs) != 1 or len(nodes) != 1 or len(nodes[0].output_tensors) != 1:
        return None
    if not any(candidate is layer for candidate in model.layers):
        return None
    try:
        # named, so that it takes no number from the automatic names of the user's models
        return Model(inputs, [layer.output, outputs[0]], name=f"{model.name}_grad_cam")
    except ValueError:  # the layer's output is not between the model's inputs and outputs
        return None


@contextlib.contextmanager
def _captured_output(layer):
    """Record what ``layer.call`` returns while the model runs (an instance attribute shadows
    the class's ``call`` and is removed afterwards)."""
    seen = []
    original = layer.call

    def call(*args, **kwargs):
        out = original(*args, **kwargs)
        seen.append(out)
        return out

    layer.__dict__["call"] = call
    try:
        yield seen
    finally:
        del layer.__dict__["call"]


def _activations_and_output(model, layer, submodel, rows: Tensor):
    if submodel is not None:
        acts, out = submodel(rows, training=False)
        return acts, out
    with _captured_output(layer) as seen:
        out = model(rows, training=False)
    if not seen:
        raise ValueError(f"grad_cam(): layer {layer.name!r} was not called when model {model.name!r} ran")
    return seen[-1], out


def _resize(maps: np.ndarray, size: tuple) -> np.ndarray:
    """(n, *spatial) maps bilinearly resized to ``size`` (one or two spatial axes)."""
    if len(size) == 1:   # a sequence: a (time, 1) image, so only the time axis is interpolated
        resized = image_ops.resize(maps[:, :, None, None], (size[0], 1), interpolation="bilinear")
        return np.asarray(getattr(resized, "data", resized))[:, :, 0, 0]
    resized = image_ops.resize(maps[..., None], size, interpolation="bilinear")
    return np.asarray(getattr(resized, "data", resized))[..., 0]


def grad_cam(model, x, target=None, layer=None, relu=True, upsample=True, batch_size=None) -> np.ndarray:
    """The Grad-CAM map of class ``target`` at ``layer`` (a name or a layer; None picks the last
    convolutional layer).

    Returns (samples, *layer spatial axes), or (samples, *input spatial axes) with
    ``upsample=True``. Channels-last: a (n, h, w, c) layer output gives an (n, h, w) map.
    """
    x = input_array("grad_cam", x, model)
    batch_size = check_batch_size("grad_cam", batch_size)
    layer = default_layer(model) if layer is None else find_layer(model, layer)
    rank = _rank(layer)
    if rank is not None and rank < 3:
        raise ValueError(f"grad_cam(): layer {layer.name!r} has an output of rank {rank}, with no spatial "
                         f"axes; choose one of {spatial_layers(model) or 'none (the model has no spatial layer)'}")
    targets = resolve_targets("grad_cam", model, x, target, batch_size)
    submodel = _symbolic_submodel(model, layer)
    maps = []
    for s in chunks(len(x), batch_size):
        with enable_grad():
            # x requires grad so that the layer's output is in the graph even when no weight precedes it
            rows = Tensor(x[s], requires_grad=True, dtype=x.dtype)
            acts, out = _activations_and_output(model, layer, submodel, rows)
            if not isinstance(acts, Tensor) or acts.ndim < 3:
                shape = getattr(acts, "shape", type(acts).__name__)
                raise ValueError(f"grad_cam(): layer {layer.name!r} gives {shape}, with no spatial axes; "
                                 f"choose one of {spatial_layers(model) or 'the layers with a spatial output'}")
            seed = np.zeros(out.shape, out.dtype)
            seed[np.arange(len(seed)), targets[s]] = 1
            g = grad(out, acts, grad_outputs=seed)
        a = acts.data
        spatial = tuple(range(1, a.ndim - 1))
        weights = g.mean(axis=spatial, keepdims=True)        # alpha_k, one per channel
        maps.append((weights * a).sum(axis=-1).astype(x.dtype, copy=False))
    cam = np.concatenate(maps)
    if relu:
        cam = np.maximum(cam, 0)
    if upsample:
        size = x.shape[1:1 + cam.ndim - 1]
        if x.ndim - 2 != cam.ndim - 1 or cam.ndim - 1 > 2:
            raise ValueError(f"grad_cam(): cannot resize maps of shape {cam.shape[1:]} to inputs of shape "
                             f"{x.shape[1:]}; pass upsample=False")
        if size != cam.shape[1:]:
            cam = _resize(cam, size).astype(x.dtype, copy=False)
    return cam
