"""deepgrad: a define-by-run autograd engine on NumPy with a Keras-compatible API.

``import deepgrad as dg`` (or ``import deepgrad as keras``).
"""
from . import backend
from .autograd import Function, Tensor, Variable, enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import epsilon, floatx, set_epsilon, set_floatx
from .ops import *  # noqa: F401,F403 - every op is a top-level function

__version__ = "0.1.0"

# The Keras surface, imported on first use so that ``import deepgrad`` stays light and
# one module failing to import does not take the whole package down with it.
_SUBMODULES = ("activations", "callbacks", "constraints", "datasets", "initializers", "layers", "losses",
               "metrics", "models", "optimizers", "preprocessing", "random", "regularizers", "saving",
               "utils", "explain", "visualization", "applications", "config", "dtype_policies",
               "mixed_precision", "quantizers", "tree", "distribution", "export", "legacy", "distillation",
               "wrappers")
_NAMES = {"Sequential": "models", "Model": "models", "Input": "layers", "GradientTape": "compat.gradient_tape",
          "name_scope": "backend", "KerasTensor": "symbolic",
          # Keras's base classes and scopes at the top level (keras.Layer, keras.Loss, ...)
          "Layer": "layers", "InputSpec": "layers", "Operation": "layers.operation", "Loss": "losses",
          "Metric": "metrics", "Optimizer": "optimizers", "Initializer": "initializers",
          "Regularizer": "regularizers", "Quantizer": "quantizers", "DTypePolicy": "dtype_policies",
          "FloatDTypePolicy": "dtype_policies", "StatelessScope": "autograd.scopes",
          "SymbolicScope": "autograd.scopes", "RematScope": "backend", "remat": "backend", "device": "backend"}


def _legacy_backend_function(name):
    """TF-Keras's backend function ``name`` (``deepgrad.legacy.backend``), or None."""
    import importlib

    legacy = importlib.import_module(".legacy.backend", __name__)
    return getattr(legacy, name) if name in legacy.__all__ else None


backend.legacy_functions = _legacy_backend_function


def version() -> str:
    """deepgrad's version string (``keras.version()``'s counterpart)."""
    return __version__


def __getattr__(name):
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _NAMES:
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'deepgrad' has no attribute {name!r}")
