"""Layers that run another framework's code: ``JaxLayer``, ``FlaxLayer`` (a JAX function or a
Flax module) and ``TFSMLayer`` (a saved model's endpoint). The JAX ones keep Keras's signatures
so a program that names them fails at once with the reason: deepgrad computes with NumPy and
cannot trace JAX functions; ``TFSMLayer`` runs deepgrad's own export archives (ONNX endpoints,
through onnxruntime) and refuses TensorFlow SavedModels. (``TorchModuleWrapper`` does work:
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
    """Keras's layer that calls an endpoint of a saved model at ``filepath``.

    deepgrad reads its own export archives (``model.export(path)``, ``keras.export.ExportArchive``):
    ``call_endpoint`` runs in inference and, when given, ``call_training_endpoint`` when
    ``training=True``. The endpoints' weights are inside their ONNX graphs, so the layer has no
    trainable weights and passes no gradient to its inputs. A TensorFlow SavedModel needs TensorFlow."""

    def __init__(self, filepath, call_endpoint="serve", call_training_endpoint=None, trainable=True, name=None,
                 dtype=None):
        from ..endpoints import is_archive, open_endpoints
        if not is_archive(filepath):
            _unavailable("TFSMLayer", f"TensorFlow to run the SavedModel at {filepath!r} (pip install tensorflow)",
                         "deepgrad reads the export archives that model.export(path) and "
                         "keras.export.ExportArchive write; or export the model's weights (e.g. as a "
                         ".weights.h5 file) and load them into the same architecture built with deepgrad layers.")
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        manifest, endpoints = open_endpoints(filepath)
        aliases = dict(endpoints, serving_default=endpoints[manifest["default_endpoint"]])
        for endpoint in (call_endpoint, call_training_endpoint):
            if endpoint is not None and endpoint not in aliases:
                raise ValueError(f"The endpoint '{endpoint}' is not an attribute of the reloaded archive at "
                                 f"{filepath!r}; its endpoints are {sorted(endpoints)}")
        self.filepath = filepath
        self.call_endpoint = call_endpoint
        self.call_training_endpoint = call_training_endpoint
        self.call_endpoint_fn = aliases[call_endpoint]
        self.call_training_endpoint_fn = aliases[call_training_endpoint] if call_training_endpoint else None
        self.built = True

    def call(self, inputs, training=False):
        fn = self.call_training_endpoint_fn if training and self.call_training_endpoint_fn else self.call_endpoint_fn
        return fn(inputs)

    def compute_output_shape(self, input_shape):
        return self.call_endpoint_fn.output_shapes(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(filepath=self.filepath, call_endpoint=self.call_endpoint,
                      call_training_endpoint=self.call_training_endpoint)
        return config


__all__ = ["FlaxLayer", "JaxLayer", "TFSMLayer"]
