"""Activation functions by Keras name: ``activations.get("relu")`` and friends.

Every function takes and returns a Tensor and is built from the differentiable ops, so
gradients flow through it. Names, arguments and defaults follow ``keras.activations``.
"""
from __future__ import annotations


from . import backend, ops
from .autograd import Tensor
from .registry import Registry


def _tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def linear(x):
    return _tensor(x)


def sigmoid(x):
    return ops.sigmoid(x)


def tanh(x):
    return ops.tanh(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """``max(x, 0)``; with Keras's options: ``x`` for ``x > threshold``, else
    ``negative_slope * (x - threshold)``, and the result capped at ``max_value``."""
    if negative_slope < 0:
        raise ValueError(f"relu: negative_slope must be >= 0, got {negative_slope}")
    if max_value is not None and max_value < 0:
        raise ValueError(f"relu: max_value must be >= 0, got {max_value}")
    if threshold < 0:
        raise ValueError(f"relu: threshold must be >= 0, got {threshold}")
    x = _tensor(x)
    if negative_slope == 0 and max_value is None and threshold == 0:
        return ops.relu(x)
    if negative_slope != 0 and max_value is None and threshold == 0:
        return ops.leaky_relu(x, negative_slope=negative_slope)
    if threshold != 0:
        positive = ops.where(x.data > threshold, x, 0.0)
    else:
        positive = ops.relu(x)
    if max_value is not None:
        # the gradient stops where the cap is reached
        positive = ops.where(positive.data < max_value, positive, float(max_value))
    if negative_slope != 0:
        positive = positive - negative_slope * ops.relu(threshold - x)
    return positive


def relu6(x):
    """``min(max(x, 0), 6)``."""
    x = _tensor(x)
    return ops.where(x.data < 6, ops.relu(x), 6.0)


def leaky_relu(x, negative_slope=0.2):
    return ops.leaky_relu(x, negative_slope=negative_slope)


def elu(x, alpha=1.0):
    return ops.elu(x, alpha=alpha)


def selu(x):
    return ops.selu(x)


def gelu(x, approximate=False):
    return ops.gelu(x, approximate=approximate)


def softplus(x):
    return ops.softplus(x)


def softsign(x):
    """``x / (1 + |x|)``."""
    x = _tensor(x)
    return x / (ops.abs(x) + 1.0)


def silu(x):
    """``x * sigmoid(x)`` (also called swish)."""
    x = _tensor(x)
    return x * ops.sigmoid(x)


swish = silu


def hard_sigmoid(x):
    """Keras 3's piecewise-linear sigmoid: ``relu6(x + 3) / 6``."""
    return relu6(_tensor(x) + 3.0) / 6.0


def hard_silu(x):
    """``x * hard_sigmoid(x)``."""
    x = _tensor(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def mish(x):
    """``x * tanh(softplus(x))``."""
    x = _tensor(x)
    return x * ops.tanh(ops.softplus(x))


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large ``|x|``."""
    return -ops.softplus(-_tensor(x))


def celu(x, alpha=1.0):
    """``x`` for ``x >= 0``, else ``alpha * (exp(x / alpha) - 1)``."""
    return ops.celu(x, alpha=alpha)


def glu(x, axis=-1):
    """``a * sigmoid(b)``, ``x`` split into halves ``a`` and ``b`` along ``axis``."""
    return ops.glu(x, axis=axis)


def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, else 0."""
    return ops.hard_shrink(x, threshold=threshold)


def hard_tanh(x):
    """``clip(x, -1, 1)``."""
    return ops.hard_tanh(x)


def soft_shrink(x, threshold=0.5):
    """``x - threshold`` above ``threshold``, ``x + threshold`` below ``-threshold``, else 0."""
    return ops.soft_shrink(x, threshold=threshold)


def sparse_plus(x):
    """0 for ``x <= -1``, ``(x + 1)^2 / 4`` for ``-1 < x < 1``, ``x`` for ``x >= 1``."""
    return ops.sparse_plus(x)


def sparse_sigmoid(x):
    """0 for ``x <= -1``, ``(x + 1) / 2`` for ``-1 < x < 1``, 1 for ``x >= 1``."""
    return ops.sparse_sigmoid(x)


def sparsemax(x, axis=-1):
    """``max(x - tau(x), 0)``: the Euclidean projection of ``x`` onto the simplex along ``axis``."""
    return ops.sparsemax(x, axis=axis)


def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2``."""
    return ops.squareplus(x, b=b)


def tanh_shrink(x):
    """``x - tanh(x)``."""
    return ops.tanh_shrink(x)


def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, else ``default_value``."""
    return ops.threshold(x, threshold, default_value)


def exponential(x):
    return ops.exp(x)


def softmax(x, axis=-1):
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return ops.log_softmax(x, axis=axis)


_symbolic_aware = backend.symbolic_aware  # keras.activations.swish(keras_tensor) records a node


for _name in ("linear", "sigmoid", "tanh", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "softplus",
              "softsign", "silu", "hard_sigmoid", "hard_silu", "mish", "log_sigmoid", "exponential", "softmax",
              "log_softmax", "celu", "glu", "hard_shrink", "hard_tanh", "soft_shrink", "sparse_plus",
              "sparse_sigmoid", "sparsemax", "squareplus", "tanh_shrink", "threshold"):
    globals()[_name] = _symbolic_aware(globals()[_name])
swish, hard_swish = silu, hard_silu
del _name

_FUNCTIONS = (linear, sigmoid, tanh, relu, relu6, leaky_relu, elu, selu, gelu, softplus, softsign,
              silu, hard_sigmoid, hard_silu, mish, log_sigmoid, exponential, softmax, log_softmax,
              celu, glu, hard_shrink, hard_tanh, soft_shrink, sparse_plus, sparse_sigmoid, sparsemax,
              squareplus, tanh_shrink, threshold)
_REGISTRY = Registry("activation", _FUNCTIONS, {"swish": silu, "hard_swish": hard_silu}, default=linear)


def serialize(activation) -> str:
    """The Keras name of a built-in activation (``"relu"``); other callables by their name."""
    return "linear" if activation is None else _REGISTRY.serialize(activation)


def deserialize(config, custom_objects=None):
    """The activation called ``config`` (a Keras name or a key of ``custom_objects``); Keras's
    function configs ``{"class_name": "function", "config": "relu"}`` name it in ``config``."""
    name = config
    if isinstance(name, dict):
        name = name.get("config", name.get("class_name"))
        if isinstance(name, dict):
            name = name.get("name")
    if not isinstance(name, str):
        raise ValueError(f"Could not interpret activation identifier: {name!r}")
    return _REGISTRY.deserialize(name, custom_objects)


def get(identifier):
    """None or ``"linear"`` -> identity; a name -> that function; a callable (a class too,
    as in Keras) -> itself."""
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type):
        return identifier
    return _REGISTRY.get(identifier)


__all__ = sorted(fn.__name__ for fn in _FUNCTIONS) + ["swish", "hard_swish", "get", "serialize", "deserialize"]
