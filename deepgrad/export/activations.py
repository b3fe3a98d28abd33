"""Keras's activation functions as ONNX nodes, by the name the function is registered under."""
from __future__ import annotations

import math

from .. import activations
from .graph import ExportError, GraphBuilder

# SELU's constants (Klambauer et al., 2017), as deepgrad and Keras use them
_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _silu(b: GraphBuilder, x: str, base: str) -> str:
    return b.op("Mul", [x, b.op("Sigmoid", [x], base)], base)


def _gelu(b: GraphBuilder, x: str, base: str) -> str:
    """``0.5 x (1 + erf(x / sqrt 2))``, written with Erf (ONNX's Gelu op needs opset 20)."""
    t = b.op("Erf", [b.op("Mul", [x, b.const(1.0 / math.sqrt(2.0))], base)], base)
    return b.op("Mul", [b.op("Mul", [x, b.const(0.5)], base), b.op("Add", [t, b.const(1.0)], base)], base)


def _log_sigmoid(b: GraphBuilder, x: str, base: str) -> str:
    """``-softplus(-x)``."""
    return b.op("Neg", [b.op("Softplus", [b.op("Neg", [x], base)], base)], base)


def _clip(b: GraphBuilder, x: str, lo, hi, base: str) -> str:
    return b.op("Clip", [x, "" if lo is None else b.const(lo), "" if hi is None else b.const(hi)], base)


_ELEMENTWISE = {
    "relu": lambda b, x, n: b.op("Relu", [x], n),
    "sigmoid": lambda b, x, n: b.op("Sigmoid", [x], n),
    "tanh": lambda b, x, n: b.op("Tanh", [x], n),
    "elu": lambda b, x, n: b.op("Elu", [x], n, alpha=1.0),
    "selu": lambda b, x, n: b.op("Selu", [x], n, alpha=_SELU_ALPHA, gamma=_SELU_SCALE),
    "softplus": lambda b, x, n: b.op("Softplus", [x], n),
    "softsign": lambda b, x, n: b.op("Softsign", [x], n),
    "silu": _silu, "swish": _silu,
    "gelu": _gelu,
    "relu6": lambda b, x, n: _clip(b, x, 0.0, 6.0, n),
    "leaky_relu": lambda b, x, n: b.op("LeakyRelu", [x], n, alpha=0.2),
    # Keras 3's hard_sigmoid is relu6(x + 3) / 6 = clip(x / 6 + 1/2, 0, 1)
    "hard_sigmoid": lambda b, x, n: b.op("HardSigmoid", [x], n, alpha=1.0 / 6.0, beta=0.5),
    "hard_silu": lambda b, x, n: b.op("HardSwish", [x], n), "hard_swish": lambda b, x, n: b.op("HardSwish", [x], n),
    "mish": lambda b, x, n: b.op("Mul", [x, b.op("Tanh", [b.op("Softplus", [x], n)], n)], n),
    "exponential": lambda b, x, n: b.op("Exp", [x], n),
    "log_sigmoid": _log_sigmoid,
    "celu": lambda b, x, n: b.op("Celu", [x], n, alpha=1.0),
    "hard_tanh": lambda b, x, n: _clip(b, x, -1.0, 1.0, n),
    "tanh_shrink": lambda b, x, n: b.op("Sub", [x, b.op("Tanh", [x], n)], n),
    "hard_shrink": lambda b, x, n: b.op("Shrink", [x], n, lambd=0.5, bias=0.0),
    "soft_shrink": lambda b, x, n: b.op("Shrink", [x], n, lambd=0.5, bias=0.5),
    "softmax": lambda b, x, n: b.op("Softmax", [x], n, axis=-1),
    "log_softmax": lambda b, x, n: b.op("LogSoftmax", [x], n, axis=-1),
}


def activation_name(fn) -> str | None:
    """The registered name of a built-in activation function, else None."""
    if fn is None:
        return "linear"
    try:
        name = activations.serialize(fn)
        return name if activations.get(name) is fn else None
    except (ValueError, KeyError, TypeError):
        return None


def apply_activation(b: GraphBuilder, fn, x: str, base: str, where: str) -> str:
    """``fn(x)`` as ONNX nodes; ``where`` names the layer for the error when ``fn`` has no ONNX form."""
    name = activation_name(fn)
    if name == "linear":
        return x
    if name not in _ELEMENTWISE:
        raise ExportError(f"ONNX export: {where}: activation {name or fn!r} has no ONNX converter "
                          f"(known: linear, {', '.join(sorted(_ELEMENTWISE))})")
    return _ELEMENTWISE[name](b, x, base)
