"""Layers that run another framework's code: ``JaxLayer``, ``FlaxLayer`` (a JAX function or a
Flax module) and ``TFSMLayer`` (a TensorFlow SavedModel). They keep Keras's signatures so a
program that names them fails at once with the reason: deepgrad computes with NumPy and can
neither trace JAX functions nor run TensorFlow graphs. (``TorchModuleWrapper`` does work:
PyTorch runs eagerly and gives its gradients to deepgrad.)"""
from __future__ import annotations

from .base import Layer


def _unavailable(layer: str, needs: str, instead: str):
    raise NotImplementedError(f"{layer} needs {needs}, which deepgrad (a NumPy framework) does not have. {instead}")


class JaxLayer(Layer):
    """Keras's layer around a JAX function ``call_fn(params, state, rng, inputs, training)``."""

    def __init__(self, call_fn, init_fn=None, params=None, state=None, seed=None,
                 native_serialization_platforms=None, **kwargs):
        _unavailable("JaxLayer", "the JAX backend (pip install jax; Keras with KERAS_BACKEND=jax)",
                     "Write the function with deepgrad ops in a Layer subclass, or wrap a torch.nn.Module "
                     "in TorchModuleWrapper.")


class FlaxLayer(JaxLayer):
    """Keras's layer around a Flax ``module`` (``flax.linen`` or ``flax.nnx``)."""

    def __init__(self, module, method=None, variables=None, **kwargs):
        _unavailable("FlaxLayer", "JAX and Flax (pip install flax; Keras with KERAS_BACKEND=jax)",
                     "Write the module with deepgrad layers, or wrap a torch.nn.Module in TorchModuleWrapper.")


class TFSMLayer(Layer):
    """Keras's layer that calls an endpoint of a TensorFlow SavedModel at ``filepath``."""

    def __init__(self, filepath, call_endpoint="serve", call_training_endpoint=None, trainable=True, name=None,
                 dtype=None):
        _unavailable("TFSMLayer", f"TensorFlow to run the SavedModel at {filepath!r} (pip install tensorflow)",
                     "Export the model's weights (e.g. as a .weights.h5 file) and load them into the same "
                     "architecture built with deepgrad layers.")


__all__ = ["FlaxLayer", "JaxLayer", "TFSMLayer"]
